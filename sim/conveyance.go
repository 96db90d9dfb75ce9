package sim

import (
	"cmp"
	"github.com/inbond/inbond/alerts"
	"math"
	"slices"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// Conveyance movement: the vehicle follows its corridor polyline at the
// corridor's speed (varying ±5 % between fixes), dwells at the allowed stops
// that lie on its way (fuel stops, rail yards, anchorages), reports a GNSS
// fix every cadence with a few metres of noise and its seal every 30 minutes.
var (
	fixCadence = map[event.Mode]time.Duration{event.ModeTruck: 2 * time.Minute, event.ModeRail: 5 * time.Minute,
		event.ModeVessel: 10 * time.Minute, event.ModeBarge: 10 * time.Minute}
	stopDwell = map[event.Mode]time.Duration{event.ModeTruck: 30 * time.Minute, event.ModeRail: 3 * time.Hour,
		event.ModeVessel: 4 * time.Hour, event.ModeBarge: 90 * time.Minute}
)

const (
	sealCadence       = 30 * time.Minute
	unscheduledDwell  = 90 * time.Minute
	routeDeviationKm  = 12.0 // the peak lateral offset of an injected route deviation
	gnssNoiseKm       = 0.004
	sampleStepKm      = 0.25
	deliveryMeterBias = 0.0005
)

type plannedStop struct {
	d       float64 // km along the corridor
	dwell   time.Duration
	allowed bool
}

// conveyance emits the fixes, seal reports, lab samples and milestones of a
// truck, train, tanker or barge, and returns when it reached its destination.
func (g *gen) conveyance() (time.Time, error) {
	c, m := g.c, g.m
	line := c.Line()
	length := line.LengthKm()
	cadence := fixCadence[c.Mode]

	var stops []plannedStop
	for _, d := range c.StopsAlong() {
		stops = append(stops, plannedStop{d: d, dwell: stopDwell[c.Mode], allowed: true})
	}
	// The deviations are laid out so that none hides another: the
	// telemetry gap first, soon after the departure (after the lab sample
	// at the start, which a misclassification needs), then, from where the
	// gap left the vehicle on (from the start without a gap), the
	// unscheduled stop, the route excursion (clear of every planned stop,
	// whose dwell it would move out of its stop area) and the seal break.
	var unscheduledAt float64 = -1
	devFrom, devTo, sealBreaksAt := math.Inf(1), math.Inf(1), math.Inf(1)
	plan := func(from float64) {
		if g.dev[alerts.RuleStop] {
			d := math.Max(length*0.3, from)
			for ; d < length*0.9; d += 2 {
				if p, _ := line.At(d); !c.InStopArea(p) {
					break
				}
			}
			unscheduledAt = d
			from = d + 2
			stops = append(stops, plannedStop{d: d, dwell: unscheduledDwell})
			slices.SortStableFunc(stops, func(a, b plannedStop) int { return cmp.Compare(a.d, b.d) })
		}
		if g.dev[alerts.RuleRoute] {
			devFrom = excursionFrom(c.StopsAlong(), math.Max(length*0.4, from), excursionKm(length), length)
			devTo = devFrom + excursionKm(length)
			from = devTo + 2
		}
		sealBreaksAt = math.Max(length*0.6, from)
	}
	slices.SortFunc(stops, func(a, b plannedStop) int { return cmp.Compare(a.d, b.d) })
	planned := false
	if g.dev[alerts.RuleGap] {
		g.gapFrom = g.start.Add(2 * cadence)
		g.gapTo = g.gapFrom.Add(3 * time.Hour)
		g.label(alerts.RuleGap, g.gapFrom, map[string]any{"from": stamp(g.gapFrom), "to": stamp(g.gapTo), "gap_minutes": 180.0, "threshold_minutes": g.th.GapMinutes})
	} else {
		plan(0)
		planned = true
	}

	g.carrierEvent(g.start.Add(time.Minute), "departed", event.Departed{Port: m.OriginPort})
	if bc := c.BorderCrossing; bc != nil {
		g.carrierEvent(g.start.Add(3*time.Minute), "border_crossed", event.BorderCrossed{Port: bc.Port, Lat: bc.Lat, Lon: bc.Lon})
	}
	api := 0.0
	if m.Product == event.ProductCrude {
		api = *m.DeclaredQuality.APIGravity
		if g.dev[alerts.RuleMisclassification] {
			api = flipAPI(api)
			g.misclassLabel(g.start.Add(2*time.Minute), *m.DeclaredQuality.APIGravity, api)
		}
	}
	g.labSample(g.start.Add(2*time.Minute), api)

	d, next := 0.0, 0
	t := g.start
	var dwellUntil time.Time
	var routeBegins, stopBegins, sealBroken time.Time
	maxOffset := 0.0
	lastSeal := time.Time{}
	var atDestination time.Time // the first published fix at the destination
	for d < length {
		t = t.Add(cadence)
		if !planned && !t.Before(g.gapTo) {
			plan(d + 2) // the first fix after the gap: the rest from here on
			planned = true
		}
		speed := 0.0
		switch {
		case t.Before(dwellUntil):
		case next < len(stops) && d >= stops[next].d:
			dwellUntil = t.Add(stops[next].dwell)
			if !stops[next].allowed {
				stopBegins = t
			}
			next++
		default:
			speed = c.SpeedKmh * (1 + g.rng.NormFloat64()*0.05)
			d += speed * cadence.Hours()
			if next < len(stops) && d > stops[next].d {
				d = stops[next].d // arrive at the stop, dwell from the next fix
			}
		}
		pos, heading := line.At(math.Min(d, length))
		if g.dev[alerts.RuleRoute] && d > devFrom && d < devTo {
			off := routeDeviationKm * math.Sin(math.Pi*(d-devFrom)/(devTo-devFrom))
			rad := (heading + 90) * math.Pi / 180
			pos = corridors.Offset(pos, off*math.Cos(rad), off*math.Sin(rad))
		}
		pos = corridors.Offset(pos, g.rng.NormFloat64()*gnssNoiseKm, g.rng.NormFloat64()*gnssNoiseKm)
		published := !g.inGap(t)
		if published && atDestination.IsZero() && alerts.AtDestination(c, corridors.Point{Lat: round(pos.Lat, 6), Lon: round(pos.Lon, 6)}) {
			atDestination = t
		}
		if g.dev[alerts.RuleRoute] && published {
			off := line.DistanceToKm(pos)
			maxOffset = math.Max(maxOffset, off)
			if off > g.th.RouteKm && routeBegins.IsZero() {
				routeBegins = t
			}
		}
		g.telemetry(t, g.gps(), "position", event.Position{
			Lat: round(pos.Lat, 6), Lon: round(pos.Lon, 6), SpeedKmh: round(math.Max(speed, 0), 1),
			HeadingDeg: round(heading, 1), AccuracyM: f(5),
		})
		state := event.SealIntact
		if g.dev[alerts.RuleSeal] && d >= sealBreaksAt {
			state = event.SealBroken
			if sealBroken.IsZero() {
				sealBroken = t
				lastSeal = time.Time{} // report the change at once
			}
		}
		if lastSeal.IsZero() || t.Sub(lastSeal) >= sealCadence {
			g.telemetry(t, g.sealDevice(), "seal", event.SealState{Seal: g.sealID(), State: state})
			lastSeal = t
		}
	}
	arrived := t.Add(cadence)
	g.labSample(arrived, api)
	g.physArrival = atDestination
	if !routeBegins.IsZero() {
		g.label(alerts.RuleRoute, routeBegins, map[string]any{"max_offset_km": round(maxOffset, 2), "threshold_km": g.th.RouteKm, "corridor": c.ID})
	}
	if unscheduledAt >= 0 {
		p, _ := line.At(unscheduledAt)
		g.label(alerts.RuleStop, stopBegins, map[string]any{"lat": round(p.Lat, 5), "lon": round(p.Lon, 5),
			"minutes": unscheduledDwell.Minutes(), "threshold_minutes": g.th.StopMinutes, "in_allowed_area": false})
	}
	if !sealBroken.IsZero() {
		g.label(alerts.RuleSeal, sealBroken, map[string]any{"seal": g.sealID(), "state": event.SealBroken})
	}
	g.delivered = round(m.DeclaredQuantity*(1+g.rng.NormFloat64()*deliveryMeterBias), 2)
	return arrived, nil
}

// excursionKm is how long a stretch of the corridor a route excursion
// takes: 15 % of its length, at most 150 km (a long rail line has few
// stretches much longer between its planned stops).
func excursionKm(length float64) float64 { return math.Min(length*0.15, 150) }

// excursionFrom is where a route excursion of width km begins: the first
// point from on whose stretch holds no planned stop (with 1 km to spare
// either side), so that no planned dwell is moved off the corridor. If none
// fits before the end, from itself.
func excursionFrom(planned []float64, from, width, length float64) float64 {
	a := from
	for a+width < length {
		clear := true
		for _, s := range planned {
			if s >= a-1 && s <= a+width+1 {
				a, clear = s+1.5, false
			}
		}
		if clear {
			return a
		}
	}
	return from
}

// labSample reports a laboratory quality sample of the cargo.
func (g *gen) labSample(at time.Time, api float64) {
	m := g.m
	q := event.QualityReading{}
	if m.Product == event.ProductGas {
		hv := *m.DeclaredQuality.HeatingValue
		if g.dev[alerts.RuleMisclassification] {
			hv = g.th.GasMinHeatingValue - 35
		}
		q.HeatingValue = f(round(hv+g.rng.NormFloat64()*3, 1))
	} else {
		q.APIGravity = f(round(api+g.rng.NormFloat64()*0.15, 2))
		q.SulfurPct = f(round(*m.DeclaredQuality.SulfurPct+g.rng.NormFloat64()*0.02, 3))
		q.BSWPct = f(round(0.3+math.Abs(g.rng.NormFloat64())*0.1, 2))
	}
	g.telemetry(at, g.lab(), "quality", q)
}
