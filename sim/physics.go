package sim

import "math"

// Liquid volume correction, after API MPMS Chapter 11.1 (2004) for
// generalized crude oils: the volume at 60 °F is the observed volume times
// CTL, the correction for the temperature of the liquid,
//
//	CTL = exp(-α60·Δt·(1 + 0.8·α60·Δt)),  Δt = t − 60 °F,  α60 = K0/ρ60²,
//
// with K0 = 341.0957 (crude oil commodity group, K1 = K2 = 0) and ρ60 the
// density at 60 °F in kg/m³ from the API gravity. Simplifications, accepted
// for a simulator: the 2004 standard's 0.01 °F temperature shift (ITS-90) and
// rounding rules are left out, and so is CPL, the pressure correction (below
// 0.5 % at these pressures), so "gross" here is the volume at flowing
// temperature. Within the standard's crude range the result is within a few
// hundredths of a percent of the tables.
const (
	crudeK0        = 341.0957
	waterDensity60 = 999.016 // kg/m³ at 60 °F
)

// APIToDensity60 is the density at 60 °F (kg/m³) of a liquid of API gravity
// api: SG = 141.5 / (API + 131.5).
func APIToDensity60(api float64) float64 { return 141.5 / (api + 131.5) * waterDensity60 }

// CTL is the correction factor for the effect of temperature on a crude of
// API gravity api at tempF: multiply an observed volume by it to get the
// volume at 60 °F. Above 60 °F it is below 1.
func CTL(api, tempF float64) float64 {
	rho := APIToDensity60(api)
	alpha := crudeK0 / (rho * rho)
	dt := tempF - 60
	return math.Exp(-alpha * dt * (1 + 0.8*alpha*dt))
}

// Gas at standard conditions (60 °F, 14.73 psia). A meter measures the actual
// volume at flowing pressure and temperature; the standard volume is
//
//	Vstd = Vactual · (P + Patm)/14.73 · 519.67/(T + 459.67) / Z
//
// with Z the compressibility at flowing conditions (AGA-8 computes it; the
// simulator uses a fixed typical value for lean pipeline gas).
const (
	gasStdPressurePsia = 14.73
	gasStdTempR        = 519.67
	atmosphericPsi     = 14.696
	pipelineGasZ       = 0.88
)

// GasStandardFactor is Vstd/Vactual at gauge pressure psig and temperature °F.
func GasStandardFactor(psig, tempF float64) float64 {
	return (psig + atmosphericPsi) / gasStdPressurePsia * gasStdTempR / (tempF + 459.67) / pipelineGasZ
}

// MeterRepeatability is the relative repeatability of a proved custody
// meter (about 0.05 %, DOMAIN.md): the standard deviation of its error.
const MeterRepeatability = 0.0005
