package corridors_test

import (
	"math"
	"testing"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

func TestShippedCorridorsLoad(t *testing.T) {
	all, err := corridors.Corridors()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 8 {
		t.Fatalf("%d corridors, want the 8 shipped ones at least", len(all))
	}
	for id, c := range all {
		line := c.Line()
		if line.LengthKm() <= 0 {
			t.Errorf("%s: empty line", id)
		}
		if c.Mode == event.ModePipeline {
			if c.EntryMeter == nil || c.ExitMeter == nil {
				t.Errorf("%s: a pipeline without its meter pair", id)
			}
			continue
		}
		// Every waypoint is on the line, and a point 12 km to its side is not.
		for _, w := range c.Waypoints {
			p := corridors.Point{Lat: w[0], Lon: w[1]}
			if d := line.DistanceToKm(p); d > 0.01 {
				t.Errorf("%s: waypoint %v is %.3f km from its own line", id, p, d)
			}
		}
		for i, along := range c.StopsAlong() {
			p, _ := line.At(along)
			if !c.InStopArea(p) {
				t.Errorf("%s: stop %d at %.1f km along is outside every stop area", id, i, along)
			}
		}
	}
}

func TestGeometry(t *testing.T) {
	// One degree of latitude is about 111.2 km everywhere.
	if d := corridors.DistanceKm(corridors.Point{Lat: 45, Lon: -100}, corridors.Point{Lat: 46, Lon: -100}); math.Abs(d-111.19) > 0.05 {
		t.Errorf("one degree of latitude: %.3f km", d)
	}
	line := corridors.NewPolyline([]corridors.Point{{Lat: 45, Lon: -100}, {Lat: 46, Lon: -100}})
	side := corridors.Offset(corridors.Point{Lat: 45.5, Lon: -100}, 0, 12)
	if d := line.DistanceToKm(side); math.Abs(d-12) > 0.05 {
		t.Errorf("a point 12 km east of the line is %.3f km from it", d)
	}
	along, dist := line.NearestAlong(corridors.Point{Lat: 45.5, Lon: -100}, 0.25)
	if math.Abs(along-line.LengthKm()/2) > 0.25 || dist > 0.25 {
		t.Errorf("the line's midpoint found %.2f km along, %.3f km off", along, dist)
	}
	if b := corridors.BearingDeg(corridors.Point{Lat: 45, Lon: -100}, corridors.Point{Lat: 46, Lon: -100}); math.Abs(b) > 1e-9 {
		t.Errorf("bearing due north %.6f", b)
	}
}

func TestPortsIncludeTheCorridorsEnds(t *testing.T) {
	codes := map[event.PortCode]bool{}
	for _, p := range corridors.Ports() {
		codes[p.Code] = true
	}
	all, _ := corridors.Corridors()
	for id, c := range all {
		for _, code := range []event.PortCode{c.OriginPort, c.DestinationPort} {
			if !codes[code] {
				t.Errorf("%s: port %s is not among the known ports", id, code)
			}
		}
	}
}
