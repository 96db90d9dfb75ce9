// Command goka-peer is inbond's processing job written as a processor on
// github.com/lovoo/goka, the peer `inbond bench peers` measures inbond
// against. It is its own Go module, so the product's go.mod carries neither
// goka nor sarama; the benchmark builds it and runs it as a child process.
//
// The job is inbond's: every record of the input topic is decoded with
// event.UnmarshalCanonical and applied with state.Apply to its shipment's
// state, which lives where goka keeps a group's state: its group table (in
// memory, or LevelDB with --storage leveldb) backed by the changelog topic
// <group>-table. A restarted peer recovers the table from the changelog and
// resumes from the group's committed offsets (at-least-once).
//
// It reports on stdout, one JSON object a line (see report): when it
// started, its first applied event, progress every 10 ms, and when every
// partition reached --ends. Three files let the parent measure exactly:
//   - --marks: a shared memory map of, per partition, the last offset
//     applied, the first offset applied by this process and the count. It is
//     written in the callback, so it survives a SIGKILL and tells which
//     events a restarted peer applied twice.
//   - --times: written on a clean exit (SIGTERM), each applied record's
//     partition, offset and wall-clock time in nanoseconds, for latency.
//   - with --dump FILE the peer instead reads the group table back through a
//     goka.View (i.e. from the changelog, what survives a restart) and writes
//     it as one JSON object, shipment ID to state.Encode bytes.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"log"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/IBM/sarama"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	topic := flag.String("topic", string(event.TopicEvents), "input topic (canonical CloudEvents JSON, keyed by shipment ID)")
	group := flag.String("group", "inbond-goka-peer", "goka group: consumer group, and the table topic <group>-table")
	ends := flag.String("ends", "", "per-partition end offsets, comma-separated: report \"caught\" once every partition applied up to them")
	marks := flag.String("marks", "", "file to memory-map the per-partition marks into (see the package doc)")
	times := flag.String("times", "", "file to write every applied record's partition, offset and time to on a clean exit")
	dump := flag.String("dump", "", "read the group table back through a view, write it to this file as JSON and exit")
	store := flag.String("storage", "memory", "local storage of the group table: memory or leveldb")
	dir := flag.String("dir", "", "LevelDB directory with --storage leveldb (default goka's, under the temp dir)")
	session := flag.Duration("session-timeout", time.Second, "consumer-group session timeout")
	partitions := flag.Int("partitions", 12, "partition count of the input topic (for the progress lines and the routing check)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	version := flag.String("kafka-version", "2.0.0", "Kafka protocol version sarama speaks")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	v, err := sarama.ParseKafkaVersion(*version)
	if err != nil {
		log.Fatalf("goka-peer: --kafka-version: %v", err)
	}
	configure(*session, v)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatalf("goka-peer: %v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatalf("goka-peer: %v", err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if *dump != "" {
		err = dumpTable(ctx, splitList(*brokers), goka.Group(*group), *dump)
	} else {
		err = run(ctx, splitList(*brokers), *topic, goka.Group(*group), *partitions, *ends, *marks, *times, *store, *dir)
	}
	if err != nil {
		pprof.StopCPUProfile()
		log.Fatalf("goka-peer: %v", err)
	}
}

// configure sets goka's global sarama config: the protocol kfake speaks,
// the input read from its start (goka's default is the newest offset), and
// a session timeout the benchmark can restart within. The rest is goka's
// default (a producer flushing every 100 ms, offsets committed every second).
func configure(session time.Duration, version sarama.KafkaVersion) {
	cfg := goka.DefaultConfig()
	cfg.Version = version
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Session.Timeout = session
	cfg.Consumer.Group.Heartbeat.Interval = session / 10
	goka.ReplaceGlobalConfig(cfg)
}

// shipmentCodec stores a shipment as inbond's state store does.
type shipmentCodec struct{}

func (shipmentCodec) Encode(v any) ([]byte, error) {
	sh, ok := v.(*state.Shipment)
	if !ok {
		return nil, fmt.Errorf("shipment codec: %T", v)
	}
	return state.Encode(sh)
}

func (shipmentCodec) Decode(b []byte) (any, error) { return state.Decode(b) }

