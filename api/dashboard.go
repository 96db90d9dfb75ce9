package api

import (
	"context"
	"embed"
	"io/fs"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// The dashboard is static files: HTML, CSS, native ES modules and the
// basemap, embedded in the binary and served without a token. Everything
// they show comes through the authenticated API, from the browser.
//
//go:generate go run ./internal/genbasemap -src ../../shared/data -out dashboard/assets/basemap.json
//go:embed dashboard
var dashboardFiles embed.FS

// dashboardCSP allows the dashboard's own files and its own API and nothing
// else: no inline script, no other origin, no framing. A token in
// sessionStorage is only as safe as the page is from injected script.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (s *Server) registerDashboard() {
	root, _ := fs.Sub(dashboardFiles, "dashboard")
	files := http.FileServerFS(root)
	static := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", dashboardCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// Revalidate every time: the files change with the binary, and
		// FileServer answers 304 from the embedded files' ETag-less
		// modtime, so this costs a round trip, not a download.
		h.Set("Cache-Control", "no-cache")
		if strings.HasSuffix(r.URL.Path, "/") && r.URL.Path != "/" {
			http.NotFound(w, r) // no directory listings
			return
		}
		files.ServeHTTP(w, r)
	})
	s.mux.Handle("GET /{$}", static)
	s.mux.Handle("GET /assets/", static)
	huma.Register(s.api, op(http.MethodGet, "/v1/map", "map", "The map's reference layers: declared corridors, pipelines' meters, ports of entry",
		roles(roleCBP, roleDOE, roleCarrier)), s.mapLayers)
}

// MapPoint is a place, WGS84.
type MapPoint struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// MapMeter is a pipeline's custody-transfer meter station.
type MapMeter struct {
	ID event.MeterID `json:"id"`
	MapPoint
}

// MapCorridor is a declared route: a conveyance's polyline or a pipeline's
// right-of-way between its entry and exit meters.
type MapCorridor struct {
	ID              string         `json:"id"`
	Mode            event.Mode     `json:"mode"`
	Description     string         `json:"description,omitempty"`
	OriginPort      event.PortCode `json:"origin_port"`
	DestinationPort event.PortCode `json:"destination_port"`
	// Line is the route, [lat, lon] pairs.
	Line       [][2]float64 `json:"line" nullable:"false"`
	Crossing   *MapPoint    `json:"border_crossing,omitempty"`
	EntryMeter *MapMeter    `json:"entry_meter,omitempty"`
	ExitMeter  *MapMeter    `json:"exit_meter,omitempty"`
	Stops      []MapPoint   `json:"stops,omitempty"`
}

// MapPort is a CBP port with a location. Used says a corridor starts,
// ends or crosses the border there.
type MapPort struct {
	Code event.PortCode `json:"code"`
	Name string         `json:"name"`
	Used bool           `json:"used"`
	MapPoint
}

// MapLayers is what the dashboard's map draws under the live shipments.
type MapLayers struct {
	Corridors []MapCorridor `json:"corridors" nullable:"false"`
	Ports     []MapPort     `json:"ports" nullable:"false"`
}

type mapOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         MapLayers
}

// mapLayers is reference data shipped in the binary: the same for every
// role (declared corridors are public; no shipment is named).
func (s *Server) mapLayers(context.Context, *struct{}) (*mapOutput, error) {
	cs, err := corridors.Corridors()
	if err != nil {
		return nil, err
	}
	out := MapLayers{Corridors: []MapCorridor{}, Ports: []MapPort{}}
	used := map[event.PortCode]bool{}
	for _, c := range cs {
		mc := MapCorridor{ID: c.ID, Mode: c.Mode, Description: c.Description, OriginPort: c.OriginPort,
			DestinationPort: c.DestinationPort, Line: slices.Clone(c.Waypoints)}
		used[c.OriginPort], used[c.DestinationPort] = true, true
		if b := c.BorderCrossing; b != nil {
			mc.Crossing = &MapPoint{b.Lat, b.Lon}
			used[b.Port] = true
		}
		if m := c.EntryMeter; m != nil {
			mc.EntryMeter = &MapMeter{m.ID, MapPoint{m.Lat, m.Lon}}
		}
		if m := c.ExitMeter; m != nil {
			mc.ExitMeter = &MapMeter{m.ID, MapPoint{m.Lat, m.Lon}}
		}
		for _, st := range c.Stops {
			mc.Stops = append(mc.Stops, MapPoint{st.Lat, st.Lon})
		}
		out.Corridors = append(out.Corridors, mc)
	}
	slices.SortFunc(out.Corridors, func(a, b MapCorridor) int { return strings.Compare(a.ID, b.ID) })
	seen := map[event.PortCode]bool{}
	for _, p := range corridors.Ports() {
		if seen[p.Code] {
			continue
		}
		seen[p.Code] = true
		out.Ports = append(out.Ports, MapPort{Code: p.Code, Name: p.Name, Used: used[p.Code], MapPoint: MapPoint{p.At.Lat, p.At.Lon}})
	}
	return &mapOutput{CacheControl: "private, max-age=3600", Body: out}, nil
}
