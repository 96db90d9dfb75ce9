package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Payload is the typed `data` of an event. Implementations are plain structs;
// Validate checks a payload that is already in canonical units.
//
// Each payload's json tags are also its input contract (DecodeJSON): a field
// without omitempty is required, and absent it is refused as missing, never
// read as 0; an optional pointer field stays nil when absent; an optional
// field of another type takes its zero value as "not reported". Each type's
// doc says which fields are which and why.
type Payload interface {
	// EventType is the CloudEvents type this payload travels under.
	EventType() Type
	// Validate returns nil or a join of *FieldError, with field paths relative
	// to the payload.
	Validate() error
}

// Normalizer is implemented by payloads that carriers may send in other units.
// Normalize converts them, in place, to the canonical units of their phase.
type Normalizer interface {
	Normalize() error
}

// Position is a conveyance's GNSS fix.
//
// Required: lat, lon, speed_kmh and heading_deg, which every GNSS receiver
// reports with a fix; 0 is a real value for each (the equator, standing
// still, due north). Optional: accuracy_m, where 0 or absent means unknown
// (no receiver is accurate to 0 m).
type Position struct {
	Lat        float64  `json:"lat"`                  // degrees, WGS84
	Lon        float64  `json:"lon"`                  // degrees, WGS84
	SpeedKmh   float64  `json:"speed_kmh"`            // ground speed
	HeadingDeg float64  `json:"heading_deg"`          // 0 = north, clockwise
	AccuracyM  *float64 `json:"accuracy_m,omitempty"` // horizontal accuracy, when the receiver reports it
}

// EventType implements Payload.
func (*Position) EventType() Type { return TypePosition }

// Validate implements Payload.
func (p *Position) Validate() error {
	var e errs
	e.add(inRange("lat", p.Lat, -90, 90))
	e.add(inRange("lon", p.Lon, -180, 180))
	e.add(inRange("speed_kmh", p.SpeedKmh, 0, 1200))
	e.add(inRange("heading_deg", p.HeadingDeg, 0, 360))
	if p.AccuracyM != nil {
		e.add(inRange("accuracy_m", *p.AccuracyM, 0, 100_000))
	}
	return e.join()
}

// MeterReading is one reading of a custody-transfer meter on a pipeline.
// Volumes are at standard conditions (liquids corrected to 60 °F, gas at 60 °F
// and 14.73 psia); the cumulative volume is the meter's totalizer since the
// start of the movement.
//
// Required: meter, flow_rate, cumulative, unit, pressure, pressure_unit,
// temperature and temperature_unit. A flow computer reports all of them in
// every reading; the volume balance needs the totalizer, and the correction
// to standard conditions the pressure and temperature, so a reading without
// one of them is refused rather than taken as 0 (0 itself is a real value:
// no flow, an empty line). Optional: gross_cumulative, which not every flow
// computer reports; 0 or absent means not reported.
type MeterReading struct {
	Meter      MeterID `json:"meter"`
	FlowRate   float64 `json:"flow_rate"`  // volume per hour at standard conditions, in Unit
	Cumulative float64 `json:"cumulative"` // totalizer at standard conditions, in Unit
	// GrossCumulative, when the flow computer reports it, is the totalizer at
	// flowing conditions, before correction to standard conditions.
	GrossCumulative *float64        `json:"gross_cumulative,omitempty"`
	Unit            VolumeUnit      `json:"unit"`
	Pressure        float64         `json:"pressure"`
	PressureUnit    PressureUnit    `json:"pressure_unit"`
	Temperature     float64         `json:"temperature"`
	TemperatureUnit TemperatureUnit `json:"temperature_unit"`
}

// EventType implements Payload.
func (*MeterReading) EventType() Type { return TypeMeter }

// Normalize implements Normalizer: volumes to bbl or Mcf, psig, °F. The flow
// rate and the totalizer are converted with the same factor.
func (m *MeterReading) Normalize() error {
	var e errs
	unit := m.Unit
	var err error
	m.Cumulative, m.Unit, err = canonicalVolume("unit", m.Cumulative, unit)
	e.add(err)
	m.FlowRate, _, _ = canonicalVolume("unit", m.FlowRate, unit)
	if m.GrossCumulative != nil {
		g, _, _ := canonicalVolume("unit", *m.GrossCumulative, unit)
		m.GrossCumulative = &g
	}
	m.Pressure, m.PressureUnit, err = canonicalPressure("pressure_unit", m.Pressure, m.PressureUnit)
	e.add(err)
	m.Temperature, m.TemperatureUnit, err = canonicalTemperature("temperature_unit", m.Temperature, m.TemperatureUnit)
	e.add(err)
	return e.join()
}

