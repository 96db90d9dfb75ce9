package realkafka

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Faults makes a Proxied cluster's brokers fail chosen client requests, the
// way a broker that cannot serve them (overloaded, partitioned, restarting)
// looks to a client: the connection carrying the request is closed before
// the broker sees it. Requests are matched by API key (kmsg.Fetch.Int16(),
// …), so a test can break fetches while the consumer group's heartbeats go
// on — a fault kfake injects with its ControlKey.
type Faults struct {
	failing sync.Map // int16 API key -> struct{}
	refused atomic.Int64
}

// Fail makes requests with these API keys fail from now on, besides those
// failing already.
func (f *Faults) Fail(keys ...int16) {
	for _, k := range keys {
		f.failing.Store(k, struct{}{})
	}
}

// Heal serves every request again.
func (f *Faults) Heal() { f.failing.Clear() }

// Refused counts the requests failed so far.
func (f *Faults) Refused() int64 { return f.refused.Load() }

func (f *Faults) fails(key int16) bool {
	_, ok := f.failing.Load(key)
	return ok
}

// proxy forwards one listen address to a broker's client listener and reads
// the request framing (a 4-byte size, then a header starting with the API
// key) of what clients send, to fail what Faults names.
type proxy struct {
	l      net.Listener
	to     string
	faults *Faults
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func startProxy(listen, to string, f *Faults) (*proxy, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &proxy{l: l, to: to, faults: f, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *proxy) serve(client net.Conn) {
	defer p.wg.Done()
	broker, err := net.Dial("tcp", p.to)
	if err != nil {
		client.Close()
		return
	}
	p.track(client, true)
	p.track(broker, true)
	defer func() {
		client.Close()
		broker.Close()
		p.track(client, false)
		p.track(broker, false)
	}()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(client, broker)
		done <- struct{}{}
	}()
	go func() {
		p.requests(client, broker)
		done <- struct{}{}
	}()
	<-done // either side ending ends both
}

// requests copies client requests to the broker frame by frame, and ends the
// connection at the first one Faults fails.
func (p *proxy) requests(client, broker net.Conn) {
	var head [6]byte // size (4) and API key (2)
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(client, head[:]); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint32(head[:4]))
		if size < 2 {
			return
		}
		if p.faults.fails(int16(binary.BigEndian.Uint16(head[4:6]))) {
			p.faults.refused.Add(1)
			return
		}
		if _, err := broker.Write(head[:]); err != nil {
			return
		}
		if _, err := io.CopyBuffer(broker, io.LimitReader(client, int64(size-2)), buf); err != nil {
			return
		}
	}
}

func (p *proxy) close() {
	p.l.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
