// Command genbasemap writes the dashboard's basemap from Natural Earth: the
// outlines of Canada, the United States and Mexico and the U.S. states' and
// Canadian provinces' borders, cut to the North American window the map
// shows and simplified for a map of about 1:20,000,000 (Douglas-Peucker at
// 0.03°, coordinates to 0.01°, about 1 km). The dashboard projects them in
// the browser, with the same projection as the live positions.
//
//	go run ./api/internal/genbasemap -src ../shared/data -out api/dashboard/assets/basemap.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// The window the map shows; rings wholly outside it (Alaska, Hawaii, the
// Arctic islands) are dropped, the rest clipped by the SVG viewport.
const (
	minLon, maxLon = -135.0, -55.0
	minLat, maxLat = 14.0, 62.0
	tolerance      = 0.03
)

type geometry struct {
	Type        string          `json:"type"`
	Coordinates json.RawMessage `json:"coordinates"`
}

type collection struct {
	Features []struct {
		Properties map[string]any `json:"properties"`
		Geometry   geometry       `json:"geometry"`
	} `json:"features"`
}

// Basemap is the file the dashboard reads: each ring a flat list of
// lon, lat pairs.
type Basemap struct {
	Source    string      `json:"source"`
	Countries [][]float64 `json:"countries"`
	Regions   [][]float64 `json:"regions"`
}

func main() {
	src := flag.String("src", "../shared/data", "directory of the Natural Earth GeoJSON files")
	out := flag.String("out", "api/dashboard/assets/basemap.json", "file to write")
	flag.Parse()
	countries, err := rings(filepath.Join(*src, "ne_50m_admin0_usa_can_mex.geojson"))
	if err != nil {
		fail(err)
	}
	regions, err := rings(filepath.Join(*src, "ne_50m_admin1_usa_can.geojson"))
	if err != nil {
		fail(err)
	}
	b, err := json.Marshal(Basemap{
		Source:    "Natural Earth 1:50m Admin 0 (USA, CAN, MEX) and Admin 1 (USA, CAN), public domain; see README.md",
		Countries: countries, Regions: regions,
	})
	if err != nil {
		fail(err)
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		fail(err)
	}
	fmt.Printf("%s: %d country rings, %d region rings, %d bytes\n", *out, len(countries), len(regions), len(b))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "genbasemap:", err)
	os.Exit(1)
}

func rings(file string) ([][]float64, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var c collection
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out [][]float64
	for _, f := range c.Features {
		var polys [][][][2]float64
		switch f.Geometry.Type {
		case "Polygon":
			var p [][][2]float64
			if err := json.Unmarshal(f.Geometry.Coordinates, &p); err != nil {
				return nil, err
			}
			polys = append(polys, p)
		case "MultiPolygon":
			if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: geometry %s", file, f.Geometry.Type)
		}
		for _, p := range polys {
			for _, r := range p {
				if !inWindow(r) {
					continue
				}
				s := simplify(r, tolerance)
				if len(s) < 4 {
					continue
				}
				flat := make([]float64, 0, 2*len(s))
				for _, pt := range s {
					flat = append(flat, round(pt[0]), round(pt[1]))
				}
				out = append(out, flat)
			}
		}
	}
	return out, nil
}

func round(v float64) float64 { return math.Round(v*100) / 100 }

func inWindow(r [][2]float64) bool {
	for _, p := range r {
		if p[0] >= minLon && p[0] <= maxLon && p[1] >= minLat && p[1] <= maxLat {
			return true
		}
	}
	return false
}

// simplify is Douglas-Peucker in degrees: distortion at these latitudes is
// well under a pixel at the map's scale.
func simplify(pts [][2]float64, tol float64) [][2]float64 {
	if len(pts) < 3 {
		return pts
	}
	keep := make([]bool, len(pts))
	keep[0], keep[len(pts)-1] = true, true
	var rec func(a, b int)
	rec = func(a, b int) {
		best, at := 0.0, -1
		for i := a + 1; i < b; i++ {
			if d := segDist(pts[i], pts[a], pts[b]); d > best {
				best, at = d, i
			}
		}
		if at >= 0 && best > tol {
			keep[at] = true
			rec(a, at)
			rec(at, b)
		}
	}
	rec(0, len(pts)-1)
	var out [][2]float64
	for i, k := range keep {
		if k {
			out = append(out, pts[i])
		}
	}
	return out
}

func segDist(p, a, b [2]float64) float64 {
	dx, dy := b[0]-a[0], b[1]-a[1]
	if dx == 0 && dy == 0 {
		return math.Hypot(p[0]-a[0], p[1]-a[1])
	}
	t := ((p[0]-a[0])*dx + (p[1]-a[1])*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(p[0]-a[0]-t*dx, p[1]-a[1]-t*dy)
}
