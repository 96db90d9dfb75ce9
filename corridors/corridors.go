package corridors

import (
	_ "embed"
	"fmt"
	"slices"
	"sync"

	"github.com/inbond/inbond/event"
	"gopkg.in/yaml.v3"
)

//go:embed data/corridors.yaml
var corridorData []byte

// Stop is an area where a conveyance may stop without it being a deviation
// (a fuel stop, a rail yard, an anchorage).
type Stop struct {
	Name     string  `yaml:"name"`
	Lat      float64 `yaml:"lat"`
	Lon      float64 `yaml:"lon"`
	RadiusKm float64 `yaml:"radius_km"`
}

// MeterStation is a pipeline's custody-transfer meter.
type MeterStation struct {
	ID  event.MeterID `yaml:"id"`
	Lat float64       `yaml:"lat"`
	Lon float64       `yaml:"lon"`
}

// Crossing is where goods enter the United States.
type Crossing struct {
	Lat  float64        `yaml:"lat"`
	Lon  float64        `yaml:"lon"`
	Port event.PortCode `yaml:"port"`
}

// Corridor is a declared route: a conveyance's polyline with its allowed
// stops, or a pipeline's meter pair. Corridors are data, shipped in
// corridors/data/corridors.yaml.
type Corridor struct {
	ID              string         `yaml:"id"`
	Mode            event.Mode     `yaml:"mode"`
	Description     string         `yaml:"description"`
	OriginPort      event.PortCode `yaml:"origin_port"`
	DestinationPort event.PortCode `yaml:"destination_port"`
	BorderCrossing  *Crossing      `yaml:"border_crossing"`
	SpeedKmh        float64        `yaml:"speed_kmh"`
	Stops           []Stop         `yaml:"stops"`
	EntryMeter      *MeterStation  `yaml:"entry_meter"`
	ExitMeter       *MeterStation  `yaml:"exit_meter"`
	LengthKm        float64        `yaml:"length_km"`
	Waypoints       [][2]float64   `yaml:"waypoints"`

	line Polyline
	// stopsAlong holds, for each allowed stop the route passes through, its
	// distance along the line in km, in the order of Stops. Finding it
	// samples the whole line, so it is done once, when the corridor loads.
	stopsAlong []float64
}

// StopsAlong returns, for each allowed stop the route passes through, its
// distance along the line in km, in the order of Stops. Callers must not
// change it.
func (c *Corridor) StopsAlong() []float64 { return c.stopsAlong }

// Line is the corridor's polyline.
func (c *Corridor) Line() Polyline { return c.line }

// InStopArea reports whether p lies in one of the corridor's allowed stops.
func (c *Corridor) InStopArea(p Point) bool {
	for _, s := range c.Stops {
		if DistanceKm(p, Point{s.Lat, s.Lon}) <= s.RadiusKm {
			return true
		}
	}
	return false
}

// Corridors returns the shipped corridors by ID. They are loaded once per
// process (placing each corridor's stops along its line takes tens of
// milliseconds) and shared: callers must not change them.
func Corridors() (map[string]*Corridor, error) { return loadCorridors() }

var loadCorridors = sync.OnceValues(parseCorridors)

// stopStepKm is how finely a line is sampled to find its stops.
const stopStepKm = 0.25

func parseCorridors() (map[string]*Corridor, error) {
	var doc struct {
		Corridors []*Corridor `yaml:"corridors"`
	}
	if err := yaml.Unmarshal(corridorData, &doc); err != nil {
		return nil, fmt.Errorf("corridors: corridors.yaml: %w", err)
	}
	out := make(map[string]*Corridor, len(doc.Corridors))
	for _, c := range doc.Corridors {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("corridors: corridor %s: %w", c.ID, err)
		}
		pts := make([]Point, len(c.Waypoints))
		for i, w := range c.Waypoints {
			pts[i] = Point{w[0], w[1]}
		}
		c.line = NewPolyline(pts)
		for _, s := range c.Stops {
			if d, dist := c.line.NearestAlong(Point{s.Lat, s.Lon}, stopStepKm); dist <= s.RadiusKm*0.8 {
				c.stopsAlong = append(c.stopsAlong, d)
			}
		}
		out[c.ID] = c
	}
	return out, nil
}

func (c *Corridor) validate() error {
	if !slices.Contains([]event.Mode{event.ModePipeline, event.ModeTruck, event.ModeRail, event.ModeVessel, event.ModeBarge}, c.Mode) {
		return fmt.Errorf("mode %q", c.Mode)
	}
	if err := c.OriginPort.Validate("origin_port"); err != nil {
		return err
	}
	if err := c.DestinationPort.Validate("destination_port"); err != nil {
		return err
	}
	if len(c.Waypoints) < 2 {
		return fmt.Errorf("%d waypoints, want at least 2", len(c.Waypoints))
	}
	if c.Mode == event.ModePipeline {
		if c.EntryMeter == nil || c.ExitMeter == nil || c.LengthKm <= 0 {
			return fmt.Errorf("a pipeline needs entry_meter, exit_meter and length_km")
		}
	} else if c.SpeedKmh <= 0 {
		return fmt.Errorf("a conveyance needs speed_kmh")
	}
	return nil
}
