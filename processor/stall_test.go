package processor_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/processor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A member the group keeps although it processes nothing (here paused with
// SIGSTOP inside a 60 s session; a ghost kfake never timed out looked the
// same) leaves its partitions behind the log. The other instance reports
// exactly those as stalled, and stops reporting them once they move again.
func TestStalledPartitionsAreReported(t *testing.T) {
	brokers, r, store, envs := newFixture(t, kafkaProcess(t), 200, 6_000, 31)
	ghost := startProcessProcess(t, brokers, r, "g-stall", "ghost", "--session-timeout", "60s", "--stall-after", "-1s")
	waitLog(t, ghost.log, `"partition claimed"`, bus.DefaultPartitions, 30*time.Second)

	m := processor.NewMetrics(prometheus.NewRegistry())
	done, cancel := launchProcessor(t, brokers, store, "g-stall", "watcher", m, func(c *processor.Config) {
		c.SessionTimeout, c.StallAfter = 60*time.Second, 2*time.Second
	})
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watcher: %v", err)
		}
	}()
	waitGauge(t, m.OwnedPartitions, func(v float64) bool { return v > 0 && v < bus.DefaultPartitions }, 40*time.Second, "the watcher owning some partitions")
	// Partitions are claimed one by one: wait until the count holds still
	// (past the stall time, with nothing behind).
	owned := testutil.ToFloat64(m.OwnedPartitions)
	for steady := time.Now(); time.Since(steady) < 3*time.Second; time.Sleep(50 * time.Millisecond) {
		if v := testutil.ToFloat64(m.OwnedPartitions); v != owned {
			owned, steady = v, time.Now()
		}
	}
	if v := testutil.ToFloat64(m.StalledPartitions); v != 0 {
		t.Fatalf("%v partitions reported stalled while nothing is behind", v)
	}

	if err := ghost.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, envs)
	ghosts := float64(bus.DefaultPartitions) - owned
	waitGauge(t, m.StalledPartitions, func(v float64) bool { return v == ghosts }, 20*time.Second, "the ghost's partitions reported stalled")
	time.Sleep(time.Second)
	if v := testutil.ToFloat64(m.StalledPartitions); v != ghosts {
		t.Fatalf("%v partitions reported stalled, want the ghost's %v", v, ghosts)
	}

	if err := ghost.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	waitGauge(t, m.StalledPartitions, func(v float64) bool { return v == 0 }, 20*time.Second, "no partition reported stalled once the ghost woke")
	ghost.stop(t)
	matchesReference(t, snapshot(t, r.Client, r.Prefix), store, envs, bus.DefaultPartitions)
}

// waitGauge waits until g satisfies ok and returns its value.
func waitGauge(t *testing.T, g prometheus.Gauge, ok func(float64) bool, within time.Duration, what string) float64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := testutil.ToFloat64(g)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s (gauge at %v)", what, within, v)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
