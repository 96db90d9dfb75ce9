package ingest_test

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/inbond/inbond/wire"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The published JSON Schemas (wire.Schemas) and the gateways' decoder are
// two statements of one contract. TestSchemasMatchTheDecoder holds them to
// each other on a corpus of valid and invalid bodies: the schema must accept
// exactly the bodies the decoder accepts, except for the differences listed
// here, each with its reason. They are of four kinds:
//
//  1. What depends on where a body arrives, which a schema of the body cannot
//     see: the MQTT topic (bad_topic, topic_mismatch), the channel
//     (wrong_channel), the Kafka record key (key_mismatch), and on Kafka the
//     carrier and shipment that MQTT takes from the topic. A body refused
//     for its origin alone must be valid under the schema (originReasons).
//  2. What depends on the receive time: an observed time at most 24 h ahead
//     of it. The size limit (oversize) is the gateway's setting, not the
//     contract's.
//  3. I-JSON (RFC 7493) rules, which a schema cannot state because a JSON
//     parser applies them before any schema sees the value: unique member
//     names (a validator's parser keeps one of two duplicates), valid UTF-8
//     and whole surrogate pairs (a parser replaces them with U+FFFD).
//  4. Rules JSON Schema cannot express: the in-bond number's MOD-7 check
//     digit; comparisons of two fields (deadline after created_at, entry and
//     exit meters differ, net at most gross, partitionkey equals subject, a
//     manifest's bonded carrier is the event's carrier); and that the decoder
//     takes an integer only as digits (7, not 7.0 or 1e1, which JSON Schema
//     counts as integers). Not in the corpus because they sit on a boundary:
//     converted ranges whose bounds are not exact decimals (°C from °F), and
//     times within an offset's reach of 2000-01-01 or 2200-01-01, where the
//     schema's year pattern and the decoder's UTC bound part.
var schemaExceptions = map[string]string{
	"time far in the future":                                        "2: at most 24 h after the receive time",
	"no shipment anywhere":                                          "1: on Kafka the body or the key must name the shipment",
	"no carrier anywhere":                                           "1: on Kafka the body must name the carrier",
	"manifest in-bond check digit":                                  "4: MOD-7 check digit",
	"compact manifest whose body carrier is not the bonded one":     "4: bonded carrier is the event's carrier",
	"compact manifest on Kafka whose carrier is not the bonded one": "4: bonded carrier is the event's carrier",
	"duplicate seq":                                                 "3: unique names",
	"duplicate data":                                                "3: unique names",
	"duplicate lat in data":                                         "3: unique names",
	"duplicate spelled with an escape":                              "3: unique names",
	"duplicate importer name in manifest":                           "3: unique names",
	"invalid UTF-8 in a diversion reason":                           "3: valid UTF-8",
	"lone surrogate in a diversion reason":                          "3: whole surrogate pairs",
	"pipeline manifest with one meter for both":                     "4: entry and exit meters differ",
	"manifest due before it was created":                            "4: deadline after created_at",
	"delivered more net than gross":                                 "4: net at most gross",
	"CloudEvent whose partitionkey is not its subject":              "4: partitionkey equals subject",
	"seq written 7.0":                                               "4: an integer is digits",
	"seq written 1e1":                                               "4: an integer is digits",
}

// originReasons are refusals for where a body arrived, not for what it says.
var originReasons = map[wire.Reason]bool{
	wire.ReasonBadTopic: true, wire.ReasonWrongChannel: true, wire.ReasonTopicMismatch: true, wire.ReasonKeyMismatch: true,
}

