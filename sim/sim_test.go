package sim_test

import (
	"bytes"
	"context"
	"github.com/inbond/inbond/alerts"
	"math"

	"testing"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/wire"
)

// published is one simulator message as the gateways see it.
type published struct {
	msg sim.Message
	env *event.Envelope   // nil when the gateways refuse it
	rej *ingest.Rejection // why, when refused
}

// origin reproduces how the gateways see a simulator message.
func origin(t *testing.T, m sim.Message) ingest.Origin {
	t.Helper()
	if m.Via == sim.ViaMQTT {
		o, err := ingest.MQTTOrigin(m.Topic)
		if err != nil {
			t.Fatalf("simulator used an invalid topic %q: %v", m.Topic, err)
		}
		return o
	}
	return ingest.KafkaOrigin(m.Topic, []byte(m.Key))
}

// decodeAll passes every message through the gateways' decoder, received a
// second after it was published.
func decodeAll(t *testing.T, msgs []sim.Message) []published {
	t.Helper()
	out := make([]published, len(msgs))
	for i, m := range msgs {
		at := m.At
		dec := &ingest.Decoder{Now: func() time.Time { return at.Add(time.Second) }}
		e, rej := dec.Decode(origin(t, m), m.Body)
		out[i] = published{msg: m, env: e, rej: rej}
	}
	return out
}

