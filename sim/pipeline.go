package sim

import (
	"github.com/inbond/inbond/alerts"
	"math"
	"time"

	"github.com/inbond/inbond/event"
)

// Pipeline physics of the simulator:
//   - The entry meter sees the batch at FlowRate (per hour, at standard
//     conditions) until the declared quantity is in; the flow wanders by
//     0.3 % between readings.
//   - Line pack: the product reaches the exit meter after the line-fill
//     delay, pipeline length / batch velocity, so the exit totalizer is the
//     entry totalizer that long before.
//   - Each meter has a fixed error drawn at the stated repeatability (0.05 %),
//     so a clean batch balances within it.
//   - Temperatures: ground temperature at the entry meter, warmer after
//     pumping at the exit; gross (flowing) volumes follow from CTL (crude) or
//     the standard-conditions factor (gas).
const (
	meterCadence   = 5 * time.Minute
	qualityCadence = time.Hour
	flowWander     = 0.003
)

// pipeline emits the meter, quality and milestone traffic of a pipeline
// batch and returns when it finished arriving at the exit meter.
func (g *gen) pipeline() (time.Time, error) {
	sp, c, m := g.sp, g.c, g.m
	velocity := sp.BatchKmh
	if velocity <= 0 {
		velocity = map[event.Product]float64{event.ProductCrude: 6, event.ProductGas: 25}[sp.Product]
	}
	lag := time.Duration(c.LengthKm / velocity * float64(time.Hour)).Round(time.Minute)
	entryErr := g.rng.NormFloat64() * MeterRepeatability
	exitErr := g.rng.NormFloat64() * MeterRepeatability
	gas := sp.Product == event.ProductGas

	g.carrierEvent(g.start.Add(time.Minute), "departed", event.Departed{Port: m.OriginPort})
	g.carrierEvent(g.start.Add(2*time.Minute), "border_crossed", event.BorderCrossed{
		Port: m.OriginPort, Lat: c.EntryMeter.Lat, Lon: c.EntryMeter.Lon})

	// The true volume that entered by each cadence tick (standard conditions).
	var entered []float64
	total := 0.0
	for total < m.DeclaredQuantity {
		total = math.Min(m.DeclaredQuantity, total+sp.FlowRate*(1+g.rng.NormFloat64()*flowWander)*meterCadence.Hours())
		entered = append(entered, total)
	}
	enteredAt := func(t time.Time) float64 { // true volume in by time t, interpolated
		x := float64(t.Sub(g.start)) / float64(meterCadence)
		switch {
		case x <= 0:
			return 0
		case x >= float64(len(entered)):
			return m.DeclaredQuantity
		}
		i := int(x)
		lo := 0.0
		if i > 0 {
			lo = entered[i-1]
		}
		return lo + (entered[i]-lo)*(x-float64(i))
	}

	// Deviations that shape the series.
	fill := time.Duration(len(entered)) * meterCadence
	offtakeFrom := g.start.Add(lag + fill*3/10).Truncate(meterCadence)
	const offtake = 0.03
	dropAt := g.start.Add(lag + fill/2).Truncate(meterCadence)
	if g.dev[alerts.RuleGap] {
		g.gapFrom = g.start.Add(lag / 2).Truncate(meterCadence)
		g.gapTo = g.gapFrom.Add(3 * time.Hour)
		g.label(alerts.RuleGap, g.gapFrom, map[string]any{"from": stamp(g.gapFrom), "to": stamp(g.gapTo), "gap_minutes": 180.0, "threshold_minutes": g.th.GapMinutes})
	}
	arrivedTrue := func(t time.Time) float64 { // true volume past the exit meter by t
		v := enteredAt(t.Add(-lag))
		if g.dev[alerts.RuleImbalance] && t.After(offtakeFrom) {
			// Offtake between the meters: from offtakeFrom on, 3 % of what
			// reaches the exit side is taken off before the meter.
			base := enteredAt(offtakeFrom.Add(-lag))
			v = base + (v-base)*(1-offtake)
		}
		return v
	}

	api, sulfur, hv := 0.0, 0.0, 0.0
	if gas {
		hv = *m.DeclaredQuality.HeatingValue
	} else {
		api, sulfur = *m.DeclaredQuality.APIGravity, *m.DeclaredQuality.SulfurPct
	}
	measuredAPI := api
	if g.dev[alerts.RuleMisclassification] {
		measuredAPI = flipAPI(api)
	}

	type meterSide struct {
		id          event.MeterID
		err         float64
		trueVol     func(time.Time) float64
		baseP, base float64 // psig, °F
		gross       float64
		last        float64
		lastTime    time.Time
	}
	entryP, exitP := 900.0, 260.0
	if gas {
		entryP, exitP = 1000.0, 720.0
	}
	sides := []*meterSide{
		{id: m.EntryMeter, err: entryErr, trueVol: enteredAt, baseP: entryP, base: 52},
		{id: m.ExitMeter, err: exitErr, trueVol: arrivedTrue, baseP: exitP, base: 64},
	}
	end := g.start.Add(lag + fill + 2*meterCadence)
	var finished time.Time
	var dropLabelled bool
	exitLast := 0.0 // the exit meter's latest published totalizer
	for t := g.start.Add(meterCadence); !t.After(end); t = t.Add(meterCadence) {
		for i, s := range sides {
			vol := s.trueVol(t) * (1 + s.err)
			rate := (vol - s.last) / meterCadence.Hours()
			temp := s.base + 4*math.Sin(2*math.Pi*float64(t.Hour())/24) + g.rng.NormFloat64()*0.3
			press := s.baseP + g.rng.NormFloat64()*3
			if i == 1 && g.dev[alerts.RulePressure] && !t.Before(dropAt) && t.Before(dropAt.Add(2*time.Hour)) {
				press *= 0.62 // a sudden 38 % drop at the exit meter: a leak or an offtake
				if !dropLabelled {
					dropLabelled = true
					before := s.baseP
					g.label(alerts.RulePressure, t, map[string]any{"meter": s.id, "before_psig": before, "after_psig": round(press, 1),
						"drop_pct": round((before-press)/before*100, 1), "within_minutes": meterCadence.Minutes(),
						"threshold_pct": g.th.PressureDropPct})
				}
			}
			inc := vol - s.last
			if gas {
				s.gross += inc / GasStandardFactor(press, temp)
			} else {
				s.gross += inc / CTL(measuredAPI, temp)
			}
			s.last = vol
			if cum := round(vol, 3); i == 1 && !g.inGap(t) {
				if cum > exitLast {
					g.physArrival = t // the exit totalizer grew: the batch is still arriving
				}
				exitLast = cum
			}
			g.telemetry(t, g.fc(s.id), "meter", event.MeterReading{
				Meter: s.id, FlowRate: round(math.Max(rate, 0), 2), Cumulative: round(vol, 3), GrossCumulative: f(round(s.gross, 3)),
				Unit: m.Unit, Pressure: round(press, 1), PressureUnit: event.PressurePSIG,
				Temperature: round(temp, 2), TemperatureUnit: event.TemperatureF,
			})
		}
		if finished.IsZero() && sides[1].trueVol(t) >= arrivedTrue(end)-1e-9 && t.After(g.start.Add(lag)) {
			finished = t
		}
		if t.Sub(g.start)%qualityCadence == 0 && t.Before(g.start.Add(fill+meterCadence)) {
			q := event.QualityReading{Meter: m.EntryMeter}
			if gas {
				q.HeatingValue = f(round(hv+g.rng.NormFloat64()*3, 1))
				q.H2SGrain100Scf = f(round(0.08+math.Abs(g.rng.NormFloat64())*0.03, 3))
				q.CO2Pct = f(round(1.1+g.rng.NormFloat64()*0.1, 2))
				if g.dev[alerts.RuleMisclassification] {
					q.HeatingValue = f(round(g.th.GasMinHeatingValue-35+g.rng.NormFloat64()*3, 1))
				}
			} else {
				q.APIGravity = f(round(measuredAPI+g.rng.NormFloat64()*0.15, 2))
				q.SulfurPct = f(round(sulfur+g.rng.NormFloat64()*0.02, 3))
			}
			g.telemetry(t, g.analyzer(), "quality", q)
		}
	}
	if g.dev[alerts.RuleImbalance] {
		winEnd := offtakeFrom.Add(g.th.ImbalanceWindow)
		if limit := g.start.Add(lag + fill); winEnd.After(limit) {
			winEnd = limit
		}
		in := enteredAt(winEnd.Add(-lag)) - enteredAt(offtakeFrom.Add(-lag))
		out := arrivedTrue(winEnd) - arrivedTrue(offtakeFrom)
		g.label(alerts.RuleImbalance, offtakeFrom, map[string]any{
			"entry_meter": m.EntryMeter, "exit_meter": m.ExitMeter, "line_fill_hours": lag.Hours(),
			"window_hours": winEnd.Sub(offtakeFrom).Hours(), "entry_volume": round(in, 2), "exit_volume": round(out, 2),
			"imbalance_pct": round((in-out)/in*100, 3), "threshold_pct": g.th.ImbalancePct,
		})
	}
	if g.dev[alerts.RuleMisclassification] {
		g.misclassLabel(g.start.Add(qualityCadence), api, measuredAPI)
	}
	g.entryTotal, g.exitTotal = sides[0].last, sides[1].last
	g.delivered = round(g.exitTotal, 2)
	if finished.IsZero() {
		finished = end
	}
	return finished, nil
}

// flipAPI returns a measured gravity on the other side of the 25° API line
// that splits HTS 2709.00.10 from 2709.00.20.
func flipAPI(declared float64) float64 {
	if declared >= event.HeavyCrudeAPILimit {
		return event.HeavyCrudeAPILimit - 3.5
	}
	return event.HeavyCrudeAPILimit + 3.5
}

func (g *gen) misclassLabel(at time.Time, declaredAPI, measuredAPI float64) {
	m := g.m
	v := map[string]any{"declared_hts": m.HTS}
	if m.Product == event.ProductGas {
		v["declared_heating_value"] = *m.DeclaredQuality.HeatingValue
		v["measured_heating_value_about"] = g.th.GasMinHeatingValue - 35
		v["threshold_heating_value"] = g.th.GasMinHeatingValue
	} else {
		v["declared_api"], v["measured_api_about"], v["threshold_api"] = declaredAPI, measuredAPI, event.HeavyCrudeAPILimit
	}
	g.label(alerts.RuleMisclassification, at, v)
}
