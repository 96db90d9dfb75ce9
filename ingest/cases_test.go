package ingest_test

import (
	"encoding/json"
	"strings"

	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/wire"
)

// badInput is one malformed input and the reason it must be dead-lettered for.
type badInput struct {
	name   string
	topic  string // MQTT topic, or Kafka topic for kafka cases
	key    string // Kafka record key
	body   []byte
	reason wire.Reason
}

const okTopic = "inbond/v1/ENBR/SHP-BAD/telemetry"

// meter returns a valid compact meter reading for SHP-BAD, changed by mut.
func meter(mut func(m, data map[string]any)) []byte {
	data := map[string]any{
		"meter": "NECHE-1", "flow_rate": 3000.5, "cumulative": 1234.5, "unit": "bbl",
		"pressure": 900, "pressure_unit": "psig", "temperature": 60, "temperature_unit": "F",
	}
	m := map[string]any{"type": "meter", "device": "M-1", "seq": 7, "time": "2026-10-01T12:00:00Z", "data": data}
	if mut != nil {
		mut(m, data)
	}
	b, _ := json.Marshal(m)
	return b
}

func position(lat float64) []byte {
	return meter(func(m, _ map[string]any) {
		m["type"] = "position"
		m["data"] = map[string]any{"lat": lat, "lon": -97.5, "speed_kmh": 60, "heading_deg": 90}
	})
}

// validManifest is a coherent crude pipeline manifest, changed by mut.
func validManifest(mut func(m map[string]any)) []byte {
	m := map[string]any{
		"inbond_number": "257700030", "entry_type": "62", "mode": "pipeline", "product": "crude_oil",
		"hts": "2709.00.20", "declared_quality": map[string]any{"api_gravity": 32.5, "sulfur_pct": 1.1},
		"declared_quantity": 500000, "unit": "bbl",
		"importer":          map[string]any{"name": "Lakehead Refining LLC", "id": "12-3456789AB"},
		"carrier":           map[string]any{"scac": "ENBR", "irs_number": "98-7654321CD"},
		"country_of_origin": "CA", "origin_port": "3404", "destination_port": "3802",
		"entry_meter": "NECHE-1", "exit_meter": "PTHURON-1",
		"created_at": "2026-10-01T00:00:00Z", "deadline": "2026-10-31T00:00:00Z",
	}
	if mut != nil {
		mut(m)
	}
	b, _ := json.Marshal(m)
	return b
}

func structured(mut func(m map[string]any)) []byte {
	m := map[string]any{
		"specversion": "1.0", "id": "evt-1", "source": "urn:inbond:carrier:ENBR", "type": "gov.cbp.inbond.carrier.arrived.v1",
		"subject": "SHP-BAD", "partitionkey": "SHP-BAD", "time": "2026-10-02T00:00:00Z", "datacontenttype": "application/json",
		"carrier": "ENBR", "recvtime": "2026-10-02T00:00:01Z", "data": map[string]any{"port": "3802"},
	}
	if mut != nil {
		mut(m)
	}
	b, _ := json.Marshal(m)
	return b
}

func del(key string) func(m, data map[string]any) {
	return func(m, _ map[string]any) { delete(m, key) }
}

func setData(key string, v any) func(m, data map[string]any) {
	return func(_, data map[string]any) { data[key] = v }
}

