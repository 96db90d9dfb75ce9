package alerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

func TestOverdueRule(t *testing.T) {
	dl := mins(600) // the deadline, 10 h after t0
	man := truckManifest(0, func(m *event.Manifest) { m.Deadline = dl })
	extended := truckManifest(5, func(m *event.Manifest) { m.Deadline = dl.Add(48 * time.Hour) })
	p := along(t, 100, 0)
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"the timer at the deadline", []step{ev(man), ev(departed(1)), tick(dl)}, nil},
		{"the timer just past it", []step{ev(man), ev(departed(1)), tick(dl.Add(time.Millisecond))}, []string{"open"}},
		{"an event at the deadline", []step{ev(man), ev(departed(1)), ev(fix(600, p, 80))}, nil},
		{"an event just past it", []step{ev(man), ev(departed(1)), ev(fix(600.001, p, 80))}, []string{"open"}},
		{"arrived by the deadline", []step{ev(man), ev(departed(1)), ev(arrived(600, "3310")), tick(dl.Add(time.Hour))}, nil},
		{"shown at the destination by the deadline, reported later", []step{ev(man), ev(departed(1)),
			ev(fix(590, destination(t), 10)), tick(dl.Add(time.Hour)), ev(arrived(700, "3310"))}, nil},
		{"arrival after the deadline is recorded, not resolved", []step{ev(man), ev(departed(1)), tick(dl.Add(time.Minute)),
			ev(arrived(700, "3310"))}, []string{"open", "update"}},
		{"a late arrival no timer saw", []step{ev(man), ev(departed(1)), ev(arrived(700, "3310"))}, []string{"open"}},
		{"an amended deadline not yet past resolves", []step{ev(man), ev(departed(1)), tick(dl.Add(time.Minute)), ev(extended)},
			[]string{"open", "resolved"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RuleOverdue, nil), c.steps...)
			wantStatuses(t, o, alerts.RuleOverdue, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.of(alerts.RuleOverdue)[0].Alert
			if a.Severity != alerts.SeverityCritical || a.Evidence.Values["hours_past_deadline"] <= 0 || a.Evidence.Port != "3310" ||
				!strings.Contains(a.Message, "3310 (Sweetgrass") || a.Trigger != "deadline:"+dl.Format(time.RFC3339Nano) {
				t.Fatalf("alert %+v", a)
			}
		})
	}
}

func TestOverdueDue(t *testing.T) {
	dl := mins(600)
	env := only(t, alerts.RuleOverdue, nil)
	o := steps(t, env, ev(truckManifest(0, func(m *event.Manifest) { m.Deadline = dl })), ev(departed(1)))
	if due := o.w.Due(env, o.sh); !due.Equal(dl.Add(time.Millisecond)) {
		t.Fatalf("due %v, want the deadline and a millisecond", due)
	}
	o = steps(t, env, ev(truckManifest(0, func(m *event.Manifest) { m.Deadline = dl })), ev(departed(1)), ev(arrived(10, "3310")))
	if due := o.w.Due(env, o.sh); !due.IsZero() {
		t.Fatalf("due %v after the arrival", due)
	}
}

// destination is the truck corridor's end.
func destination(t *testing.T) corridors.Point {
	t.Helper()
	pts := corridor(t, truckCorridor).Line().Points
	return pts[len(pts)-1]
}
