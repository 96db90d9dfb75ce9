package alerts_test

import (
	"strings"
	"testing"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
)

func TestMisclassificationRule(t *testing.T) {
	n := 10.0
	lab := func(q event.QualityReading) step {
		n++
		return ev(telemetry(n, "LAB-1", uint64(n), &q))
	}
	api := func(v float64) step { return lab(event.QualityReading{APIGravity: f(v), SulfurPct: f(1)}) }
	light := truckManifest(0, func(m *event.Manifest) { m.HTS, m.DeclaredQuality.APIGravity = "2709.00.20", f(30) })
	heavy := truckManifest(0) // 2709.00.10, 20.5° declared
	gas := truckManifest(0, func(m *event.Manifest) {
		m.Product, m.HTS, m.Unit, m.DeclaredQuality = event.ProductGas, "2711.21.00", event.VolumeMcf, event.Quality{HeatingValue: f(1018)}
	})
	hv := func(v float64) step { return lab(event.QualityReading{HeatingValue: f(v)}) }
	h2s := func(v float64) step { return lab(event.QualityReading{HeatingValue: f(1018), H2SGrain100Scf: f(v)}) }
	co2 := func(v float64) step { return lab(event.QualityReading{HeatingValue: f(1018), CO2Pct: f(v)}) }
	for _, c := range []struct {
		name  string
		steps []step
		want  []string
		value string
	}{
		{"declared .20, measured 25.0°: the line is .20's", []step{ev(light), api(25)}, nil, ""},
		{"declared .20, measured just under 25°", []step{ev(light), api(24.99)}, []string{"open"}, "api_gravity"},
		{"the volume-weighted gravity back over 25° resolves", []step{ev(light), api(24.99), api(25.5)}, []string{"open", "resolved"}, "api_gravity"},
		{"declared .10, measured just under 25°", []step{ev(heavy), api(24.99)}, nil, ""},
		{"declared .10, measured 25.0°: tests as .20", []step{ev(heavy), api(25)}, []string{"open"}, "api_gravity"},
		{"a sample before the manifest is judged with it", []step{api(24.99), ev(light)}, []string{"open"}, "api_gravity"},
		{"heating value at the tariff minimum", []step{ev(gas), hv(967)}, nil, ""},
		{"heating value just under it", []step{ev(gas), hv(966.99)}, []string{"open"}, "heating_value"},
		{"H2S at the tariff maximum", []step{ev(gas), h2s(0.25)}, nil, ""},
		{"H2S just over it, then back", []step{ev(gas), h2s(0.2501), h2s(0.1)}, []string{"open", "resolved"}, "h2s_grain_100scf"},
		{"CO2 at the tariff maximum", []step{ev(gas), co2(2)}, nil, ""},
		{"CO2 just over it", []step{ev(gas), co2(2.01)}, []string{"open"}, "co2_pct"},
		{"a second finding updates", []step{ev(gas), co2(2.01), h2s(0.3)}, []string{"open", "update"}, "co2_pct"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := steps(t, only(t, alerts.RuleMisclassification, nil), c.steps...)
			wantStatuses(t, o, alerts.RuleMisclassification, c.want...)
			if len(c.want) == 0 {
				return
			}
			a := o.of(alerts.RuleMisclassification)[0].Alert
			if _, ok := a.Evidence.Values[c.value]; !ok || a.Evidence.Values[c.value+"_limit"] == 0 || len(a.Evidence.EventIDs) == 0 {
				t.Fatalf("alert %+v", a)
			}
			if c.value == "api_gravity" && !strings.Contains(a.Message, "tests as HTS") {
				t.Fatalf("message %q", a.Message)
			}
		})
	}
}
