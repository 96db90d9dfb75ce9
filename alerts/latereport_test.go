package alerts_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
)

func TestLateReportRule(t *testing.T) {
	// t0 is Thursday 1 October 2026. The truck is at its destination at
	// 07:00; the two business days are Friday 2 and Monday 5 October, so
	// the report is late from Tuesday 6 October 00:00 UTC.
	due := time.Date(2026, 10, 6, 0, 0, 0, 0, time.UTC)
	start := []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(55, along(t, 100, 0), 80)), ev(fix(60, destination(t), 5))}
	with := func(more ...step) []step { return append(append([]step{}, start...), more...) }
	reportAt := func(at time.Time) step { return ev(arrived(at.Sub(t0).Minutes(), "3310")) }
	// Arrival on Friday 9 October: Monday 12 is Columbus Day, so the days
	// are Tuesday 13 and Wednesday 14.
	friday := time.Date(2026, 10, 9, 10, 0, 0, 0, time.UTC)
	columbus := []step{ev(truckManifest(0)), ev(departed(1)), ev(fix(friday.Sub(t0).Minutes(), destination(t), 5))}
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
	}{
		{"reported at once", with(reportAt(mins(70)), tick(due.Add(time.Hour))), nil},
		{"reported at the end of the last day", with(reportAt(due.Add(-time.Nanosecond))), nil},
		{"reported just past it", with(reportAt(due)), []string{"open"}},
		{"the timer at the end of the last day", with(tick(due.Add(-time.Nanosecond))), nil},
		{"the timer just past it", with(tick(due)), []string{"open"}},
		{"a late report stays late", with(tick(due), reportAt(due.Add(30*time.Hour))), []string{"open", "update"}},
		{"no telemetry at the destination: nothing to count from", []step{ev(truckManifest(0)), ev(departed(1)),
			ev(fix(55, along(t, 100, 0), 80)), reportAt(due.Add(72 * time.Hour))}, nil},
		{"a federal holiday is no business day", append(columbus, tick(time.Date(2026, 10, 14, 23, 0, 0, 0, time.UTC))), nil},
		{"late after the holiday", append(columbus, tick(time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC))), []string{"open"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RuleLateReport, nil), c.steps...)
			wantStatuses(t, o, alerts.RuleLateReport, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.last(t, alerts.RuleLateReport)
			if a.Evidence.Values["business_days_limit"] != 2 || a.Evidence.Values["hours_late"] < 0 || a.Evidence.Port != "3310" ||
				!strings.Contains(a.Message, "business days allowed, which ended with") || len(a.Evidence.EventIDs) == 0 {
				t.Fatalf("alert %+v", a)
			}
		})
	}
}

func TestLateReportDue(t *testing.T) {
	env := only(t, alerts.RuleLateReport, nil)
	o := steps(t, env, ev(truckManifest(0)), ev(departed(1)), ev(fix(60, destination(t), 5)))
	if due := o.w.Due(env, o.sh); !due.Equal(time.Date(2026, 10, 6, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("due %v", due)
	}
}
