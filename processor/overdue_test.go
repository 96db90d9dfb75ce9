package processor_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/state"
)

// A shipment that goes silent before its in-bond deadline is flagged overdue
// when the partition's event-time clock passes the deadline, though it sends
// nothing more, and so it is when the processor restarted in between: the
// timer waits in Redis, not in memory.
func TestSilentShipmentIsFlaggedOverdueAcrossARestart(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	r := testenv.NewRedis(t)
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	envs, labels := scenarioEvents(t, "deviations", 1)
	var silent event.ShipmentID
	var deadline time.Time
	for _, l := range labels {
		if l.Kind == "deviation" && l.Rule == alerts.RuleOverdue {
			silent, deadline = l.Shipment, l.Begins
		}
	}
	if silent == "" {
		t.Fatal("the deviations scenario has no overdue shipment")
	}
	var before []*event.Envelope
	for _, e := range envs {
		if e.Subject == silent && e.Time.Before(deadline.Add(-time.Hour)) {
			before = append(before, e)
		}
	}
	// Another shipment of the same partition, whose events move the clock on.
	part := bus.PartitionOf([]byte(silent), bus.DefaultPartitions)
	var other event.ShipmentID
	for i := 0; other == ""; i++ {
		if id := event.ShipmentID(fmt.Sprintf("NEIGHBOUR-%d", i)); bus.PartitionOf([]byte(id), bus.DefaultPartitions) == part {
			other = id
		}
	}
	tick := func(at time.Time, n int) *event.Envelope {
		return &event.Envelope{SpecVersion: event.SpecVersion, ID: fmt.Sprintf("tick-%d", n), Type: event.TypeArrived, Subject: other,
			PartitionKey: other, Carrier: "PRTK", Time: at, ReceivedTime: at, DataContentType: event.ContentTypeJSON,
			Data: &event.Arrived{Port: "3310"}}
	}
	env, err := alerts.DefaultEnv()
	if err != nil {
		t.Fatal(err)
	}
	rules := func(c *processor.Config) { c.Alerts = env }

	produce(t, brokers, append(before, tick(deadline.Add(-30*time.Minute), 1)))
	stop := startTunedProcessor(t, brokers, store, "g-overdue", "first", rules)
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	stop()
	for _, a := range storedAlerts(t, r, store) {
		if a.Shipment == silent && a.Rule == alerts.RuleOverdue {
			t.Fatalf("flagged overdue before its deadline: %+v", a)
		}
	}

	produce(t, brokers, []*event.Envelope{tick(deadline.Add(2*time.Hour), 2)})
	stop = startTunedProcessor(t, brokers, store, "g-overdue", "second", rules)
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	deadlineAt := time.Now().Add(10 * time.Second)
	for {
		for _, a := range storedAlerts(t, r, store) {
			if a.Shipment == silent && a.Rule == alerts.RuleOverdue {
				stop()
				if a.OpenedAt.Before(deadline) {
					t.Fatalf("opened at %s, before the deadline %s", a.OpenedAt, deadline)
				}
				t.Logf("overdue after the restart: %s", a.Message)
				return
			}
		}
		if time.Now().After(deadlineAt) {
			t.Fatalf("%s not flagged overdue 10 s after the clock passed its deadline %s", silent, deadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
