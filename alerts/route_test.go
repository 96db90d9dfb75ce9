package alerts_test

import (
	"strings"
	"testing"

	"github.com/inbond/inbond/alerts"
)

func TestRouteRule(t *testing.T) {
	line := corridor(t, truckCorridor).Line()
	on := along(t, 100, 0)
	off := along(t, 100, 6) // about 6 km off, measured below
	km := line.DistanceToKm(off)
	if km < 5 || km > 7 {
		t.Fatalf("test point %.3f km off the corridor", km)
	}
	farther := along(t, 100, -11) // the other side: the line bends back towards the right one
	if d := line.DistanceToKm(farther); d <= 10 {
		t.Fatalf("the farther test point is %.3f km off, not past twice the limit", d)
	}
	rogue := fix(30, off, 80)
	rogue.Device = "ROGUE-1"
	for _, c := range []struct {
		name  string
		limit float64
		steps []step
		want  []string
	}{
		{"on the corridor", 5, []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(10, on, 80))}, nil},
		{"at the limit", km, []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(10, off, 80))}, nil},
		{"just past the limit", km - 1e-9, []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(10, off, 80))}, []string{"open"}},
		{"back inside clears", 5, []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(10, off, 80)), ev(fix(12, on, 80))},
			[]string{"open", "resolved"}},
		{"past twice the limit updates", 5, []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(10, off, 80)), ev(fix(11, off, 80)),
			ev(fix(12, farther, 80)), ev(fix(13, on, 80))}, []string{"open", "update", "resolved"}},
		{"before departure", 5, []step{ev(truckManifest(0)), ev(fix(10, off, 80))}, nil},
		{"no manifest, no corridor", 5, []step{ev(departed(1)), ev(fix(10, off, 80))}, nil},
		{"an unregistered device is no evidence", 5, []step{ev(truckManifest(0)), ev(departed(1)), ev(rogue)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := only(t, alerts.RuleRoute, func(l *alerts.Thresholds) { l.RouteKm = c.limit })
			o := steps(t, env, c.steps...)
			wantStatuses(t, o, alerts.RuleRoute, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.of(alerts.RuleRoute)[0].Alert
			if a.Severity != alerts.SeverityWarning || a.Evidence.Values["km_off_corridor_limit"] != c.limit ||
				a.Evidence.Values["km_off_corridor"] <= c.limit || a.Evidence.Lat == nil || len(a.Evidence.EventIDs) == 0 {
				t.Fatalf("alert %+v", a)
			}
			if !strings.Contains(a.Message, truckCorridor) || !strings.Contains(a.Message, "km off") {
				t.Fatalf("message %q", a.Message)
			}
		})
	}
}

// A position reported by a device whose clock runs ahead is not judged.
func TestRouteIgnoresClockAhead(t *testing.T) {
	e := fix(10, along(t, 100, 6), 80)
	e.ReceivedTime = e.Time.Add(-env(t).Limits.FutureClock - 1)
	o := steps(t, only(t, alerts.RuleRoute, nil), ev(truckManifest(0)), ev(departed(1)), ev(e))
	if len(o.of(alerts.RuleRoute)) > 0 {
		t.Fatal("a route alert from a fix whose clock runs ahead")
	}
}
