package alerts

import (
	"math"
	"strconv"
	"time"

	"github.com/inbond/inbond/event"
)

// imbalanceRule flags volume that went missing (or appeared) between
// custody points, by more than ImbalancePct:
//
//   - pipeline (line balance): at each exit-meter reading, the volume the
//     exit meter measured over the last ImbalanceWindow against what the
//     entry meter measured over the same window one line-fill time earlier.
//     The line-fill time is measured, not declared: the time between the
//     starts of flow at the two meters (each extrapolated back from its
//     first two readings with volume). Windows start no earlier than the
//     exit's flow. A window is judged once it holds enough volume that the
//     meter tracks' compression error (up to flowTolSeconds of flow at each
//     interpolated end) is under a quarter of the limit: with three ends
//     interpolated, 3 × 5 s / (0.25 × 0.5 %) = 12,000 s, so windows of 3.3 h
//     of flow and more at the default limit. Across a gap in a meter's
//     readings nothing is interpolated (Sample.Blind), so a window with an
//     end in such a gap is not judged. The alert resolves when
//     a later window balances within the limit again (a lagging meter
//     caught up, an offtake stopped a window ago); its message follows the
//     imbalance by whole percents.
//   - conveyance: when a delivery ticket or a manifest is applied, the net
//     delivered on every ticket against the declared quantity. A later
//     ticket that makes up the difference resolves it.
func imbalanceRule(j *judge) {
	switch d := j.e.Data.(type) {
	case *event.MeterReading:
		if m := j.sh.Manifest; m != nil && m.Mode == event.ModePipeline && d.Meter == m.ExitMeter && j.trusted() {
			j.lineBalance()
		}
	case *event.Delivered, *event.Manifest:
		if j.applied {
			j.deliveryBalance()
		}
	}
}

// balance is what two meters measured over a window.
type balance struct {
	in, out  float64
	tol      float64 // how far off in - out may be: the interpolation error of the window's ends
	from, to Stamp   // at the exit meter; the entry's window is a line-fill earlier
	lag      time.Duration
}

// balanceOver measures the window [from, to] of the exit meter against the
// entry meter's window lag earlier; ok is false when the tracks do not
// cover it.
func balanceOver(in, out *MeterTrack, lag time.Duration, from, to Stamp) (balance, bool) {
	e1, t1, ok1 := in.at(to.Add(-lag))
	e0, t0, ok0 := in.at(from.Add(-lag))
	x1, t2, ok2 := out.at(to)
	x0, t3, ok3 := out.at(from)
	if !ok0 || !ok1 || !ok2 || !ok3 {
		return balance{}, false
	}
	return balance{in: e1 - e0, out: x1 - x0, tol: t0 + t1 + t2 + t3, from: from, to: to, lag: lag}, true
}

// judgeable reports whether the window holds enough volume that the
// tracks' compression error stays under a quarter of limitPct.
func (b balance) judgeable(limitPct float64) bool {
	return b.in > 0 && b.tol <= 0.25*limitPct/100*b.in
}

// lineFill is the line-fill time the tracks show, ok false before both
// meters' flows have started.
func lineFill(in, out *MeterTrack) (time.Duration, bool) {
	if in == nil || out == nil || in.Start.IsZero() || out.Start.IsZero() {
		return 0, false
	}
	return max(out.Start.Sub(in.Start), 0), true
}

func (j *judge) lineBalance() {
	in, out := j.meters()
	lag, ok := lineFill(in, out)
	if !ok || !j.recorded {
		return
	}
	lim := j.env.Limits
	to := out.Last.T
	keep := lim.ImbalanceWindow + lim.PressureWindow + time.Hour
	out.prune(to.Add(-keep))
	in.prune(to.Add(-lag - keep))
	from := to.Add(-lim.ImbalanceWindow)
	if from.Before(out.Start) {
		from = out.Start
	}
	b, ok := balanceOver(in, out, lag, from, to)
	if !ok || !b.judgeable(lim.ImbalancePct) {
		return
	}
	pct := (b.in - b.out) / b.in * 100
	a := j.w.Active[RuleImbalance]
	if math.Abs(pct) <= lim.ImbalancePct {
		if a != nil {
			j.clear(RuleImbalance, j.now, "line balance back within "+num(lim.ImbalancePct, 2)+" %: "+num(pct, 2)+" % over "+span(to.Sub(from)))
		}
		return
	}
	if a != nil && math.Floor(math.Abs(pct)) <= math.Floor(math.Abs(a.Evidence.Values["imbalance_pct"])) {
		return
	}
	m := j.sh.Manifest
	unit := " " + string(m.Unit)
	short := "short"
	if pct < 0 {
		short = "over"
	}
	msg := "exit meter " + string(m.ExitMeter) + " measured " + num(b.out, 1) + unit + " over " + span(to.Sub(from)) + " to " + stamp(to.Time()) +
		" against " + num(b.in, 1) + unit + " in at entry meter " + string(m.EntryMeter) + " one line fill (" + span(lag) + ") earlier: " +
		num(math.Abs(pct), 3) + " % " + short + " (limit " + num(lim.ImbalancePct, 2) + " % over " + span(lim.ImbalanceWindow) + ")"
	ev := Evidence{
		EventIDs: []string{j.e.ID}, Meter: m.ExitMeter,
		Values: values("imbalance_pct", pct, "imbalance_pct_limit", lim.ImbalancePct, "entry_volume", b.in, "exit_volume", b.out,
			"window_hours", to.Sub(from).Hours(), "line_fill_hours", lag.Hours()),
	}
	ev.Lat, ev.Lon = j.meterAt(m.ExitMeter)
	j.raise(RuleImbalance, j.e.ID, j.now, msg, ev)
}

func (j *judge) deliveryBalance() {
	m := j.sh.Manifest
	if m == nil || !m.Mode.Conveyance() || len(j.sh.Delivery) == 0 || m.DeclaredQuantity <= 0 {
		return
	}
	net, tickets := 0.0, 0
	for _, d := range j.sh.Delivery {
		if d.Unit == string(m.Unit) {
			net += d.Net
			tickets++
		}
	}
	if tickets == 0 {
		return
	}
	lim := j.env.Limits.ImbalancePct
	pct := (m.DeclaredQuantity - net) / m.DeclaredQuantity * 100
	if math.Abs(pct) <= lim {
		j.clear(RuleImbalance, j.now, "delivered "+num(net, 2)+" "+string(m.Unit)+" net of "+num(m.DeclaredQuantity, 2)+" declared: within "+num(lim, 2)+" %")
		return
	}
	short := "short"
	if pct < 0 {
		short = "over"
	}
	msg := "delivered " + num(net, 2) + " " + string(m.Unit) + " net on " + strconv.Itoa(tickets) + " ticket(s) against " +
		num(m.DeclaredQuantity, 2) + " " + string(m.Unit) + " declared loaded: " + num(math.Abs(pct), 3) + " % " + short +
		" (limit " + num(lim, 2) + " %)"
	ev := Evidence{EventIDs: []string{j.e.ID}, Port: j.sh.ArrivalPort,
		Values: values("imbalance_pct", pct, "imbalance_pct_limit", lim, "delivered_net", net, "declared_quantity", m.DeclaredQuantity)}
	j.raise(RuleImbalance, j.e.ID, j.now, msg, ev)
}