// murmur2 is the hasher of Kafka's Java client, which inbond's writers use
// (kafka-go's Murmur2Balancer): goka must partition its table like its input,
// or a restarted peer recovers a partition's table from another partition's
// changelog. Sum32 is the hash with its sign bit cleared, so sarama's
// partitioner (int32(sum) % n) computes Java's toPositive(h) % n.
type murmur2 struct{ b []byte }

func newMurmur2() hash.Hash32 { return &murmur2{} }

func (m *murmur2) Write(p []byte) (int, error) { m.b = append(m.b, p...); return len(p), nil }
func (m *murmur2) Sum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, m.Sum32())
}
func (m *murmur2) Reset()         { m.b = m.b[:0] }
func (m *murmur2) Size() int      { return 4 }
func (m *murmur2) BlockSize() int { return 4 }
func (m *murmur2) Sum32() uint32  { return murmur2Hash(m.b) & 0x7fffffff }

func murmur2Hash(data []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	length := len(data)
	h := seed ^ uint32(length)
	for ; len(data) >= 4; data = data[4:] {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// maxPartitions bounds the marks file.
const maxPartitions = 64

// marks are three int64 per partition in a shared memory map: the last
// offset applied, the first offset this process applied (-1: none yet) and
// how many it applied.
type marks []int64

func openMarks(path string) (marks, error) {
	if path == "" {
		m := make(marks, 3*maxPartitions)
		m.reset()
		return m, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := 3 * maxPartitions * 8
	if err := f.Truncate(int64(size)); err != nil {
		return nil, err
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	m := marks(unsafe.Slice((*int64)(unsafe.Pointer(&b[0])), 3*maxPartitions))
	m.reset()
	return m, nil
}

func (m marks) reset() {
	for p := range maxPartitions {
		atomic.StoreInt64(&m[3*p], -1)
		atomic.StoreInt64(&m[3*p+1], -1)
		atomic.StoreInt64(&m[3*p+2], 0)
	}
}

func (m marks) applied(p int32, off int64) {
	if atomic.LoadInt64(&m[3*p+1]) < 0 {
		atomic.StoreInt64(&m[3*p+1], off)
	}
	atomic.StoreInt64(&m[3*p], off)
	atomic.AddInt64(&m[3*p+2], 1)
}

// report is one line of the peer's stdout.
type report struct {
	Ev   string  `json:"ev"`          // start, first, progress, caught, stopped
	T    int64   `json:"t"`           // wall clock, unix ns
	N    int64   `json:"n,omitempty"` // events applied by this process
	Next []int64 `json:"next,omitempty"`
	// Misrouted counts records whose key the table's hasher puts in another
	// partition than the one they came from (must stay 0).
	Misrouted int64 `json:"misrouted,omitempty"`
}

func run(ctx context.Context, brokers []string, topic string, group goka.Group, nparts int, endsFlag, marksPath, timesPath, store, dir string) error {
	out := json.NewEncoder(os.Stdout)
	_ = out.Encode(report{Ev: "start", T: time.Now().UnixNano()})
	var ends []int64
	for _, s := range splitList(endsFlag) {
		e, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("--ends: %w", err)
		}
		ends = append(ends, e)
	}
	if nparts <= 0 || nparts > maxPartitions || len(ends) > nparts {
		return fmt.Errorf("--partitions %d (at most %d, at least --ends' %d)", nparts, maxPartitions, len(ends))
	}
	mk, err := openMarks(marksPath)
	if err != nil {
		return fmt.Errorf("--marks: %w", err)
	}
	var (
		applied, misrouted, first, caught atomic.Int64
		stamps                            = make([][]int64, maxPartitions) // per partition: offset, time, ...
	)
	remaining := atomic.Int64{}
	for _, e := range ends {
		if e > 0 {
			remaining.Add(1)
		}
	}
	cb := func(ctx goka.Context, msg any) {
		e, err := event.UnmarshalCanonical(msg.([]byte))
		if err != nil {
			ctx.Fail(err)
			return
		}
		sh, _ := ctx.Value().(*state.Shipment)
		if sh == nil {
			sh = state.New(e.Subject)
		}
		outcome, err := state.Apply(sh, e)
		if err != nil {
			ctx.Fail(err)
			return
		}
		if outcome != state.Duplicate {
			ctx.SetValue(sh)
		}
		now := time.Now().UnixNano()
		p, off := ctx.Partition(), ctx.Offset()
		h := newMurmur2()
		_, _ = h.Write([]byte(ctx.Key()))
		if int(h.Sum32())%nparts != int(p) {
			misrouted.Add(1)
		}
		mk.applied(p, off)
		if timesPath != "" {
			stamps[p] = append(stamps[p], off, now)
		}
		if applied.Add(1) == 1 {
			first.Store(now)
		}
		if int(p) < len(ends) && off == ends[p]-1 && remaining.Add(-1) == 0 {
			caught.Store(now)
		}
	}

	var sb storage.Builder
	switch store {
	case "memory":
		sb = storage.MemoryBuilder()
	case "leveldb":
		if dir == "" {
			dir = goka.DefaultProcessorStoragePath(group)
		}
		sb = storage.DefaultBuilder(dir)
	default:
		return fmt.Errorf("--storage %q: memory or leveldb", store)
	}
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication, tmc.Stream.Replication = 1, 1
	g := goka.DefineGroup(group,
		goka.Input(goka.Stream(topic), new(codec.Bytes), cb),
		goka.Persist(shipmentCodec{}),
	)
	proc, err := goka.NewProcessor(brokers, g,
		goka.WithStorageBuilder(sb),
		goka.WithHasher(newMurmur2),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithTopicManagerConfig(tmc)),
	)
	if err != nil {
		return err
	}

	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastN int64 = -1
	sentFirst, sentCaught := false, false
	emit := func() {
		if t := first.Load(); t != 0 && !sentFirst {
			sentFirst = true
			_ = out.Encode(report{Ev: "first", T: t})
		}
		if n := applied.Load(); n != lastN {
			lastN = n
			next := make([]int64, nparts)
			for p := range next {
				next[p] = atomic.LoadInt64(&mk[3*p]) + 1
			}
			_ = out.Encode(report{Ev: "progress", T: time.Now().UnixNano(), N: n, Next: next, Misrouted: misrouted.Load()})
		}
		if t := caught.Load(); t != 0 && !sentCaught {
			sentCaught = true
			_ = out.Encode(report{Ev: "caught", T: t, N: applied.Load(), Misrouted: misrouted.Load()})
		}
	}
	for {
		select {
		case err := <-done:
			emit()
			if err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			if timesPath != "" {
				if err := writeTimes(timesPath, stamps); err != nil {
					return err
				}
			}
			_ = out.Encode(report{Ev: "stopped", T: time.Now().UnixNano(), N: applied.Load(), Misrouted: misrouted.Load()})
			return nil
		case <-tick.C:
			emit()
		}
	}
}

// writeTimes writes, little-endian int64s, per record: partition, offset,
// time (unix ns).
func writeTimes(path string, stamps [][]int64) error {
	var n int
	for _, s := range stamps {
		n += len(s) / 2 * 3
	}
	buf := make([]byte, 0, n*8)
	for p, s := range stamps {
		for i := 0; i+1 < len(s); i += 2 {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(p))
			buf = binary.LittleEndian.AppendUint64(buf, uint64(s[i]))
			buf = binary.LittleEndian.AppendUint64(buf, uint64(s[i+1]))
		}
	}
	return os.WriteFile(path, buf, 0o644)
}

// dumpTable reads the group table from its changelog through a view and
// writes it to path as {"shipment id": state.Encode bytes as JSON}.
func dumpTable(ctx context.Context, brokers []string, group goka.Group, path string) error {
	view, err := goka.NewView(brokers, goka.GroupTable(group), shipmentCodec{},
		goka.WithViewStorageBuilder(storage.MemoryBuilder()),
		goka.WithViewHasher(newMurmur2),
	)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- view.Run(ctx) }()
	select {
	case <-view.WaitRunning():
	case err := <-done:
		return fmt.Errorf("view stopped before it recovered: %v", err)
	case <-time.After(2 * time.Minute):
		return errors.New("view did not recover within 2 minutes")
	}
	it, err := view.Iterator()
	if err != nil {
		return err
	}
	table := map[string]json.RawMessage{}
	for it.Next() {
		v, err := it.Value()
		if err != nil {
			return err
		}
		b, err := state.Encode(v.(*state.Shipment))
		if err != nil {
			return err
		}
		table[it.Key()] = b
	}
	it.Release()
	if err := it.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(table)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return err
	}
	cancel()
	<-done
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
