package alerts

import (
	"math"
	"strconv"
	"strings"

	"github.com/inbond/inbond/event"
)

// GasMemory is a gas stream's latest contaminant measurements, from the
// latest trusted sample that reported each.
type GasMemory struct {
	H2S   *float64 `json:"h2s,omitempty"` // grains per 100 scf
	CO2   *float64 `json:"co2,omitempty"` // mole %
	Event string   `json:"event,omitempty"`
}

// The HTS lines of crude petroleum, split at event.HeavyCrudeAPILimit.
const (
	htsHeavyCrude = "2709.00.10" // testing under 25° API
	htsLightCrude = "2709.00.20" // testing 25° API or more
)

// misclassificationRule judges the measured quality against the
// declaration, when a quality sample or a manifest is applied:
//
//   - crude: the volume-weighted API gravity of every sample (state's
//     Quality) tests on the other side of the 25° line than the declared
//     HTS line. The line is HTS's own: 2709.00.10 is "under 25°", so a crude
//     declared .10 that measures exactly 25.0° tests as .20 and is flagged;
//     one declared .20 is flagged from under 25.0°.
//   - gas: the volume-weighted heating value under GasMinHeatingValue, or
//     the latest H2S or CO2 measurement over GasMaxH2S or GasMaxCO2Pct.
//
// The alert resolves when the measurements come back to the declared side
// or within the tariff. Its message is updated when the findings change or
// a measured value moves by a step (0.5° API, 5 Btu/scf, 0.05 grain, 0.2 %).
func misclassificationRule(j *judge) {
	switch d := j.e.Data.(type) {
	case *event.QualityReading:
		if !j.applied {
			return
		}
		if j.trusted() && (d.H2SGrain100Scf != nil || d.CO2Pct != nil) {
			g := j.w.Memory.Gas
			if g == nil {
				g = &GasMemory{}
				j.w.Memory.Gas = g
			}
			if d.H2SGrain100Scf != nil {
				g.H2S = ptr(*d.H2SGrain100Scf)
			}
			if d.CO2Pct != nil {
				g.CO2 = ptr(*d.CO2Pct)
			}
			g.Event = j.e.ID
		}
	case *event.Manifest:
		if !j.applied {
			return
		}
	default:
		return
	}
	m := j.sh.Manifest
	if m == nil {
		return
	}
	lim := j.env.Limits
	q := j.sh.Quality
	samples := strconv.FormatUint(q.Samples, 10) + " samples"
	var findings []string
	vals := map[string]float64{}
	switch m.Product {
	case event.ProductCrude:
		api, ok := q.APIGravity()
		if !ok || (m.HTS != htsHeavyCrude && m.HTS != htsLightCrude) {
			return
		}
		tests := htsLightCrude
		if api < event.HeavyCrudeAPILimit {
			tests = htsHeavyCrude
		}
		if tests != m.HTS {
			f := "measured API gravity " + num(api, 2) + "° (volume-weighted, " + samples + ") tests as HTS " + tests +
				", declared " + m.HTS
			if m.DeclaredQuality.APIGravity != nil {
				f += " at " + num(*m.DeclaredQuality.APIGravity, 1) + "°"
			}
			findings = append(findings, f+" (the line: 25° API)")
			vals["api_gravity"], vals["api_gravity_limit"] = api, event.HeavyCrudeAPILimit
		}
	case event.ProductGas:
		if hv, ok := q.HeatingValue(); ok && hv < lim.GasMinHeatingValue {
			findings = append(findings, "heating value "+num(hv, 1)+" Btu/scf (volume-weighted, "+samples+") under the tariff minimum "+
				num(lim.GasMinHeatingValue, 0))
			vals["heating_value"], vals["heating_value_limit"] = hv, lim.GasMinHeatingValue
		}
		if g := j.w.Memory.Gas; g != nil {
			if g.H2S != nil && *g.H2S > lim.GasMaxH2S {
				findings = append(findings, "H2S "+num(*g.H2S, 3)+" grain/100 scf over the tariff maximum "+num(lim.GasMaxH2S, 2))
				vals["h2s_grain_100scf"], vals["h2s_grain_100scf_limit"] = *g.H2S, lim.GasMaxH2S
			}
			if g.CO2 != nil && *g.CO2 > lim.GasMaxCO2Pct {
				findings = append(findings, "CO2 "+num(*g.CO2, 2)+" % over the tariff maximum "+num(lim.GasMaxCO2Pct, 1)+" %")
				vals["co2_pct"], vals["co2_pct_limit"] = *g.CO2, lim.GasMaxCO2Pct
			}
		}
	default:
		return
	}
	a := j.w.Active[RuleMisclassification]
	if len(findings) == 0 {
		if a != nil {
			j.clear(RuleMisclassification, j.now, "measured quality back within the declaration and the tariff ("+samples+")")
		}
		return
	}
	if a != nil && !qualityMoved(a.Evidence.Values, vals) {
		return
	}
	ids := []string{j.e.ID}
	if a != nil && len(a.Evidence.EventIDs) > 0 && a.Evidence.EventIDs[0] != j.e.ID {
		ids = []string{a.Evidence.EventIDs[0], j.e.ID}
	}
	meter := event.MeterID("")
	if d, ok := j.e.Data.(*event.QualityReading); ok {
		meter = d.Meter
	}
	j.raise(RuleMisclassification, j.e.ID, j.now, strings.Join(findings, "; "), Evidence{
		EventIDs: ids, Values: vals, Meter: meter, Device: j.e.Device,
	})
}

// qualityMoved reports whether the findings differ from those of the open
// alert, or a value moved by at least its step.
func qualityMoved(was, now map[string]float64) bool {
	steps := map[string]float64{"api_gravity": 0.5, "heating_value": 5, "h2s_grain_100scf": 0.05, "co2_pct": 0.2}
	if len(was) != len(now) {
		return true
	}
	for k, v := range now {
		w, ok := was[k]
		if !ok {
			return true
		}
		if step, ok := steps[k]; ok && math.Abs(v-w) >= step {
			return true
		}
	}
	return false
}
