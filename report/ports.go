package report

import (
	"strings"
	"sync"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
)

// Port is what the reports print about a Schedule D port.
type Port struct {
	Code  event.PortCode `json:"code"`
	City  string         `json:"city"`
	State string         `json:"state"` // USPS code
	PADD  int            `json:"padd"`  // Petroleum Administration for Defense District, 0 unknown
}

// paddByState maps each state to its PADD (EIA's definitions: 1 East
// Coast, 2 Midwest, 3 Gulf Coast, 4 Rocky Mountain, 5 West Coast).
var paddByState = map[string]int{
	"ME": 1, "NH": 1, "VT": 1, "MA": 1, "RI": 1, "CT": 1, "NY": 1, "NJ": 1, "PA": 1, "DE": 1, "MD": 1, "DC": 1,
	"VA": 1, "WV": 1, "NC": 1, "SC": 1, "GA": 1, "FL": 1,
	"OH": 2, "MI": 2, "IN": 2, "IL": 2, "WI": 2, "MN": 2, "IA": 2, "MO": 2, "ND": 2, "SD": 2, "NE": 2, "KS": 2,
	"OK": 2, "KY": 2, "TN": 2,
	"TX": 3, "LA": 3, "MS": 3, "AL": 3, "AR": 3, "NM": 3,
	"MT": 4, "ID": 4, "WY": 4, "CO": 4, "UT": 4,
	"WA": 5, "OR": 5, "CA": 5, "NV": 5, "AZ": 5, "AK": 5, "HI": 5,
}

// stateCodes maps the state names the BTS port list spells out to USPS codes.
var stateCodes = map[string]string{
	"Alaska": "AK", "Arizona": "AZ", "California": "CA", "Idaho": "ID", "Maine": "ME", "Michigan": "MI",
	"Minnesota": "MN", "Montana": "MT", "New Hampshire": "NH", "New Mexico": "NM", "New York": "NY",
	"North Dakota": "ND", "Texas": "TX", "Vermont": "VT", "Washington": "WA",
}

var (
	portsOnce sync.Once
	portsBy   map[event.PortCode]Port
)

// PortInfo returns what is known of a port: its city, state and PADD, from
// the corridors package's port list (BTS land-border ports, the seaports
// and inland ports the corridors use). An unknown code has only its code.
func PortInfo(code event.PortCode) Port {
	portsOnce.Do(func() {
		portsBy = map[event.PortCode]Port{}
		for _, p := range corridors.Ports() {
			city, st, _ := strings.Cut(p.Name, ", ")
			if c, ok := stateCodes[st]; ok {
				st = c
			}
			portsBy[p.Code] = Port{Code: p.Code, City: city, State: st, PADD: paddByState[st]}
		}
	})
	if p, ok := portsBy[code]; ok {
		return p
	}
	return Port{Code: code}
}

// countryNames are the countries of origin the reports name in full
// (others print their ISO code).
var countryNames = map[string]string{
	"CA": "Canada", "MX": "Mexico", "US": "United States", "SA": "Saudi Arabia", "IQ": "Iraq", "CO": "Colombia",
	"BR": "Brazil", "EC": "Ecuador", "NG": "Nigeria", "GY": "Guyana", "NO": "Norway", "KW": "Kuwait",
}

// CountryName is the country's English name, or its code.
func CountryName(code string) string {
	if n, ok := countryNames[code]; ok {
		return n
	}
	return code
}
