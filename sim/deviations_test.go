package sim_test

import (
	"bytes"
	"github.com/inbond/inbond/alerts"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/wire"
)

func num(t *testing.T, l sim.Label, key string) float64 {
	t.Helper()
	v, ok := l.Values[key].(float64)
	if !ok {
		if i, ok := l.Values[key].(int); ok {
			return float64(i)
		}
		t.Fatalf("%s %s: label value %q missing or not a number: %v", l.Shipment, l.Rule, key, l.Values[key])
	}
	return v
}

// cumulativeAt interpolates a meter's totalizer at time at.
func cumulativeAt(evs []*event.Envelope, meter event.MeterID, at time.Time) float64 {
	var prevT time.Time
	prev := 0.0
	for _, e := range evs {
		m, ok := e.Data.(*event.MeterReading)
		if !ok || m.Meter != meter {
			continue
		}
		if !e.Time.Before(at) {
			if prevT.IsZero() {
				return m.Cumulative
			}
			f := float64(at.Sub(prevT)) / float64(e.Time.Sub(prevT))
			return prev + (m.Cumulative-prev)*f
		}
		prevT, prev = e.Time, m.Cumulative
	}
	return prev
}

// TestInjectedDeviationsCrossTheirThresholds checks, from the published
// traffic alone, that every labelled deviation is really there.
func TestInjectedDeviationsCrossTheirThresholds(t *testing.T) {
	s := generate(t, "deviations", 1)
	ps := decodeAll(t, s.Messages)
	events := byShipment(ps)
	known, err := corridors.Corridors()
	if err != nil {
		t.Fatal(err)
	}
	th := alerts.DefaultThresholds
	seen := map[alerts.Rule]int{}
	for _, l := range s.Labels {
		if l.Kind != "deviation" {
			continue
		}
		seen[l.Rule]++
		evs := events[l.Shipment]
		m := manifestOf(evs)
		t.Run(string(l.Shipment)+"/"+string(l.Rule), func(t *testing.T) {
			switch l.Rule {
			case alerts.RuleRoute:
				line := known[m.Corridor].Line()
				worst, first := 0.0, time.Time{}
				for _, e := range evs {
					if p, ok := e.Data.(*event.Position); ok {
						d := line.DistanceToKm(corridors.Point{Lat: p.Lat, Lon: p.Lon})
						worst = math.Max(worst, d)
						if d > th.RouteKm && first.IsZero() {
							first = e.Time
						}
					}
				}
				if worst <= th.RouteKm || !first.Equal(l.Begins) {
					t.Fatalf("farthest position %.2f km from the corridor (threshold %.0f), first beyond it at %v, label says %v", worst, th.RouteKm, first, l.Begins)
				}
			case alerts.RuleStop:
				c := known[m.Corridor]
				var runStart, runEnd time.Time
				longest := time.Duration(0)
				for _, e := range evs {
					p, ok := e.Data.(*event.Position)
					if !ok {
						continue
					}
					if p.SpeedKmh == 0 && !c.InStopArea(corridors.Point{Lat: p.Lat, Lon: p.Lon}) {
						if runStart.IsZero() {
							runStart = e.Time
						}
						runEnd = e.Time
						if d := runEnd.Sub(runStart); d > longest {
							longest = d
						}
					} else {
						runStart = time.Time{}
					}
				}
				if longest.Minutes() <= th.StopMinutes {
					t.Fatalf("longest stop outside the allowed areas %s, threshold %.0f min", longest, th.StopMinutes)
				}
			case alerts.RuleOverdue:
				arrived := findType(evs, event.TypeArrived)
				if arrived == nil || !arrived.Time.After(m.Deadline) || !m.Deadline.Equal(l.Begins) {
					t.Fatalf("arrival %v not after the declared deadline %v (label %v)", arrived, m.Deadline, l.Begins)
				}
			case alerts.RuleLateReport:
				arrived := findType(evs, event.TypeArrived)
				// Counted as the rule counts: business days less federal
				// holidays (alerts.ReportDue) from the arrival the telemetry
				// shows; the label begins exactly at the due time.
				physical := physicalArrival(evs, m, known[m.Corridor])
				due := alerts.ReportDue(physical, th.ReportBusinessDays)
				if arrived.Time.Before(due) || !l.Begins.Equal(due) {
					t.Fatalf("arrival at %v reported at %v, due by %v (label begins %v)", physical, arrived.Time, due, l.Begins)
				}
			case alerts.RuleDiversion:
				arrived := findType(evs, event.TypeArrived)
				if arrived.Data.(*event.Arrived).Port == m.DestinationPort || findType(evs, event.TypeDiversionApproved) != nil {
					t.Fatalf("arrived at %s, destination %s", arrived.Data.(*event.Arrived).Port, m.DestinationPort)
				}
			case alerts.RuleImbalance:
				if m.Mode == event.ModePipeline {
					lag := time.Duration(num(t, l, "line_fill_hours") * float64(time.Hour))
					from, to := l.Begins, l.Begins.Add(time.Duration(num(t, l, "window_hours")*float64(time.Hour)))
					in := cumulativeAt(evs, m.EntryMeter, to.Add(-lag)) - cumulativeAt(evs, m.EntryMeter, from.Add(-lag))
					out := cumulativeAt(evs, m.ExitMeter, to) - cumulativeAt(evs, m.ExitMeter, from)
					if pct := (in - out) / in * 100; pct <= th.ImbalancePct {
						t.Fatalf("exit %.1f vs entry %.1f over the window: %.3f%% (threshold %.1f%%)", out, in, pct, th.ImbalancePct)
					}
				} else {
					d := findType(evs, event.TypeDelivered).Data.(*event.Delivered)
					if short := (m.DeclaredQuantity - d.Net) / m.DeclaredQuantity * 100; short <= th.ImbalancePct {
						t.Fatalf("delivered %.1f of %.1f loaded: %.2f%% short", d.Net, m.DeclaredQuantity, short)
					}
				}
			case alerts.RuleMisclassification:
				sum, n := 0.0, 0
				for _, e := range evs {
					if q, ok := e.Data.(*event.QualityReading); ok {
						if m.Product == event.ProductGas && q.HeatingValue != nil {
							sum, n = sum+*q.HeatingValue, n+1
						} else if q.APIGravity != nil {
							sum, n = sum+*q.APIGravity, n+1
						}
					}
				}
				mean := sum / float64(n)
				switch {
				case m.Product == event.ProductGas:
					if mean >= th.GasMinHeatingValue {
						t.Fatalf("mean heating value %.1f is not below %.0f", mean, th.GasMinHeatingValue)
					}
				case (m.HTS == "2709.00.20") == (mean >= event.HeavyCrudeAPILimit):
					t.Fatalf("declared %s, measured mean %.2f° API: same side of 25°", m.HTS, mean)
				}
			case alerts.RulePressure:
				readings := meters(evs, m.ExitMeter)
				worst := 0.0
				for i := 1; i < len(readings); i++ {
					worst = math.Max(worst, (readings[i-1].Pressure-readings[i].Pressure)/readings[i-1].Pressure*100)
				}
				if worst <= th.PressureDropPct {
					t.Fatalf("largest pressure drop between readings %.1f%%, threshold %.0f%%", worst, th.PressureDropPct)
				}
			case alerts.RuleSeal:
				found := false
				for _, e := range evs {
					if st, ok := e.Data.(*event.SealState); ok && st.State == event.SealBroken {
						found = true
					}
				}
				if !found {
					t.Fatal("no broken seal reported")
				}
			case alerts.RuleGap:
				var times []time.Time
				departed := findType(evs, event.TypeDeparted).Time
				arrived := physicalArrival(evs, m, known[m.Corridor])
				for _, e := range evs {
					if e.Kind() == event.KindTelemetry && e.Time.After(departed) && e.Time.Before(arrived) {
						times = append(times, e.Time)
					}
				}
				sort.Slice(times, func(a, b int) bool { return times[a].Before(times[b]) })
				longest := time.Duration(0)
				for i := 1; i < len(times); i++ {
					longest = max(longest, times[i].Sub(times[i-1]))
				}
				if longest.Minutes() <= th.GapMinutes {
					t.Fatalf("longest telemetry gap in transit %s, threshold %.0f min", longest, th.GapMinutes)
				}
			case alerts.RuleIdentity:
				rogue, wrong := false, false
				for _, e := range evs {
					if e.Device != "" && !containsDevice(m.Devices, e.Device) {
						rogue = true
					}
					if e.Carrier != m.Carrier.SCAC {
						wrong = true
					}
				}
				if !rogue || !wrong {
					t.Fatalf("unregistered device seen %v, foreign carrier seen %v", rogue, wrong)
				}
			case alerts.RuleReplay:
				type key struct {
					d event.DeviceID
					s uint64
				}
				content := map[key][]byte{}
				replayed, ahead := false, false
				for _, e := range evs {
					if e.Device == "" {
						continue
					}
					c, _ := event.Canonical(&event.Envelope{Type: e.Type, Time: e.Time, Data: e.Data})
					k := key{e.Device, e.Sequence}
					if prev, ok := content[k]; ok && !bytes.Equal(prev, c) {
						replayed = true
					}
					content[k] = c
					if e.Time.Sub(e.ReceivedTime) > th.FutureClock {
						ahead = true
					}
				}
				if !replayed || !ahead {
					t.Fatalf("sequence reused with other content %v, clock more than %s ahead %v", replayed, th.FutureClock, ahead)
				}
			case sim.RuleMalformed:
				n := 0
				for _, p := range ps {
					if p.rej != nil && p.rej.Reason == wire.ReasonBadUnit && origin(t, p.msg).Shipment == l.Shipment {
						n++
					}
				}
				if n == 0 {
					t.Fatal("no message of this shipment was dead-lettered as bad_unit")
				}
			default:
				t.Fatalf("no check for rule %s", l.Rule)
			}
		})
	}
	for _, r := range sim.Rules {
		if seen[r] == 0 {
			t.Errorf("the deviations scenario injects no %s", r)
		}
	}
}