// mqttBadInputs are malformed MQTT inputs, one per way a carrier gets it wrong.
func mqttBadInputs() []badInput {
	eventsTopic := strings.Replace(okTopic, "telemetry", "events", 1)
	manifestTopic := strings.Replace(okTopic, "telemetry", "manifest", 1)
	return []badInput{
		{name: "truncated JSON", topic: okTopic, body: []byte(`{"type":"meter","data":{`), reason: wire.ReasonMalformedJSON},
		{name: "JSON array", topic: okTopic, body: []byte(`[1,2,3]`), reason: wire.ReasonMalformedJSON},
		{name: "JSON null", topic: okTopic, body: []byte(`null`), reason: wire.ReasonMalformedJSON},
		{name: "empty body", topic: okTopic, body: []byte(``), reason: wire.ReasonMalformedJSON},
		{name: "trailing garbage", topic: okTopic, body: append(meter(nil), []byte(` {"again":1}`)...), reason: wire.ReasonMalformedJSON},
		{name: "unknown type", topic: okTopic, body: meter(func(m, _ map[string]any) { m["type"] = "teleport" }), reason: wire.ReasonUnknownType},
		{name: "missing type", topic: okTopic, body: meter(del("type")), reason: wire.ReasonMissingField},
		{name: "missing data", topic: okTopic, body: meter(del("data")), reason: wire.ReasonMissingField},
		{name: "missing device", topic: okTopic, body: meter(del("device")), reason: wire.ReasonMissingField},
		{name: "missing time", topic: okTopic, body: meter(del("time")), reason: wire.ReasonMissingField},
		{name: "missing meter id", topic: okTopic, body: meter(func(_, d map[string]any) { delete(d, "meter") }), reason: wire.ReasonMissingField},
		{name: "unknown payload field", topic: okTopic, body: meter(setData("cumulativ", 5)), reason: wire.ReasonUnknownField},
		{name: "unknown envelope field", topic: okTopic, body: meter(func(m, _ map[string]any) { m["colour"] = "red" }), reason: wire.ReasonUnknownField},
		{name: "volume in gallons", topic: okTopic, body: meter(setData("unit", "gal")), reason: wire.ReasonBadUnit},
		{name: "pressure in bar", topic: okTopic, body: meter(setData("pressure_unit", "bar")), reason: wire.ReasonBadUnit},
		{name: "temperature in kelvin", topic: okTopic, body: meter(setData("temperature_unit", "K")), reason: wire.ReasonBadUnit},
		{name: "latitude out of range", topic: okTopic, body: position(123.4), reason: wire.ReasonInvalidField},
		{name: "negative totalizer", topic: okTopic, body: meter(setData("cumulative", -1)), reason: wire.ReasonInvalidField},
		{name: "sequence as string", topic: okTopic, body: meter(func(m, _ map[string]any) { m["seq"] = "seven" }), reason: wire.ReasonInvalidField},
		{name: "time not RFC 3339", topic: okTopic, body: meter(func(m, _ map[string]any) { m["time"] = "01/10/2026 12:00" }), reason: wire.ReasonInvalidField},
		{name: "time far in the future", topic: okTopic, body: meter(func(m, _ map[string]any) { m["time"] = "2099-01-01T00:00:00Z" }), reason: wire.ReasonInvalidField},
		{name: "oversize body", topic: okTopic, body: meter(setData("meter", strings.Repeat("X", ingest.DefaultMaxBytes))), reason: wire.ReasonOversize},
		{name: "carrier in body differs from topic", topic: okTopic, body: meter(func(m, _ map[string]any) { m["carrier"] = "TCPL" }), reason: wire.ReasonTopicMismatch},
		{name: "shipment in body differs from topic", topic: okTopic, body: meter(func(m, _ map[string]any) { m["shipment"] = "SHP-OTHER" }), reason: wire.ReasonTopicMismatch},
		{name: "unknown channel in topic", topic: "inbond/v1/ENBR/SHP-BAD/gossip", body: meter(func(m, _ map[string]any) { m["seq"] = 9 }), reason: wire.ReasonBadTopic},
		{name: "malformed SCAC in topic", topic: "inbond/v1/enbr!/SHP-BAD/telemetry", body: meter(func(m, _ map[string]any) { m["seq"] = 10 }), reason: wire.ReasonBadTopic},
		{name: "carrier event on telemetry channel", topic: okTopic, body: []byte(`{"type":"arrived","time":"2026-10-02T00:00:00Z","data":{"port":"3802"}}`), reason: wire.ReasonWrongChannel},
		{name: "seal state ajar", topic: okTopic, body: meter(func(m, _ map[string]any) {
			m["type"] = "seal"
			m["data"] = map[string]any{"seal": "S-1", "state": "ajar"}
		}), reason: wire.ReasonInvalidField},
		{name: "port code not Schedule D", topic: eventsTopic, body: []byte(`{"type":"arrived","time":"2026-10-02T00:00:00Z","data":{"port":"PTHURON"}}`), reason: wire.ReasonInvalidField},
		{name: "CloudEvent spec 0.3", topic: eventsTopic, body: structured(func(m map[string]any) { m["specversion"] = "0.3" }), reason: wire.ReasonInvalidField},
		{name: "CloudEvent of unknown type", topic: eventsTopic, body: structured(func(m map[string]any) { m["type"] = "com.example.other.v1" }), reason: wire.ReasonUnknownType},
		{name: "manifest HTS of another product", topic: manifestTopic, body: validManifest(func(m map[string]any) { m["hts"] = "2711.21.00" }), reason: wire.ReasonInvalidField},
		{name: "manifest in-bond check digit", topic: manifestTopic, body: validManifest(func(m map[string]any) { m["inbond_number"] = "257700035" }), reason: wire.ReasonInvalidField},
		{name: "manifest heavy crude under light HTS", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["declared_quality"] = map[string]any{"api_gravity": 21.0, "sulfur_pct": 3.2}
		}), reason: wire.ReasonInvalidField},
		{name: "manifest gas in barrels", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["product"], m["hts"], m["declared_quality"] = "natural_gas", "2711.21.00", map[string]any{"heating_value": 1030}
		}), reason: wire.ReasonBadUnit},
		{name: "manifest without deadline", topic: manifestTopic, body: validManifest(func(m map[string]any) { delete(m, "deadline") }), reason: wire.ReasonMissingField},
		{name: "manifest carrier differs from publisher", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["carrier"] = map[string]any{"scac": "TCPL", "irs_number": "98-7654321CD"}
		}), reason: wire.ReasonTopicMismatch},
		// One validation error per device: a message of over 1 MB, larger than
		// any Kafka record, unless the dead letter bounds it.
		{name: "manifest listing 20,000 empty devices", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["devices"] = make([]string, 20_000)
		}), reason: wire.ReasonMissingField},
	}
}

