package pipeline

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
)

// BenchConfig configures the processor benchmark (`inbond bench`).
type BenchConfig struct {
	Redis     *redis.Client // a real Redis; keys go under Prefix and are deleted afterwards
	Prefix    string
	Events    int
	Shipments int
	// Rounds of (baseline, processor), interleaved so both see the same
	// machine; the best of each is compared (default 2).
	Rounds int
	Out    io.Writer // progress and results; nil for none
}

// Latencies summarizes a set of durations.
type Latencies struct{ P50, P99, Max time.Duration }

func summarize(d []time.Duration) Latencies {
	if len(d) == 0 {
		return Latencies{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return Latencies{P50: at(0.50), P99: at(0.99), Max: d[len(d)-1]}
}

// BenchRun is one measured pass.
type BenchRun struct {
	Events    int
	Elapsed   time.Duration
	PerSecond float64
	Writes    int       // Redis writes (flushes or pipelines)
	Latency   Latencies // per Redis write
}

func (r BenchRun) String() string {
	return fmt.Sprintf("%9.0f events/s  (%d events in %s; %d Redis writes, latency p50 %s p99 %s max %s)",
		r.PerSecond, r.Events, r.Elapsed.Round(time.Millisecond), r.Writes, r.Latency.P50.Round(time.Microsecond),
		r.Latency.P99.Round(time.Microsecond), r.Latency.Max.Round(time.Microsecond))
}

// BenchResult is the processor measured next to the baseline, in one run.
type BenchResult struct {
	Baseline  BenchRun // read from Kafka, one pipelined Redis write per event, nothing else
	Processor BenchRun // the processor: decode, apply, atomic flush of state + offset
	Rules     BenchRun // the same with the deviation rules on (and their records in the flush)
	Ledger    BenchRun // rules on and the ledger's chains and checkpoints too
	// Anchoring is the ledger's own figures: anchor latency and the time to
	// verify a shipment of 10,000 events.
	Anchoring LedgerResult
}

// LedgerRatio is the throughput with the ledger on as a fraction of without
// (both with the rules on).
func (r BenchResult) LedgerRatio() float64 { return r.Ledger.PerSecond / r.Rules.PerSecond }

// RulesRatio is the throughput with the rules on as a fraction of without.
func (r BenchResult) RulesRatio() float64 { return r.Rules.PerSecond / r.Processor.PerSecond }

// Ratio is the processor's throughput as a fraction of the baseline's.
func (r BenchResult) Ratio() float64 { return r.Processor.PerSecond / r.Baseline.PerSecond }

// Bench pre-generates cfg.Events events for cfg.Shipments shipments, writes
// them to an in-process Kafka cluster (12 partitions), and measures, on the
// same data and machine, first the baseline and then the processor.
func Bench(ctx context.Context, cfg BenchConfig) (BenchResult, error) {
	say := func(format string, args ...any) {
		if cfg.Out != nil {
			fmt.Fprintf(cfg.Out, format+"\n", args...)
		}
	}
	cluster, err := Start(ctx, Config{Kafka: Kafka{Embedded: true}})
	if err != nil {
		return BenchResult{}, err
	}
	defer cluster.Stop() //nolint:errcheck // only a server runs; it stops without an error
	brokers := cluster.Brokers
	defer cleanup(cfg.Redis, cfg.Prefix) //nolint:errcheck // best effort: the keys are under a prefix of their own

	envs, err := benchEvents(cfg.Shipments, cfg.Events)
	if err != nil {
		return BenchResult{}, err
	}
	if err := load(ctx, brokers, envs); err != nil {
		return BenchResult{}, err
	}
	say("loaded %d events of %d simulated shipments into in-process Kafka (%d partitions)", len(envs), cfg.Shipments, bus.DefaultPartitions)

	env, err := alerts.DefaultEnv()
	if err != nil {
		return BenchResult{}, err
	}
	var res BenchResult
	rounds := max(cfg.Rounds, 2)
	for i := range rounds {
		tag := strconv.Itoa(i)
		b, err := baseline(ctx, brokers, cfg.Redis, cfg.Prefix+"baseline"+tag+":", len(envs))
		if err != nil {
			return res, err
		}
		say("round %d baseline   %s", i+1, b)
		p, err := processorRun(ctx, brokers, cfg.Redis, cfg.Prefix+"proc"+tag+":", "inbond-bench-"+tag, len(envs), nil)
		if err != nil {
			return res, err
		}
		say("round %d processor  %s", i+1, p)
		rr, err := processorRun(ctx, brokers, cfg.Redis, cfg.Prefix+"rules"+tag+":", "inbond-bench-rules-"+tag, len(envs), env)
		if err != nil {
			return res, err
		}
		say("round %d with rules %s", i+1, rr)
		lr, err := processorRunWith(ctx, brokers, cfg.Redis, cfg.Prefix+"ledger"+tag+":", "inbond-bench-ledger-"+tag, len(envs), func(c *processor.Config) {
			c.Alerts, c.Ledger, c.CheckpointInterval = env, true, time.Second
		})
		if err != nil {
			return res, err
		}
		say("round %d + ledger   %s", i+1, lr)
		if lr.PerSecond > res.Ledger.PerSecond {
			res.Ledger = lr
		}
		if b.PerSecond > res.Baseline.PerSecond {
			res.Baseline = b
		}
		if p.PerSecond > res.Processor.PerSecond {
			res.Processor = p
		}
		if rr.PerSecond > res.Rules.PerSecond {
			res.Rules = rr
		}
	}
	say("best baseline   %s", res.Baseline)
	say("best processor  %s", res.Processor)
	say("best with rules %s", res.Rules)
	say("best + ledger   %s", res.Ledger)
	say("processor / baseline = %.2f; rules on / off = %.2f; ledger on / off (rules on) = %.2f", res.Ratio(), res.RulesRatio(), res.LedgerRatio())
	say("ledger: processor and anchor over the same events, then one shipment of 10,000 events verified ...")
	if res.Anchoring, err = BenchLedger(ctx, cfg.Redis, cfg.Prefix+"ledger:", envs, 10_000); err != nil {
		return res, err
	}
	say("%s", res.Anchoring)
	return res, nil
}

// benchEvents is the first events of simulated carriers on the shipped
// corridors, as the gateways publish them on inbond.events: shipments
// random movements (pipelines, trucks, trains, vessels, barges) with no
// deviation injected, as most traffic is, so the rules do what they would
// do in production. (sim.Workload's synthetic shipments, on no declared
// corridor, would keep every rule firing.)
func benchEvents(shipments, events int) ([]*event.Envelope, error) {
	sc, err := sim.RandomScenario(shipments, 1, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, err
	}
	stream, err := sim.Generate(sc, 1, nil)
	if err != nil {
		return nil, err
	}
	envs := make([]*event.Envelope, 0, min(events, len(stream.Messages)))
	err = decodeTraffic(stream.Messages, func(_ int, e *event.Envelope) bool {
		envs = append(envs, e)
		return len(envs) < events
	})
	return envs, err
}

// decodeTraffic passes simulated messages, in order, through the gateways'
// decoder, each received a second after its publication, and hands each
// accepted event with its message's index to keep until keep says stop.
func decodeTraffic(msgs []sim.Message, keep func(i int, e *event.Envelope) bool) error {
	for i, m := range msgs {
		o := ingest.KafkaOrigin(m.Topic, []byte(m.Key))
		if m.Via == sim.ViaMQTT {
			var err error
			if o, err = ingest.MQTTOrigin(m.Topic); err != nil {
				return err
			}
		}
		at := m.At
		if e, rej := (&ingest.Decoder{Now: func() time.Time { return at.Add(time.Second) }}).Decode(o, m.Body); rej == nil && !keep(i, e) {
			return nil
		}
	}
	return nil
}

func load(ctx context.Context, brokers []string, envs []*event.Envelope) error {
	w := bus.NewWriter(brokers)
	defer w.Close()
	batch := make([]kafka.Message, 0, bus.MaxBatchRecords)
	for i, e := range envs {
		b, err := event.Marshal(e)
		if err != nil {
			return err
		}
		batch = append(batch, kafka.Message{Topic: string(event.TopicEvents), Key: []byte(e.Subject), Value: b})
		if len(batch) == cap(batch) || i == len(envs)-1 {
			if err := w.WriteMessages(ctx, batch...); err != nil {
				return fmt.Errorf("load events: %w", err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// baselineQueue is the baseline readers' prefetch, the processor's own.
const baselineQueue = 1024

// baseline reads every partition in parallel and writes each event to Redis
// with one SET, 500 per pipeline: the cost of moving the events through,
// without decoding or state.
func baseline(ctx context.Context, brokers []string, rdb *redis.Client, prefix string, total int) (BenchRun, error) {
	ends, err := bus.EndOffsets(ctx, brokers, string(event.TopicEvents))
	if err != nil {
		return BenchRun{}, err
	}
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(ends))
	for p, end := range ends {
		wg.Go(func() {
			r := bus.PartitionReader(brokers, string(event.TopicEvents), p, baselineQueue, nil)
			defer r.Close()
			pipe := rdb.Pipeline()
			var mine []time.Duration
			exec := func() {
				t := time.Now()
				if _, err := pipe.Exec(ctx); err != nil {
					errs[p] = err
				}
				mine = append(mine, time.Since(t))
			}
			for n := int64(0); n < end; n++ {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					errs[p] = err
					return
				}
				pipe.Set(ctx, prefix+strconv.Itoa(p)+":"+strconv.FormatInt(m.Offset, 10), m.Value, 0)
				if pipe.Len() == 500 {
					exec()
				}
			}
			if pipe.Len() > 0 {
				exec()
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return BenchRun{}, fmt.Errorf("baseline: %w", err)
		}
	}
	return BenchRun{Events: total, Elapsed: elapsed, PerSecond: float64(total) / elapsed.Seconds(), Writes: len(lat), Latency: summarize(lat)}, nil
}

// processorRun runs one processor, assembled as `inbond process` is, from the
// start of the topic until the offsets stored in Redis reach the end of every
// partition.
func processorRun(ctx context.Context, brokers []string, rdb *redis.Client, prefix, group string, total int, rules *alerts.Env) (BenchRun, error) {
	return processorRunWith(ctx, brokers, rdb, prefix, group, total, func(c *processor.Config) { c.Alerts = rules })
}

// processorRunWith is processorRun with the processor's configuration
// changed by tune.
func processorRunWith(ctx context.Context, brokers []string, rdb *redis.Client, prefix, group string, total int, tune func(*processor.Config)) (BenchRun, error) {
	ends, err := bus.EndOffsets(ctx, brokers, string(event.TopicEvents))
	if err != nil {
		return BenchRun{}, err
	}
	var mu sync.Mutex
	var lat []time.Duration
	pc := &processor.Config{
		Group: group, Owner: "bench", SessionTimeout: 6 * time.Second, FrozenClock: true,
		OnFlush: func(d time.Duration, _, _ int) { mu.Lock(); lat = append(lat, d); mu.Unlock() },
	}
	tune(pc)
	start := time.Now()
	sys, err := Start(ctx, Config{
		Kafka:   Kafka{Brokers: brokers},
		Redis:   Redis{Client: rdb, Prefix: prefix},
		Process: pc,
	})
	if err != nil {
		return BenchRun{}, err
	}
	defer sys.Stop() //nolint:errcheck // a stage's error has ended the wait below already
	for {
		caughtUp := true
		for part, end := range ends {
			off, err := rdb.HGet(ctx, sys.Store.OffsetKey(part), "offset").Int64()
			if err != nil && err != redis.Nil {
				return BenchRun{}, err
			}
			if off < end {
				caughtUp = false
				break
			}
		}
		if caughtUp {
			break
		}
		select {
		case <-sys.Ended():
			return BenchRun{}, fmt.Errorf("processor stopped: %v", sys.Stop())
		case <-ctx.Done():
			return BenchRun{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	mu.Lock()
	defer mu.Unlock()
	return BenchRun{Events: total, Elapsed: elapsed, PerSecond: float64(total) / elapsed.Seconds(), Writes: len(lat), Latency: summarize(lat)}, nil
}

func cleanup(rdb *redis.Client, prefix string) error {
	store, err := state.NewStore(rdb, prefix)
	if err != nil {
		return err
	}
	return store.DeletePrefix(context.Background())
}
