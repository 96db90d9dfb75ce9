package event

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EntryType is the CBP in-bond type code (CBP Dec. 17-13).
type EntryType string

// The in-bond entry types.
const (
	EntryIT EntryType = "61" // immediate transportation to a U.S. port of destination
	EntryTE EntryType = "62" // transportation and exportation
	EntryIE EntryType = "63" // immediate exportation
)

// Mode is the mode of transport of an in-bond movement.
type Mode string

// Modes of transport. Barge is a vessel with its own 60-day in-bond limit.
const (
	ModePipeline Mode = "pipeline"
	ModeTruck    Mode = "truck"
	ModeRail     Mode = "rail"
	ModeVessel   Mode = "vessel"
	ModeBarge    Mode = "barge"
)

// Conveyance reports whether goods moving by m travel in a vehicle that follows
// a route corridor (as opposed to a pipeline measured by a meter pair).
func (m Mode) Conveyance() bool { return m != ModePipeline }

// Product is what moves in bond.
type Product string

// Products inbond tracks.
const (
	ProductCrude Product = "crude_oil"
	ProductGas   Product = "natural_gas"
)

// Quality is declared or measured product quality. Crude uses API gravity and
// sulfur; natural gas uses heating value.
type Quality struct {
	APIGravity   *float64 `json:"api_gravity,omitempty"`
	SulfurPct    *float64 `json:"sulfur_pct,omitempty"`
	HeatingValue *float64 `json:"heating_value,omitempty"` // Btu/scf
}

// Party is an importer or another trade party.
type Party struct {
	Name string `json:"name"`
	// ID is the importer of record number (IRS/EIN format NN-NNNNNNNXX) or another
	// registered identifier (LEI, DUNS).
	ID string `json:"id"`
}

// BondedCarrier is the carrier liable under the in-bond.
type BondedCarrier struct {
	SCAC      CarrierID `json:"scac"`
	IRSNumber string    `json:"irs_number"` // NN-NNNNNNNXX
}

// Manifest is an in-bond declaration: what moves, who is liable, from where to
// where, by which route or meters, and by when. It travels on inbond.events as
// the payload of a TypeManifest event, ordered with the shipment's other events.
//
// Required: every field but corridor, entry_meter, exit_meter and devices,
// and within them every field of importer and carrier. Those four are
// optional in the document because which of them a declaration needs
// depends on its mode (Validate: a pipeline names its meter pair, a
// conveyance its corridor); "" or absent means not declared. The members of
// declared_quality are optional pointers, nil when absent; which are needed
// depends on the product (Validate: crude declares API gravity and sulfur,
// gas its heating value).
type Manifest struct {
	InBondNumber     string        `json:"inbond_number"` // 9 digits, CBP control number
	EntryType        EntryType     `json:"entry_type"`
	Mode             Mode          `json:"mode"`
	Product          Product       `json:"product"`
	HTS              string        `json:"hts"` // e.g. 2709.00.20
	DeclaredQuality  Quality       `json:"declared_quality"`
	DeclaredQuantity float64       `json:"declared_quantity"`
	Unit             VolumeUnit    `json:"unit"`
	Importer         Party         `json:"importer"`
	Carrier          BondedCarrier `json:"carrier"`
	CountryOfOrigin  string        `json:"country_of_origin"` // ISO 3166-1 alpha-2
	OriginPort       PortCode      `json:"origin_port"`
	DestinationPort  PortCode      `json:"destination_port"`
	Corridor         string        `json:"corridor,omitempty"`    // conveyances: declared route
	EntryMeter       MeterID       `json:"entry_meter,omitempty"` // pipelines: receipt meter
	ExitMeter        MeterID       `json:"exit_meter,omitempty"`  // pipelines: delivery or export meter
	Devices          []DeviceID    `json:"devices,omitempty"`     // devices registered to report on it
	CreatedAt        time.Time     `json:"created_at"`
	Deadline         time.Time     `json:"deadline"`
	// Authorization is the DOE/FECM authorization (order or docket number,
	// e.g. "FE 24-123-NG") the importer imports natural gas under: the key
	// of its monthly FE-746R report. Optional, because only gas needs it
	// and manifests before it existed lack it: "" means not declared, and
	// the report says so rather than guessing.
	Authorization string `json:"authorization,omitempty"`
	// Processing is the refinery the crude is bound for (EIA-814's
	// processing company, facility and state), when the importer declares
	// it. Optional; the zero value means not declared and is left out of
	// the canonical encoding, so manifests without it hash as before.
	Processing Facility `json:"processing,omitzero"`
}

