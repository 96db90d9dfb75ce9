package alerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
)

func TestGapRule(t *testing.T) {
	p := along(t, 100, 0)
	start := []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(10, p, 80))}
	with := func(more ...step) []step { return append(append([]step{}, start...), more...) }
	rogue := fix(80, p, 80)
	rogue.Device = "ROGUE-1"
	ahead := fix(190, p, 80)
	ahead.ReceivedTime = mins(15) // claims 3 h ahead: heard at its receipt + FutureClock (20 min), not at 190 min
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"the timer at 60 min", with(tick(mins(70))), nil},
		{"the timer just past 60 min", with(tick(mins(70).Add(time.Millisecond))), []string{"open"}},
		{"telemetry resumes: resolved", with(tick(mins(71)), ev(fix(200, p, 80))), []string{"open", "resolved"}},
		{"telemetry after exactly 60 min", with(ev(fix(70, p, 80))), nil},
		{"a gap no timer saw is recorded when the telemetry resumes", with(ev(fix(70.001, p, 80))), []string{"open", "resolved"}},
		{"none since the departure", []step{ev(truckManifest(0)), ev(departed(1)), tick(mins(61).Add(time.Millisecond))}, []string{"open"}},
		{"not in transit yet", []step{ev(truckManifest(0)), ev(fix(10, p, 0)), tick(mins(300))}, nil},
		{"at the destination, the telemetry may stop", []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(10, destination(t), 5)),
			tick(mins(300))}, nil},
		{"an unregistered device does not end a gap", with(tick(mins(71)), ev(rogue), ev(fix(90, p, 80))), []string{"open", "resolved"}},
		{"a clock ahead counts at its receipt: not yet", with(ev(ahead), tick(mins(80))), nil},
		{"a clock ahead counts at its receipt", with(ev(ahead), tick(mins(80).Add(time.Millisecond))), []string{"open"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RuleGap, nil), c.steps...)
			wantStatuses(t, o, alerts.RuleGap, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.of(alerts.RuleGap)[0].Alert
			if a.Evidence.Values["minutes_without_telemetry"] <= 60 || a.Evidence.Values["minutes_without_telemetry_limit"] != 60 ||
				!strings.Contains(a.Message, "no telemetry") {
				t.Fatalf("alert %+v", a)
			}
			if c.name == "an unregistered device does not end a gap" {
				if r := o.of(alerts.RuleGap)[1]; !r.Change.At.Equal(mins(90)) {
					t.Fatalf("resolved at %v by %s", r.Change.At, r.Change.Note)
				}
			}
		})
	}
}
