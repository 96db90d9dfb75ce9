package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
)

// Waypoint is a point of a route corridor.
type Waypoint struct{ Lat, Lon float64 }

// Plan is one movement to simulate.
type Plan struct {
	Shipment event.ShipmentID
	Manifest event.Manifest
	Start    time.Time
	Duration time.Duration // from departure to arrival at the destination
	// Pipelines: FlowRate in the manifest's unit per hour at the entry meter,
	// and the line-fill delay before product reaches the exit meter.
	FlowRate float64
	LineLag  time.Duration
	// Conveyances: the corridor the vehicle follows.
	Route []Waypoint
	// Cadence of telemetry (default 15 minutes for meters, 5 for positions).
	Cadence time.Duration
}

// Generate returns every message of the plans, sorted by simulated time (ties
// in plan order), deterministically for a seed.
func Generate(plans []Plan, seed uint64) []Message {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var out []Message
	for i := range plans {
		out = append(out, generatePlan(&plans[i], rng)...)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].At.Before(out[b].At) })
	return out
}

type emitter struct {
	p    *Plan
	out  []Message
	seqs map[event.DeviceID]uint64
}

func (e *emitter) kafka(topic event.Topic, at time.Time, typ string, data any) {
	body := mustJSON(map[string]any{
		"type": typ, "shipment": e.p.Shipment, "carrier": e.p.Manifest.Carrier.SCAC,
		"time": at.UTC().Format(time.RFC3339Nano), "data": data,
	})
	e.out = append(e.out, Message{At: at, Via: ViaKafka, Topic: string(topic), Key: string(e.p.Shipment), Body: body})
}

func (e *emitter) telemetry(at time.Time, device event.DeviceID, typ string, data any) {
	e.seqs[device]++
	body := mustJSON(map[string]any{
		"type": typ, "device": device, "seq": e.seqs[device], "time": at.UTC().Format(time.RFC3339Nano), "data": data,
	})
	topic := ingest.MQTTTopic(e.p.Manifest.Carrier.SCAC, e.p.Shipment, ingest.ChannelTelemetry)
	e.out = append(e.out, Message{At: at, Via: ViaMQTT, Topic: topic, Body: body})
}

func generatePlan(p *Plan, rng *rand.Rand) []Message {
	e := &emitter{p: p, seqs: map[event.DeviceID]uint64{}}
	m := p.Manifest
	e.out = append(e.out, Message{At: p.Start, Via: ViaKafka, Topic: string(event.TopicManifests), Key: string(p.Shipment), Body: mustJSON(m)})
	e.kafka(event.TopicCarrierEvents, p.Start.Add(time.Minute), "departed", event.Departed{Port: m.OriginPort})
	end := p.Start.Add(p.Duration)
	if m.Mode == event.ModePipeline {
		pipeline(e, rng, end)
	} else {
		conveyance(e, rng, end)
	}
	e.kafka(event.TopicCarrierEvents, end.Add(30*time.Minute), "arrived", event.Arrived{Port: m.DestinationPort})
	return e.out
}

// pipeline emits entry and exit meter readings: the batch enters at FlowRate
// until the declared quantity is in, and leaves LineLag later at the same rate.
func pipeline(e *emitter, rng *rand.Rand, end time.Time) {
	p, m := e.p, e.p.Manifest
	cadence := cmp(p.Cadence, 15*time.Minute)
	entryDev, exitDev := event.DeviceID(string(m.EntryMeter)+"-FC"), event.DeviceID(string(m.ExitMeter)+"-FC")
	fill := time.Duration(m.DeclaredQuantity / p.FlowRate * float64(time.Hour))
	volumeAt := func(since time.Duration) float64 {
		return math.Min(m.DeclaredQuantity, math.Max(0, since.Hours()*p.FlowRate))
	}
	for t := p.Start.Add(cadence); !t.After(end); t = t.Add(cadence) {
		in, out := volumeAt(t.Sub(p.Start)), volumeAt(t.Sub(p.Start)-p.LineLag)
		rate := func(since time.Duration) float64 {
			if since < 0 || since > fill {
				return 0
			}
			return p.FlowRate * (1 + rng.NormFloat64()*0.002)
		}
		e.telemetry(t, entryDev, "meter", reading(m.EntryMeter, m.Unit, in, rate(t.Sub(p.Start)), rng))
		e.telemetry(t, exitDev, "meter", reading(m.ExitMeter, m.Unit, out, rate(t.Sub(p.Start)-p.LineLag), rng))
	}
}

