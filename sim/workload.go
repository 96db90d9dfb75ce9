package sim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/inbond/inbond/event"
)

// WorkloadConfig shapes a synthetic stream of canonical events.
type WorkloadConfig struct {
	Shipments int
	Events    int // total, at least 4 per shipment
	Seed      uint64
	Start     time.Time // simulated time of the first event (default 2026-10-01)
}

// Workload returns a deterministic stream of valid canonical events, as the
// gateways would publish them on inbond.events, for Shipments movements
// interleaved: each starts with its manifest and departure, then telemetry
// (meter readings for pipelines, positions and seals for trucks, quality
// samples), and the last ones end with arrival and export. The processor's
// crash, rebalance and duplicate tests and the benchmark use it.
func Workload(cfg WorkloadConfig) []*event.Envelope {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	type mover struct {
		id       event.ShipmentID
		manifest *event.Manifest
		seq      uint64
		emitted  int
		budget   int
		volume   float64
		lat, lon float64
	}
	movers := make([]*mover, cfg.Shipments)
	per := cfg.Events / cfg.Shipments
	for i := range movers {
		id := event.ShipmentID(fmt.Sprintf("WL-%05d", i))
		pipeline := i%2 == 0
		m := &event.Manifest{
			InBondNumber: event.InBondNumber(30000000 + i), EntryType: event.EntryTE,
			Product: event.ProductCrude, HTS: "2709.00.20", Unit: event.VolumeBarrels,
			DeclaredQuality:  event.Quality{APIGravity: f(30 + float64(i%10)), SulfurPct: f(0.5 + float64(i%5)/10)},
			DeclaredQuantity: 100_000, Importer: event.Party{Name: "Importer " + fmt.Sprint(i%7), ID: "12-3456789AB"},
			Carrier:         event.BondedCarrier{SCAC: []event.CarrierID{"ENBR", "PRTK", "GLGT"}[i%3], IRSNumber: "98-7654321AA"},
			CountryOfOrigin: "CA", OriginPort: []event.PortCode{"3404", "3323", "3403"}[i%3], DestinationPort: "3802",
			CreatedAt: cfg.Start, Deadline: cfg.Start.AddDate(0, 0, 30+i%5),
		}
		if pipeline {
			m.Mode, m.EntryMeter, m.ExitMeter = event.ModePipeline, "IN-1", "OUT-1"
		} else {
			m.Mode, m.Corridor, m.DeclaredQuantity = event.ModeTruck, "CORRIDOR-1", 220
		}
		movers[i] = &mover{id: id, manifest: m, budget: per, lat: 49, lon: -97 - float64(i%50)/10}
	}
	for i := 0; i < cfg.Events-per*cfg.Shipments; i++ {
		movers[i%cfg.Shipments].budget++
	}
	out := make([]*event.Envelope, 0, cfg.Events)
	at := cfg.Start
	active := append([]*mover(nil), movers...)
	for len(active) > 0 {
		k := rng.IntN(len(active))
		mv := active[k]
		at = at.Add(time.Duration(1+rng.IntN(3)) * time.Second)
		e := &event.Envelope{
			SpecVersion: event.SpecVersion, Subject: mv.id, PartitionKey: mv.id, Time: at, ReceivedTime: at.Add(time.Second),
			DataContentType: event.ContentTypeJSON, Carrier: mv.manifest.Carrier.SCAC,
		}
		left := mv.budget - mv.emitted
		switch {
		case mv.emitted == 0:
			e.Type, e.Data = event.TypeManifest, mv.manifest
		case mv.emitted == 1:
			e.Type, e.Data = event.TypeDeparted, &event.Departed{Port: mv.manifest.OriginPort}
		case left == 2:
			e.Type, e.Data = event.TypeArrived, &event.Arrived{Port: mv.manifest.DestinationPort}
		case left == 1:
			e.Type, e.Data = event.TypeExported, &event.Exported{Port: mv.manifest.DestinationPort}
		default:
			mv.seq++
			e.Sequence = mv.seq
			telemetry(e, mv.manifest, mv.seq, &mv.volume, &mv.lat, rng)
		}
		if e.Device == "" {
			e.Source = "urn:inbond:carrier:" + string(e.Carrier)
			e.ID = event.DeriveID(e.Carrier, e.Subject, "", 0, "events", []byte(fmt.Sprint(e.Type, mv.emitted)))
		} else {
			e.Source = "urn:inbond:carrier:" + string(e.Carrier) + ":device:" + string(e.Device)
			e.ID = event.DeriveID(e.Carrier, e.Subject, e.Device, e.Sequence, "", nil)
		}
		out = append(out, e)
		mv.emitted++
		if mv.emitted == mv.budget {
			active = append(active[:k], active[k+1:]...)
		}
	}
	return out
}

func telemetry(e *event.Envelope, m *event.Manifest, seq uint64, volume, lat *float64, rng *rand.Rand) {
	if m.Mode == event.ModePipeline {
		e.Device = "FC-1"
		if seq%10 == 0 {
			e.Type = event.TypeQuality
			e.Data = &event.QualityReading{Meter: m.EntryMeter, APIGravity: f(*m.DeclaredQuality.APIGravity + rng.NormFloat64()*0.3),
				SulfurPct: f(*m.DeclaredQuality.SulfurPct + rng.NormFloat64()*0.02)}
			return
		}
		*volume += 250 + rng.Float64()*10
		meter := m.EntryMeter
		if seq%2 == 0 {
			meter = m.ExitMeter
		}
		e.Type = event.TypeMeter
		e.Data = &event.MeterReading{Meter: meter, FlowRate: 1000 + rng.Float64()*20, Cumulative: *volume, Unit: event.VolumeBarrels,
			Pressure: 850 + rng.NormFloat64()*3, PressureUnit: event.PressurePSIG, Temperature: 60 + rng.NormFloat64(), TemperatureUnit: event.TemperatureF}
		return
	}
	e.Device = "GPS-1"
	if seq%20 == 0 {
		e.Type, e.Data = event.TypeSeal, &event.SealState{Seal: "S-1", State: event.SealIntact}
		return
	}
	*lat -= 0.001
	e.Type = event.TypePosition
	e.Data = &event.Position{Lat: *lat, Lon: -110.2, SpeedKmh: 60 + rng.Float64()*20, HeadingDeg: 180}
}
