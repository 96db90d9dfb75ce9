// Package corridors is the reference data of declared in-bond routes: the
// corridors conveyances must keep to with their allowed stop areas, the
// pipelines' meter pairs, and the ports of entry they join, with the
// geometry to measure against them. The carrier simulator moves along them
// and the deviation rules judge against them, so both read the same data.
package corridors

import (
	"math"
	"sort"
)

// Point is a WGS84 position in decimal degrees.
type Point struct{ Lat, Lon float64 }

const earthRadiusKm = 6371.0088

// DistanceKm is the great-circle (haversine) distance between a and b.
func DistanceKm(a, b Point) float64 {
	la1, la2 := a.Lat*math.Pi/180, b.Lat*math.Pi/180
	dla, dlo := la2-la1, (b.Lon-a.Lon)*math.Pi/180
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(h)))
}

// BearingDeg is the initial bearing from a to b, 0 = north, clockwise.
func BearingDeg(a, b Point) float64 {
	la1, la2 := a.Lat*math.Pi/180, b.Lat*math.Pi/180
	dlo := (b.Lon - a.Lon) * math.Pi / 180
	y := math.Sin(dlo) * math.Cos(la2)
	x := math.Cos(la1)*math.Sin(la2) - math.Sin(la1)*math.Cos(la2)*math.Cos(dlo)
	return math.Mod(math.Atan2(y, x)*180/math.Pi+360, 360)
}

// Offset moves p by north and east kilometres (local flat approximation,
// fine for a few kilometres).
func Offset(p Point, northKm, eastKm float64) Point {
	return Point{
		Lat: p.Lat + northKm/earthRadiusKm*180/math.Pi,
		Lon: p.Lon + eastKm/(earthRadiusKm*math.Cos(p.Lat*math.Pi/180))*180/math.Pi,
	}
}

// Polyline is a route as a sequence of points with cumulative distances.
type Polyline struct {
	Points []Point
	cum    []float64 // cum[i] = distance from Points[0] to Points[i], km
}

// NewPolyline prepares pts for distance queries.
func NewPolyline(pts []Point) Polyline {
	cum := make([]float64, len(pts))
	for i := 1; i < len(pts); i++ {
		cum[i] = cum[i-1] + DistanceKm(pts[i-1], pts[i])
	}
	return Polyline{Points: pts, cum: cum}
}

// LengthKm is the length of the polyline.
func (l Polyline) LengthKm() float64 {
	if len(l.cum) == 0 {
		return 0
	}
	return l.cum[len(l.cum)-1]
}

// At returns the point d km along the polyline (clamped to its ends) and the
// bearing of the segment it lies on.
func (l Polyline) At(d float64) (Point, float64) {
	n := len(l.Points)
	if d <= 0 || n == 1 {
		return l.Points[0], BearingDeg(l.Points[0], l.Points[min(1, n-1)])
	}
	if d >= l.LengthKm() {
		return l.Points[n-1], BearingDeg(l.Points[max(0, n-2)], l.Points[n-1])
	}
	i := sort.SearchFloat64s(l.cum, d) // cum[i-1] < d <= cum[i]
	a, b := l.Points[i-1], l.Points[i]
	f := (d - l.cum[i-1]) / (l.cum[i] - l.cum[i-1])
	return Point{a.Lat + (b.Lat-a.Lat)*f, a.Lon + (b.Lon-a.Lon)*f}, BearingDeg(a, b)
}

// NearestAlong samples the line every stepKm and returns the distance along
// it of the sample closest to p, and how far p is from that sample.
func (l Polyline) NearestAlong(p Point, stepKm float64) (along, dist float64) {
	dist = math.Inf(1)
	for d := 0.0; d <= l.LengthKm(); d += stepKm {
		q, _ := l.At(d)
		if x := DistanceKm(p, q); x < dist {
			along, dist = d, x
		}
	}
	return along, dist
}

// DistanceToKm is the shortest distance from p to the polyline, each segment
// treated as straight in a local equirectangular projection around p.
func (l Polyline) DistanceToKm(p Point) float64 {
	best := math.Inf(1)
	kx := earthRadiusKm * math.Cos(p.Lat*math.Pi/180) * math.Pi / 180
	ky := earthRadiusKm * math.Pi / 180
	for i := 1; i < len(l.Points); i++ {
		ax, ay := (l.Points[i-1].Lon-p.Lon)*kx, (l.Points[i-1].Lat-p.Lat)*ky
		bx, by := (l.Points[i].Lon-p.Lon)*kx, (l.Points[i].Lat-p.Lat)*ky
		dx, dy := bx-ax, by-ay
		t := 0.0
		if den := dx*dx + dy*dy; den > 0 {
			t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/den))
		}
		cx, cy := ax+t*dx, ay+t*dy
		best = math.Min(best, math.Hypot(cx, cy))
	}
	return best
}
