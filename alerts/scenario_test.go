package alerts_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/inbond/inbond/wire"
)

var (
	seeds = flag.Int("alerts.seeds", 1, "how many seeds of the random scenario with every deviation to check (the longer run)")
	long  = flag.Bool("alerts.long", false, "also play the random scenario with each deviation injected alone")
)

// how is how play runs: a restart (every state and watch through JSON)
// every restartEvery events (0: never), and the clock advanced by the
// events' own times (plainClock) rather than by alerts.Env.ClockTime.
type how struct {
	restartEvery int
	plainClock   bool
}

// asTheProcessor restarts every 1,009th event.
var asTheProcessor = how{restartEvery: 1009}

// pair is one (shipment, rule): what the labels and the alerts are compared by.
type pair struct {
	Shipment event.ShipmentID
	Rule     alerts.Rule
}

// shipment is one shipment as the processor keeps it: state, watch, and the
// timer due.
type shipment struct {
	sh  *state.Shipment
	w   *alerts.Watch
	due time.Time
}

// playResult is what a scenario raised.
type playResult struct {
	opened      map[pair]alerts.Alert // the first alert opened per pair, as it opened
	transitions [][]byte              // every transition, as JSON, in order
	events      int
	ticks       int
}

// play decodes every message as the gateways do (received a second after
// it was published) and applies the events in message order, with one
// event-time clock for all shipments, as one partition's owner does
// (processor/alerting.go): before an event is judged, its shipment's own
// timers due by its time fire; after it, the clock advances
// (alerts.Env.ClockTime) and every shipment whose timer is due by then is
// ticked. A timer ticks at its due time, whenever the check runs, so what
// it opens does not depend on it.
func play(t *testing.T, env *alerts.Env, msgs []sim.Message, h how) playResult {
	t.Helper()
	res := playResult{opened: map[pair]alerts.Alert{}}
	ships := map[event.ShipmentID]*shipment{}
	var order []event.ShipmentID
	record := func(trs []alerts.Transition) {
		for _, tr := range trs {
			b, err := json.Marshal(tr)
			if err != nil {
				t.Fatal(err)
			}
			res.transitions = append(res.transitions, b)
			if tr.Change.Seq == 1 {
				k := pair{tr.Alert.Shipment, tr.Alert.Rule}
				if _, ok := res.opened[k]; !ok {
					res.opened[k] = tr.Alert
				}
			}
		}
	}
	fire := func(id event.ShipmentID, until time.Time) {
		x := ships[id]
		for i := 0; i < 16 && !x.due.IsZero() && !x.due.After(until); i++ {
			// Never early: a tick a nanosecond before the timer changes nothing.
			cp := clone(t, x)
			if trs := cp.w.Tick(env, cp.sh, x.due.Add(-time.Nanosecond)); len(trs) > 0 {
				t.Errorf("%s: Tick before Due (%v) made %d transitions: %s", id, x.due, len(trs), trs[0].Change.Message)
			}
			due := x.due
			trs := x.w.Tick(env, x.sh, due)
			res.ticks++
			if len(trs) == 0 {
				t.Errorf("%s: Tick at Due %v changed nothing", id, due)
			}
			record(trs)
			if x.due = x.w.Due(env, x.sh); x.due.Equal(due) {
				t.Fatalf("%s: Due stays %v after its tick", id, due)
			}
		}
	}
	var clock time.Time
	for i, m := range msgs {
		e, rej := decode(t, m)
		if rej != nil {
			if rej.Reason != wire.ReasonBadUnit {
				t.Fatalf("gateways refused %s: %v", m.Body, rej)
			}
			continue
		}
		res.events++
		s := ships[e.Subject]
		if s == nil {
			s = &shipment{sh: state.New(e.Subject), w: alerts.NewWatch(e.Subject)}
			ships[e.Subject] = s
			order = append(order, e.Subject)
		}
		c := env.ClockTime(e)
		if h.plainClock {
			c = e.Time
		}
		fire(e.Subject, c)
		outcome, err := state.Apply(s.sh, e)
		if err != nil {
			t.Fatal(err)
		}
		record(s.w.Observe(env, s.sh, e, outcome == state.Applied))
		s.due = s.w.Due(env, s.sh)
		if c.After(clock) {
			clock = c
		}
		for _, id := range order {
			fire(id, clock)
		}
		if h.restartEvery > 0 && i%h.restartEvery == 0 {
			for _, id := range order {
				x := ships[id]
				cp := clone(t, x)
				if d := cp.w.Due(env, cp.sh); !d.Equal(x.due) {
					t.Fatalf("%s: Due %v after a restart, %v before", id, d, x.due)
				}
				ships[id] = cp
			}
		}
	}
	return res
}