// kafkaBadInputs are malformed inputs on the carriers' Kafka topics.
func kafkaBadInputs() []badInput {
	withShip := func(mut func(m, data map[string]any)) []byte {
		return meter(func(m, data map[string]any) {
			m["shipment"], m["carrier"] = "SHP-BAD", "ENBR"
			if mut != nil {
				mut(m, data)
			}
		})
	}
	return []badInput{
		{name: "key differs from shipment", topic: "inbond.carrier-events", key: "SHP-OTHER", body: withShip(nil), reason: wire.ReasonKeyMismatch},
		{name: "no shipment anywhere", topic: "inbond.carrier-events", body: meter(func(m, _ map[string]any) { m["carrier"] = "ENBR" }), reason: wire.ReasonMissingField},
		{name: "no carrier anywhere", topic: "inbond.carrier-events", key: "SHP-BAD", body: meter(func(m, _ map[string]any) { m["shipment"] = "SHP-BAD" }), reason: wire.ReasonMissingField},
		{name: "manifest on the events topic", topic: "inbond.carrier-events", key: "SHP-BAD", body: validManifest(nil), reason: wire.ReasonWrongChannel},
		{name: "telemetry on the manifests topic", topic: "inbond.manifests", key: "SHP-BAD", body: withShip(func(m, _ map[string]any) { m["seq"] = 8 }), reason: wire.ReasonWrongChannel},
		{name: "not JSON", topic: "inbond.carrier-events", key: "SHP-BAD", body: []byte("departed at 10:00"), reason: wire.ReasonMalformedJSON},
		{name: "volume in m3 out of range", topic: "inbond.carrier-events", key: "SHP-BAD", body: withShip(setData("cumulative", 1e15)), reason: wire.ReasonInvalidField},
		// The key is echoed, quoted, in the message: over 1 MB once JSON-escaped.
		{name: "300 KiB key of quotes differs from shipment", topic: "inbond.carrier-events", key: strings.Repeat(`"`, 300<<10),
			body: withShip(func(m, _ map[string]any) { m["seq"] = 9 }), reason: wire.ReasonKeyMismatch},
	}
}
