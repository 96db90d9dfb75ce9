package event

import (
	"errors"
	"math"
)

// VolumeUnit is a unit of volume at standard conditions. Canonical events carry
// only VolumeBarrels (liquids, 42 US gal at 60 °F) and VolumeMcf (gas, thousand
// cubic feet at 60 °F and 14.73 psia); the gateways convert the others.
type VolumeUnit string

// Volume units accepted from carriers.
const (
	VolumeBarrels VolumeUnit = "bbl"
	VolumeM3      VolumeUnit = "m3"   // liquid cubic metres at 15 °C, converted to bbl
	VolumeMcf     VolumeUnit = "mcf"  // gas, thousand cubic feet
	VolumeE3M3    VolumeUnit = "e3m3" // gas, thousand cubic metres (Canadian practice), converted to Mcf
)

// PressureUnit is a unit of gauge pressure. Canonical: PressurePSIG.
type PressureUnit string

// Pressure units accepted from carriers.
const (
	PressurePSIG PressureUnit = "psig"
	PressureKPaG PressureUnit = "kpag"
)

// TemperatureUnit is a unit of temperature. Canonical: TemperatureF.
type TemperatureUnit string

// Temperature units accepted from carriers.
const (
	TemperatureF TemperatureUnit = "F"
	TemperatureC TemperatureUnit = "C"
)

// Conversion factors (NIST SP 811; 1 bbl = 0.158987294928 m3; 1 ft3 = 0.028316846592 m3).
const (
	barrelsPerM3 = 1 / 0.158987294928
	mcfPerE3M3   = 1 / 0.028316846592 // 1 e3m3 = 35.3147 Mcf
	psiPerKPa    = 1 / 6.894757293168
)

// canonicalVolume converts v from unit u to the canonical unit of its phase.
func canonicalVolume(field string, v float64, u VolumeUnit) (float64, VolumeUnit, error) {
	switch u {
	case VolumeBarrels, VolumeMcf:
		return v, u, nil
	case VolumeM3:
		return v * barrelsPerM3, VolumeBarrels, nil
	case VolumeE3M3:
		return v * mcfPerE3M3, VolumeMcf, nil
	case "":
		return v, u, missing(field)
	}
	return v, u, invalid(field, u, RuleUnit, "want one of bbl, m3, mcf, e3m3")
}

func canonicalPressure(field string, v float64, u PressureUnit) (float64, PressureUnit, error) {
	switch u {
	case PressurePSIG:
		return v, u, nil
	case PressureKPaG:
		return v * psiPerKPa, PressurePSIG, nil
	case "":
		return v, u, missing(field)
	}
	return v, u, invalid(field, u, RuleUnit, "want one of psig, kpag")
}

func canonicalTemperature(field string, v float64, u TemperatureUnit) (float64, TemperatureUnit, error) {
	switch u {
	case TemperatureF:
		return v, u, nil
	case TemperatureC:
		return v*9/5 + 32, TemperatureF, nil
	case "":
		return v, u, missing(field)
	}
	return v, u, invalid(field, u, RuleUnit, "want one of F, C")
}

// finite checks that v is a real number within [lo, hi].
func inRange(field string, v, lo, hi float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		return invalid(field, v, RuleRange, rangeText(lo, hi))
	}
	return nil
}

func rangeText(lo, hi float64) string {
	return "want a number in [" + formatFloat(lo) + ", " + formatFloat(hi) + "]"
}

// errs gathers field errors in the order they are found.
type errs []error

func (e *errs) add(err error) {
	if err != nil {
		*e = append(*e, err)
	}
}

func (e errs) join() error { return errors.Join(e...) }
