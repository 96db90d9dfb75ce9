package ingest_test

import (
	"bytes"
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
	msg    string // when set, the rejection's message must contain it: the field, value and rule
}

// goodInput is one valid input; the decoder must accept it.
type goodInput struct {
	name  string
	topic string // MQTT topic, or Kafka topic for kafka cases
	key   string // Kafka record key
	body  []byte
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
	return append(append([]badInput{}, []badInput{
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
	}...), strictBadInputs()...)
}

// strictBadInputs are MQTT inputs that the strict reading (issue 15) refuses
// and that were once accepted, or refused for a misleading reason.
func strictBadInputs() []badInput {
	eventsTopic := strings.Replace(okTopic, "telemetry", "events", 1)
	manifestTopic := strings.Replace(okTopic, "telemetry", "manifest", 1)
	const head = `{"type":"meter","device":"M-1","seq":7,"time":"2026-10-01T12:00:00Z"`
	const okData = `{"meter":"NECHE-1","flow_rate":3000.5,"cumulative":1234.5,"unit":"bbl","pressure":900,"pressure_unit":"psig","temperature":60,"temperature_unit":"F"}`
	const okPos = `{"lat":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`
	posWith := func(data string) []byte {
		return []byte(`{"type":"position","device":"GPS-1","seq":3,"time":"2026-10-01T12:00:00Z","data":` + data + `}`)
	}
	missingData := func(field string) func(m, data map[string]any) {
		return func(_, d map[string]any) { delete(d, field) }
	}
	return []badInput{
		// A required field absent is missing_field naming it, never 0.
		{name: "position without lat", topic: okTopic, body: posWith(`{"lon":-97.5,"speed_kmh":60,"heading_deg":90}`),
			reason: wire.ReasonMissingField, msg: "data.lat: required"},
		{name: "position with empty data", topic: okTopic, body: posWith(`{}`),
			reason: wire.ReasonMissingField, msg: "data.lat: required: must be present and non-empty\ndata.lon: required"},
		{name: "meter with only meter and unit", topic: okTopic, body: []byte(head + `,"data":{"meter":"NECHE-1","unit":"bbl"}}`),
			reason: wire.ReasonMissingField, msg: "data.flow_rate: required"},
		{name: "meter without cumulative", topic: okTopic, body: meter(missingData("cumulative")), reason: wire.ReasonMissingField, msg: "data.cumulative: required"},
		{name: "meter without flow rate", topic: okTopic, body: meter(missingData("flow_rate")), reason: wire.ReasonMissingField, msg: "data.flow_rate: required"},
		{name: "meter without pressure", topic: okTopic, body: meter(missingData("pressure")), reason: wire.ReasonMissingField, msg: "data.pressure: required"},
		{name: "meter without temperature", topic: okTopic, body: meter(missingData("temperature")), reason: wire.ReasonMissingField, msg: "data.temperature: required"},
		{name: "meter without volume unit", topic: okTopic, body: meter(missingData("unit")), reason: wire.ReasonMissingField, msg: "data.unit: required"},
		{name: "meter without pressure unit", topic: okTopic, body: meter(missingData("pressure_unit")), reason: wire.ReasonMissingField, msg: "data.pressure_unit: required"},
		{name: "meter without temperature unit", topic: okTopic, body: meter(missingData("temperature_unit")), reason: wire.ReasonMissingField, msg: "data.temperature_unit: required"},
		{name: "seal without state", topic: okTopic, body: []byte(`{"type":"seal","device":"SEAL-1","seq":2,"time":"2026-10-01T12:00:00Z","data":{"seal":"S-1"}}`),
			reason: wire.ReasonMissingField, msg: "data.state: required"},
		{name: "border crossing without position", topic: eventsTopic, body: []byte(`{"type":"border_crossed","time":"2026-10-02T00:00:00Z","data":{"port":"3401"}}`),
			reason: wire.ReasonMissingField, msg: "data.lat: required"},
		{name: "delivery without net volume", topic: eventsTopic, body: []byte(`{"type":"delivered","time":"2026-10-02T00:00:00Z","data":{"ticket":"T-1","gross":100,"unit":"bbl"}}`),
			reason: wire.ReasonMissingField, msg: "data.net: required"},
		{name: "manifest without inbond_number", topic: manifestTopic, body: validManifest(func(m map[string]any) { delete(m, "inbond_number") }),
			reason: wire.ReasonMissingField, msg: "inbond_number: required"},
		{name: "manifest without carrier", topic: manifestTopic, body: validManifest(func(m map[string]any) { delete(m, "carrier") }),
			reason: wire.ReasonMissingField, msg: "carrier: required"},
		{name: "manifest without declared quantity", topic: manifestTopic, body: validManifest(func(m map[string]any) { delete(m, "declared_quantity") }),
			reason: wire.ReasonMissingField, msg: "declared_quantity: required"},
		{name: "manifest without importer id", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["importer"] = map[string]any{"name": "Lakehead Refining LLC"}
		}), reason: wire.ReasonMissingField, msg: "importer.id: required"},
		{name: "manifest with empty country of origin", topic: manifestTopic, body: validManifest(func(m map[string]any) { m["country_of_origin"] = "" }),
			reason: wire.ReasonMissingField, msg: "country_of_origin: required"},
		{name: "CloudEvent without source", topic: eventsTopic, body: structured(func(m map[string]any) { delete(m, "source") }),
			reason: wire.ReasonMissingField, msg: "source: required"},
		{name: "CloudEvent without specversion", topic: eventsTopic, body: structured(func(m map[string]any) { delete(m, "specversion") }),
			reason: wire.ReasonMissingField, msg: "specversion: required"},
		{name: "CloudEvent with an empty data object", topic: eventsTopic, body: structured(func(m map[string]any) { m["data"] = map[string]any{} }),
			reason: wire.ReasonMissingField, msg: "data.port: required"},

		// Names are case-sensitive: another spelling is unknown_field.
		{name: "LAT for lat", topic: okTopic, body: posWith(`{"LAT":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`),
			reason: wire.ReasonUnknownField, msg: `data.LAT: unknown_field: not part of the schema; names are case-sensitive: did you mean "lat"?`},
		{name: "a second Data after data", topic: okTopic, body: []byte(head + `,"data":` + okData + `,"Data":{"meter":"X"}}`),
			reason: wire.ReasonUnknownField, msg: `Data: unknown_field`},
		{name: "Type for type", topic: okTopic, body: []byte(`{"Type":"meter","device":"M-1","seq":7,"time":"2026-10-01T12:00:00Z","data":` + okData + `}`),
			reason: wire.ReasonUnknownField, msg: `did you mean "type"?`},
		{name: "manifest SCAC for scac", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["carrier"] = map[string]any{"SCAC": "ENBR", "irs_number": "98-7654321CD"}
		}), reason: wire.ReasonUnknownField, msg: "carrier.SCAC: unknown_field"},

		// Names are unique at every depth (I-JSON).
		{name: "duplicate seq", topic: okTopic, body: []byte(head + `,"seq":8,"data":` + okData + `}`),
			reason: wire.ReasonDuplicateField, msg: "seq: duplicate: appears more than once in its object; I-JSON (RFC 7493) names are unique"},
		{name: "duplicate data", topic: okTopic, body: []byte(head + `,"data":` + okData + `,"data":` + okData + `}`),
			reason: wire.ReasonDuplicateField, msg: "data: duplicate"},
		{name: "duplicate lat in data", topic: okTopic, body: posWith(`{"lat":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90,"lat":10}`),
			reason: wire.ReasonDuplicateField, msg: "data.lat: duplicate"},
		{name: "duplicate spelled with an escape", topic: okTopic, body: posWith(`{"lat":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90,"l\u0061t":10}`),
			reason: wire.ReasonDuplicateField, msg: "data.lat: duplicate"},
		{name: "duplicate importer name in manifest", topic: manifestTopic, body: bytes.Replace(validManifest(nil),
			[]byte(`"name":"Lakehead Refining LLC"`), []byte(`"name":"Lakehead Refining LLC","name":"Other LLC"`), 1),
			reason: wire.ReasonDuplicateField, msg: "importer.name: duplicate"},

		// Only valid UTF-8 and whole surrogate pairs (I-JSON).
		{name: "invalid UTF-8 in a string", topic: okTopic, body: bytes.Replace(meter(nil), []byte("NECHE-1"), []byte("NECHE\xff1"), 1),
			reason: wire.ReasonMalformedJSON, msg: "invalid UTF-8"},
		{name: "lone surrogate in a string", topic: okTopic, body: bytes.Replace(meter(nil), []byte("NECHE-1"), []byte(`NECHE\ud8001`), 1),
			reason: wire.ReasonMalformedJSON, msg: "surrogate"},
		{name: "invalid UTF-8 in a name", topic: okTopic, body: []byte(head + ",\"dat\xc3\":{}}"),
			reason: wire.ReasonMalformedJSON, msg: "RFC 7493"},

		// A value of the wrong JSON type, null included, is invalid_field.
		{name: "time as a number", topic: okTopic, body: meter(func(m, _ map[string]any) { m["time"] = 1759320000 }),
			reason: wire.ReasonInvalidField, msg: "time (1759320000): format: want an RFC 3339 time in a JSON string"},
		{name: "time null", topic: okTopic, body: meter(func(m, _ map[string]any) { m["time"] = nil }),
			reason: wire.ReasonInvalidField, msg: "time (null): format"},
		{name: "time with a lower-case t", topic: okTopic, body: meter(func(m, _ map[string]any) { m["time"] = "2026-10-01t12:00:00Z" }),
			reason: wire.ReasonInvalidField, msg: `time ("2026-10-01t12:00:00Z"): format: want an RFC 3339 time`},
		{name: "lat null", topic: okTopic, body: posWith(`{"lat":null,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`),
			reason: wire.ReasonInvalidField, msg: "data.lat (null): format: want a JSON number"},
		{name: "lat as a string", topic: okTopic, body: posWith(`{"lat":"48.9","lon":-97.5,"speed_kmh":60,"heading_deg":90}`),
			reason: wire.ReasonInvalidField, msg: `data.lat ("48.9"): format: want a JSON number`},
		{name: "seq with a fraction", topic: okTopic, body: meter(func(m, _ map[string]any) { m["seq"] = 7.5 }),
			reason: wire.ReasonInvalidField, msg: "seq (7.5): format: want a whole number"},
		{name: "negative seq", topic: okTopic, body: meter(func(m, _ map[string]any) { m["seq"] = -1 }),
			reason: wire.ReasonInvalidField, msg: "seq (-1)"},
		{name: "data as an array", topic: okTopic, body: []byte(head + `,"data":[1,2]}`),
			reason: wire.ReasonInvalidField, msg: "data ([1,2]): format: want a JSON object"},
		{name: "data null", topic: okTopic, body: []byte(head + `,"data":null}`),
			reason: wire.ReasonInvalidField, msg: "data (null): format"},
		{name: "totalizer beyond a double", topic: okTopic, body: bytes.Replace(meter(nil), []byte(`"cumulative":1234.5`), []byte(`"cumulative":1e400`), 1),
			reason: wire.ReasonInvalidField, msg: "data.cumulative (1e400): range"},
		{name: "manifest created_at as a date", topic: manifestTopic, body: validManifest(func(m map[string]any) { m["created_at"] = "2026-10-01" }),
			reason: wire.ReasonInvalidField, msg: `created_at ("2026-10-01"): format: want an RFC 3339 time`},
		{name: "manifest device list with a number", topic: manifestTopic, body: validManifest(func(m map[string]any) { m["devices"] = []any{"FC-1", 7} }),
			reason: wire.ReasonInvalidField, msg: "devices[1] (7): format: want a JSON string"},
		{name: "CloudEvent sequence as a string", topic: okTopic, body: structured(func(m map[string]any) {
			m["type"], m["device"], m["sequence"] = "gov.cbp.inbond.telemetry.seal.v1", "SEAL-1", "7"
			m["data"] = map[string]any{"seal": "S-1", "state": "intact"}
		}), reason: wire.ReasonInvalidField, msg: `sequence ("7"): format`},

		// Wrong in itself, not a mismatch with the topic.
		{name: "manifest bonded SCAC in lower case", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["carrier"] = map[string]any{"scac": "enbr", "irs_number": "98-7654321CD"}
		}), reason: wire.ReasonInvalidField, msg: `carrier.scac ("enbr"): format`},
		{name: "body carrier in lower case", topic: okTopic, body: meter(func(m, _ map[string]any) { m["carrier"] = "enbr" }),
			reason: wire.ReasonInvalidField, msg: `carrier ("enbr"): format: a SCAC is 2 to 4 upper-case letters`},
		{name: "compact manifest whose body carrier is not the bonded one", topic: manifestTopic, body: []byte(`{"type":"manifest","carrier":"ENBR","time":"2026-10-01T00:00:00Z","data":` +
			string(validManifest(func(m map[string]any) { m["carrier"] = map[string]any{"scac": "TCPL", "irs_number": "98-7654321CD"} })) + `}`),
			reason: wire.ReasonInvalidField, msg: `data.carrier.scac ("TCPL"): consistency: a manifest is published by its bonded carrier, here ENBR`},
		{name: "compact manifest of another bonded carrier than the topic's", topic: manifestTopic, body: []byte(`{"type":"manifest","time":"2026-10-01T00:00:00Z","data":` +
			string(validManifest(func(m map[string]any) { m["carrier"] = map[string]any{"scac": "TCPL", "irs_number": "98-7654321CD"} })) + `}`),
			reason: wire.ReasonTopicMismatch, msg: `carrier "ENBR" in the topic differs from "TCPL" in the body`},
		{name: "quality out of range under another product", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["declared_quality"] = map[string]any{"api_gravity": 32.5, "sulfur_pct": 1.1, "heating_value": 99999}
		}), reason: wire.ReasonInvalidField, msg: "declared_quality.heating_value (99999): range"},
		{name: "volume in scf", topic: okTopic, body: meter(setData("unit", "scf")),
			reason: wire.ReasonBadUnit, msg: `data.unit ("scf"): unit: want one of bbl, m3, mcf, e3m3`},
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
		// There is no topic on Kafka: a body at odds with itself is invalid, not a mismatch.
		{name: "compact manifest on Kafka whose carrier is not the bonded one", topic: "inbond.manifests", key: "SHP-BAD",
			body:   []byte(`{"type":"manifest","shipment":"SHP-BAD","carrier":"TCPL","time":"2026-10-01T00:00:00Z","data":` + string(validManifest(nil)) + `}`),
			reason: wire.ReasonInvalidField, msg: `data.carrier.scac ("ENBR"): consistency`},
		{name: "bare manifest on Kafka without carrier", topic: "inbond.manifests", key: "SHP-BAD",
			body: validManifest(func(m map[string]any) {
				delete(m, "carrier")
				m["hts"] = "2709.00.10"
				m["declared_quality"] = map[string]any{"api_gravity": 20.0, "sulfur_pct": 3.0}
			}),
			reason: wire.ReasonMissingField, msg: "carrier: required"},
		{name: "Kafka meter without time", topic: "inbond.carrier-events", key: "SHP-BAD", body: withShip(func(m, _ map[string]any) { delete(m, "time"); m["seq"] = 10 }),
			reason: wire.ReasonMissingField, msg: "time: required"},
	}
}