func decode(t *testing.T, m sim.Message) (*event.Envelope, *ingest.Rejection) {
	t.Helper()
	var o ingest.Origin
	if m.Via == sim.ViaMQTT {
		var err error
		if o, err = ingest.MQTTOrigin(m.Topic); err != nil {
			t.Fatal(err)
		}
	} else {
		o = ingest.KafkaOrigin(m.Topic, []byte(m.Key))
	}
	at := m.At
	return (&ingest.Decoder{Now: func() time.Time { return at.Add(time.Second) }}).Decode(o, m.Body)
}

// clone is the shipment as a restart loads it: state and watch through JSON.
func clone(t *testing.T, s *shipment) *shipment {
	t.Helper()
	b, err := state.Encode(s.sh)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := state.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := json.Marshal(s.w)
	if err != nil {
		t.Fatal(err)
	}
	var w alerts.Watch
	if err := json.Unmarshal(wb, &w); err != nil {
		t.Fatal(err)
	}
	return &shipment{sh: sh, w: &w, due: s.due}
}

// truth is the deviation set a scenario's traffic holds: its labels (but
// malformed, a dead letter), corrected where the traffic shows the
// simulator's label is wrong. Two corrections are made, each checked on
// the accepted events alone, without the rules, and each listed in notes:
//
//   - route and stop: the simulator labels them from every fix it
//     computes, also those its own telemetry gap then drops. A label is
//     kept only if the published fixes show the deviation (one fix farther
//     than RouteKm from the corridor; a stationary fix outside every stop
//     area, and no fix showing it moving for longer than StopMinutes after
//     it); and a deviation
//     the fixes show without a label is added (a route deviation that
//     moves a planned dwell out of its stop area).
//   - late_report: the label begins at the simulator's arrival plus two
//     weekdays to the minute. Its arrival comes one fix after the last,
//     after the dwell at the destination's own stop area; the telemetry
//     shows the goods at the destination from the start of that dwell, and
//     the rule counts whole business days from that day. An alert opened
//     before the label begins is accepted only when the first fix at the
//     destination falls on an earlier UTC day than the label's arrival and
//     the alert opened at or after alerts.ReportDue of that fix.
type truth struct {
	want  map[pair]sim.Label
	early map[pair]time.Time // late_report: the earliest opening accepted, when before the label begins
	notes []string
}

func observed(t *testing.T, env *alerts.Env, msgs []sim.Message, labels []sim.Label) truth {
	t.Helper()
	tr := truth{want: map[pair]sim.Label{}, early: map[pair]time.Time{}}
	for _, l := range labels {
		if l.Kind == "deviation" && l.Rule != sim.RuleMalformed {
			tr.want[pair{l.Shipment, l.Rule}] = l
		}
	}
	byShip := map[event.ShipmentID][]*event.Envelope{}
	var ids []event.ShipmentID
	for _, m := range msgs {
		if e, rej := decode(t, m); rej == nil {
			if byShip[e.Subject] == nil {
				ids = append(ids, e.Subject)
			}
			byShip[e.Subject] = append(byShip[e.Subject], e)
		}
	}
	for _, id := range ids {
		evs := byShip[id]
		var man *event.Manifest
		for _, e := range evs {
			if m, ok := e.Data.(*event.Manifest); ok {
				man = m
			}
		}
		c := env.Corridors[man.Corridor]
		if c == nil || !c.Mode.Conveyance() {
			continue
		}
		route, stop, atDest := conveyanceFacts(env, c, man, evs)
		for _, r := range []struct {
			rule alerts.Rule
			seen bool
		}{{alerts.RuleRoute, route}, {alerts.RuleStop, stop}} {
			k := pair{id, r.rule}
			_, labelled := tr.want[k]
			switch {
			case labelled && !r.seen:
				delete(tr.want, k)
				tr.notes = append(tr.notes, fmt.Sprintf("%s/%s labelled, but no published fix shows it (all inside the simulated telemetry gap)", id, r.rule))
			case !labelled && r.seen:
				tr.want[k] = sim.Label{Kind: "deviation", Shipment: id, Rule: r.rule}
				tr.notes = append(tr.notes, fmt.Sprintf("%s/%s not labelled, but the published fixes show it", id, r.rule))
			}
		}
		if l, ok := tr.want[pair{id, alerts.RuleLateReport}]; ok && !atDest.IsZero() {
			simArrived, err := time.Parse(time.RFC3339, l.Values["arrived_at"].(string))
			if err != nil {
				t.Fatal(err)
			}
			day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
			if day(atDest).Before(day(simArrived)) {
				tr.early[pair{id, alerts.RuleLateReport}] = alerts.ReportDue(atDest, env.Limits.ReportBusinessDays)
			}
		}
	}
	return tr
}

