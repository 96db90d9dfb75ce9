package alerts

import (
	"time"

	"github.com/inbond/inbond/state"
)

// gapRule resolves a telemetry gap when a registered device reports again,
// and flags in hindsight a gap no timer saw (the partition's clock did not
// pass its end before the telemetry resumed): such an alert opens and
// resolves on the same event, so the record shows it.
//
// A gap is a silence of the shipment's registered devices longer than
// GapMinutes while in transit, before the telemetry showed it at its
// destination; it is measured from the last telemetry heard or, before
// any, from the departure. Telemetry from an unregistered device does not
// end a gap.
func gapRule(j *judge) {
	if !j.applied || !j.registered() || !j.telemetry() {
		return
	}
	from := j.heardBefore.At
	if from.IsZero() {
		from = departure(j.sh)
	}
	if j.w.Active[RuleGap] != nil {
		j.clear(RuleGap, j.now, j.resumed(from))
		return
	}
	if from.IsZero() || !inTransit(j.sh) || j.arrivedBefore() || j.now.Sub(from) <= minutes(j.env.Limits.GapMinutes) {
		return
	}
	j.raiseGap(j.heardBefore, from, j.now.Sub(from))
	j.clear(RuleGap, j.now, j.resumed(from))
}

func (j *judge) resumed(from time.Time) string {
	return "telemetry resumed " + stamp(j.now) + " from device " + string(j.e.Device) + ", " + span(j.now.Sub(from)) + " after the last before it"
}

// arrivedBefore is arrived() as it was before this event.
func (j *judge) arrivedBefore() bool {
	return !j.sh.ArrivedAt.IsZero() || j.sh.Export != nil || (j.w.Memory.Arrival != nil && !j.arrivedNow)
}

func gapTick(j *judge) {
	if due := gapDue(j.env, j.w, j.sh); !due.IsZero() && !j.now.Before(due) {
		from := gapFrom(j.sh, j.w)
		j.raiseGap(j.w.Memory.Heard, from, j.now.Sub(from))
	}
}

func gapDue(env *Env, w *Watch, sh *state.Shipment) time.Time {
	from := gapFrom(sh, w)
	if from.IsZero() || w.Active[RuleGap] != nil || !inTransit(sh) || !arrivalTime(sh, w).IsZero() {
		return time.Time{}
	}
	return justPast(from.Add(minutes(env.Limits.GapMinutes)))
}

// gapFrom is when the silence under way began: the last telemetry heard,
// or the departure before any.
func gapFrom(sh *state.Shipment, w *Watch) time.Time {
	if !w.Memory.Heard.At.IsZero() {
		return w.Memory.Heard.At
	}
	return departure(sh)
}

func departure(sh *state.Shipment) time.Time {
	t := sh.DepartedAt
	if !sh.CrossedAt.IsZero() && (t.IsZero() || sh.CrossedAt.Before(t)) {
		t = sh.CrossedAt
	}
	return t
}

// raiseGap opens the gap alert of a silence of d since from; h is the
// last telemetry heard before it, if any.
func (j *judge) raiseGap(h GapMemory, from time.Time, d time.Duration) {
	msg := "no telemetry for " + span(d) + " in transit since " + stamp(from)
	if j.e == nil { // the timer: the silence goes on
		msg = "no telemetry in transit since " + stamp(from)
	}
	var ids []string
	if h.Event != "" && h.At.Equal(from) {
		msg += " (last from device " + string(h.Device) + ")"
		ids = []string{h.Event}
	} else {
		msg += " (the departure; no telemetry before)"
	}
	if p := j.sh.Position; p != nil && !p.At.After(from) {
		msg += ", last position " + coords(p.Lat, p.Lon)
	}
	if j.e == nil {
		msg += ": longer than the " + num(j.env.Limits.GapMinutes, 0) + " min allowed"
	} else {
		msg += " (limit " + num(j.env.Limits.GapMinutes, 0) + " min)"
	}
	if j.e != nil {
		ids = append(ids, j.e.ID)
	}
	j.raise(RuleGap, "gap:"+from.UTC().Format(time.RFC3339Nano), j.now, msg, Evidence{
		EventIDs: ids, Values: values("minutes_without_telemetry", d.Minutes(), "minutes_without_telemetry_limit", j.env.Limits.GapMinutes),
	})
}