// goodInputs are valid inputs in every form, payload type and unit the
// contract takes, with the edge cases that must stay accepted: zeros that
// are values, optional fields left out, escaped names, whitespace.
func goodInputs() []goodInput {
	eventsTopic := strings.Replace(okTopic, "telemetry", "events", 1)
	manifestTopic := strings.Replace(okTopic, "telemetry", "manifest", 1)
	carrierEvent := func(typ, data string) []byte {
		return []byte(`{"type":"` + typ + `","time":"2026-10-02T00:00:00Z","data":` + data + `}`)
	}
	telemetry := func(typ, device, data string) []byte {
		return []byte(`{"type":"` + typ + `","device":"` + device + `","seq":11,"time":"2026-10-01T12:00:00Z","data":` + data + `}`)
	}
	gasManifest := validManifest(func(m map[string]any) {
		m["product"], m["hts"], m["unit"], m["declared_quantity"] = "natural_gas", "2711.21.00", "e3m3", 2800
		m["declared_quality"] = map[string]any{"heating_value": 1030}
	})
	return []goodInput{
		{name: "meter reading", topic: okTopic, body: meter(nil)},
		{name: "meter reading in m3, kPag and C", topic: okTopic, body: meter(func(_, d map[string]any) {
			d["unit"], d["pressure_unit"], d["temperature_unit"], d["pressure"], d["temperature"] = "m3", "kpag", "C", 6200, 15.5
		})},
		{name: "gas meter reading in mcf with a gross totalizer", topic: okTopic, body: meter(func(_, d map[string]any) {
			d["unit"], d["gross_cumulative"] = "mcf", 1300.25
		})},
		{name: "gas meter reading in e3m3", topic: okTopic, body: meter(setData("unit", "e3m3"))},
		{name: "meter reading with no flow and an empty line", topic: okTopic, body: meter(func(_, d map[string]any) {
			d["flow_rate"], d["cumulative"], d["gross_cumulative"], d["pressure"], d["temperature"] = 0, 0, 0, 0, 0
		})},
		{name: "position standing still, due north", topic: okTopic, body: telemetry("position", "GPS-1", `{"lat":48.9,"lon":-97.5,"speed_kmh":0,"heading_deg":0}`)},
		{name: "position on the equator and prime meridian with accuracy", topic: okTopic,
			body: telemetry("position", "GPS-1", `{"lat":0,"lon":0,"speed_kmh":12.5,"heading_deg":359.9,"accuracy_m":4.5}`)},
		{name: "crude quality", topic: okTopic, body: telemetry("quality", "QA-1", `{"meter":"NECHE-1","api_gravity":32.1,"sulfur_pct":1.2,"bsw_pct":0.1}`)},
		{name: "gas quality without a meter", topic: okTopic, body: telemetry("quality", "QA-2", `{"heating_value":1031.5,"h2s_grain_100scf":0.2,"co2_pct":1.1}`)},
		{name: "quality of 0 % CO2", topic: okTopic, body: telemetry("quality", "QA-2", `{"co2_pct":0}`)},
		{name: "seal intact", topic: okTopic, body: telemetry("seal", "SEAL-1", `{"seal":"S-1","state":"intact"}`)},
		{name: "seal opened", topic: okTopic, body: telemetry("seal", "SEAL-1", `{"seal":"S-1","state":"opened"}`)},
		{name: "telemetry with its full type", topic: okTopic, body: telemetry("gov.cbp.inbond.telemetry.seal.v1", "SEAL-1", `{"seal":"S-1","state":"broken"}`)},
		{name: "unnumbered telemetry (seq 0)", topic: okTopic,
			body: []byte(`{"type":"seal","device":"SEAL-1","seq":0,"time":"2026-10-01T12:00:00Z","data":{"seal":"S-1","state":"intact"}}`)},
		{name: "telemetry naming its shipment and carrier and id", topic: okTopic,
			body: []byte(`{"id":"evt-42","type":"seal","shipment":"SHP-BAD","carrier":"ENBR","device":"SEAL-1","time":"2026-10-01T12:00:00Z","data":{"seal":"S-1","state":"intact"}}`)},
		{name: "departed", topic: eventsTopic, body: carrierEvent("departed", `{"port":"3404"}`)},
		{name: "border crossed", topic: eventsTopic, body: carrierEvent("border_crossed", `{"port":"3401","lat":49.0,"lon":-97.2}`)},
		{name: "arrived", topic: eventsTopic, body: carrierEvent("arrived", `{"port":"3802"}`)},
		{name: "diversion requested", topic: eventsTopic, body: carrierEvent("diversion_requested", `{"to":"3801","reason":"refinery outage, déroutement 🛢"}`)},
		{name: "diversion approved", topic: eventsTopic, body: carrierEvent("diversion_approved", `{"to":"3801","authorization":"CBP-2026-0042"}`)},
		{name: "transferred to a conveyance", topic: eventsTopic, body: carrierEvent("transferred", `{"to_carrier":"TCPL","to_conveyance":"TRUCK-7"}`)},
		{name: "transferred", topic: eventsTopic, body: carrierEvent("transferred", `{"to_carrier":"TCPL"}`)},
		{name: "exported", topic: eventsTopic, body: carrierEvent("exported", `{"port":"3004"}`)},
		{name: "delivered in m3 with quality", topic: eventsTopic, body: carrierEvent("delivered", `{"ticket":"T-1","gross":1000,"net":990.5,"unit":"m3","api_gravity":31.8,"sulfur_pct":1.2}`)},
		{name: "delivered nothing", topic: eventsTopic, body: carrierEvent("delivered", `{"ticket":"T-2","gross":0,"net":0,"unit":"bbl"}`)},
		{name: "escaped member names", topic: eventsTopic, body: []byte(`{"typ\u0065":"arrived","time":"2026-10-02T00:00:00Z","data":{"p\u006frt":"3802"}}`)},
		{name: "pretty-printed", topic: eventsTopic, body: []byte("{\n  \"type\": \"arrived\",\n  \"time\": \"2026-10-02T00:00:00Z\",\n  \"data\": { \"port\": \"3802\" }\n}\n")},
		{name: "time with an offset and a fraction", topic: eventsTopic, body: []byte(`{"type":"arrived","time":"2026-10-02T02:00:00.123456+02:00","data":{"port":"3802"}}`)},
		{name: "CloudEvent", topic: eventsTopic, body: structured(nil)},
		{name: "CloudEvent of telemetry with a sequence and no recvtime", topic: okTopic, body: structured(func(m map[string]any) {
			m["type"], m["device"], m["sequence"], m["source"] = "gov.cbp.inbond.telemetry.position.v1", "GPS-1", 5, "urn:inbond:carrier:ENBR:device:GPS-1"
			m["data"] = map[string]any{"lat": 48.9, "lon": -97.5, "speed_kmh": 0, "heading_deg": 0}
			delete(m, "recvtime")
		})},
		{name: "CloudEvent of a manifest", topic: manifestTopic, body: structured(func(m map[string]any) {
			var data map[string]any
			_ = json.Unmarshal(validManifest(nil), &data)
			m["type"], m["data"], m["time"] = "gov.cbp.inbond.manifest.v1", data, "2026-10-01T00:00:00Z"
		})},
		{name: "bare crude pipeline manifest", topic: manifestTopic, body: validManifest(nil)},
		{name: "bare gas pipeline manifest in e3m3", topic: manifestTopic, body: gasManifest},
		{name: "bare truck manifest with its devices", topic: manifestTopic, body: validManifest(func(m map[string]any) {
			m["mode"], m["corridor"], m["devices"], m["declared_quantity"] = "truck", "TRUCK-WILDHORSE-SWEETGRASS", []string{"T-GPS", "T-SEAL"}, 220
			m["hts"], m["declared_quality"] = "2709.00.10", map[string]any{"api_gravity": 20.5, "sulfur_pct": 3.4}
			delete(m, "entry_meter")
			delete(m, "exit_meter")
		})},
		{name: "compact manifest", topic: manifestTopic, body: []byte(`{"type":"manifest","time":"2026-10-01T00:00:00Z","data":` + string(validManifest(nil)) + `}`)},
		{name: "Kafka meter reading", topic: "inbond.carrier-events", key: "SHP-BAD", body: meter(func(m, _ map[string]any) {
			m["shipment"], m["carrier"] = "SHP-BAD", "ENBR"
		})},
		{name: "Kafka carrier event keyed by shipment", topic: "inbond.carrier-events", key: "SHP-BAD",
			body: []byte(`{"type":"arrived","shipment":"SHP-BAD","carrier":"ENBR","time":"2026-10-02T00:00:00Z","data":{"port":"3802"}}`)},
		{name: "Kafka manifest", topic: "inbond.manifests", key: "SHP-BAD", body: validManifest(nil)},
		{name: "Kafka manifest without a key", topic: "inbond.manifests", body: gasManifest},
	}
}
