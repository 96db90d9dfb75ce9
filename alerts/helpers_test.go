package alerts_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

// The rules' tests build one shipment, S1, from steps: events (applied
// with state.Apply, then observed) and ticks of the clock. After every
// step the runner checks that a tick a nanosecond before Due changes
// nothing, and that Due is the same after a restart (state and watch
// through JSON).

// mins is the time n minutes after t0.
func mins(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Minute))) }

// atMin builds an event of shipment S1 from carrier PRTK, observed n
// minutes after t0.
func atMin(n float64, id string, p event.Payload) *event.Envelope {
	return &event.Envelope{ID: id, Type: p.EventType(), Subject: "S1", Carrier: "PRTK", Time: mins(n), Data: p}
}

// step is an event, or a tick of the clock at a time.
type step struct {
	e    *event.Envelope
	tick time.Time
}

func ev(e *event.Envelope) step { return step{e: e} }
func tick(at time.Time) step    { return step{tick: at} }

// outcome is what a run of steps did.
type outcome struct {
	sh  *state.Shipment
	w   *alerts.Watch
	out []alerts.Transition
}

// of returns the transitions of rule r.
func (o outcome) of(r alerts.Rule) []alerts.Transition {
	var out []alerts.Transition
	for _, t := range o.out {
		if t.Alert.Rule == r {
			out = append(out, t)
		}
	}
	return out
}

// statuses lists the transitions of rule r as "open" (opened), "update"
// (the open alert's message changed) and "resolved".
func (o outcome) statuses(r alerts.Rule) []string {
	var s []string
	for _, t := range o.of(r) {
		switch {
		case t.Change.Status == alerts.StatusResolved:
			s = append(s, "resolved")
		case t.Change.Seq == 1:
			s = append(s, "open")
		default:
			s = append(s, "update")
		}
	}
	return s
}

func (o outcome) last(t *testing.T, r alerts.Rule) alerts.Alert {
	t.Helper()
	trs := o.of(r)
	if len(trs) == 0 {
		t.Fatalf("no %s transition", r)
	}
	return trs[len(trs)-1].Alert
}

func steps(t *testing.T, env *alerts.Env, ss ...step) outcome {
	t.Helper()
	sh, w := state.New("S1"), alerts.NewWatch("S1")
	var out []alerts.Transition
	for _, s := range ss {
		if s.e != nil {
			res, err := state.Apply(sh, s.e)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, w.Observe(env, sh, s.e, res == state.Applied)...)
		} else {
			out = append(out, w.Tick(env, sh, s.tick)...)
		}
		due := w.Due(env, sh)
		if due.IsZero() {
			continue
		}
		sh2, w2 := restart(t, sh, w)
		if d := w2.Due(env, sh2); !d.Equal(due) {
			t.Fatalf("Due %v after a restart, %v before", d, due)
		}
		if trs := w2.Tick(env, sh2, due.Add(-time.Nanosecond)); len(trs) > 0 {
			t.Fatalf("a tick before Due (%v) made a transition: %s %s", due, trs[0].Alert.Rule, trs[0].Change.Message)
		}
	}
	return outcome{sh: sh, w: w, out: out}
}

// restart is the shipment as a restarted processor loads it.
func restart(t *testing.T, sh *state.Shipment, w *alerts.Watch) (*state.Shipment, *alerts.Watch) {
	t.Helper()
	b, err := state.Encode(sh)
	if err != nil {
		t.Fatal(err)
	}
	sh2, err := state.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var w2 alerts.Watch
	if err := json.Unmarshal(wb, &w2); err != nil {
		t.Fatal(err)
	}
	return sh2, &w2
}

func wantStatuses(t *testing.T, o outcome, r alerts.Rule, want ...string) {
	t.Helper()
	got := o.statuses(r)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		for _, tr := range o.of(r) {
			t.Logf("  %s %s: %s%s", tr.Change.At.Format(time.RFC3339Nano), tr.Change.Status, tr.Change.Message, tr.Change.Note)
		}
		t.Fatalf("%s transitions %v, want %v", r, got, want)
	}
	for _, tr := range o.out {
		if tr.Alert.Rule != r && tr.Change.Seq == 1 {
			t.Fatalf("unexpected %s alert: %s", tr.Alert.Rule, tr.Alert.Message)
		}
	}
}

// envWith is the default environment with changed limits.
func envWith(t *testing.T, change func(*alerts.Thresholds)) *alerts.Env {
	t.Helper()
	e := env(t)
	if change != nil {
		change(&e.Limits)
	}
	return e
}

// only is the default environment with every rule but r disabled, and
// limits changed by change (if any).
func only(t *testing.T, r alerts.Rule, change func(*alerts.Thresholds)) *alerts.Env {
	t.Helper()
	e := envWith(t, change)
	e.Disabled = map[alerts.Rule]bool{}
	for _, x := range alerts.Rules {
		e.Disabled[x] = x != r
	}
	return e
}