// conveyanceFacts reads, from a conveyance's accepted events alone,
// whether a published fix was off its corridor, whether it stood still
// outside the allowed stops too long, and when a fix first showed it at
// its destination. Only fixes of registered devices with a sane clock
// count, in transit (after the departure, before the first fix at the
// destination).
func conveyanceFacts(env *alerts.Env, c *corridors.Corridor, m *event.Manifest, evs []*event.Envelope) (route, stop bool, atDest time.Time) {
	line := c.Line()
	var departed, stillSince time.Time
	for _, e := range evs {
		if _, ok := e.Data.(*event.Departed); ok && departed.IsZero() {
			departed = e.Time
		}
		p, ok := e.Data.(*event.Position)
		if !ok || !slices.Contains(m.Devices, e.Device) || e.Time.Sub(e.ReceivedTime) > env.Limits.FutureClock ||
			departed.IsZero() || !atDest.IsZero() {
			continue
		}
		pt := corridors.Point{Lat: p.Lat, Lon: p.Lon}
		if line.DistanceToKm(pt) > env.Limits.RouteKm {
			route = true
		}
		// Stationary from the first still fix until a fix shows it moving.
		if !stillSince.IsZero() && e.Time.Sub(stillSince).Minutes() > env.Limits.StopMinutes {
			stop = true
		}
		switch {
		case p.SpeedKmh > alerts.StationaryKmh:
			stillSince = time.Time{}
		case stillSince.IsZero() && !c.InStopArea(pt):
			stillSince = e.Time
		}
		if alerts.AtDestination(c, pt) {
			atDest = e.Time
		}
	}
	return route, stop, atDest
}

// compare checks the alerts opened against the truth and returns
// precision and recall, against it and against the labels as they are.
func compare(t *testing.T, name string, tr truth, labels []sim.Label, res playResult) {
	t.Helper()
	raw := 0
	rawHit := 0
	for _, l := range labels {
		if l.Kind == "deviation" && l.Rule != sim.RuleMalformed {
			raw++
			if _, ok := res.opened[pair{l.Shipment, l.Rule}]; ok {
				rawHit++
			}
		}
	}
	var tp, fp, fn []string
	var keys []pair
	for k := range res.opened {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].Shipment < keys[j].Shipment || (keys[i].Shipment == keys[j].Shipment && keys[i].Rule < keys[j].Rule)
	})
	for _, k := range keys {
		a := res.opened[k]
		l, ok := tr.want[k]
		if !ok {
			fp = append(fp, fmt.Sprintf("%s/%s opened %s: %s", k.Shipment, k.Rule, a.OpenedAt.Format(time.RFC3339), a.Message))
			continue
		}
		tp = append(tp, string(k.Shipment)+"/"+string(k.Rule))
		if !a.OpenedAt.Before(l.Begins) {
			continue
		}
		if early, ok := tr.early[k]; ok && !a.OpenedAt.Before(early) {
			tr.notes = append(tr.notes, fmt.Sprintf("%s/%s opened %s, %s before its label begins %s (the telemetry shows the goods at the destination a UTC day before the simulator's arrival %v)",
				k.Shipment, k.Rule, a.OpenedAt.Format(time.RFC3339), l.Begins.Sub(a.OpenedAt), l.Begins.Format(time.RFC3339), l.Values["arrived_at"]))
			continue
		}
		t.Errorf("%s: %s/%s opened %s, before its label begins %s: %s (label %v)", name, k.Shipment, k.Rule,
			a.OpenedAt.Format(time.RFC3339Nano), l.Begins.Format(time.RFC3339Nano), a.Message, l.Values)
	}
	for k, l := range tr.want {
		if _, ok := res.opened[k]; !ok {
			fn = append(fn, fmt.Sprintf("%s/%s begins %s: %v", k.Shipment, k.Rule, l.Begins.Format(time.RFC3339), l.Values))
		}
	}
	slices.Sort(fn)
	ratio := func(a, b int) float64 {
		if b == 0 {
			return 1
		}
		return float64(a) / float64(b)
	}
	t.Logf("%s: %d events, %d ticks; against the labels as they are (%d): precision %.3f, recall %.3f; "+
		"against the traffic (%d): precision %.3f (%d/%d), recall %.3f (%d/%d)",
		name, res.events, res.ticks, raw, ratio(rawHit, len(res.opened)), ratio(rawHit, raw),
		len(tr.want), ratio(len(tp), len(tp)+len(fp)), len(tp), len(tp)+len(fp), ratio(len(tp), len(tp)+len(fn)), len(tp), len(tp)+len(fn))
	slices.Sort(tr.notes)
	for _, n := range tr.notes {
		t.Logf("%s: label corrected: %s", name, n)
	}
	if len(fp) > 0 {
		t.Errorf("%s: %d alerts the traffic does not hold:\n  %s", name, len(fp), strings.Join(fp, "\n  "))
	}
	if len(fn) > 0 {
		t.Errorf("%s: %d deviations of the traffic without an alert:\n  %s", name, len(fn), strings.Join(fn, "\n  "))
	}
}

