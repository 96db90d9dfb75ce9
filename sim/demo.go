package sim

import (
	"fmt"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
)

// Corridors used by the demo plans: real waypoints along the highways.
var (
	// Wildhorse MT port of entry south to Havre, west along US-2 to Shelby, north on I-15 to Sweetgrass.
	corridorWildhorseSweetgrass = []Waypoint{
		{48.999361, -110.215083}, {48.7650, -110.1180}, {48.5500, -109.6841}, {48.5560, -110.3000},
		{48.5106, -110.9680}, {48.5055, -111.8569}, {48.7440, -111.8970}, {48.998611, -111.959722},
	}
)

func f(v float64) *float64 { return &v }

// DemoPlans returns the demo's movements for one round, starting at start:
// Canadian crude by pipeline Neche ND → Port Huron MI (T&E), Canadian gas by
// pipeline Noyes MN → St. Clair River (Port Huron port, in transit), and a
// crude tank truck in bond from Wildhorse MT to Sweetgrass MT.
func DemoPlans(round int, start time.Time) []Plan {
	id := func(s string) event.ShipmentID { return event.ShipmentID(fmt.Sprintf("R%03d-%s", round, s)) }
	serial := 25770000 + round*10
	importer := event.Party{Name: "Lakehead Refining LLC", ID: "12-3456789AB"}
	return []Plan{
		{
			Shipment: id("CRUDE-NECHE"), Start: start, Duration: 26 * time.Hour, FlowRate: 25_000, LineLag: 6 * time.Hour,
			Manifest: event.Manifest{
				InBondNumber: event.InBondNumber(serial), EntryType: event.EntryTE, Mode: event.ModePipeline,
				Product: event.ProductCrude, HTS: "2709.00.20",
				DeclaredQuality:  event.Quality{APIGravity: f(32.4), SulfurPct: f(1.15)},
				DeclaredQuantity: 500_000, Unit: event.VolumeBarrels, Importer: importer,
				Carrier:         event.BondedCarrier{SCAC: "ENBR", IRSNumber: "98-7654321AA"},
				CountryOfOrigin: "CA", OriginPort: "3404", DestinationPort: "3802",
				EntryMeter: "NECHE-1", ExitMeter: "PTHURON-1",
				CreatedAt: start, Deadline: start.AddDate(0, 0, event.MaxInBondDays(event.ModePipeline)),
			},
		},
		{
			Shipment: id("GAS-NOYES"), Start: start.Add(time.Hour), Duration: 25 * time.Hour, FlowRate: 50_000, LineLag: 2 * time.Hour,
			Manifest: event.Manifest{
				InBondNumber: event.InBondNumber(serial + 1), EntryType: event.EntryTE, Mode: event.ModePipeline,
				Product: event.ProductGas, HTS: "2711.21.00",
				DeclaredQuality:  event.Quality{HeatingValue: f(1032)},
				DeclaredQuantity: 1_100_000, Unit: event.VolumeMcf,
				Importer:        event.Party{Name: "Great Lakes Gas Marketing Inc", ID: "23-4567890BC"},
				Carrier:         event.BondedCarrier{SCAC: "GLGT", IRSNumber: "87-6543210BB"},
				CountryOfOrigin: "CA", OriginPort: "3402", DestinationPort: "3802",
				EntryMeter: "NOYES-1", ExitMeter: "STCLAIR-1",
				CreatedAt: start.Add(time.Hour), Deadline: start.Add(time.Hour).AddDate(0, 0, 30),
			},
		},
		{
			Shipment: id("TRUCK-WILDHORSE"), Start: start.Add(2 * time.Hour), Duration: 4 * time.Hour,
			Route: corridorWildhorseSweetgrass,
			Manifest: event.Manifest{
				InBondNumber: event.InBondNumber(serial + 2), EntryType: event.EntryTE, Mode: event.ModeTruck,
				Product: event.ProductCrude, HTS: "2709.00.10",
				DeclaredQuality:  event.Quality{APIGravity: f(20.5), SulfurPct: f(3.4)},
				DeclaredQuantity: 220, Unit: event.VolumeBarrels, Importer: importer,
				Carrier:         event.BondedCarrier{SCAC: "PRTK", IRSNumber: "76-5432109CC"},
				CountryOfOrigin: "CA", OriginPort: "3323", DestinationPort: "3310",
				Corridor:  "MT-WILDHORSE-SWEETGRASS",
				CreatedAt: start.Add(2 * time.Hour), Deadline: start.Add(2*time.Hour).AddDate(0, 0, 30),
			},
		},
	}
}

// MisconfiguredDevice returns a message from a device that reports gallons,
// which the gateway must dead-letter (reason bad_unit) without disturbing the
// shipment's other traffic.
func MisconfiguredDevice(plan Plan, at time.Time) Message {
	body := mustJSON(map[string]any{
		"type": "meter", "device": "LEGACY-FC", "seq": 1, "time": at.UTC().Format(time.RFC3339),
		"data": map[string]any{"meter": "LEGACY-1", "flow_rate": 1000, "cumulative": 42, "unit": "gal",
			"pressure": 850, "pressure_unit": "psig", "temperature": 60, "temperature_unit": "F"},
	})
	return Message{At: at, Via: ViaMQTT, Topic: ingest.MQTTTopic(plan.Manifest.Carrier.SCAC, plan.Shipment, ingest.ChannelTelemetry), Body: body}
}
