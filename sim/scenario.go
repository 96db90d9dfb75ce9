package sim

import (
	"embed"
	"fmt"
	"github.com/inbond/inbond/alerts"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
	"gopkg.in/yaml.v3"
)

//go:embed scenarios/*.yaml
var scenarioFS embed.FS

// Scenario is a set of movements to simulate, written as YAML (see
// sim/scenarios/ for examples and README.md for the fields).
type Scenario struct {
	Name        string         `yaml:"name"`
	Description string         `yaml:"description"`
	Start       time.Time      `yaml:"start"` // simulated time of the first manifest
	Shipments   []ShipmentSpec `yaml:"shipments"`
}

// ShipmentSpec is one movement: its manifest's facts, the corridor it
// follows, and the deviations to inject into it.
type ShipmentSpec struct {
	ID         event.ShipmentID `yaml:"id"`
	Corridor   string           `yaml:"corridor"`    // a corridor ID of corridors/data/corridors.yaml
	StartAfter time.Duration    `yaml:"start_after"` // offset from the scenario start, e.g. 2h
	EntryType  event.EntryType  `yaml:"entry_type"`  // "61", "62" or "63"
	Product    event.Product    `yaml:"product"`     // crude_oil or natural_gas
	HTS        string           `yaml:"hts"`         // default: 2709.00.20 / .10 by gravity, 2711.21.00 for gas
	Quantity   float64          `yaml:"quantity"`    // bbl (crude) or Mcf (gas)
	// Declared quality: crude API gravity and sulfur, gas heating value.
	APIGravity   float64 `yaml:"api_gravity"`
	SulfurPct    float64 `yaml:"sulfur_pct"`
	HeatingValue float64 `yaml:"heating_value"`
	Importer     struct {
		Name string `yaml:"name"`
		ID   string `yaml:"id"`
	} `yaml:"importer"`
	Carrier struct {
		SCAC      event.CarrierID `yaml:"scac"`
		IRSNumber string          `yaml:"irs_number"`
	} `yaml:"carrier"`
	Country      string `yaml:"country"`       // of origin, default CA
	InBondSerial int    `yaml:"inbond_serial"` // 8 digits; the check digit is added
	// Pipelines: the entry meter's flow rate (per hour) and the speed of a
	// batch along the line, which sets the line-fill delay between the meters.
	FlowRate     float64       `yaml:"flow_rate"`
	BatchKmh     float64       `yaml:"batch_velocity_kmh"`
	DeadlineDays int           `yaml:"deadline_days"` // default: 30, 60 for barge
	Deviations   []alerts.Rule `yaml:"deviations"`
}

// LoadScenario reads a scenario: a path to a YAML file, or the name of a
// shipped one ("default", "clean", "deviations").
func LoadScenario(nameOrPath string) (*Scenario, error) {
	var b []byte
	var err error
	if strings.ContainsAny(nameOrPath, "/.") {
		b, err = os.ReadFile(nameOrPath)
	} else {
		b, err = scenarioFS.ReadFile("scenarios/" + nameOrPath + ".yaml")
	}
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w (shipped: %s)", nameOrPath, err, strings.Join(ShippedScenarios(), ", "))
	}
	return ParseScenario(b)
}

// ShippedScenarios lists the scenarios embedded in the binary.
func ShippedScenarios() []string {
	entries, _ := scenarioFS.ReadDir("scenarios")
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return out
}

// ParseScenario decodes and checks a scenario document. Unknown fields are errors.
func ParseScenario(b []byte) (*Scenario, error) {
	var s Scenario
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	if s.Start.IsZero() {
		s.Start = time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	}
	known, err := corridors.Corridors()
	if err != nil {
		return nil, err
	}
	seen := map[event.ShipmentID]bool{}
	for i := range s.Shipments {
		sp := &s.Shipments[i]
		if err := sp.check(known); err != nil {
			return nil, fmt.Errorf("scenario %s: shipment %d (%s): %w", s.Name, i, sp.ID, err)
		}
		if seen[sp.ID] {
			return nil, fmt.Errorf("scenario %s: shipment %s appears twice", s.Name, sp.ID)
		}
		seen[sp.ID] = true
	}
	return &s, nil
}

func (sp *ShipmentSpec) check(known map[string]*corridors.Corridor) error {
	if err := sp.ID.Validate("id"); err != nil {
		return err
	}
	c, ok := known[sp.Corridor]
	if !ok {
		return fmt.Errorf("unknown corridor %q", sp.Corridor)
	}
	if sp.Quantity <= 0 {
		return fmt.Errorf("quantity must be positive")
	}
	if c.Mode == event.ModePipeline && sp.FlowRate <= 0 {
		return fmt.Errorf("a pipeline movement needs flow_rate")
	}
	for _, r := range sp.Deviations {
		if !slices.Contains(Rules, r) {
			return fmt.Errorf("unknown deviation %q (known: %s)", r, joinRules(Rules))
		}
		if !appliesTo(r, c.Mode) {
			return fmt.Errorf("deviation %s does not apply to a %s movement of %s", r, c.Mode, sp.Product)
		}
	}
	return nil
}
