package alerts

import (
	"math"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

// StopMemory is a stationary run under way in transit: since when, where,
// the fix that began it, and whether that was in an allowed stop area
// (then the run is no deviation, and the area is not looked up again at
// every fix of a three-hour dwell). It is nil while the conveyance moves.
type StopMemory struct {
	Since   time.Time `json:"since"`
	Lat     float64   `json:"lat"`
	Lon     float64   `json:"lon"`
	Event   string    `json:"event"`
	Allowed bool      `json:"allowed,omitempty"`
}

// StationaryKmh is the ground speed at or under which a fix is stationary:
// GNSS receivers report a few tenths of a km/h standing still.
const StationaryKmh = 0.5

// stopRule flags a conveyance stationary for longer than StopMinutes
// outside every allowed stop area of its corridor while in transit: on the
// fixes of the stop and, when they stop coming, by the timer. The alert
// resolves at the first moving fix. A stop after the telemetry showed the
// conveyance at its destination is not one.
func stopRule(j *judge) {
	p, ok := j.e.Data.(*event.Position)
	if !ok || !j.trusted() {
		return
	}
	c := j.corridor()
	if c == nil || !c.Mode.Conveyance() {
		return
	}
	m := &j.w.Memory
	if p.SpeedKmh > StationaryKmh {
		if s := m.Stop; s != nil {
			m.Stop = nil
			if !s.Allowed {
				j.clear(RuleStop, j.now, "moving again at "+coords(p.Lat, p.Lon)+" after "+span(j.now.Sub(s.Since))+" stationary")
			}
		}
		return
	}
	if m.Stop == nil {
		if !inTransit(j.sh) {
			return
		}
		m.Stop = &StopMemory{Since: j.now, Lat: p.Lat, Lon: p.Lon, Event: j.e.ID,
			Allowed: c.InStopArea(corridors.Point{Lat: p.Lat, Lon: p.Lon})}
	}
	j.judgeStop()
}

// stopTick judges a stationary run whose fixes stopped coming.
func stopTick(j *judge) {
	if due := stopDue(j.env, j.w, j.sh); !due.IsZero() && !j.now.Before(due) {
		j.judgeStop()
	}
}

func (j *judge) judgeStop() {
	s := j.w.Memory.Stop
	if s == nil || s.Allowed || j.w.Active[RuleStop] != nil || !inTransit(j.sh) || j.w.Memory.Arrival != nil {
		return
	}
	d := j.now.Sub(s.Since)
	if d <= minutes(j.env.Limits.StopMinutes) {
		return
	}
	msg := "stationary at " + coords(s.Lat, s.Lon) + " since " + stamp(s.Since) + ", outside every allowed stop area"
	if c := j.corridor(); c != nil {
		msg += " of corridor " + c.ID
		if name, km := nearestStop(c, corridors.Point{Lat: s.Lat, Lon: s.Lon}); name != "" {
			msg += " (nearest: " + name + ", " + num(km, 1) + " km)"
		}
	}
	if j.e == nil { // the timer: no fix since to say how long
		msg += ", and no fix since shows it moving: longer than the " + num(j.env.Limits.StopMinutes, 0) + " min allowed"
	} else {
		msg += ": " + span(d) + " (limit " + num(j.env.Limits.StopMinutes, 0) + " min)"
	}
	ids := []string{s.Event}
	if j.e != nil && j.e.ID != s.Event {
		ids = append(ids, j.e.ID)
	}
	j.raise(RuleStop, "stop:"+s.Since.UTC().Format(time.RFC3339Nano), j.now, msg, Evidence{
		EventIDs: ids, Lat: ptr(s.Lat), Lon: ptr(s.Lon),
		Values: values("stationary_minutes", d.Minutes(), "stationary_minutes_limit", j.env.Limits.StopMinutes),
	})
}

func stopDue(env *Env, w *Watch, sh *state.Shipment) time.Time {
	s := w.Memory.Stop
	if s == nil || s.Allowed || w.Active[RuleStop] != nil || !inTransit(sh) || w.Memory.Arrival != nil {
		return time.Time{}
	}
	return justPast(s.Since.Add(minutes(env.Limits.StopMinutes)))
}

func nearestStop(c *corridors.Corridor, p corridors.Point) (string, float64) {
	name, best := "", math.Inf(1)
	for _, s := range c.Stops {
		if d := corridors.DistanceKm(p, corridors.Point{Lat: s.Lat, Lon: s.Lon}) - s.RadiusKm; d < best {
			name, best = s.Name, math.Max(d, 0)
		}
	}
	return name, best
}