func scenario(t *testing.T, name string, seed uint64) *sim.Stream {
	t.Helper()
	sc, err := sim.LoadScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Generate(sc, seed, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The decisive test: the simulator's scenarios raise exactly the labelled
// (shipment, rule) set, each alert opened at or after its label begins, and
// the clean scenario none.
func TestScenariosRaiseExactlyTheLabels(t *testing.T) {
	env, err := alerts.DefaultEnv()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("deviations", func(t *testing.T) {
		s := scenario(t, "deviations", 1)
		compare(t, "deviations", observed(t, env, s.Messages, s.Labels), s.Labels, play(t, env, s.Messages, asTheProcessor))
	})
	t.Run("clean", func(t *testing.T) {
		s := scenario(t, "clean", 1)
		res := play(t, env, s.Messages, asTheProcessor)
		compare(t, "clean", observed(t, env, s.Messages, s.Labels), s.Labels, res)
		if len(res.opened) > 0 {
			t.Errorf("clean traffic opened %d alerts", len(res.opened))
		}
	})
	t.Run("random-80-clean", func(t *testing.T) {
		// 80 shipments drawn around realistic values, without a deviation:
		// nothing may fire (crudes near 25° API, small batches, short lines).
		sc, err := sim.RandomScenario(80, 21, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		s, err := sim.Generate(sc, 21, nil)
		if err != nil {
			t.Fatal(err)
		}
		res := play(t, env, s.Messages, asTheProcessor)
		compare(t, sc.Name+"-clean", observed(t, env, s.Messages, s.Labels), s.Labels, res)
	})
	if *long {
		// Each deviation alone on every shipment it applies to: a rule must
		// fire where its deviation is and nowhere else.
		for _, r := range sim.Rules {
			t.Run("random-80-only-"+string(r), func(t *testing.T) {
				sc, err := sim.RandomScenario(80, 21, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
				if err != nil {
					t.Fatal(err)
				}
				s, err := sim.Generate(sc, 21, []alerts.Rule{r})
				if err != nil {
					t.Fatal(err)
				}
				compare(t, sc.Name+"-only-"+string(r), observed(t, env, s.Messages, s.Labels), s.Labels, play(t, env, s.Messages, asTheProcessor))
			})
		}
	}
	for i := range *seeds {
		seed := uint64(7 + i)
		t.Run(fmt.Sprintf("random-80-every-deviation-seed-%d", seed), func(t *testing.T) {
			sc, err := sim.RandomScenario(80, seed, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			s, err := sim.Generate(sc, seed, sim.Rules)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, sc.Name, observed(t, env, s.Messages, s.Labels), s.Labels, play(t, env, s.Messages, asTheProcessor))
		})
	}
}

// The rules' memory is exactly-once with the state: a run that reloads
// every state and watch from JSON mid-stream, often, raises the same
// transitions, byte for byte, as one that never does.
func TestRestartsChangeNoTransition(t *testing.T) {
	env, err := alerts.DefaultEnv()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := sim.RandomScenario(24, 5, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	s, err := sim.Generate(sc, 5, sim.Rules)
	if err != nil {
		t.Fatal(err)
	}
	msgs := append(scenario(t, "deviations", 1).Messages, s.Messages...)
	slices.SortStableFunc(msgs, func(a, b sim.Message) int { return a.At.Compare(b.At) })
	once := play(t, env, msgs, how{})
	often := play(t, env, msgs, how{restartEvery: 97})
	if len(once.transitions) != len(often.transitions) {
		t.Fatalf("%d transitions without restarts, %d with", len(once.transitions), len(often.transitions))
	}
	for i := range once.transitions {
		if string(once.transitions[i]) != string(often.transitions[i]) {
			t.Fatalf("transition %d differs after restarts:\n without %s\n with    %s", i, once.transitions[i], often.transitions[i])
		}
	}
	t.Logf("%d events, %d transitions, identical with a restart every 97 events", once.events, len(once.transitions))
}