// Facility is a processing plant: a refinery for crude oil. All three
// fields are required once a facility is declared.
type Facility struct {
	Company string `json:"company"`
	Name    string `json:"name"`
	State   string `json:"state"` // USPS two-letter code
}

// EventType implements Payload.
func (*Manifest) EventType() Type { return TypeManifest }

// Normalize implements Normalizer: declared quantity in bbl or Mcf.
func (m *Manifest) Normalize() error {
	var err error
	m.DeclaredQuantity, m.Unit, err = canonicalVolume("unit", m.DeclaredQuantity, m.Unit)
	return err
}

// htsByProduct lists the HTS subheadings a product may be declared under
// (HTSUS chapter 27; see DOMAIN.md).
var htsByProduct = map[Product][]string{
	ProductCrude: {"2709.00.10", "2709.00.20"},
	ProductGas:   {"2711.21.00", "2711.11.00"},
}

// HeavyCrudeAPILimit is the API gravity that splits HTS 2709.00.10 (under 25°)
// from 2709.00.20 (25° or more).
const HeavyCrudeAPILimit = 25.0

// MaxInBondDays returns the in-bond time limit for a mode: 30 days, 60 for barge
// (19 CFR 18.1). Pipelines get 30 here too; operators configure otherwise.
func MaxInBondDays(m Mode) int {
	if m == ModeBarge {
		return 60
	}
	return 30
}

// Validate implements Payload. Beyond field formats it checks the declaration
// is coherent: HTS matches the product and declared gravity, units match the
// product's phase, pipelines name a meter pair and conveyances a corridor.
func (m *Manifest) Validate() error {
	var e errs
	e.add(checkInBondNumber("inbond_number", m.InBondNumber))
	switch m.EntryType {
	case EntryIT, EntryTE, EntryIE:
	case "":
		e.add(missing("entry_type"))
	default:
		e.add(invalid("entry_type", m.EntryType, RuleOneOf, "want 61 (IT), 62 (T&E) or 63 (IE)"))
	}
	switch m.Mode {
	case ModePipeline:
		e.add(m.EntryMeter.Validate("entry_meter"))
		e.add(m.ExitMeter.Validate("exit_meter"))
		if m.EntryMeter != "" && m.EntryMeter == m.ExitMeter {
			e.add(invalid("exit_meter", m.ExitMeter, RuleConsist, "entry and exit meters must differ"))
		}
	case ModeTruck, ModeRail, ModeVessel, ModeBarge:
		e.add(checkIdent("corridor", m.Corridor))
	case "":
		e.add(missing("mode"))
	default:
		e.add(invalid("mode", m.Mode, RuleOneOf, "want pipeline, truck, rail, vessel or barge"))
	}
	e.add(m.checkProduct())
	e.add(inRange("declared_quantity", m.DeclaredQuantity, 0, 1e10))
	if m.DeclaredQuantity == 0 {
		e.add(invalid("declared_quantity", 0, RuleRange, "must be positive"))
	}
	e.add(checkText("importer.name", m.Importer.Name, 200))
	e.add(checkText("importer.id", m.Importer.ID, 40))
	e.add(m.Carrier.SCAC.Validate("carrier.scac"))
	if m.Carrier.IRSNumber == "" {
		e.add(missing("carrier.irs_number"))
	} else if !irsPattern.MatchString(m.Carrier.IRSNumber) {
		e.add(invalid("carrier.irs_number", m.Carrier.IRSNumber, RuleFormat, "want NN-NNNNNNNXX"))
	}
	if m.CountryOfOrigin == "" {
		e.add(missing("country_of_origin"))
	} else if !countryPattern.MatchString(m.CountryOfOrigin) {
		e.add(invalid("country_of_origin", m.CountryOfOrigin, RuleFormat, "want an ISO 3166-1 alpha-2 code such as CA"))
	}
	e.add(m.OriginPort.Validate("origin_port"))
	e.add(m.DestinationPort.Validate("destination_port"))
	for i, d := range m.Devices {
		e.add(d.Validate("devices[" + strconv.Itoa(i) + "]"))
	}
	lo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	hi := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
	e.add(checkTime("created_at", m.CreatedAt, lo, hi))
	e.add(checkTime("deadline", m.Deadline, lo, hi))
	if m.Authorization != "" {
		e.add(checkText("authorization", m.Authorization, 40))
	}
	if m.Processing != (Facility{}) {
		e.add(checkText("processing.company", m.Processing.Company, 200))
		e.add(checkText("processing.name", m.Processing.Name, 200))
		if !statePattern.MatchString(m.Processing.State) {
			e.add(invalid("processing.state", m.Processing.State, RuleFormat, "want a two-letter USPS state code such as TX"))
		}
	}
	if !m.CreatedAt.IsZero() && !m.Deadline.IsZero() && !m.Deadline.After(m.CreatedAt) {
		e.add(invalid("deadline", m.Deadline.Format(time.RFC3339), RuleConsist, "must be after created_at"))
	}
	return e.join()
}

