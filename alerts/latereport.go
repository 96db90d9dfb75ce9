package alerts

import (
	"strconv"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

// lateReportRule flags an arrival not reported within ReportBusinessDays
// business days (calendar.go: weekends and federal holidays do not count)
// of the physical arrival the telemetry shows (ArrivalMemory): by the
// timer when the report has not come by the end of the last business day
// allowed, or on the report itself when it comes after. A late report
// stays late: the alert is not resolved when the report finally comes, its
// message says when it came. Without telemetry that shows the arrival
// there is nothing to count from, and the rule says nothing.
func lateReportRule(j *judge) {
	arr := j.w.Memory.Arrival
	rep := j.sh.Arrival
	if arr == nil || rep == nil {
		return
	}
	if _, ok := j.e.Data.(*event.Arrived); !ok && !j.arrivedNow {
		return
	}
	if rep.At.Before(arr.ReportDue) {
		return
	}
	j.raiseLateReport(arr, rep.At, rep.Port)
}

func lateReportTick(j *judge) {
	if due := lateReportDue(j.env, j.w, j.sh); !due.IsZero() && !j.now.Before(due) {
		j.raiseLateReport(j.w.Memory.Arrival, time.Time{}, "")
	}
}

func lateReportDue(env *Env, w *Watch, sh *state.Shipment) time.Time {
	arr := w.Memory.Arrival
	if arr == nil || sh.Arrival != nil || w.Active[RuleLateReport] != nil {
		return time.Time{}
	}
	return arr.ReportDue
}

func (j *judge) raiseLateReport(arr *ArrivalMemory, reported time.Time, at event.PortCode) {
	n := j.env.Limits.ReportBusinessDays
	lastDay := arr.ReportDue.AddDate(0, 0, -1).Format("Mon 2006-01-02")
	where := j.sh.Destination
	if at != "" {
		where = at
	}
	var msg string
	var late time.Duration
	allowed := " the " + strconv.Itoa(n) + " business days allowed, which ended with " + lastDay + " (UTC)"
	if reported.IsZero() {
		late = j.now.Sub(arr.ReportDue)
		msg = "arrival at " + port(where) + " not reported within" + allowed
	} else {
		late = reported.Sub(arr.ReportDue)
		msg = "arrival at " + port(where) + " reported " + stamp(reported) + ", after" + allowed
	}
	msg += ": the telemetry showed the goods at their destination " + stamp(arr.At)
	if late >= time.Minute {
		msg += "; " + span(late) + " late"
	}
	ids := []string{arr.Event}
	if j.e != nil && j.e.ID != arr.Event {
		ids = append(ids, j.e.ID)
	}
	j.raise(RuleLateReport, "arrival:"+arr.At.UTC().Format(time.RFC3339Nano), j.now, msg, Evidence{
		EventIDs: ids, Port: where,
		Values: values("hours_late", late.Hours(), "hours_late_limit", 0.0, "business_days_limit", float64(n)),
	})
}
