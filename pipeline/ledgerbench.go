package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/redis/go-redis/v9"
)

// LedgerResult is what the ledger costs a user, measured by BenchLedger.
type LedgerResult struct {
	// Anchor is the latency from a checkpoint's cut to the first signed
	// tree head that includes it, over Checkpoints checkpoints.
	Anchor      Latencies
	Checkpoints int
	// Verify is the time of `inbond verify` (archive, receipt, log) for one
	// shipment with VerifiedEvents events, over a few runs.
	Verify         Latencies
	VerifiedEvents uint64
}

// String is the result in two lines.
func (r LedgerResult) String() string {
	return fmt.Sprintf("anchor latency, cut to signed tree: p50 %s p99 %s max %s over %d checkpoints\n"+
		"verify of one shipment with %d events: p50 %s max %s",
		r.Anchor.P50.Round(time.Millisecond), r.Anchor.P99.Round(time.Millisecond), r.Anchor.Max.Round(time.Millisecond), r.Checkpoints,
		r.VerifiedEvents, r.Verify.P50.Round(time.Millisecond), r.Verify.Max.Round(time.Millisecond))
}

// BenchLedger measures the ledger end to end on in-process Kafka and the
// given Redis: the anchor's latency while the processor (rules and ledger
// on) works through envs, and the verification of one shipment with
// verifyEvents events. Keys go under prefix and are deleted afterwards.
func BenchLedger(ctx context.Context, rdb *redis.Client, prefix string, envs []*event.Envelope, verifyEvents int) (LedgerResult, error) {
	var res LedgerResult
	var mu sync.Mutex
	var lat []time.Duration
	onAnchored := func(cp ledger.Checkpoint, _ uint64, published time.Time) {
		mu.Lock()
		lat = append(lat, published.Sub(cp.Time))
		mu.Unlock()
	}
	if _, err := ledgerRun(ctx, rdb, prefix+"anchor:", envs, onAnchored, nil); err != nil {
		return res, err
	}
	mu.Lock()
	res.Anchor, res.Checkpoints = summarize(lat), len(lat)
	mu.Unlock()

	one := sim.Workload(sim.WorkloadConfig{Shipments: 1, Events: verifyEvents, Seed: 5})
	_, err := ledgerRun(ctx, rdb, prefix+"verify:", one, nil, func(sys *System) error {
		ac, err := sys.Audit()
		if err != nil {
			return err
		}
		var times []time.Duration
		for range 5 {
			start := time.Now()
			report, _, err := audit.Verify(ctx, ac, one[0].Subject)
			if err != nil {
				return err
			}
			times = append(times, time.Since(start))
			res.VerifiedEvents = report.Verdict.Events
		}
		res.Verify = summarize(times)
		return nil
	})
	return res, err
}

// ledgerRun runs the processor (rules and ledger on, checkpoints every
// second) and the anchor on a new in-process Kafka over envs until every
// shipment's history is anchored, then calls then, if set, on the system.
func ledgerRun(ctx context.Context, rdb *redis.Client, prefix string, envs []*event.Envelope,
	onAnchored func(ledger.Checkpoint, uint64, time.Time), then func(*System) error) (time.Duration, error) {
	defer cleanup(rdb, prefix) //nolint:errcheck // best effort: the keys are under a prefix of their own
	dir, err := os.MkdirTemp("", "inbond-bench-ledger-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	env, err := alerts.DefaultEnv()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	sys, err := Start(ctx, Config{
		Kafka: Kafka{Embedded: true},
		Redis: Redis{Client: rdb, Prefix: prefix},
		Process: &processor.Config{Group: "inbond-bench-ledger", Owner: "bench", SessionTimeout: 6 * time.Second, FrozenClock: true,
			Alerts: env, Ledger: true, CheckpointInterval: time.Second},
		Anchor: &anchor.Config{Dir: filepath.Join(dir, "log"), KeyFile: filepath.Join(dir, "ledger.key"), OnAnchored: onAnchored},
	})
	if err != nil {
		return 0, err
	}
	defer sys.Stop() //nolint:errcheck // a stage's error has ended the wait below already
	if err := load(ctx, sys.Brokers, envs); err != nil {
		return 0, err
	}
	for {
		ends, err := bus.EndOffsets(ctx, sys.Brokers, string(event.TopicEvents))
		if err != nil {
			return 0, err
		}
		stored, err := sys.Store.Offsets(ctx, len(ends))
		if err != nil {
			return 0, err
		}
		caughtUp := true
		for p, end := range ends {
			caughtUp = caughtUp && max(stored[p], 0) >= end // -1: a partition never flushed, empty
		}
		if caughtUp {
			behind, err := audit.Unanchored(ctx, sys.Store, len(ends))
			if err != nil {
				return 0, err
			}
			if behind == 0 {
				break
			}
		}
		select {
		case <-sys.Ended():
			return 0, fmt.Errorf("a stage stopped: %v", sys.Stop())
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	if then != nil {
		return elapsed, then(sys)
	}
	return elapsed, nil
}
