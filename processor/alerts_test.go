package processor_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest/ingesttest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/prometheus/client_golang/prometheus"
)

// scenarioEvents is a shipped scenario's traffic as inbond.events holds it,
// with its labels.
func scenarioEvents(t *testing.T, name string, seed uint64) ([]*event.Envelope, []sim.Label) {
	t.Helper()
	sc, err := sim.LoadScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := sim.Generate(sc, seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := ingesttest.DecodeTraffic(stream.Messages)
	if err != nil {
		t.Fatal(err)
	}
	return ingesttest.Events(decoded), stream.Labels
}

// storedAlerts reads every alert record under the store's prefix.
func storedAlerts(t *testing.T, r *testenv.Redis, store *state.Store) []alerts.Alert {
	t.Helper()
	ctx := context.Background()
	var out []alerts.Alert
	iter := r.Client.Scan(ctx, 0, r.Prefix+"*:alert:*", 1000).Iterator()
	for iter.Next(ctx) {
		var a alerts.Alert
		if err := json.Unmarshal([]byte(r.Client.Get(ctx, iter.Val()).Val()), &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b alerts.Alert) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// The processor runs the rules on every event, keeps each alert in Redis in
// the flush that applies its trigger, and publishes every transition to
// inbond.alerts: for the deviations scenario, exactly the labelled
// (shipment, rule) pairs of the rules it runs, each opened at or after its
// label's begins; and a second run over the whole log adds nothing.
func TestProcessorRaisesTheLabelledAlerts(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	r := testenv.NewRedis(t)
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	envs, labels := scenarioEvents(t, "deviations", 1)
	produce(t, brokers, envs)
	env, err := alerts.DefaultEnv()
	if err != nil {
		t.Fatal(err)
	}
	withRules := func(c *processor.Config) { c.Alerts = env }
	stop := startTunedProcessor(t, brokers, store, "g-alerts", "a", withRules)
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	stop()

	got := storedAlerts(t, r, store)
	alertIndexesMatch(t, r, store, got)
	ran := map[alerts.Rule]bool{}
	for _, r := range alerts.Rules {
		ran[r] = alerts.Runs(r)
	}
	type key struct {
		shipment event.ShipmentID
		rule     alerts.Rule
	}
	want := map[key]time.Time{}
	for _, l := range labels {
		if l.Kind == "deviation" && ran[l.Rule] {
			want[key{l.Shipment, l.Rule}] = l.Begins
		}
	}
	opened := map[key]bool{}
	transitions := 0
	for _, a := range got {
		k := key{a.Shipment, a.Rule}
		begins, ok := want[k]
		switch {
		case !ok:
			t.Errorf("unlabelled alert %s on %s: %s", a.Rule, a.Shipment, a.Message)
		case a.OpenedAt.Before(begins):
			t.Errorf("%s on %s opened at %s, before its label's %s", a.Rule, a.Shipment, a.OpenedAt, begins)
		}
		opened[k] = true
		transitions += len(a.History)
	}
	for k := range want {
		if !opened[k] {
			t.Errorf("labelled %s on %s raised no alert", k.rule, k.shipment)
		}
	}
	published := testenv.ReadTopic(t, brokers, string(event.TopicAlerts), transitions, 30*time.Second)
	ids := map[string]bool{}
	for _, part := range published {
		for _, m := range part {
			var ce alerts.TransitionEvent
			if err := json.Unmarshal(m.Value, &ce); err != nil {
				t.Fatal(err)
			}
			ids[ce.ID] = true
		}
	}
	if len(ids) != transitions {
		t.Errorf("%d distinct transitions on %s, %d in Redis", len(ids), event.TopicAlerts, transitions)
	}
	t.Logf("%d alerts (%d transitions) for %d labelled deviations of the rules that run", len(got), transitions, len(want))

	// The whole log again, from a clean slate of positions but the same
	// records: the same alerts, the same transitions, nothing new.
	if err := r.Client.Del(context.Background(), offsetKeys(store)...).Err(); err != nil {
		t.Fatal(err)
	}
	stop = startTunedProcessor(t, brokers, store, "g-alerts-again", "b", withRules)
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	stop()
	again := storedAlerts(t, r, store)
	if len(again) != len(got) {
		t.Fatalf("a replay changed the alerts: %d, then %d", len(got), len(again))
	}
}

func offsetKeys(store *state.Store) []string {
	keys := make([]string, 12)
	for p := range keys {
		keys[p] = store.OffsetKey(p)
	}
	return keys
}

// startTunedProcessor is startProcessor with the config changed by tune.
func startTunedProcessor(t *testing.T, brokers []string, store *state.Store, group, owner string, tune func(*processor.Config)) (stop func()) {
	t.Helper()
	done, cancel := launchProcessor(t, brokers, store, group, owner, processor.NewMetrics(prometheus.NewRegistry()), tune)
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor %s: %v", owner, err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// An officer's acknowledgement and resolution are commands on the log: the
// processor applies them to the alert in order, records who and why, and
// publishes each transition; a command for a resolved alert changes nothing.
func TestOfficersCommandsGoThroughTheLog(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	r := testenv.NewRedis(t)
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	envs, _ := scenarioEvents(t, "deviations", 1)
	produce(t, brokers, envs)
	env, err := alerts.DefaultEnv()
	if err != nil {
		t.Fatal(err)
	}
	startTunedProcessor(t, brokers, store, "g-desk", "a", func(c *processor.Config) { c.Alerts = env })
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)

	w := bus.NewWriter(brokers)
	defer w.Close()
	d := &desk.Desk{Store: store, Writer: w}
	active, err := d.List(context.Background(), desk.Filter{ActiveOnly: true})
	if err != nil || len(active) == 0 {
		t.Fatalf("active alerts %v %v", active, err)
	}
	a := active[0]
	if _, err := d.Acknowledge(context.Background(), a.ID, "officer-ortiz", "on my way"); err != nil {
		t.Fatal(err)
	}
	waitAlert(t, d, a.ID, func(x alerts.Alert) bool { return x.Status == alerts.StatusAcknowledged })
	if _, err := d.Resolve(context.Background(), a.ID, "officer-ortiz", "resealed at the port, cargo intact"); err != nil {
		t.Fatal(err)
	}
	got := waitAlert(t, d, a.ID, func(x alerts.Alert) bool { return x.Status == alerts.StatusResolved })
	last := got.History[len(got.History)-1]
	if last.By != "officer-ortiz" || last.Note != "resealed at the port, cargo intact" || len(got.History) != len(a.History)+2 {
		t.Fatalf("audit trail %+v", got.History)
	}
	if _, err := d.Resolve(context.Background(), a.ID, "officer-ortiz", "again"); err == nil {
		t.Fatal("a resolved alert was resolved again")
	}
	if still, _ := d.List(context.Background(), desk.Filter{ActiveOnly: true}); slices.ContainsFunc(still, func(x alerts.Alert) bool { return x.ID == a.ID }) {
		t.Fatal("the resolved alert is still in the active set")
	}
	published := testenv.ReadTopic(t, brokers, string(event.TopicAlerts), len(got.History), 30*time.Second)
	n := 0
	for _, part := range published {
		for _, m := range part {
			var ce alerts.TransitionEvent
			if json.Unmarshal(m.Value, &ce) == nil && ce.Data.ID == a.ID {
				n++
			}
		}
	}
	if n != len(got.History) {
		t.Fatalf("%d transitions of the alert published, %d in its history", n, len(got.History))
	}
	alertIndexesMatch(t, r, store, storedAlerts(t, r, store))
}

// alertIndexesMatch fails t unless the indexes the API reads agree with the
// alert records: each shipment's set holds exactly its alerts, and the
// shipments with an alert not resolved are exactly those of
// alerts:open-shipments, in every partition.
func alertIndexesMatch(t *testing.T, r *testenv.Redis, store *state.Store, all []alerts.Alert) {
	t.Helper()
	ctx := context.Background()
	ofShipment := map[event.ShipmentID][]string{}
	open := make([][]string, bus.DefaultPartitions)
	for _, a := range all {
		ofShipment[a.Shipment] = append(ofShipment[a.Shipment], a.ID)
		if p := bus.PartitionOf([]byte(a.Shipment), bus.DefaultPartitions); a.Active() && !slices.Contains(open[p], string(a.Shipment)) {
			open[p] = append(open[p], string(a.Shipment))
		}
	}
	sorted := func(key string) []string {
		m, err := r.Client.SMembers(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(m)
		return m
	}
	for id, want := range ofShipment {
		slices.Sort(want)
		p := bus.PartitionOf([]byte(id), bus.DefaultPartitions)
		if got := sorted(store.RecordKey(p, alerts.ShipmentSetSuffix(id))); !slices.Equal(got, want) {
			t.Errorf("%s's alert set %v, its alerts %v", id, got, want)
		}
	}
	for p, want := range open {
		slices.Sort(want)
		if got := sorted(store.RecordKey(p, alerts.OpenShipmentsSet)); !slices.Equal(got, want) {
			t.Errorf("partition %d: open-shipments %v, shipments with an alert not resolved %v", p, got, want)
		}
	}
}

func waitAlert(t *testing.T, d *desk.Desk, id string, ok func(alerts.Alert) bool) alerts.Alert {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		a, err := d.Get(context.Background(), id)
		if err == nil && ok(a) {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert %s: %+v (%v) after 20 s", id, a, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