func findType(evs []*event.Envelope, typ event.Type) *event.Envelope {
	for _, e := range evs {
		if e.Type == typ {
			return e
		}
	}
	return nil
}

func containsDevice(list []event.DeviceID, d event.DeviceID) bool {
	for _, x := range list {
		if x == d {
			return true
		}
	}
	return false
}

// physicalArrival is when the goods were at destination according to the
// telemetry, as the rules find it: a conveyance's first fix at its
// corridor's end (alerts.AtDestination), or when the exit meter's total
// stopped growing.
func physicalArrival(evs []*event.Envelope, m *event.Manifest, c *corridors.Corridor) time.Time {
	if m.Mode == event.ModePipeline {
		readings := meters(evs, m.ExitMeter)
		final := readings[len(readings)-1].Cumulative
		for _, e := range evs {
			if r, ok := e.Data.(*event.MeterReading); ok && r.Meter == m.ExitMeter && r.Cumulative >= final {
				return e.Time
			}
		}
	}
	for _, e := range evs {
		if p, ok := e.Data.(*event.Position); ok && alerts.AtDestination(c, corridors.Point{Lat: p.Lat, Lon: p.Lon}) {
			return e.Time
		}
	}
	return time.Time{}
}

// No injected deviation hides or makes another: on every conveyance of the
// deviations scenario and of a random one with every deviation, the route
// excursion, the unscheduled stop and the seal break all begin outside the
// telemetry gap, and the published fixes stand still outside the allowed
// stop areas longer than StopMinutes (a planned dwell moved off its area
// by the excursion would) exactly when a stop is labelled.
func TestDeviationsDoNotOverlap(t *testing.T) {
	known, err := corridors.Corridors()
	if err != nil {
		t.Fatal(err)
	}
	th := alerts.DefaultThresholds
	sc, err := sim.RandomScenario(80, 7, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	random, err := sim.Generate(sc, 7, sim.Rules)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*sim.Stream{"deviations": generate(t, "deviations", 1), "random-80-7": random} {
		events := byShipment(decodeAll(t, s.Messages))
		labels := map[event.ShipmentID]map[alerts.Rule]sim.Label{}
		for _, l := range s.Labels {
			if l.Kind == "deviation" {
				if labels[l.Shipment] == nil {
					labels[l.Shipment] = map[alerts.Rule]sim.Label{}
				}
				labels[l.Shipment][l.Rule] = l
			}
		}
		for id, evs := range events {
			m := manifestOf(evs)
			if m == nil || known[m.Corridor] == nil || !known[m.Corridor].Mode.Conveyance() {
				continue
			}
			c := known[m.Corridor]
			ls := labels[id]
			if gap, ok := ls[alerts.RuleGap]; ok {
				from, to := gap.Begins, gap.Begins.Add(time.Duration(num(t, gap, "gap_minutes")*float64(time.Minute)))
				for _, r := range []alerts.Rule{alerts.RuleRoute, alerts.RuleStop, alerts.RuleSeal} {
					if l, ok := ls[r]; ok && !l.Begins.Before(from) && l.Begins.Before(to) {
						t.Errorf("%s: %s/%s begins %v, inside the gap %v–%v", name, id, r, l.Begins, from, to)
					}
				}
			}
			var still time.Time
			stopped := false
			for _, e := range evs {
				p, ok := e.Data.(*event.Position)
				if !ok {
					continue
				}
				pt := corridors.Point{Lat: p.Lat, Lon: p.Lon}
				if alerts.AtDestination(c, pt) {
					break
				}
				switch {
				case p.SpeedKmh > alerts.StationaryKmh:
					still = time.Time{}
				case still.IsZero() && !c.InStopArea(pt):
					still = e.Time
				case !still.IsZero() && e.Time.Sub(still).Minutes() > th.StopMinutes:
					stopped = true
				}
			}
			if _, labelled := ls[alerts.RuleStop]; stopped != labelled {
				t.Errorf("%s: %s stands still outside the stop areas: %v, stop labelled: %v", name, id, stopped, labelled)
			}
		}
	}
}
