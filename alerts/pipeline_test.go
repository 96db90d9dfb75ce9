package alerts_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
)

// pipe is a synthetic batch: the entry meter IN-1 takes rate an hour from
// t0 for hours; the exit meter OUT-1 sees it lag later, less what an
// offtake between them takes. Both report every 5 minutes until until.
type pipe struct {
	rate, hours float64
	lag         time.Duration
	// take is the share of the flow reaching the exit that is taken off
	// before it, by exit time (nil: none).
	take func(at time.Time) float64
	// pressure at a meter (nil: 1000 psig in, 700 out).
	pressure func(meter event.MeterID, at time.Time) float64
	until    time.Duration
}

// entered is the volume in by t.
func (p pipe) entered(t time.Time) float64 {
	h := math.Max(0, math.Min(p.hours, t.Sub(t0).Hours()))
	return p.rate * h
}

func (p pipe) steps() []step {
	var out []step
	taken, lastIn := 0.0, 0.0
	var seq uint64
	step := 5 * time.Minute
	for at := t0.Add(step); !at.After(t0.Add(p.until)); at = at.Add(step) {
		in := p.entered(at.Add(-p.lag))
		if p.take != nil {
			taken += (in - lastIn) * p.take(at)
		}
		lastIn = in
		seq++
		for _, m := range []struct {
			meter  event.MeterID
			device event.DeviceID
			cum    float64
			press  float64
		}{{"IN-1", "IN-FC", p.entered(at), 1000}, {"OUT-1", "OUT-FC", in - taken, 700}} {
			press := m.press
			if p.pressure != nil {
				press = p.pressure(m.meter, at)
			}
			out = append(out, ev(telemetry(at.Sub(t0).Minutes(), m.device, seq, &event.MeterReading{
				Meter: m.meter, FlowRate: p.rate, Cumulative: m.cum, Unit: event.VolumeMcf,
				Pressure: press, PressureUnit: event.PressurePSIG, Temperature: 60, TemperatureUnit: event.TemperatureF,
			})))
		}
	}
	return out
}

func pipeline(p pipe, more ...step) []step {
	return append(append([]step{ev(pipeManifest(0)), ev(atMin(1, "departed", &event.Departed{Port: "3009"}))}, p.steps()...), more...)
}

func TestImbalancePipeline(t *testing.T) {
	batch := pipe{rate: 10_000, hours: 10, lag: 3 * time.Hour, until: 14 * time.Hour}
	loss := func(share float64, from, to time.Duration) func(time.Time) float64 {
		return func(at time.Time) float64 {
			if at.After(t0.Add(from)) && !at.After(t0.Add(to)) {
				return share
			}
			return 0
		}
	}
	with := func(take func(time.Time) float64) pipe { p := batch; p.take = take; return p }
	for _, c := range []struct {
		name   string
		p      pipe
		window time.Duration
		want   []string
	}{
		{"a balanced batch", batch, 24 * time.Hour, nil},
		{"0.49 % taken off all along", with(loss(0.0049, 0, 24*time.Hour)), 24 * time.Hour, nil},
		{"0.51 % taken off all along", with(loss(0.0051, 0, 24*time.Hour)), 24 * time.Hour, []string{"open"}},
		// From the exit's sixth hour on: 1.5 % of the batch by its end, the
		// message updated once, when the imbalance passes 1 %.
		{"3 % from the exit's sixth hour on", with(loss(0.03, 8*time.Hour, 24*time.Hour)), 24 * time.Hour, []string{"open", "update"}},
		{"more out than in", with(func(time.Time) float64 { return -0.008 }), 24 * time.Hour, []string{"open"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := only(t, alerts.RuleImbalance, func(l *alerts.Thresholds) { l.ImbalanceWindow = c.window })
			o := steps(t, env, pipeline(c.p)...)
			wantStatuses(t, o, alerts.RuleImbalance, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.of(alerts.RuleImbalance)[0].Alert
			v := a.Evidence.Values
			if math.Abs(v["imbalance_pct"]) <= 0.5 || v["imbalance_pct_limit"] != 0.5 || math.Abs(v["line_fill_hours"]-3) > 0.01 ||
				a.Evidence.Meter != "OUT-1" || !strings.Contains(a.Message, "entry meter IN-1") {
				t.Fatalf("alert %+v", a)
			}
		})
	}
	// A 5 % offtake for two hours, in a 6 h window: the alert resolves once
	// the window no longer holds it.
	long := pipe{rate: 10_000, hours: 20, lag: 3 * time.Hour, until: 24 * time.Hour, take: loss(0.05, 8*time.Hour, 10*time.Hour)}
	env := only(t, alerts.RuleImbalance, func(l *alerts.Thresholds) { l.ImbalanceWindow = 6 * time.Hour })
	o := steps(t, env, pipeline(long)...)
	st := o.statuses(alerts.RuleImbalance)
	if len(st) < 2 || st[0] != "open" || st[len(st)-1] != "resolved" {
		t.Fatalf("an offtake that stopped: %v, want it opened and resolved", st)
	}
	// 1,000 mcf was taken from 8 h to 10 h; a window ending at t holds
	// 500 × (16 h - t) of it, within 0.5 % of its 60,000 from t = 15.4 h.
	if r := o.of(alerts.RuleImbalance)[len(st)-1]; r.Change.At.Before(t0.Add(15*time.Hour+24*time.Minute)) || r.Change.At.After(t0.Add(15*time.Hour+30*time.Minute)) {
		t.Fatalf("resolved at %v, want when the window holds 0.5 %% of the offtake at most (15.4 h)", r.Change.At.Sub(t0))
	}
}

func TestImbalanceConveyance(t *testing.T) {
	// 1.5625 % is exact in binary: 25 of 1600.
	env := only(t, alerts.RuleImbalance, func(l *alerts.Thresholds) { l.ImbalancePct = 1.5625 })
	man := truckManifest(0, func(m *event.Manifest) { m.DeclaredQuantity = 1600 })
	ticket := func(n float64, id string, net float64) step {
		return ev(atMin(n, id, &event.Delivered{Ticket: id, Gross: net + 1, Net: net, Unit: event.VolumeBarrels}))
	}
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"short by the limit", []step{ev(man), ticket(10, "T1", 1575)}, nil},
		{"just past it", []step{ev(man), ticket(10, "T1", 1574.99)}, []string{"open"}},
		{"a second ticket makes it up", []step{ev(man), ticket(10, "T1", 1500), ticket(20, "T2", 100)}, []string{"open", "resolved"}},
		{"over by more than the limit", []step{ev(man), ticket(10, "T1", 1626)}, []string{"open"}},
		{"a ticket before the manifest is judged with it", []step{ticket(10, "T1", 1500), ev(man)}, []string{"open"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, env, c.steps...)
			wantStatuses(t, o, alerts.RuleImbalance, c.want...)
			if len(c.want) > 0 {
				if a := o.of(alerts.RuleImbalance)[0].Alert; a.Evidence.Values["declared_quantity"] != 1600 || !strings.Contains(a.Message, "declared") {
					t.Fatalf("alert %+v", a)
				}
			}
		})
	}
}