func reading(meter event.MeterID, unit event.VolumeUnit, cumulative, rate float64, rng *rand.Rand) event.MeterReading {
	return event.MeterReading{
		Meter: meter, FlowRate: round(rate, 1), Cumulative: round(cumulative, 2), Unit: unit,
		Pressure: round(850+rng.NormFloat64()*5, 1), PressureUnit: event.PressurePSIG,
		Temperature: round(58+rng.NormFloat64()*2, 1), TemperatureUnit: event.TemperatureF,
	}
}

// conveyance emits positions along the route at a constant pace, with a
// border crossing at the first waypoint (the port of entry).
func conveyance(e *emitter, rng *rand.Rand, end time.Time) {
	p, m := e.p, e.p.Manifest
	cadence := cmp(p.Cadence, 5*time.Minute)
	gps := event.DeviceID(string(p.Shipment) + "-GPS")
	seal := event.DeviceID(string(p.Shipment) + "-SEAL")
	legs := make([]float64, len(p.Route))
	total := 0.0
	for i := 1; i < len(p.Route); i++ {
		total += haversineKm(p.Route[i-1], p.Route[i])
		legs[i] = total
	}
	speed := total / p.Duration.Hours()
	e.kafka(event.TopicCarrierEvents, p.Start.Add(2*time.Minute), "border_crossed",
		event.BorderCrossed{Port: m.OriginPort, Lat: p.Route[0].Lat, Lon: p.Route[0].Lon})
	for t := p.Start.Add(cadence); !t.After(end); t = t.Add(cadence) {
		d := speed * t.Sub(p.Start).Hours()
		i := sort.SearchFloat64s(legs, d)
		pos := p.Route[len(p.Route)-1]
		heading := 0.0
		if i > 0 && i < len(p.Route) {
			a, b := p.Route[i-1], p.Route[i]
			f := (d - legs[i-1]) / (legs[i] - legs[i-1])
			pos = Waypoint{a.Lat + (b.Lat-a.Lat)*f, a.Lon + (b.Lon-a.Lon)*f}
			heading = bearing(a, b)
		}
		e.telemetry(t, gps, "position", event.Position{
			Lat: round(pos.Lat+rng.NormFloat64()*0.00005, 6), Lon: round(pos.Lon+rng.NormFloat64()*0.00005, 6),
			SpeedKmh: round(speed*(1+rng.NormFloat64()*0.03), 1), HeadingDeg: round(heading, 1), AccuracyM: 5,
		})
		if t.Sub(p.Start)%time.Hour < cadence {
			e.telemetry(t, seal, "seal", event.SealState{Seal: string(p.Shipment) + "-S1", State: event.SealIntact})
		}
	}
}

func haversineKm(a, b Waypoint) float64 {
	const r = 6371.0088
	la1, la2 := a.Lat*math.Pi/180, b.Lat*math.Pi/180
	dla, dlo := la2-la1, (b.Lon-a.Lon)*math.Pi/180
	h := math.Sin(dla/2)*math.Sin(dla/2) + math.Cos(la1)*math.Cos(la2)*math.Sin(dlo/2)*math.Sin(dlo/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

func bearing(a, b Waypoint) float64 {
	la1, la2 := a.Lat*math.Pi/180, b.Lat*math.Pi/180
	dlo := (b.Lon - a.Lon) * math.Pi / 180
	y := math.Sin(dlo) * math.Cos(la2)
	x := math.Cos(la1)*math.Sin(la2) - math.Sin(la1)*math.Cos(la2)*math.Cos(dlo)
	return math.Mod(math.Atan2(y, x)*180/math.Pi+360, 360)
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

func cmp(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sim: marshal %T: %v", v, err))
	}
	return b
}
