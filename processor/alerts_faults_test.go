package processor_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/state"
)

// alertIDs is the set of alert IDs stored under r's prefix.
func alertIDs(t *testing.T, r *testenv.Redis, store *state.Store) map[string]alerts.Alert {
	t.Helper()
	out := map[string]alerts.Alert{}
	for _, a := range storedAlerts(t, r, store) {
		out[a.ID] = a
	}
	return out
}

// The deviations scenario streamed in while `inbond process` is SIGKILLed
// three times raises the same distinct alerts as one uninterrupted run, each
// with the same audit trail; and a replay of the whole log adds none.
func TestAlertsSurviveSIGKILLs(t *testing.T) {
	brokers := kafkaProcess(t)
	r := testenv.NewRedis(t)
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	envs, _ := scenarioEvents(t, "deviations", 1)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("kill schedule seed %d", seed)
	streamed := streamIn(t, brokers, envs, 20, 100*time.Millisecond)
	proc := startProcessProcess(t, brokers, r, "g-alert-crash", "crashy-0", "--rules")
	for kills := 1; kills <= 3; kills++ {
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		proc.kill()
		proc = startProcessProcess(t, brokers, r, "g-alert-crash", "crashy-"+string(rune('0'+kills)), "--rules")
	}
	<-streamed
	waitCaughtUp(t, brokers, r.Client, store, 2*time.Minute)
	time.Sleep(500 * time.Millisecond) // timers the last events passed fire at the next clock check
	proc.stop(t)
	crashed := alertIDs(t, r, store)

	ref := testenv.NewRedis(t)
	refStore, err := state.NewStore(ref.Client, ref.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	env, err := alerts.DefaultEnv()
	if err != nil {
		t.Fatal(err)
	}
	stop := startTunedProcessor(t, brokers, refStore, "g-alert-reference", "reference", func(c *processor.Config) { c.Alerts = env })
	waitCaughtUp(t, brokers, ref.Client, refStore, 2*time.Minute)
	time.Sleep(500 * time.Millisecond)
	stop()
	reference := alertIDs(t, ref, refStore)
	if len(reference) == 0 {
		t.Fatal("the uninterrupted run raised no alert: the test would prove nothing")
	}
	for id, a := range reference {
		got, ok := crashed[id]
		switch {
		case !ok:
			t.Errorf("alert %s (%s on %s) missing after the SIGKILLs", id, a.Rule, a.Shipment)
		case len(got.History) != len(a.History) || got.Status != a.Status:
			t.Errorf("alert %s: %d changes, %s after the SIGKILLs; %d, %s uninterrupted", id, len(got.History), got.Status, len(a.History), a.Status)
		}
	}
	for id, a := range crashed {
		if _, ok := reference[id]; !ok {
			t.Errorf("alert %s (%s on %s) raised only in the run with SIGKILLs", id, a.Rule, a.Shipment)
		}
	}

	// The whole log once more over the crashed run's records: nothing new.
	if err := r.Client.Del(context.Background(), offsetKeys(store)...).Err(); err != nil {
		t.Fatal(err)
	}
	stop = startTunedProcessor(t, brokers, store, "g-alert-replay", "replay", func(c *processor.Config) { c.Alerts = env })
	waitCaughtUp(t, brokers, r.Client, store, 2*time.Minute)
	stop()
	if again := alertIDs(t, r, store); len(again) != len(crashed) {
		t.Fatalf("a replay of the log changed the alerts: %d, then %d", len(crashed), len(again))
	}
	t.Logf("%d alerts, identical after 3 SIGKILLs and after a full replay", len(reference))
}
