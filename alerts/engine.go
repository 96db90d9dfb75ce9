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
func (j *judge) corridor() *corridors.Corridor {
	if !j.routeKnown {
		j.route, j.routeKnown = j.env.corridor(j.sh), true
	}
	return j.route
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
	// judge is the evaluation under way, kept here so that Observe, called
	// for every event, allocates none.
	judge judge
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
//
// The rules judge the event at its time as the clock takes it (ClockTime):
// an event whose device clock runs ahead is judged at its receipt plus
// FutureClock, not at the time it claims. An officer's command is no
// evidence of anything (Command applies it): Observe ignores it.
func (w *Watch) Observe(env *Env, sh *state.Shipment, e *event.Envelope, applied bool) []Transition {
	if _, ok := e.Data.(*event.AlertCommand); ok {
		return nil
	}
	j := &w.judge
	*j = judge{env: env, w: w, sh: sh, e: e, applied: applied, now: env.ClockTime(e)}
	defer func() { *j = judge{} }()
	j.reg = j.isRegistered()
	j.trust = applied && j.reg && aheadBy(e) <= env.Limits.FutureClock
	j.track()
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
// early: Tick at a time before Due changes nothing. Due is a function of
// the state and the watch alone, so it survives a restart with them, and it
// is a whole millisecond (the first one past the limit), so a timer index
// that keeps unix milliseconds holds it exactly.
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

// ClockTime is the event time e may advance its partition's event-time
// clock to: its own time, but no further than FutureClock past its receipt
// (recvtime, when the gateway stamped one). A device whose clock runs hours
// ahead (the replay rule flags it) must not drag the clock of every other
// shipment of the partition with it: the gap, stop and overdue timers of all
// of them would fire hours early. The processor advances the clock with
// this, and Observe judges the event at it.
func (env *Env) ClockTime(e *event.Envelope) time.Time {
	if !e.ReceivedTime.IsZero() {
		if limit := e.ReceivedTime.Add(env.Limits.FutureClock); e.Time.After(limit) {
			return limit
		}
	}
	return e.Time
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
	now     time.Time // the event's time (ClockTime), or the clock's on a tick
	out     []Transition
	// heardBefore is when the shipment's registered devices were last heard
	// before this event (Memory.Heard as it was): the gap rule judges the
	// silence this event ends.
	heardBefore GapMemory
	// arrivedNow is set when this event is the one that showed the physical
	// arrival (ArrivalMemory).
	arrivedNow bool
	// recorded is set when this event is a meter reading its track took.
	recorded bool
	// reg and trust cache registered() and trusted() for the event, and
	// route the shipment's corridor (routeKnown once looked up).
	reg, trust, routeKnown bool
	route                  *corridors.Corridor
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

// registered reports whether the event's device, if it names one, is one
// the manifest registers; true when the manifest registers none (or there
// is no manifest yet), since then nothing tells a rogue device apart.
func (j *judge) registered() bool { return j.reg }

func (j *judge) isRegistered() bool {
	if j.e.Device == "" || j.sh.Manifest == nil || len(j.sh.Manifest.Devices) == 0 {
		return true
	}
	for _, d := range j.sh.Manifest.Devices {
		if d == j.e.Device {
			return true
		}
	}
	return false
}

// aheadBy is how far the event's time runs ahead of its receipt, 0 when it
// does not or when no receipt time was stamped.
func aheadBy(e *event.Envelope) time.Duration {
	if e.ReceivedTime.IsZero() || !e.Time.After(e.ReceivedTime) {
		return 0
	}
	return e.Time.Sub(e.ReceivedTime)
}

// trusted reports whether the rules that measure (route, stop, gap…) may
// take the event's data as evidence: an applied event from a registered
// device whose clock does not run ahead of its receipt by more than
// FutureClock. The identity and replay rules flag the others; measuring
// with them would let a rogue device or a wrong clock open or clear alerts.
func (j *judge) trusted() bool { return j.trust }

// telemetry reports whether the event is a device's reading.
func (j *judge) telemetry() bool {
	switch j.e.Data.(type) {
	case *event.Position, *event.MeterReading, *event.QualityReading, *event.SealState:
		return true
	}
	return j.e.Kind() == event.KindTelemetry // a reading type added later
}

// justPast is the first whole millisecond strictly after t: when a limit
// of t has been passed (a rule fires just past its limit, never at it), in
// the resolution a timer index keeps.
func justPast(t time.Time) time.Time {
	return t.Truncate(time.Millisecond).Add(time.Millisecond)
}

// minutes converts a limit in minutes to a duration.
func minutes(m float64) time.Duration { return time.Duration(m * float64(time.Minute)) }

// arrived reports whether the goods are at their destination: a reported
// arrival or export, or the telemetry's physical arrival.
func (j *judge) arrived() bool {
	return !j.sh.ArrivedAt.IsZero() || j.sh.Export != nil || j.w.Memory.Arrival != nil
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
