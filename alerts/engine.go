package alerts

import (
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

// Env is what the rules judge against: the limits, each rule's severity and
// the declared corridors. It is read-only once built and shared by every
// partition.
type Env struct {
	Limits    Thresholds
	Severity  map[Rule]Severity              // rules missing here take DefaultSeverity
	Corridors map[string]*corridors.Corridor // by ID, as manifests name them
	Disabled  map[Rule]bool                  // rules that never fire
}

// DefaultEnv is the rules with DESIGN.md's limits and the shipped corridors.
func DefaultEnv() (*Env, error) {
	cs, err := corridors.Corridors()
	if err != nil {
		return nil, err
	}
	return &Env{Limits: DefaultThresholds, Corridors: cs}, nil
}

func (env *Env) severity(r Rule) Severity {
	if s, ok := env.Severity[r]; ok {
		return s
	}
	return DefaultSeverity[r]
}

// corridor is the shipment's declared corridor, nil when it has none known.
func (env *Env) corridor(sh *state.Shipment) *corridors.Corridor {
	if sh.Manifest == nil || sh.Manifest.Corridor == "" {
		return nil
	}
	return env.Corridors[sh.Manifest.Corridor]
}

// Watch is what the rules keep about one shipment between its events: its
// alerts that are not resolved and each rule's memory. It is stored beside
// the shipment's state and flushed with it in the same atomic step, so it is
// exactly-once as the state is; it is confined to the partition's owner.
type Watch struct {
	Shipment event.ShipmentID `json:"shipment"`
	Active   map[Rule]*Alert  `json:"active,omitempty"`
	Memory   Memory           `json:"memory"`
}

// NewWatch returns the watch of a shipment no rule has looked at.
func NewWatch(id event.ShipmentID) *Watch { return &Watch{Shipment: id} }

// Transition is one change of an alert: the change, and the alert as it is
// after it. Its ID (the alert's and the change's sequence number) is
// deterministic, so consumers deduplicate re-published transitions by it.
type Transition struct {
	Alert  Alert  `json:"alert"`
	Change Change `json:"change"`
}

// ID identifies the transition: the alert's ID and the change's sequence number.
func (t Transition) ID() string { return t.Alert.ID + "-" + itoa(t.Change.Seq) }

// Observe judges event e, which state.Apply has just applied to sh (or
// refused as a duplicate: applied false), and returns the alert transitions
// it causes. It is a pure function of (w, sh, e, applied): the same events in
// the same order give the same transitions.
func (w *Watch) Observe(env *Env, sh *state.Shipment, e *event.Envelope, applied bool) []Transition {
	j := &judge{env: env, w: w, sh: sh, e: e, applied: applied, now: e.Time}
	for _, r := range ruleBook {
		if r.onEvent != nil && !env.Disabled[r.rule] {
			r.onEvent(j)
		}
	}
	return j.out
}

// Tick judges the passing of event time up to now, when no event of the
// shipment arrived: the timers of overdue, late report, gap and stop.
func (w *Watch) Tick(env *Env, sh *state.Shipment, now time.Time) []Transition {
	j := &judge{env: env, w: w, sh: sh, now: now}
	for _, r := range ruleBook {
		if r.onTick != nil && !env.Disabled[r.rule] {
			r.onTick(j)
		}
	}
	return j.out
}

// Due returns the earliest event time at which Tick could change something
// for the shipment, zero when no timer is pending. A timer never fires
// early: Tick at a time before Due changes nothing.
func (w *Watch) Due(env *Env, sh *state.Shipment) time.Time {
	var due time.Time
	for _, r := range ruleBook {
		if r.due == nil || env.Disabled[r.rule] {
			continue
		}
		if t := r.due(env, w, sh); !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	return due
}

// ruleSpec is one rule as the engine runs it. onEvent sees every event of
// the shipment; onTick runs when the clock passes the time due returns.
type ruleSpec struct {
	rule    Rule
	onEvent func(j *judge)
	onTick  func(j *judge)
	due     func(env *Env, w *Watch, sh *state.Shipment) time.Time
}

// judge is one evaluation: what the rules read, and the transitions they make.
type judge struct {
	env     *Env
	w       *Watch
	sh      *state.Shipment
	e       *event.Envelope // nil on a tick
	applied bool
	now     time.Time // the event's time, or the clock's on a tick
	out     []Transition
}

// raise opens rule r's alert on the shipment, or updates the open one when
// the message or evidence changed. trigger names what first showed it (an
// event ID, or a timer): with the shipment and rule it makes the alert's ID.
func (j *judge) raise(r Rule, trigger string, at time.Time, message string, ev Evidence) {
	if a := j.w.Active[r]; a != nil {
		if a.Message == message {
			return
		}
		a.Message, a.Evidence = message, ev
		j.out = append(j.out, Transition{Alert: *a, Change: a.record(a.Status, at, System, "", message)})
		return
	}
	if j.w.Active == nil {
		j.w.Active = make(map[Rule]*Alert)
	}
	a := Open(j.sh.ID, r, j.env.severity(r), trigger, at, message, ev)
	j.w.Active[r] = a
	j.out = append(j.out, Transition{Alert: *a, Change: a.History[0]})
}

// clear resolves rule r's open alert, if any, because its condition cleared.
func (j *judge) clear(r Rule, at time.Time, why string) {
	a := j.w.Active[r]
	if a == nil {
		return
	}
	c, err := a.Resolve(at, System, why)
	if err != nil {
		return
	}
	delete(j.w.Active, r)
	j.out = append(j.out, Transition{Alert: *a, Change: c})
}

// inTransit reports whether the movement is under way: departed (or crossed)
// and neither arrived nor finished.
func inTransit(sh *state.Shipment) bool {
	switch sh.Status {
	case state.StatusInTransit, state.StatusDiverted:
		return true
	}
	return false
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
