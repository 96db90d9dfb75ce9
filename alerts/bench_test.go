package alerts_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
)

// benchEvents is random traffic of 80 shipments, decoded as the gateways
// do: clean, or with every deviation.
func benchEvents(b *testing.B, inject []alerts.Rule) []*event.Envelope {
	b.Helper()
	sc, err := sim.RandomScenario(80, 7, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	s, err := sim.Generate(sc, 7, inject)
	if err != nil {
		b.Fatal(err)
	}
	var out []*event.Envelope
	t := &testing.T{}
	for _, m := range s.Messages {
		if e, rej := decode(t, m); rej == nil {
			out = append(out, e)
		}
	}
	return out
}

// BenchmarkObserve measures what the rules add to applying an event:
// state.Apply alone, then state.Apply and Watch.Observe, per event.
//
//	go test ./alerts -run '^$' -bench Observe -benchmem
func BenchmarkObserve(b *testing.B) {
	env, err := alerts.DefaultEnv()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		inject []alerts.Rule
	}{{"clean", nil}, {"every-deviation", sim.Rules}} {
		evs := benchEvents(b, tc.inject)
		for _, rules := range []bool{false, true} {
			name := tc.name + "/apply"
			if rules {
				name += "+observe"
			}
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					b.StopTimer()
					ships := map[event.ShipmentID]*state.Shipment{}
					watches := map[event.ShipmentID]*alerts.Watch{}
					for _, e := range evs {
						if ships[e.Subject] == nil {
							ships[e.Subject], watches[e.Subject] = state.New(e.Subject), alerts.NewWatch(e.Subject)
						}
					}
					b.StartTimer()
					for _, e := range evs {
						sh := ships[e.Subject]
						res, _ := state.Apply(sh, e)
						if rules {
							watches[e.Subject].Observe(env, sh, e, res == state.Applied)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
			})
		}
	}
}

// BenchmarkEncodeWatch measures what a flush pays per changed shipment for
// its watch, next to its state, at the end of a movement with every
// deviation (the largest memory a watch holds).
func BenchmarkEncodeWatch(b *testing.B) {
	env, err := alerts.DefaultEnv()
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(b, sim.Rules)
	ships := map[event.ShipmentID]*state.Shipment{}
	watches := map[event.ShipmentID]*alerts.Watch{}
	for _, e := range evs {
		if ships[e.Subject] == nil {
			ships[e.Subject], watches[e.Subject] = state.New(e.Subject), alerts.NewWatch(e.Subject)
		}
		res, _ := state.Apply(ships[e.Subject], e)
		watches[e.Subject].Observe(env, ships[e.Subject], e, res == state.Applied)
	}
	var id event.ShipmentID = "RND-00001" // a crude pipeline: meter tracks, the longest movement
	b.Run("state", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for range b.N {
			bs, _ := state.Encode(ships[id])
			n = len(bs)
		}
		b.ReportMetric(float64(n), "bytes")
	})
	b.Run("watch", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for range b.N {
			bs, _ := json.Marshal(watches[id])
			n = len(bs)
		}
		b.ReportMetric(float64(n), "bytes")
	})
}