// schemaInputs add to the decoder's cases bodies that exercise the schemas'
// conditional rules: by mode, product, HTS and unit, and text lengths.
func schemaInputs() []goodInput {
	eventsTopic := strings.Replace(okTopic, "telemetry", "events", 1)
	manifestTopic := strings.Replace(okTopic, "telemetry", "manifest", 1)
	man := func(mut func(m map[string]any)) goodInput {
		return goodInput{topic: manifestTopic, body: validManifest(mut)}
	}
	named := func(name string, g goodInput) goodInput { g.name = name; return g }
	mtr := func(mut func(m, data map[string]any)) goodInput { return goodInput{topic: okTopic, body: meter(mut)} }
	ev := func(typ, data string) goodInput {
		return goodInput{topic: eventsTopic, body: []byte(`{"type":"` + typ + `","time":"2026-10-02T00:00:00Z","data":` + data + `}`)}
	}
	tele := func(extra string) goodInput {
		return goodInput{topic: okTopic, body: []byte(`{"type":"seal","device":"SEAL-1",` + extra + `"time":"2026-10-01T12:00:00Z","data":{"seal":"S-1","state":"intact"}}`)}
	}
	return []goodInput{
		named("pipeline manifest without exit meter", man(func(m map[string]any) { delete(m, "exit_meter") })),
		named("pipeline manifest with one meter for both", man(func(m map[string]any) { m["exit_meter"] = m["entry_meter"] })),
		named("truck manifest without corridor", man(func(m map[string]any) { m["mode"] = "truck" })),
		named("truck manifest with an empty corridor", man(func(m map[string]any) { m["mode"], m["corridor"] = "truck", "" })),
		named("crude manifest in mcf", man(func(m map[string]any) { m["unit"] = "mcf" })),
		named("crude manifest in m3", man(func(m map[string]any) { m["unit"] = "m3" })),
		named("crude manifest of 1.6e9 m3", man(func(m map[string]any) { m["unit"], m["declared_quantity"] = "m3", 1.6e9 })),
		named("gas manifest under a crude HTS", man(func(m map[string]any) {
			m["product"], m["unit"], m["declared_quality"] = "natural_gas", "mcf", map[string]any{"heating_value": 1030}
		})),
		named("gas manifest without heating value", man(func(m map[string]any) {
			m["product"], m["unit"], m["hts"] = "natural_gas", "mcf", "2711.11.00"
		})),
		named("crude manifest that also declares a heating value", man(func(m map[string]any) {
			m["declared_quality"] = map[string]any{"api_gravity": 32.5, "sulfur_pct": 1.1, "heating_value": 1030}
		})),
		named("crude manifest without sulfur", man(func(m map[string]any) { m["declared_quality"] = map[string]any{"api_gravity": 32.5} })),
		named("light crude under the heavy HTS", man(func(m map[string]any) { m["hts"] = "2709.00.10" })),
		named("crude of exactly 25° API under the light HTS", man(func(m map[string]any) {
			m["declared_quality"] = map[string]any{"api_gravity": 25, "sulfur_pct": 1.1}
		})),
		named("manifest of no quantity", man(func(m map[string]any) { m["declared_quantity"] = 0 })),
		named("manifest due before it was created", man(func(m map[string]any) { m["deadline"] = "2026-09-30T00:00:00Z" })),
		named("manifest created in 1999", man(func(m map[string]any) { m["created_at"] = "1999-12-01T00:00:00Z" })),
		named("manifest with an empty device list", man(func(m map[string]any) { m["devices"] = []string{} })),
		named("manifest with an importer name of 201 characters", man(func(m map[string]any) {
			m["importer"] = map[string]any{"name": strings.Repeat("é", 201), "id": "12-3456789AB"}
		})),
		named("manifest with an importer name of 200 multi-byte characters", man(func(m map[string]any) {
			m["importer"] = map[string]any{"name": strings.Repeat("é", 200), "id": "12-3456789AB"}
		})),
		named("manifest with entry type 64", man(func(m map[string]any) { m["entry_type"] = "64" })),
		named("manifest from Canada spelled out", man(func(m map[string]any) { m["country_of_origin"] = "Canada" })),
		named("quality with nothing measured", goodInput{topic: okTopic, body: []byte(`{"type":"quality","device":"QA-1","seq":1,"time":"2026-10-01T12:00:00Z","data":{"meter":"NECHE-1"}}`)}),
		named("quality of API gravity 101", goodInput{topic: okTopic, body: []byte(`{"type":"quality","device":"QA-1","seq":2,"time":"2026-10-01T12:00:00Z","data":{"api_gravity":101}}`)}),
		named("meter at 20,000 kPag", mtr(func(_, d map[string]any) { d["pressure"], d["pressure_unit"] = 20000, "kpag" })),
		named("meter at 21,000 kPag", mtr(func(_, d map[string]any) { d["pressure"], d["pressure_unit"] = 21000, "kpag" })),
		named("meter at 3,001 psig", mtr(func(_, d map[string]any) { d["pressure"] = 3001 })),
		named("meter at 148 °C", mtr(func(_, d map[string]any) { d["temperature"], d["temperature_unit"] = 148, "C" })),
		named("meter at 150 °C", mtr(func(_, d map[string]any) { d["temperature"], d["temperature_unit"] = 150, "C" })),
		named("meter totalizer of 1.5e11 m3", mtr(func(_, d map[string]any) { d["cumulative"], d["unit"] = 1.5e11, "m3" })),
		named("meter totalizer of 1.6e11 m3", mtr(func(_, d map[string]any) { d["cumulative"], d["unit"] = 1.6e11, "m3" })),
		named("meter flow of 283,000 e3m3/h", mtr(func(_, d map[string]any) { d["flow_rate"], d["unit"] = 283000, "e3m3" })),
		named("meter flow of 284,000 e3m3/h", mtr(func(_, d map[string]any) { d["flow_rate"], d["unit"] = 284000, "e3m3" })),
		named("meter gross totalizer of 3e10 e3m3", mtr(func(_, d map[string]any) { d["gross_cumulative"], d["unit"] = 3e10, "e3m3" })),
		named("position heading 360.5", goodInput{topic: okTopic, body: []byte(`{"type":"position","device":"GPS-1","seq":4,"time":"2026-10-01T12:00:00Z","data":{"lat":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":360.5}}`)}),
		named("position of unknown accuracy (0)", goodInput{topic: okTopic, body: []byte(`{"type":"position","device":"GPS-1","seq":5,"time":"2026-10-01T12:00:00Z","data":{"lat":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90,"accuracy_m":0}}`)}),
		named("delivered more net than gross", ev("delivered", `{"ticket":"T-1","gross":100,"net":101,"unit":"bbl"}`)),
		named("delivered 1.5e9 m3", ev("delivered", `{"ticket":"T-1","gross":1.5e9,"net":1.5e9,"unit":"m3"}`)),
		named("delivered 1.6e9 m3", ev("delivered", `{"ticket":"T-1","gross":1.6e9,"net":1.6e9,"unit":"m3"}`)),
		named("transferred to a lower-case carrier", ev("transferred", `{"to_carrier":"tcpl"}`)),
		named("transferred to an unnamed conveyance", ev("transferred", `{"to_carrier":"TCPL","to_conveyance":""}`)),
		named("diversion reason of 500 multi-byte characters", ev("diversion_requested", `{"to":"3801","reason":"`+strings.Repeat("€", 500)+`"}`)),
		named("diversion reason of 501 characters", ev("diversion_requested", `{"to":"3801","reason":"`+strings.Repeat("x", 501)+`"}`)),
		named("invalid UTF-8 in a diversion reason", ev("diversion_requested", "{\"to\":\"3801\",\"reason\":\"caf\xe9\"}")),
		named("lone surrogate in a diversion reason", ev("diversion_requested", `{"to":"3801","reason":"\udc00"}`)),
		named("carrier event with an empty device", goodInput{topic: eventsTopic, body: []byte(`{"type":"arrived","device":"","time":"2026-10-02T00:00:00Z","data":{"port":"3802"}}`)}),
		named("compact id of 128 multi-byte characters", tele(`"id":"`+strings.Repeat("é", 128)+`",`)),
		named("compact id of 129 characters", tele(`"id":"`+strings.Repeat("x", 129)+`",`)),
		named("seq written 7.0", tele(`"seq":7.0,`)),
		named("seq written 1e1", tele(`"seq":1e1,`)),
		named("seq beyond 64 bits", tele(`"seq":18446744073709551616,`)),
		named("seq of 2^64-1", tele(`"seq":18446744073709551615,`)),
		named("time on 29 February of a common year", goodInput{topic: okTopic, body: []byte(`{"type":"seal","device":"SEAL-1","time":"2026-02-29T12:00:00Z","data":{"seal":"S-1","state":"intact"}}`)}),
		named("time with an offset of -23:59", goodInput{topic: okTopic, body: []byte(`{"type":"seal","device":"SEAL-1","time":"2026-10-01T12:00:00-23:59","data":{"seal":"S-1","state":"intact"}}`)}),
		named("time in 1999", goodInput{topic: okTopic, body: []byte(`{"type":"seal","device":"SEAL-1","time":"1999-10-01T12:00:00Z","data":{"seal":"S-1","state":"intact"}}`)}),
		named("time with a comma before the fraction", goodInput{topic: okTopic, body: []byte(`{"type":"seal","device":"SEAL-1","time":"2026-10-01T12:00:00,5Z","data":{"seal":"S-1","state":"intact"}}`)}),
		named("CloudEvent whose partitionkey is not its subject", goodInput{topic: eventsTopic, body: structured(func(m map[string]any) { m["partitionkey"] = "SHP-OTHER" })}),
		named("CloudEvent of telemetry without device", goodInput{topic: okTopic, body: structured(func(m map[string]any) {
			m["type"], m["data"] = "gov.cbp.inbond.telemetry.seal.v1", map[string]any{"seal": "S-1", "state": "intact"}
		})}),
		named("CloudEvent with a proof", goodInput{topic: eventsTopic, body: structured(func(m map[string]any) { m["proof"] = "z3sig" })}),
		named("CloudEvent with a short type", goodInput{topic: eventsTopic, body: structured(func(m map[string]any) { m["type"] = "arrived" })}),
		named("CloudEvent of the wrong datacontenttype", goodInput{topic: eventsTopic, body: structured(func(m map[string]any) { m["datacontenttype"] = "text/plain" })}),
	}
}