func generate(t *testing.T, scenario string, seed uint64, inject ...alerts.Rule) *sim.Stream {
	t.Helper()
	sc, err := sim.LoadScenario(scenario)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Generate(sc, seed, inject)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestShippedScenariosPassTheGateways(t *testing.T) {
	for _, name := range sim.ShippedScenarios() {
		t.Run(name, func(t *testing.T) {
			s := generate(t, name, 1)
			malformed := map[event.ShipmentID]int{}
			for _, l := range s.Labels {
				if l.Rule == sim.RuleMalformed {
					malformed[l.Shipment]++
				}
			}
			types := map[event.Type]int{}
			refused := map[event.ShipmentID]int{}
			for _, p := range decodeAll(t, s.Messages) {
				if p.rej != nil {
					o := origin(t, p.msg)
					if p.rej.Reason != wire.ReasonBadUnit || malformed[o.Shipment] == 0 {
						t.Fatalf("gateways refused %s %s: %v\n%s", p.msg.Via, p.msg.Topic, p.rej, p.msg.Body)
					}
					refused[o.Shipment]++
					continue
				}
				types[p.env.Type]++
			}
			for ship, n := range malformed {
				if refused[ship] != n {
					t.Errorf("%s: %d malformed messages labelled, %d dead-lettered", ship, n, refused[ship])
				}
			}
			if name == "clean" && len(refused) > 0 {
				t.Errorf("clean traffic had %d dead letters", len(refused))
			}
			for _, typ := range []event.Type{event.TypeManifest, event.TypeDeparted, event.TypeBorderCrossed, event.TypeArrived,
				event.TypeMeter, event.TypeQuality, event.TypePosition, event.TypeSeal} {
				if types[typ] == 0 {
					t.Errorf("no %s events", typ.Short())
				}
			}
			t.Logf("%d messages, %d labels: %v", len(s.Messages), len(s.Labels), types)
		})
	}
}

func TestDeterministic(t *testing.T) {
	encode := func(s *sim.Stream) []byte {
		var b bytes.Buffer
		if err := sim.WriteMessages(&b, s.Messages); err != nil {
			t.Fatal(err)
		}
		if err := sim.WriteLabels(&b, s.Labels); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a := encode(generate(t, "deviations", 7))
	b := encode(generate(t, "deviations", 7))
	c := encode(generate(t, "deviations", 8))
	if !bytes.Equal(a, b) {
		t.Fatal("same scenario and seed gave different bytes")
	}
	if bytes.Equal(a, c) {
		t.Fatal("a different seed gave identical bytes")
	}
	r1, _ := sim.RandomScenario(20, 3, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	r2, _ := sim.RandomScenario(20, 3, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	s1, err := sim.Generate(r1, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := sim.Generate(r2, 3, nil)
	if !bytes.Equal(encode(s1), encode(s2)) {
		t.Fatal("random scenarios with the same seed differ")
	}
	t.Logf("%d bytes of traffic and labels, identical across runs", len(a))
}

// byShipment groups the accepted events of each shipment, in order.
func byShipment(ps []published) map[event.ShipmentID][]*event.Envelope {
	out := map[event.ShipmentID][]*event.Envelope{}
	for _, p := range ps {
		if p.env != nil {
			out[p.env.Subject] = append(out[p.env.Subject], p.env)
		}
	}
	return out
}

func manifestOf(evs []*event.Envelope) *event.Manifest {
	for _, e := range evs {
		if m, ok := e.Data.(*event.Manifest); ok {
			return m
		}
	}
	return nil
}

func meters(evs []*event.Envelope, id event.MeterID) []*event.MeterReading {
	var out []*event.MeterReading
	for _, e := range evs {
		if m, ok := e.Data.(*event.MeterReading); ok && m.Meter == id {
			out = append(out, m)
		}
	}
	return out
}

func TestPhysicsOfCleanMovements(t *testing.T) {
	s := generate(t, "clean", 1)
	known, err := corridors.Corridors()
	if err != nil {
		t.Fatal(err)
	}
	for ship, evs := range byShipment(decodeAll(t, s.Messages)) {
		m := manifestOf(evs)
		if m.Mode == event.ModePipeline {
			in, out := meters(evs, m.EntryMeter), meters(evs, m.ExitMeter)
			entry, exit := in[len(in)-1].Cumulative, out[len(out)-1].Cumulative
			// Once the line pack has drained, exit = entry within the two
			// meters' repeatability (3σ of the difference of two errors).
			if tol := 3 * math.Sqrt2 * sim.MeterRepeatability; math.Abs(exit-entry)/entry > tol {
				t.Errorf("%s: exit %.1f vs entry %.1f: off by %.4f%%, beyond %.4f%%", ship, exit, entry, (exit-entry)/entry*100, tol*100)
			}
			if math.Abs(entry-m.DeclaredQuantity)/m.DeclaredQuantity > 3*sim.MeterRepeatability {
				t.Errorf("%s: entry meter total %.1f vs declared %.1f", ship, entry, m.DeclaredQuantity)
			}
			// Line pack: while the batch fills the line the exit lags the entry.
			mid := len(in) / 4
			if out[mid].Cumulative >= in[mid].Cumulative && in[mid].Cumulative > 0 {
				t.Errorf("%s: no line pack: at reading %d exit %.1f >= entry %.1f", ship, mid, out[mid].Cumulative, in[mid].Cumulative)
			}
			if m.Product == event.ProductCrude {
				checked := 0
				for _, series := range [][]*event.MeterReading{in, out} {
					for i := 1; i < len(series); i++ {
						dNet := series[i].Cumulative - series[i-1].Cumulative
						dGross := *series[i].GrossCumulative - *series[i-1].GrossCumulative
						if dNet <= 0 {
							continue
						}
						checked++
						if series[i].Temperature > 60 && dNet >= dGross {
							t.Fatalf("%s: at %.1f °F corrected %.3f >= raw %.3f", ship, series[i].Temperature, dNet, dGross)
						}
						if series[i].Temperature < 60 && dNet <= dGross {
							t.Fatalf("%s: at %.1f °F corrected %.3f <= raw %.3f", ship, series[i].Temperature, dNet, dGross)
						}
					}
				}
				if checked == 0 {
					t.Errorf("%s: no volume increments to check", ship)
				}
			}
			continue
		}
		line := known[m.Corridor].Line()
		n := 0
		for _, e := range evs {
			if p, ok := e.Data.(*event.Position); ok {
				n++
				if d := line.DistanceToKm(corridors.Point{Lat: p.Lat, Lon: p.Lon}); d > 1 {
					t.Fatalf("%s: position %.5f,%.5f is %.2f km from corridor %s", ship, p.Lat, p.Lon, d, m.Corridor)
				}
			}
		}
		if n < 10 {
			t.Errorf("%s: only %d positions", ship, n)
		}
	}
}

func TestExpectedOutcomesLabelled(t *testing.T) {
	s := generate(t, "clean", 1)
	sc, _ := sim.LoadScenario("clean")
	expected := map[event.ShipmentID]sim.Label{}
	for _, l := range s.Labels {
		if l.Kind != "expected" {
			t.Fatalf("clean scenario has a %s label for %s", l.Kind, l.Shipment)
		}
		expected[l.Shipment] = l
	}
	for _, sp := range sc.Shipments {
		l, ok := expected[sp.ID]
		if !ok {
			t.Fatalf("no expected outcome for %s", sp.ID)
		}
		want := map[event.EntryType]string{event.EntryIT: "concluded", event.EntryTE: "exported"}[sp.EntryType]
		if l.Values["status"] != want {
			t.Errorf("%s: expected status %v, want %s", sp.ID, l.Values["status"], want)
		}
	}
}

func TestPlayHonoursTheRateCap(t *testing.T) {
	msgs := make([]sim.Message, 3000)
	for i := range msgs {
		msgs[i] = sim.Message{At: time.Unix(0, 0), Via: sim.ViaKafka}
	}
	pub := &countingPublisher{}
	start := time.Now()
	n, err := sim.Play(t.Context(), msgs, pub, sim.Pace{Rate: 10_000})
	if err != nil || n != len(msgs) {
		t.Fatalf("played %d: %v", n, err)
	}
	if rate := float64(n) / time.Since(start).Seconds(); rate > 11_000 {
		t.Fatalf("published at %.0f/s with a cap of 10000/s", rate)
	}
	if pub.n != len(msgs) {
		t.Fatalf("publisher got %d", pub.n)
	}
}

type countingPublisher struct{ n int }

func (c *countingPublisher) Publish(_ context.Context, m []sim.Message) error {
	c.n += len(m)
	return nil
}
func (c *countingPublisher) Close() error { return nil }