func TestPressureRule(t *testing.T) {
	batch := pipe{rate: 10_000, hours: 10, lag: 3 * time.Hour, until: 14 * time.Hour}
	at := func(from, to time.Duration, v float64) func(event.MeterID, time.Time) float64 {
		return func(m event.MeterID, t time.Time) float64 {
			if m == "OUT-1" && !t.Before(t0.Add(from)) && t.Before(t0.Add(to)) {
				return v
			}
			if m == "OUT-1" {
				return 100
			}
			return 1000
		}
	}
	slow := func(m event.MeterID, t time.Time) float64 { // 3 psig less every 5 minutes from the sixth hour
		if m == "IN-1" {
			return 1000
		}
		steps := math.Max(0, t.Sub(t0.Add(6*time.Hour)).Minutes()/5)
		return 100 - 3*math.Min(steps, 6)
	}
	with := func(pr func(event.MeterID, time.Time) float64) pipe { p := batch; p.pressure = pr; return p }
	diverge := batch
	diverge.take = func(t time.Time) float64 {
		if t.After(t0.Add(6*time.Hour)) && !t.After(t0.Add(8*time.Hour)) {
			return 0.15
		}
		return 0
	}
	for _, c := range []struct {
		name string
		p    pipe
		want []string
		drop bool
	}{
		{"steady", batch, nil, false},
		{"a drop of 10 %: the limit", with(at(6*time.Hour, 8*time.Hour, 90)), nil, false},
		{"a drop just past 10 %, then back", with(at(6*time.Hour, 8*time.Hour, 89.99)), []string{"open", "resolved"}, true},
		{"a slow decline is no drop", with(slow), nil, false},
		// Opened just past 10 %, updated at 15 % and on the way back at 10 %.
		{"the flows diverge by 15 %, then agree", diverge, []string{"open", "update", "update", "resolved"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RulePressure, nil), pipeline(c.p)...)
			wantStatuses(t, o, alerts.RulePressure, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.of(alerts.RulePressure)[0].Alert
			name := "flow_divergence_pct"
			if c.drop {
				name = "pressure_drop_pct"
			}
			if a.Evidence.Values[name] == 0 || a.Evidence.Values[name+"_limit"] != 10 || a.Evidence.Meter != "OUT-1" {
				t.Fatalf("alert %+v", a)
			}
		})
	}
}

// A pipeline batch has arrived when the exit meter stops, a line fill
// after the entry meter did: the late report counts from then, and the
// gap rule no longer waits for telemetry.
func TestPipelineArrival(t *testing.T) {
	p := pipe{rate: 10_000, hours: 10, lag: 3 * time.Hour, until: 14 * time.Hour}
	env := only(t, alerts.RuleLateReport, nil)
	env.Disabled[alerts.RuleGap] = false
	o := steps(t, env, pipeline(p)...)
	arr := o.w.Memory.Arrival
	if arr == nil || !arr.At.Equal(t0.Add(13*time.Hour)) {
		t.Fatalf("physical arrival %+v, want the exit's last growth at %v", arr, t0.Add(13*time.Hour))
	}
	due := alerts.ReportDue(arr.At, 2)
	if d := o.w.Due(env, o.sh); !d.Equal(due) {
		t.Fatalf("due %v, want %v (the report's, the gap waiting no more)", d, due)
	}
	o = steps(t, env, pipeline(p, tick(due))...)
	wantStatuses(t, o, alerts.RuleLateReport, "open")
}
