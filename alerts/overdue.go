package alerts

import (
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

// overdueRule flags a movement not arrived by its in-bond deadline
// (Manifest.Deadline: 30 days, 60 for barge, from its creation, or
// whatever the manifest declares): by the timer just past the deadline,
// or by an event past it (the arrival included, when it comes late).
// Arrival means the earliest of a reported arrival, an export and the
// telemetry's physical arrival.
//
// Arrival after the deadline does not resolve the alert: the bond was
// breached (19 CFR 18.8 liability for late delivery), and an officer
// resolves it; the arrival is added to its message. An amended manifest
// whose deadline is not yet past (or not before the arrival) resolves it:
// the movement was never overdue under the deadline that rules.
func overdueRule(j *judge) {
	dl := j.sh.Deadline()
	if dl.IsZero() {
		return
	}
	arrived := j.arrivalTime()
	a := j.w.Active[RuleOverdue]
	if a == nil {
		if (arrived.IsZero() && j.now.After(dl)) || arrived.After(dl) {
			j.raiseOverdue(dl, arrived)
		}
		return
	}
	switch j.e.Data.(type) {
	case *event.Manifest:
		if (arrived.IsZero() && !j.now.After(dl)) || (!arrived.IsZero() && !arrived.After(dl)) {
			j.clear(RuleOverdue, j.now, "in-bond deadline amended to "+stamp(dl))
			return
		}
	case *event.Arrived, *event.Exported:
	default:
		if !j.arrivedNow {
			return
		}
	}
	j.raiseOverdue(dl, arrived)
}

func overdueTick(j *judge) {
	if due := overdueDue(j.env, j.w, j.sh); !due.IsZero() && !j.now.Before(due) {
		j.raiseOverdue(j.sh.Deadline(), time.Time{})
	}
}

func overdueDue(env *Env, w *Watch, sh *state.Shipment) time.Time {
	dl := sh.Deadline()
	if dl.IsZero() || w.Active[RuleOverdue] != nil || !arrivalTime(sh, w).IsZero() {
		return time.Time{}
	}
	return justPast(dl)
}

func (j *judge) raiseOverdue(dl, arrived time.Time) {
	m := j.sh.Manifest
	dest := j.sh.Destination
	var msg string
	var late time.Duration
	if arrived.IsZero() {
		late = j.now.Sub(dl)
		msg = "not arrived at " + port(dest) + " by its in-bond deadline " + stamp(dl)
		if late >= time.Minute {
			msg += ": " + span(late) + " past it"
		}
	} else {
		late = arrived.Sub(dl)
		msg = "arrived " + span(late) + " after its in-bond deadline " + stamp(dl)
		if j.sh.ArrivalPort != "" {
			msg += ", at " + port(j.sh.ArrivalPort)
		}
		msg += " (" + stamp(arrived) + ")"
	}
	msg += "; " + string(m.Mode) + " movement declared " + stamp(m.CreatedAt) + " (limit " +
		num(m.Deadline.Sub(m.CreatedAt).Hours()/24, 1) + " days)"
	ev := Evidence{Port: dest, Values: values("hours_past_deadline", late.Hours(), "hours_past_deadline_limit", 0.0)}
	if j.e != nil {
		ev.EventIDs = []string{j.e.ID}
	}
	if j.sh.ManifestID != "" {
		ev.EventIDs = append([]string{j.sh.ManifestID}, ev.EventIDs...)
	}
	j.raise(RuleOverdue, "deadline:"+dl.UTC().Format(time.RFC3339Nano), j.now, msg, ev)
}

// arrivalTime is when the goods arrived: the earliest of the reported
// arrival, the export and the telemetry's physical arrival; zero before.
func (j *judge) arrivalTime() time.Time { return arrivalTime(j.sh, j.w) }

func arrivalTime(sh *state.Shipment, w *Watch) time.Time {
	t := sh.ArrivedAt
	earlier := func(u time.Time) {
		if !u.IsZero() && (t.IsZero() || u.Before(t)) {
			t = u
		}
	}
	if sh.Export != nil {
		earlier(sh.Export.At)
	}
	if w.Memory.Arrival != nil {
		earlier(w.Memory.Arrival.At)
	}
	return t
}
