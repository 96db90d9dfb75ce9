package sim_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/sim"
)

var start = time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)

// origin reproduces how the gateways see a simulator message.
func origin(t *testing.T, m sim.Message) ingest.Origin {
	t.Helper()
	if m.Via == sim.ViaMQTT {
		o, err := ingest.ParseMQTTTopic(m.Topic)
		if err != nil {
			t.Fatalf("simulator used an invalid topic %q: %v", m.Topic, err)
		}
		return o
	}
	ch := map[string]ingest.Channel{string(event.TopicCarrierEvents): ingest.ChannelEvents, string(event.TopicManifests): ingest.ChannelManifest}[m.Topic]
	return ingest.Origin{Transport: "kafka", Name: m.Topic, Channel: ch, Shipment: event.ShipmentID(m.Key)}
}

func TestDemoTrafficPassesValidation(t *testing.T) {
	plans := sim.DemoPlans(0, start)
	msgs := sim.Generate(plans, 1)
	dec := &ingest.Decoder{Now: func() time.Time { return start.Add(48 * time.Hour) }}
	kinds := map[event.Type]int{}
	for i, m := range msgs {
		e, rej := dec.Decode(origin(t, m), m.Body)
		if rej != nil {
			t.Fatalf("message %d (%s %s) refused: %v\n%s", i, m.Via, m.Topic, rej, m.Body)
		}
		kinds[e.Type]++
	}
	for _, typ := range []event.Type{event.TypeManifest, event.TypeDeparted, event.TypeArrived, event.TypeMeter, event.TypePosition, event.TypeSeal, event.TypeBorderCrossed} {
		if kinds[typ] == 0 {
			t.Errorf("demo traffic has no %s events", typ)
		}
	}
	if kinds[event.TypeManifest] != len(plans) {
		t.Errorf("%d manifests for %d plans", kinds[event.TypeManifest], len(plans))
	}
	bad := sim.MisconfiguredDevice(plans[0], start)
	if _, rej := dec.Decode(origin(t, bad), bad.Body); rej == nil || rej.Reason != ingest.ReasonBadUnit {
		t.Errorf("misconfigured device: got %v, want reason bad_unit", rej)
	}
	t.Logf("%d messages: %v", len(msgs), kinds)
}

func TestGenerateIsDeterministic(t *testing.T) {
	a := sim.Generate(sim.DemoPlans(3, start), 42)
	b := sim.Generate(sim.DemoPlans(3, start), 42)
	c := sim.Generate(sim.DemoPlans(3, start), 43)
	if len(a) != len(b) {
		t.Fatalf("same seed, %d vs %d messages", len(a), len(b))
	}
	for i := range a {
		if !a[i].At.Equal(b[i].At) || a[i].Topic != b[i].Topic || !bytes.Equal(a[i].Body, b[i].Body) {
			t.Fatalf("same seed differs at message %d", i)
		}
	}
	differ := false
	for i := range min(len(a), len(c)) {
		if !bytes.Equal(a[i].Body, c[i].Body) {
			differ = true
			break
		}
	}
	if !differ {
		t.Error("a different seed produced identical traffic")
	}
	for i := 1; i < len(a); i++ {
		if a[i].At.Before(a[i-1].At) {
			t.Fatalf("messages not in time order at %d", i)
		}
	}
}
