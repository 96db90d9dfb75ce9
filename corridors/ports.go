package corridors

import (
	_ "embed"
	"encoding/csv"
	"strconv"
	"strings"
	"sync"

	"github.com/inbond/inbond/event"
)

//go:embed data/bts_border_ports.csv
var borderPortsCSV string

// Port is a CBP port with a location.
type Port struct {
	Code event.PortCode
	Name string
	At   Point
}

// seaports are the vessel ports the scenarios use, and interior are the inland
// ports the pipelines deliver to: positions approximate (DOMAIN.md; for the
// inland ones, the pipelines' delivery meters in corridors.yaml).
var seaports = []Port{
	{"5301", "Houston, TX", Point{29.7305, -95.2692}},
	{"5312", "Corpus Christi, TX", Point{27.8120, -97.3960}},
	{"2101", "Port Arthur, TX", Point{29.8690, -93.9300}},
	{"5310", "Galveston, TX", Point{29.3100, -94.7930}},
	{"5306", "Texas City, TX", Point{29.3700, -94.8990}},
}

var interior = []Port{
	{"3001", "Seattle, WA", Point{47.72, -122.31}},
	{"3901", "Chicago, IL", Point{41.41, -88.27}},
}

var (
	portsOnce sync.Once
	allPorts  []Port
)

// Ports returns the land-border ports (BTS), the seaports and the inland ports
// the corridors use.
func Ports() []Port {
	portsOnce.Do(func() {
		rows, err := csv.NewReader(strings.NewReader(borderPortsCSV)).ReadAll()
		if err != nil {
			panic("corridors: embedded bts_border_ports.csv: " + err.Error())
		}
		for _, r := range rows[1:] {
			lat, _ := strconv.ParseFloat(r[4], 64)
			lon, _ := strconv.ParseFloat(r[5], 64)
			allPorts = append(allPorts, Port{event.PortCode(r[0]), r[1] + ", " + r[2], Point{lat, lon}})
		}
		allPorts = append(append(allPorts, seaports...), interior...)
	})
	return allPorts
}