// Validate implements Payload.
func (m *MeterReading) Validate() error {
	var e errs
	e.add(m.Meter.Validate("meter"))
	e.add(canonicalUnit("unit", m.Unit))
	e.add(inRange("flow_rate", m.FlowRate, 0, 1e7))
	e.add(inRange("cumulative", m.Cumulative, 0, 1e12))
	if m.GrossCumulative != nil {
		e.add(inRange("gross_cumulative", *m.GrossCumulative, 0, 1e12))
	}
	if m.PressureUnit != PressurePSIG {
		e.add(invalid("pressure_unit", m.PressureUnit, RuleUnit, "canonical events carry psig"))
	}
	e.add(inRange("pressure", m.Pressure, -15, 3000))
	if m.TemperatureUnit != TemperatureF {
		e.add(invalid("temperature_unit", m.TemperatureUnit, RuleUnit, "canonical events carry F"))
	}
	e.add(inRange("temperature", m.Temperature, -60, 300))
	return e.join()
}

func canonicalUnit(field string, u VolumeUnit) error {
	switch u {
	case VolumeBarrels, VolumeMcf:
		return nil
	case "":
		return missing(field)
	}
	return invalid(field, u, RuleUnit, "canonical events carry bbl or mcf")
}

// QualityReading is a measurement of product quality, from an online analyzer
// or a lab sample. Crude fields and gas fields are both optional pointers
// because an analyzer reports only what it measures; at least one is required
// (Validate). meter is optional: a lab sample may not name one.
type QualityReading struct {
	Meter          MeterID  `json:"meter,omitempty"`
	APIGravity     *float64 `json:"api_gravity,omitempty"`      // crude, degrees API at 60 °F
	SulfurPct      *float64 `json:"sulfur_pct,omitempty"`       // crude, mass %
	BSWPct         *float64 `json:"bsw_pct,omitempty"`          // crude, basic sediment and water, volume %
	HeatingValue   *float64 `json:"heating_value,omitempty"`    // gas, Btu/scf (gross)
	H2SGrain100Scf *float64 `json:"h2s_grain_100scf,omitempty"` // gas, grains per 100 scf
	CO2Pct         *float64 `json:"co2_pct,omitempty"`          // gas, mole %
}

// EventType implements Payload.
func (*QualityReading) EventType() Type { return TypeQuality }

// Validate implements Payload.
func (q *QualityReading) Validate() error {
	var e errs
	if q.Meter != "" {
		e.add(q.Meter.Validate("meter"))
	}
	n := 0
	check := func(field string, v *float64, lo, hi float64) {
		if v != nil {
			n++
			e.add(inRange(field, *v, lo, hi))
		}
	}
	check("api_gravity", q.APIGravity, -10, 100)
	check("sulfur_pct", q.SulfurPct, 0, 10)
	check("bsw_pct", q.BSWPct, 0, 100)
	check("heating_value", q.HeatingValue, 0, 3000)
	check("h2s_grain_100scf", q.H2SGrain100Scf, 0, 10_000)
	check("co2_pct", q.CO2Pct, 0, 100)
	if n == 0 {
		e.add(&FieldError{Field: "api_gravity", Rule: RuleRequired, Detail: "a quality reading needs at least one measured value"})
	}
	return e.join()
}

// Seal states.
const (
	SealIntact = "intact"
	SealBroken = "broken"
	SealOpened = "opened" // a door or hatch opened with the seal still reporting
)

// SealState is an electronic seal's report on a conveyance's doors or valves.
// Both fields are required.
type SealState struct {
	Seal  string `json:"seal"`  // the seal's serial number
	State string `json:"state"` // intact, broken or opened
}

// EventType implements Payload.
func (*SealState) EventType() Type { return TypeSeal }

// Validate implements Payload.
func (s *SealState) Validate() error {
	var e errs
	e.add(checkIdent("seal", s.Seal))
	switch s.State {
	case SealIntact, SealBroken, SealOpened:
	case "":
		e.add(missing("state"))
	default:
		e.add(invalid("state", s.State, RuleOneOf, "want intact, broken or opened"))
	}
	return e.join()
}

// Departed reports that the movement left its port of origin. port is required.
type Departed struct {
	Port PortCode `json:"port"`
}

// EventType implements Payload.
func (*Departed) EventType() Type { return TypeDeparted }

// Validate implements Payload.
func (d *Departed) Validate() error { return d.Port.Validate("port") }

// BorderCrossed reports that the conveyance or the product crossed a border.
// All fields are required: where it crossed is the point of the event.
type BorderCrossed struct {
	Port PortCode `json:"port"`
	Lat  float64  `json:"lat"`
	Lon  float64  `json:"lon"`
}

// EventType implements Payload.
func (*BorderCrossed) EventType() Type { return TypeBorderCrossed }

// Validate implements Payload.
func (b *BorderCrossed) Validate() error {
	var e errs
	e.add(b.Port.Validate("port"))
	e.add(inRange("lat", b.Lat, -90, 90))
	e.add(inRange("lon", b.Lon, -180, 180))
	return e.join()
}

// Arrived reports arrival at a port (normally the destination; any other port
// without an approved diversion is a deviation). port is required.
type Arrived struct {
	Port PortCode `json:"port"`
}

