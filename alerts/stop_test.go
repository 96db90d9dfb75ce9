package alerts_test

import (
	"strings"
	"testing"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/corridors"
)

func TestStopRule(t *testing.T) {
	out := along(t, 100, 0) // on the corridor, 100 km in: no stop area there
	if corridor(t, truckCorridor).InStopArea(out) {
		t.Fatal("test point in a stop area")
	}
	havre := corridors.Point{Lat: 48.5520, Lon: -109.7150} // the Havre truck stops
	start := []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(9, out, 80))}
	with := func(more ...step) []step { return append(append([]step{}, start...), more...) }
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"stationary 30 min: at the limit", with(ev(fix(10, out, 0)), ev(fix(25, out, 0)), ev(fix(40, out, 0))), nil},
		{"stationary just past 30 min", with(ev(fix(10, out, 0)), ev(fix(40.001, out, 0))), []string{"open"}},
		{"moving again clears", with(ev(fix(10, out, 0)), ev(fix(41, out, 0)), ev(fix(43, out, 60))), []string{"open", "resolved"}},
		{"the timer at 30 min: nothing", with(ev(fix(10, out, 0)), tick(mins(40))), nil},
		{"the timer just past 30 min, no fix since", with(ev(fix(10, out, 0)), tick(mins(40).Add(1e6))), []string{"open"}},
		{"the timer, then moving", with(ev(fix(10, out, 0)), tick(mins(45)), ev(fix(50, out, 70))), []string{"open", "resolved"}},
		{"an hour at an allowed stop", with(ev(fix(10, havre, 0)), ev(fix(70, havre, 0)), tick(mins(90))), nil},
		{"a few tenths of a km/h is standing still", with(ev(fix(10, out, 0.4)), ev(fix(41, out, 0.3))), []string{"open"}},
		{"slow is moving", with(ev(fix(10, out, 3)), ev(fix(41, out, 3))), nil},
		{"before departure", []step{ev(truckManifest(0)), ev(fix(10, out, 0)), ev(fix(50, out, 0)), tick(mins(90))}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RuleStop, nil), c.steps...)
			wantStatuses(t, o, alerts.RuleStop, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.of(alerts.RuleStop)[0].Alert
			if a.Evidence.Values["stationary_minutes"] <= 30 || a.Evidence.Values["stationary_minutes_limit"] != 30 ||
				a.Evidence.Lat == nil || !strings.Contains(a.Message, "nearest:") {
				t.Fatalf("alert %+v", a)
			}
		})
	}
}

// The timer is the first stationary fix plus StopMinutes, just past it.
func TestStopDue(t *testing.T) {
	env := only(t, alerts.RuleStop, nil)
	o := steps(t, env, ev(truckManifest(0)), ev(departed(1)), ev(fix(10, along(t, 100, 0), 0)))
	if due := o.w.Due(env, o.sh); !due.Equal(mins(40).Add(1e6)) {
		t.Fatalf("due %v, want 30 min and a millisecond after the first stationary fix", due)
	}
}
