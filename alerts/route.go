package alerts

import (
	"math"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// routeRule flags a conveyance in transit whose fix lies farther than
// RouteKm from its declared corridor's polyline, and resolves the alert at
// the first fix back within it. While it is open its message follows the
// peak distance, updated each time that peak passes another
// multiple of the limit (not at every fix).
func routeRule(j *judge) {
	p, ok := j.e.Data.(*event.Position)
	if !ok || !j.trusted() {
		return
	}
	c := j.corridor()
	if c == nil || !c.Mode.Conveyance() {
		return
	}
	limit := j.env.Limits.RouteKm
	d := j.offCorridor(c.Line().Points, corridors.Point{Lat: p.Lat, Lon: p.Lon}, limit)
	a := j.w.Active[RuleRoute]
	if d <= limit {
		if a != nil {
			j.clear(RuleRoute, j.now, "back within "+num(limit, 1)+" km of corridor "+c.ID+" at "+coords(p.Lat, p.Lon)+" ("+num(d, 1)+" km)")
		}
		return
	}
	if !inTransit(j.sh) {
		return
	}
	if a != nil && math.Floor(d/limit) <= math.Floor(a.Evidence.Values["km_off_corridor"]/limit) {
		return
	}
	msg := num(d, 1) + " km off its declared corridor " + c.ID + " at " + coords(p.Lat, p.Lon) + " at " + stamp(j.now) +
		" (limit " + num(limit, 1) + " km)"
	ids := []string{j.e.ID}
	if a != nil {
		msg += "; off the corridor since " + stamp(a.OpenedAt)
		ids = append([]string{a.Evidence.EventIDs[0]}, ids...)
	}
	j.raise(RuleRoute, j.e.ID, j.now, msg, Evidence{
		EventIDs: ids, Device: j.e.Device, Lat: ptr(p.Lat), Lon: ptr(p.Lon),
		Values: values("km_off_corridor", d, "km_off_corridor_limit", limit),
	})
}

// offCorridor is how far p is from the polyline pts, in km, as
// corridors.Polyline.DistanceToKm measures it (each segment straight in a
// local equirectangular projection around p), but cheaply: the segments
// around the one nearest the previous fix (Memory.RouteSeg) are measured
// first, and when one of them is within limit the fix is inside, whatever
// the others say (the distance returned is then that segment's, which may
// exceed the true one, never by enough to cross the limit). Only a fix
// outside them all is measured against every segment.
func (j *judge) offCorridor(pts []corridors.Point, p corridors.Point, limit float64) float64 {
	kx := earthRadiusKm * math.Cos(p.Lat*math.Pi/180) * math.Pi / 180
	ky := earthRadiusKm * math.Pi / 180
	seg := func(i int) float64 { // the segment from pts[i-1] to pts[i]
		ax, ay := (pts[i-1].Lon-p.Lon)*kx, (pts[i-1].Lat-p.Lat)*ky
		bx, by := (pts[i].Lon-p.Lon)*kx, (pts[i].Lat-p.Lat)*ky
		dx, dy := bx-ax, by-ay
		t := 0.0
		if den := dx*dx + dy*dy; den > 0 {
			t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/den))
		}
		return math.Hypot(ax+t*dx, ay+t*dy)
	}
	nearest := func(from, to int) (int, float64) {
		best, at := math.Inf(1), from
		for i := max(from, 1); i < min(to, len(pts)); i++ {
			if d := seg(i); d < best {
				best, at = d, i
			}
		}
		return at, best
	}
	m := &j.w.Memory
	if m.RouteSeg > 0 {
		if i, d := nearest(m.RouteSeg-2, m.RouteSeg+4); d <= limit {
			m.RouteSeg = i
			return d
		}
	}
	i, d := nearest(1, len(pts))
	m.RouteSeg = i
	return d
}

// earthRadiusKm is the mean radius corridors measures with.
const earthRadiusKm = 6371.0088
