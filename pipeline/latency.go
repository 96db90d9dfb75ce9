package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/redis/go-redis/v9"
)

// LatencyConfig configures the ingest-to-alert latency benchmark.
type LatencyConfig struct {
	Redis  *redis.Client // a real Redis; keys go under Prefix and are deleted afterwards
	Prefix string
	Rate   float64 // messages per second published into the gateways (default 10,000)
	// Shipments of a random scenario with every deviation injected, played
	// as fast as Rate allows (default 60).
	Shipments int
	Out       io.Writer
}

// LatencyResult is how long alerts took from their triggering message.
type LatencyResult struct {
	Messages  int
	PerSecond float64   // messages published per second
	Alerts    int       // alerts opened by an event (timer-opened ones are not timed)
	Latency   Latencies // from the trigger's publication to the alert on inbond.alerts
}

// timedPublisher records when each message was handed to the brokers.
type timedPublisher struct {
	sim.Publisher
	mu   sync.Mutex
	sent []time.Time // by message index
	next int
}

func (p *timedPublisher) Publish(ctx context.Context, msgs []sim.Message) error {
	now := time.Now()
	p.mu.Lock()
	for range msgs {
		p.sent[p.next] = now
		p.next++
	}
	p.mu.Unlock()
	return p.Publisher.Publish(ctx, msgs)
}

// Latency plays simulated carriers into the whole system (gateways,
// processor with the rules, Redis at cfg.Redis) at cfg.Rate messages per
// second, and times every alert an event opens from the moment its
// triggering message was published to the moment its transition is read
// from inbond.alerts.
func Latency(ctx context.Context, cfg LatencyConfig) (LatencyResult, error) {
	var res LatencyResult
	rate := cfg.Rate
	if rate <= 0 {
		rate = 10_000
	}
	n := cfg.Shipments
	if n <= 0 {
		n = 60
	}
	sc, err := sim.RandomScenario(n, 11, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return res, err
	}
	stream, err := sim.Generate(sc, 11, sim.Rules)
	if err != nil {
		return res, err
	}
	msgs := stream.Messages
	// Which message each event ID comes from: the IDs are derived from the
	// inputs, so the decoder computes the same ones the gateways will.
	origin := make(map[string]int, len(msgs))
	if err := decodeTraffic(msgs, func(i int, e *event.Envelope) bool { origin[e.ID] = i; return true }); err != nil {
		return res, err
	}
	env, err := alerts.DefaultEnv()
	if err != nil {
		return res, err
	}
	cfgSys := Embedded(0, "127.0.0.1:0")
	cfgSys.Redis = Redis{Client: cfg.Redis, Prefix: cfg.Prefix}
	cfgSys.Process = &processor.Config{Owner: "latency", SessionTimeout: 6 * time.Second, Alerts: env}
	sys, err := Start(ctx, cfgSys)
	if err != nil {
		return res, err
	}
	defer sys.Stop()                     //nolint:errcheck // a benchmark: its figures are the result
	defer cleanup(cfg.Redis, cfg.Prefix) //nolint:errcheck // best effort: the keys are under a prefix of their own

	net, err := sim.NewNetPublisher(sys.MQTTURL, "inbond-latency-carriers", sys.Brokers)
	if err != nil {
		return res, err
	}
	defer net.Close()
	pub := &timedPublisher{Publisher: net, sent: make([]time.Time, len(msgs))}

	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	parts, err := bus.PartitionCount(ctx, sys.Brokers, string(event.TopicAlerts))
	if err != nil {
		return res, err
	}
	for p := range parts {
		wg.Go(func() {
			r := bus.PartitionReader(sys.Brokers, string(event.TopicAlerts), p, 1000, nil)
			defer r.Close()
			for {
				m, err := r.FetchMessage(readCtx)
				if err != nil {
					return
				}
				got := time.Now()
				var ce alerts.TransitionEvent
				if json.Unmarshal(m.Value, &ce) != nil || ce.Change.Seq != 1 {
					continue
				}
				i, ok := origin[ce.Data.Trigger]
				pub.mu.Lock()
				sent := pub.sent[i]
				pub.mu.Unlock()
				if ok && !sent.IsZero() {
					mu.Lock()
					lat = append(lat, got.Sub(sent))
					mu.Unlock()
				}
			}
		})
	}
	began := time.Now()
	played, err := sim.Play(ctx, msgs, pub, sim.Pace{Rate: rate})
	if err != nil {
		return res, err
	}
	res.Messages, res.PerSecond = played, float64(played)/time.Since(began).Seconds()
	time.Sleep(2 * time.Second) // the last alerts on their way
	stopReading()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	res.Alerts, res.Latency = len(lat), summarize(lat)
	if cfg.Out != nil {
		fmt.Fprintf(cfg.Out, "ingest -> alert: %d messages at %.0f/s, %d event-opened alerts, latency p50 %s p99 %s max %s\n",
			res.Messages, res.PerSecond, res.Alerts, res.Latency.P50.Round(time.Microsecond), res.Latency.P99.Round(time.Microsecond), res.Latency.Max.Round(time.Microsecond))
	}
	return res, nil
}
