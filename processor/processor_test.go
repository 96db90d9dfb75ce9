package processor_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/state"
)

// TestStateEqualsReference: one uninterrupted run stores exactly the state
// computed from the input alone, with consistent indexes and offsets.
func TestStateEqualsReference(t *testing.T) {
	brokers, r, store, envs := newFixture(t, testenv.Kafka(t, embedded.KafkaConfig{}), 200, 20_000, 1)
	produce(t, brokers, envs)
	startProcessor(t, brokers, store, "g-ref", "solo")
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	snap := snapshot(t, r.Client, r.Prefix)
	matchesReference(t, snap, store, envs, bus.DefaultPartitions)

	// Indexes agree with the stored states.
	ref := reference(envs)
	counts := map[state.Status]int{}
	for _, sh := range ref {
		counts[sh.Status]++
	}
	for st, n := range counts {
		got := 0
		for p := range bus.DefaultPartitions {
			got += int(r.Client.SCard(t.Context(), store.StatusKey(p, st)).Val())
		}
		if got != n {
			t.Errorf("status index %s holds %d shipments, want %d", st, got, n)
		}
	}
	open := 0
	for _, sh := range ref {
		if sh.Status != state.StatusExported && sh.Status != state.StatusConcluded {
			open++
		}
	}
	dl := 0
	for p := range bus.DefaultPartitions {
		dl += int(r.Client.ZCard(t.Context(), store.DeadlinesKey(p)).Val())
	}
	if dl != open {
		t.Errorf("deadline index holds %d shipments, want the %d open ones", dl, open)
	}
}

// TestGracefulShutdownFlushes: with periodic flushing effectively off, the
// state in Redis can only come from the flush a clean stop makes; it must
// hold every applied event.
func TestGracefulShutdownFlushes(t *testing.T) {
	brokers, r, store, envs := newFixture(t, testenv.Kafka(t, embedded.KafkaConfig{}), 100, 10_000, 3)
	produce(t, brokers, envs)

	reg := prometheus.NewRegistry()
	metrics := processor.NewMetrics(reg)
	p, err := processor.New(processor.Config{
		Brokers: brokers, Group: "g-graceful", Owner: "graceful", SessionTimeout: time.Second,
		FlushInterval: time.Hour, FlushEvents: 1 << 30, Store: store, Metrics: metrics,
		Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for testutil.ToFloat64(metrics.Events.WithLabelValues(processor.OutcomeApplied)) < float64(len(envs)) {
		if time.Now().After(deadline) {
			t.Fatal("events not applied within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(snapshot(t, r.Client, r.Prefix)); n != 12 { // only the claims' offset hashes
		t.Fatalf("%d keys in Redis before the stop; periodic flushing should be off", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, brokers, r.Client, store, time.Second)
	matchesReference(t, snapshot(t, r.Client, r.Prefix), store, envs, bus.DefaultPartitions)
}