// EventType implements Payload.
func (*Arrived) EventType() Type { return TypeArrived }

// Validate implements Payload.
func (a *Arrived) Validate() error { return a.Port.Validate("port") }

// DiversionRequested is the carrier's request to change the destination (19
// CFR 18.5). Both fields are required.
type DiversionRequested struct {
	To     PortCode `json:"to"`
	Reason string   `json:"reason"`
}

// EventType implements Payload.
func (*DiversionRequested) EventType() Type { return TypeDiversionRequested }

// Validate implements Payload.
func (d *DiversionRequested) Validate() error {
	var e errs
	e.add(d.To.Validate("to"))
	e.add(checkText("reason", d.Reason, 500))
	return e.join()
}

// DiversionApproved records CBP's approval of a requested diversion. Both
// fields are required.
type DiversionApproved struct {
	To            PortCode `json:"to"`
	Authorization string   `json:"authorization"`
}

// EventType implements Payload.
func (*DiversionApproved) EventType() Type { return TypeDiversionApproved }

// Validate implements Payload.
func (d *DiversionApproved) Validate() error {
	var e errs
	e.add(d.To.Validate("to"))
	e.add(checkIdent("authorization", d.Authorization))
	return e.join()
}

// Transferred reports a transfer of the goods to another bonded carrier or
// conveyance (allowed in bond; the new carrier must be bonded). to_carrier is
// required; to_conveyance is optional ("" or absent: not named).
type Transferred struct {
	ToCarrier    CarrierID `json:"to_carrier"`
	ToConveyance string    `json:"to_conveyance,omitempty"`
}

// EventType implements Payload.
func (*Transferred) EventType() Type { return TypeTransferred }

// Validate implements Payload.
func (t *Transferred) Validate() error {
	var e errs
	e.add(t.ToCarrier.Validate("to_carrier"))
	if t.ToConveyance != "" {
		e.add(checkIdent("to_conveyance", t.ToConveyance))
	}
	return e.join()
}

// Exported reports that T&E or IE goods left the United States. port is
// required.
type Exported struct {
	Port PortCode `json:"port"`
}

// EventType implements Payload.
func (*Exported) EventType() Type { return TypeExported }

// Validate implements Payload.
func (x *Exported) Validate() error { return x.Port.Validate("port") }

// Delivered is the delivery ticket at the destination: the quantity the
// receiver accepted, gross and net of sediment and water, at standard conditions.
// Required: ticket, gross, net and unit (a ticket always states both
// volumes; 0 is a real, if short, delivery). Optional: the quality the
// ticket may record, nil when absent.
type Delivered struct {
	Ticket     string     `json:"ticket"`
	Gross      float64    `json:"gross"`
	Net        float64    `json:"net"`
	Unit       VolumeUnit `json:"unit"`
	APIGravity *float64   `json:"api_gravity,omitempty"`
	SulfurPct  *float64   `json:"sulfur_pct,omitempty"`
}

// EventType implements Payload.
func (*Delivered) EventType() Type { return TypeDelivered }

// Normalize implements Normalizer.
func (d *Delivered) Normalize() error {
	unit := d.Unit
	var err error
	d.Gross, d.Unit, err = canonicalVolume("unit", d.Gross, unit)
	d.Net, _, _ = canonicalVolume("unit", d.Net, unit)
	return err
}

// Validate implements Payload.
func (d *Delivered) Validate() error {
	var e errs
	e.add(checkIdent("ticket", d.Ticket))
	e.add(canonicalUnit("unit", d.Unit))
	e.add(inRange("gross", d.Gross, 0, 1e10))
	e.add(inRange("net", d.Net, 0, 1e10))
	if d.Net > d.Gross {
		e.add(invalid("net", d.Net, RuleConsist, "net volume cannot exceed gross volume"))
	}
	if d.APIGravity != nil {
		e.add(inRange("api_gravity", *d.APIGravity, -10, 100))
	}
	if d.SulfurPct != nil {
		e.add(inRange("sulfur_pct", *d.SulfurPct, 0, 10))
	}
	return e.join()
}

// checkText requires a non-empty text of at most max characters (Unicode
// code points, as JSON Schema's maxLength counts them).
func checkText(field, v string, max int) error {
	if v == "" {
		return missing(field)
	}
	if n := utf8.RuneCountInString(v); n > max {
		return invalid(field, n, RuleRange, "longer than "+strconv.Itoa(max)+" characters")
	}
	return nil
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// checkTime requires a set time in [lo, hi].
func checkTime(field string, t, lo, hi time.Time) error {
	if t.IsZero() {
		return missing(field)
	}
	if t.Before(lo) || t.After(hi) {
		return invalid(field, t.Format(time.RFC3339), RuleRange, "want a time between "+lo.Format("2006-01-02")+" and "+hi.Format("2006-01-02"))
	}
	return nil
}