func (m *Manifest) checkProduct() error {
	var e errs
	allowed, ok := htsByProduct[m.Product]
	switch {
	case m.Product == "":
		e.add(missing("product"))
	case !ok:
		e.add(invalid("product", m.Product, RuleOneOf, "want crude_oil or natural_gas"))
	}
	if m.HTS == "" {
		e.add(missing("hts"))
	} else if !htsPattern.MatchString(m.HTS) {
		e.add(invalid("hts", m.HTS, RuleFormat, "want an 8-digit HTS subheading like 2709.00.20"))
	} else if ok && !slices.Contains(allowed, m.HTS) {
		e.add(invalid("hts", m.HTS, RuleConsist, string(m.Product)+" is declared under "+strings.Join(allowed, " or ")))
	}
	q := m.DeclaredQuality
	// Whatever the product, a value that is declared is in its range.
	if q.APIGravity != nil {
		e.add(inRange("declared_quality.api_gravity", *q.APIGravity, -10, 100))
	}
	if q.SulfurPct != nil {
		e.add(inRange("declared_quality.sulfur_pct", *q.SulfurPct, 0, 10))
	}
	if q.HeatingValue != nil {
		e.add(inRange("declared_quality.heating_value", *q.HeatingValue, 0, 3000))
	}
	switch m.Product {
	case ProductCrude:
		if m.Unit != VolumeBarrels {
			e.add(invalid("unit", m.Unit, RuleUnit, "crude oil is declared in bbl (or m3, converted)"))
		}
		if q.APIGravity == nil {
			e.add(missing("declared_quality.api_gravity"))
		} else {
			api := *q.APIGravity
			if m.HTS == "2709.00.10" && api >= HeavyCrudeAPILimit {
				e.add(invalid("declared_quality.api_gravity", api, RuleConsist, "2709.00.10 is crude testing under 25° API"))
			}
			if m.HTS == "2709.00.20" && api < HeavyCrudeAPILimit {
				e.add(invalid("declared_quality.api_gravity", api, RuleConsist, "2709.00.20 is crude testing 25° API or more"))
			}
		}
		if q.SulfurPct == nil {
			e.add(missing("declared_quality.sulfur_pct"))
		}
	case ProductGas:
		if m.Unit != VolumeMcf {
			e.add(invalid("unit", m.Unit, RuleUnit, "natural gas is declared in mcf (or e3m3, converted)"))
		}
		if q.HeatingValue == nil {
			e.add(missing("declared_quality.heating_value"))
		}
	}
	return e.join()
}

// checkInBondNumber requires the 9-digit CBP in-bond control number: an
// 8-digit serial and a MOD-7 check digit (serial mod 7, the formula printed
// under CBP Form 7512). CBP lets designated high-volume filers add 1, 2 or 3
// to the check digit, so those forms are accepted too.
func checkInBondNumber(field, v string) error {
	if v == "" {
		return missing(field)
	}
	if !inBondPattern.MatchString(v) {
		return invalid(field, v, RuleFormat, "an in-bond control number is 9 digits")
	}
	serial, _ := strconv.Atoi(v[:8])
	check := int(v[8] - '0')
	if d := check - serial%7; d < 0 || d > 3 {
		return invalid(field, v, RuleFormat, "check digit must be the serial mod 7 (here "+strconv.Itoa(serial%7)+")")
	}
	return nil
}

// InBondNumber returns the in-bond control number for an 8-digit serial
// (0 ≤ serial < 10^8): the serial and its MOD-7 check digit.
func InBondNumber(serial int) string {
	return fmt.Sprintf("%08d%d", serial, serial%7)
}