// The truck corridor of the tests.
const truckCorridor = "TRUCK-WILDHORSE-SWEETGRASS"

func corridor(t *testing.T, id string) *corridors.Corridor {
	t.Helper()
	cs, err := corridors.Corridors()
	if err != nil {
		t.Fatal(err)
	}
	return cs[id]
}

// truckManifest declares S1: crude by truck from Wildhorse (3323) to
// Sweetgrass (3310) on truckCorridor, carried by PRTK, reporting with
// GPS-1, SEAL-1 and LAB-1, due in 30 days.
func truckManifest(n float64, change ...func(*event.Manifest)) *event.Envelope {
	m := &event.Manifest{
		InBondNumber: event.InBondNumber(25770040), EntryType: event.EntryIT, Mode: event.ModeTruck,
		Product: event.ProductCrude, HTS: "2709.00.10", DeclaredQuantity: 220, Unit: event.VolumeBarrels,
		DeclaredQuality: event.Quality{APIGravity: f(20.5), SulfurPct: f(3.4)},
		Importer:        event.Party{Name: "Lakehead Refining LLC", ID: "12-3456789AB"},
		Carrier:         event.BondedCarrier{SCAC: "PRTK", IRSNumber: "54-3210987FF"},
		CountryOfOrigin: "CA", OriginPort: "3323", DestinationPort: "3310", Corridor: truckCorridor,
		Devices:   []event.DeviceID{"GPS-1", "SEAL-1", "LAB-1"},
		CreatedAt: mins(n), Deadline: mins(n).AddDate(0, 0, 30),
	}
	for _, c := range change {
		c(m)
	}
	return atMin(n, "manifest-"+itoa(int(n*1000)), m)
}

// pipeManifest declares S1: gas by pipeline from meter IN-1 to meter
// OUT-1 of PIPELINE-SUMAS-SEATTLE-GAS, reported by IN-FC, OUT-FC and QA.
func pipeManifest(n float64, change ...func(*event.Manifest)) *event.Envelope {
	m := &event.Manifest{
		InBondNumber: event.InBondNumber(25770020), EntryType: event.EntryIT, Mode: event.ModePipeline,
		Product: event.ProductGas, HTS: "2711.21.00", DeclaredQuantity: 100_000, Unit: event.VolumeMcf,
		DeclaredQuality: event.Quality{HeatingValue: f(1018)},
		Importer:        event.Party{Name: "Puget Sound Energy Trading", ID: "34-5678901CD"},
		Carrier:         event.BondedCarrier{SCAC: "PRTK", IRSNumber: "76-5432109DD"},
		CountryOfOrigin: "CA", OriginPort: "3009", DestinationPort: "3001", Corridor: "PIPELINE-SUMAS-SEATTLE-GAS",
		EntryMeter: "IN-1", ExitMeter: "OUT-1", Devices: []event.DeviceID{"IN-FC", "OUT-FC", "QA"},
		CreatedAt: mins(n), Deadline: mins(n).AddDate(0, 0, 30),
	}
	for _, c := range change {
		c(m)
	}
	return atMin(n, "manifest-"+itoa(int(n*1000)), m)
}

func f(v float64) *float64 { return &v }

func departed(n float64) *event.Envelope {
	return atMin(n, "departed", &event.Departed{Port: "3323"})
}

func arrived(n float64, port event.PortCode) *event.Envelope {
	return atMin(n, "arrived-"+string(port)+"-"+itoa(int(n*1000)), &event.Arrived{Port: port})
}

// telemetry is an event of device d, numbered seq, observed n minutes
// after t0 and received at once.
func telemetry(n float64, d event.DeviceID, seq uint64, p event.Payload) *event.Envelope {
	e := atMin(n, string(d)+"-"+itoa(int(seq)), p)
	e.Device, e.Sequence, e.ReceivedTime = d, seq, e.Time
	return e
}

// fix is a GNSS fix of GPS-1 numbered by its time (n minutes × 1000).
func fix(n float64, p corridors.Point, speed float64) *event.Envelope {
	return telemetry(n, "GPS-1", uint64(n*1000)+1, &event.Position{Lat: p.Lat, Lon: p.Lon, SpeedKmh: speed, HeadingDeg: 90})
}

// along is the point d km along the truck corridor, moved km off it to
// the right, square to the line.
func along(t *testing.T, d, km float64) corridors.Point {
	t.Helper()
	p, heading := corridor(t, truckCorridor).Line().At(d)
	rad := (heading + 90) * math.Pi / 180
	return corridors.Offset(p, km*math.Cos(rad), km*math.Sin(rad))
}
