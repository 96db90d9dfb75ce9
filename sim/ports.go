package sim

import (
	_ "embed"
	"encoding/csv"
	"math"
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

// seaports are the vessel ports the scenarios use (approximate, DOMAIN.md).
var seaports = []Port{
	{"5301", "Houston, TX", Point{29.7305, -95.2692}},
	{"5312", "Corpus Christi, TX", Point{27.8120, -97.3960}},
	{"2101", "Port Arthur, TX", Point{29.8690, -93.9300}},
	{"5310", "Galveston, TX", Point{29.3100, -94.7930}},
	{"5306", "Texas City, TX", Point{29.3700, -94.8990}},
}

var (
	portsOnce sync.Once
	allPorts  []Port
)

// Ports returns the land-border ports (BTS) and the seaports the simulator knows.
func Ports() []Port {
	portsOnce.Do(func() {
		rows, err := csv.NewReader(strings.NewReader(borderPortsCSV)).ReadAll()
		if err != nil {
			panic("sim: embedded bts_border_ports.csv: " + err.Error())
		}
		for _, r := range rows[1:] {
			lat, _ := strconv.ParseFloat(r[4], 64)
			lon, _ := strconv.ParseFloat(r[5], 64)
			allPorts = append(allPorts, Port{event.PortCode(r[0]), r[1] + ", " + r[2], Point{lat, lon}})
		}
		allPorts = append(allPorts, seaports...)
	})
	return allPorts
}

// alternatePort is the port nearest to code other than itself: where an
// unauthorized diversion arrives.
func alternatePort(code event.PortCode) event.PortCode {
	var from *Port
	ports := Ports()
	for i := range ports {
		if ports[i].Code == code {
			from = &ports[i]
		}
	}
	if from == nil {
		return "3802"
	}
	best, dist := event.PortCode(""), math.Inf(1)
	for _, p := range ports {
		if d := DistanceKm(from.At, p.At); p.Code != code && d < dist {
			best, dist = p.Code, d
		}
	}
	return best
}
