package processor_test

import (
	"testing"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
)

// TestStateEqualsReference: one uninterrupted run stores exactly the state
// computed from the input alone, with consistent indexes and offsets.
func TestStateEqualsReference(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	r := testenv.NewRedis(t)
	store := state.NewStore(r.Client, r.Prefix)
	envs := sim.Workload(sim.WorkloadConfig{Shipments: 200, Events: 20_000, Seed: 1})
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
