package state_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest/ingesttest"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/inbond/inbond/wire"
)

// channelEvents decodes simulated traffic as the gateways would and groups
// each shipment's events by the channel they travel on (MQTT telemetry,
// MQTT events, Kafka carrier events, Kafka manifests), in each channel's
// own order: the only order inbond.events keeps across gateways.
func channelEvents(t *testing.T, msgs []sim.Message) map[event.ShipmentID]map[string][]*event.Envelope {
	t.Helper()
	decoded, err := ingesttest.DecodeTraffic(msgs)
	if err != nil {
		t.Fatal(err)
	}
	out := map[event.ShipmentID]map[string][]*event.Envelope{}
	for _, d := range decoded {
		if d.Rejection != nil {
			if d.Rejection.Reason != wire.ReasonBadUnit { // the injected malformed reading
				t.Fatalf("simulated traffic refused: %v", d.Rejection)
			}
			continue
		}
		e, ch := d.Event, string(d.Msg.Via)+":"+string(d.Origin.Channel)
		if out[e.Subject] == nil {
			out[e.Subject] = map[string][]*event.Envelope{}
		}
		out[e.Subject][ch] = append(out[e.Subject][ch], e)
	}
	return out
}

// interleave merges the channels in an order drawn from rng, keeping each
// channel's own order.
func interleave(rng *rand.Rand, channels map[string][]*event.Envelope) []*event.Envelope {
	var queues [][]*event.Envelope
	n := 0
	for _, q := range channels {
		queues = append(queues, q)
		n += len(q)
	}
	out := make([]*event.Envelope, 0, n)
	for len(out) < n {
		// Weighted by what is left, so long channels are spread through.
		pick := rng.IntN(n - len(out))
		for i, q := range queues {
			if pick < len(q) {
				out = append(out, q[0])
				queues[i] = q[1:]
				break
			}
			pick -= len(q)
		}
	}
	return out
}

// A shipment's state depends on the set of its events, not on how its
// channels happened to interleave on inbond.events: every interleaving that
// keeps each channel's order gives byte-identical state.
func TestStateDoesNotDependOnChannelInterleaving(t *testing.T) {
	sc, err := sim.RandomScenario(24, 7, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := sim.Generate(sc, 7, sim.Rules)
	if err != nil {
		t.Fatal(err)
	}
	deviations, err := sim.LoadScenario("deviations")
	if err != nil {
		t.Fatal(err)
	}
	more, err := sim.Generate(deviations, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	shipments := channelEvents(t, append(stream.Messages, more.Messages...))
	const interleavings = 40
	rng := rand.New(rand.NewPCG(1, 2))
	mixed := 0
	for id, channels := range shipments {
		var want []byte
		for i := range interleavings {
			sh := state.New(id)
			for _, e := range interleave(rng, channels) {
				if _, err := state.Apply(sh, e); err != nil {
					t.Fatal(err)
				}
			}
			got, err := state.Encode(sh)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				want = got
				continue
			}
			if string(got) != string(want) {
				t.Fatalf("shipment %s (%d channels): interleaving %d gives other state than the first:\n got  %s\n want %s",
					id, len(channels), i, got, want)
			}
		}
		if len(channels) > 1 {
			mixed++
		}
	}
	if mixed < len(shipments)/2 {
		t.Fatalf("only %d of %d shipments have events on several channels: the test would prove little", mixed, len(shipments))
	}
	t.Logf("%d shipments (%d on several channels), %d interleavings each: identical state", len(shipments), mixed, interleavings)
}