// inputSchema compiles the published schemas, with format assertions on (as
// the schemas ask), and returns the entry point, input.schema.json.
func inputSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	files, err := fs.Glob(wire.Schemas(), "*.schema.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("schemas: %v %v", files, err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(wire.Schemas(), name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource(wire.SchemaBaseURI+name, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	sch, err := c.Compile(wire.SchemaBaseURI + "input.schema.json")
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return sch
}

// TestSchemasMatchTheDecoder: on every body of the corpus, the schema and
// the decoder agree, except for the documented differences above, each of
// which must still be one (so that the list stays exact).
func TestSchemasMatchTheDecoder(t *testing.T) {
	sch := inputSchema(t)
	dec := testDecoder()
	type sample struct {
		name, topic, key string
		body             []byte
	}
	var corpus []sample
	for _, c := range append(goodInputs(), schemaInputs()...) {
		corpus = append(corpus, sample{c.name, c.topic, c.key, c.body})
	}
	for _, c := range append(mqttBadInputs(), kafkaBadInputs()...) {
		corpus = append(corpus, sample{c.name, c.topic, c.key, c.body})
	}
	names := map[string]bool{}
	agreed, excepted := 0, 0
	for _, c := range corpus {
		if names[c.name] {
			t.Fatalf("two cases named %q", c.name)
		}
		names[c.name] = true
		// The decoder's verdict, and what the schema should then say.
		var reason wire.Reason
		if o, ok := originOf(c.topic, c.key); !ok {
			reason = wire.ReasonBadTopic
		} else if _, rej := dec.Decode(o, c.body); rej != nil {
			reason = rej.Reason
		}
		if reason == wire.ReasonOversize {
			continue // the gateway's limit, not the contract's
		}
		want := reason == "" || originReasons[reason]
		// The schema's verdict: a body that is not JSON at all is refused.
		var schemaErr error
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(c.body))
		if err != nil {
			schemaErr = err
		} else {
			schemaErr = sch.Validate(inst)
		}
		got := schemaErr == nil
		why, isException := schemaExceptions[c.name]
		switch {
		case isException && got == want:
			t.Errorf("%s: listed as a difference (%s), but schema and decoder agree (accept=%v)", c.name, why, got)
		case isException:
			excepted++
		case got != want && got:
			t.Errorf("%s: the schema accepts what the decoder refuses (%s)\n%.400s", c.name, reason, c.body)
		case got != want:
			t.Errorf("%s: the schema refuses what the decoder accepts: %v\n%.400s", c.name, schemaErr, c.body)
		default:
			agreed++
		}
	}
	for name := range schemaExceptions {
		if !names[name] {
			t.Errorf("exception %q names no case of the corpus", name)
		}
	}
	if agreed < 60 {
		t.Errorf("only %d bodies agreed on; the corpus is too small to mean much", agreed)
	}
	t.Logf("%d bodies: schema and decoder agree on %d, differ as documented on %d", len(corpus), agreed, excepted)
}
