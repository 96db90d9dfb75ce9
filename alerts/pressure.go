package alerts

import (
	"math"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// PressureMemory is what an open pressure alert rests on: the meter whose
// pressure dropped and its pressure before the drop, while it stays down,
// and whether the meters' flows diverge.
type PressureMemory struct {
	Meter     event.MeterID `json:"meter,omitempty"`
	Ref       float64       `json:"ref,omitempty"` // psig before the drop
	RefAt     Stamp         `json:"ref_at,omitempty"`
	Diverging bool          `json:"diverging,omitempty"`
	// Divergence is the exit's shortfall against the entry, in percent, in
	// the message: the latest window judged that was a new finding, or 5
	// points off the one before.
	Divergence float64 `json:"divergence,omitempty"`
}

// pressureRule flags, at a pipeline meter's reading:
//
//   - a drop: the pressure more than PressureDropPct under a reading of
//     the same meter within the last PressureWindow. It stays flagged until
//     the meter's pressure is back within PressureDropPct of the reading
//     before the drop (a drop that lasts is not forgotten once the window
//     has slid past it).
//   - flow divergence: over the last PressureWindow, the exit meter's
//     volume more than PressureDropPct off the entry meter's one line fill
//     earlier (the short-window rate check of a leak or an offtake; the
//     imbalance rule balances the long window). Only windows of steady flow
//     at both meters are judged: not within a reading interval of either
//     flow's start or end, where interpolating between readings would
//     misplace the volume.
//
// The alert resolves when neither holds.
func pressureRule(j *judge) {
	d, ok := j.e.Data.(*event.MeterReading)
	if !ok || !j.trusted() {
		return
	}
	t := j.w.Memory.meter(d.Meter, false)
	if t == nil || !j.recorded {
		return
	}
	lim := j.env.Limits
	var cur PressureMemory // a copy: most readings change nothing, and allocate nothing
	if j.w.Memory.Pressure != nil {
		cur = *j.w.Memory.Pressure
	}
	pm, was := &cur, cur
	var note string
	switch {
	case pm.Meter == d.Meter:
		if dropPct(pm.Ref, d.Pressure) <= lim.PressureDropPct {
			note = "pressure at meter " + string(d.Meter) + " back to " + num(d.Pressure, 1) + " psig (" + num(pm.Ref, 1) + " before the drop)"
			pm.Meter, pm.Ref, pm.RefAt = "", 0, 0
		}
	case pm.Meter == "":
		ref := Sample{}
		for _, p := range t.Pressures[:len(t.Pressures)-1] {
			if p.V > ref.V {
				ref = p
			}
		}
		if ref.V > 0 && dropPct(ref.V, d.Pressure) > lim.PressureDropPct {
			pm.Meter, pm.Ref, pm.RefAt = d.Meter, ref.V, ref.T
		}
	}
	if m := j.sh.Manifest; m != nil && d.Meter == m.ExitMeter {
		if v, ok := j.flowDivergence(); ok {
			pm.Diverging = math.Abs(v) > lim.PressureDropPct
			switch {
			case pm.Diverging && (!was.Diverging || math.Floor(math.Abs(v)/5) != math.Floor(math.Abs(was.Divergence)/5)):
				pm.Divergence = v
			case !pm.Diverging:
				pm.Divergence = 0
				if was.Diverging {
					note = "flows at the meters agree again within " + num(lim.PressureDropPct, 1) + " % (" + num(v, 1) + " %)"
				}
			}
		}
	}
	if *pm == was {
		return
	}
	if cur.Meter == "" && !cur.Diverging {
		j.w.Memory.Pressure = nil
		j.clear(RulePressure, j.now, note)
		return
	}
	j.storePressure(cur)
	pm = j.w.Memory.Pressure
	var msg string
	ev := Evidence{EventIDs: []string{j.e.ID}, Values: map[string]float64{}}
	if pm.Meter != "" {
		cur := d.Pressure
		if t := j.w.Memory.meter(pm.Meter, false); pm.Meter != d.Meter && t != nil && len(t.Pressures) > 0 {
			cur = t.Pressures[len(t.Pressures)-1].V
		}
		drop := dropPct(pm.Ref, cur)
		msg = "pressure at meter " + string(pm.Meter) + " fell " + num(drop, 1) + " % from " + num(pm.Ref, 1) + " to " + num(cur, 1) +
			" psig since " + stamp(pm.RefAt.Time()) + " (limit " + num(lim.PressureDropPct, 1) + " % within " + span(lim.PressureWindow) + ")"
		ev.Meter = pm.Meter
		ev.Values["pressure_drop_pct"], ev.Values["pressure_drop_pct_limit"] = drop, lim.PressureDropPct
		ev.Lat, ev.Lon = j.meterAt(pm.Meter)
	}
	if pm.Diverging {
		m := j.sh.Manifest
		if msg != "" {
			msg += "; "
		}
		div := pm.Divergence
		msg += "over " + span(lim.PressureWindow) + " exit meter " + string(m.ExitMeter) + "'s flow is " + num(math.Abs(div), 1) + " % "
		if div > 0 {
			msg += "under"
		} else {
			msg += "over"
		}
		msg += " entry meter " + string(m.EntryMeter) + "'s one line fill earlier (limit " + num(lim.PressureDropPct, 1) + " %)"
		if ev.Meter == "" {
			ev.Meter = m.ExitMeter
			ev.Lat, ev.Lon = j.meterAt(m.ExitMeter)
		}
		ev.Values["flow_divergence_pct"], ev.Values["flow_divergence_pct_limit"] = div, lim.PressureDropPct
	}
	j.raise(RulePressure, j.e.ID, j.now, msg, ev)
}

func dropPct(ref, p float64) float64 {
	if ref <= 0 {
		return 0
	}
	return (ref - p) / ref * 100
}

// flowDivergence is the exit meter's shortfall, in percent, against the
// entry meter over the last PressureWindow, lagged by the line fill; ok is
// false when the window is not one of steady flow at both meters.
func (j *judge) flowDivergence() (float64, bool) {
	in, out := j.meters()
	lag, ok := lineFill(in, out)
	if !ok || out.Prev.IsZero() {
		return 0, false
	}
	lim := j.env.Limits
	to := out.Last.T
	from := to.Add(-lim.PressureWindow)
	step := out.Last.T.Sub(out.Prev)
	entryEnd := in.Last.T.Add(-step) // still flowing: as far as the entry has reported
	if in.Last.T.After(in.GrewAt) {
		entryEnd = in.GrewAt.Add(-2 * step) // stopped: before its last, partial interval
	}
	if from.Before(out.Start.Add(step)) || from.Add(-lag).Before(in.Start.Add(step)) || to.Add(-lag).After(entryEnd) {
		return 0, false
	}
	b, ok := balanceOver(in, out, lag, from, to)
	if !ok || !b.judgeable(lim.PressureDropPct) {
		return 0, false
	}
	return (b.in - b.out) / b.in * 100, true
}

// meterAt is where the corridor's reference data puts meter id, nil when
// it does not know it.
func (j *judge) meterAt(id event.MeterID) (lat, lon *float64) {
	c := j.corridor()
	if c == nil {
		return nil, nil
	}
	for _, s := range []*corridors.MeterStation{c.EntryMeter, c.ExitMeter} {
		if s != nil && s.ID == id {
			return ptr(s.Lat), ptr(s.Lon)
		}
	}
	return nil, nil
}

// storePressure keeps m as the pressure memory.
//
//go:noinline
func (j *judge) storePressure(m PressureMemory) {
	if j.w.Memory.Pressure == nil {
		j.w.Memory.Pressure = new(PressureMemory)
	}
	*j.w.Memory.Pressure = m
}
