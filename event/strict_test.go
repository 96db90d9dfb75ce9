package event_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/inbond/inbond/event"
)

// fieldErrors flattens err into its FieldErrors, in order.
func fieldErrors(err error) []*event.FieldError {
	var out []*event.FieldError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *event.FieldError
		if errors.As(e, &fe) {
			out = append(out, fe)
		}
	}
	walk(err)
	return out
}

const goodPosition = `{"lat":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`

// TestDecodeJSONStrict: each way outside input departs from the contract is
// refused with the rule and the field it breaks, and the message names the
// field, the value and the rule.
func TestDecodeJSONStrict(t *testing.T) {
	for _, c := range []struct {
		name  string
		into  func() any
		in    string
		rule  event.Rule // "" for accepted, "syntax" for a *SyntaxError
		field string
		msg   string // a substring of the error's text
	}{
		{"valid", pos, goodPosition, "", "", ""},
		{"present zeros are values", pos, `{"lat":0,"lon":0,"speed_kmh":0,"heading_deg":0}`, "", "", ""},
		{"escaped name is the same name", pos, `{"l\u0061t":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`, "", "", ""},
		{"empty object: every required field", pos, `{}`, event.RuleRequired, "lat", "lat: required: must be present"},
		{"lat absent", pos, `{"lon":-97.5,"speed_kmh":60,"heading_deg":90}`, event.RuleRequired, "lat", "lat: required"},
		{"LAT is not lat", pos, `{"LAT":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`, event.RuleUnknown, "LAT", `names are case-sensitive: did you mean "lat"?`},
		{"duplicate name", pos, `{"lat":48.9,"lat":10,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`, event.RuleDuplicate, "lat", "I-JSON (RFC 7493) names are unique"},
		{"duplicate through an escape", pos, `{"lat":48.9,"l\u0061t":10,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`, event.RuleDuplicate, "lat", "appears more than once"},
		{"duplicate nested", man, `{"importer":{"name":"A","name":"B"}}`, event.RuleDuplicate, "importer.name", "importer.name: duplicate"},
		{"null number", pos, `{"lat":null,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`, event.RuleFormat, "lat", "lat (null): format: want a JSON number"},
		{"number as string", pos, `{"lat":"48.9","lon":-97.5,"speed_kmh":60,"heading_deg":90}`, event.RuleFormat, "lat", `lat ("48.9"): format`},
		{"number beyond a double", pos, `{"lat":1e400,"lon":-97.5,"speed_kmh":60,"heading_deg":90}`, event.RuleRange, "lat", "lat (1e400): range"},
		{"optional pointer null", qual, `{"api_gravity":null}`, event.RuleFormat, "api_gravity", "null"},
		{"time as number", man, manifestWith(`"created_at":1759320000`), event.RuleFormat, "created_at", "created_at (1759320000): format: want an RFC 3339 time"},
		{"time not RFC 3339", man, manifestWith(`"created_at":"2026-10-01 00:00:00Z"`), event.RuleFormat, "created_at", `created_at ("2026-10-01 00:00:00Z")`},
		{"time with offset +24:00", man, manifestWith(`"created_at":"2026-10-01T00:00:00+24:00"`), event.RuleFormat, "created_at", "RFC 3339"},
		{"nested unknown", man, `{"carrier":{"SCAC":"ENBR"}}`, event.RuleUnknown, "carrier.SCAC", `did you mean "scac"?`},
		{"nested missing", man, manifestWith(`"importer":{"name":"Lakehead"}`), event.RuleRequired, "importer.id", "importer.id: required"},
		{"array element of the wrong type", man, manifestWith(`"devices":["GPS-1",7]`), event.RuleFormat, "devices[1]", "devices[1] (7): format: want a JSON string"},
		{"object where a string goes", man, manifestWith(`"hts":{"code":"2709.00.20"}`), event.RuleFormat, "hts", `hts ({"code":"2709.00.20"}): format`},
		{"invalid UTF-8", pos, "{\"lat\":48.9,\"x\":\"\xff\"}", "syntax", "", "invalid UTF-8"},
		{"lone surrogate", pos, `{"lat":48.9,"x":"\ud800"}`, "syntax", "", "surrogate"},
		{"invalid UTF-8 in a name", pos, "{\"l\xffat\":48.9}", "syntax", "", "I-JSON"},
		{"not an object", pos, `[1,2]`, "syntax", "", "want a JSON object, got an array"},
		{"null", pos, `null`, "syntax", "", "got null"},
		{"empty", pos, ``, "syntax", "", "empty body"},
		{"trailing value", pos, goodPosition + ` {}`, "syntax", "", "trailing data"},
		{"truncated", pos, `{"lat":48.9,`, "syntax", "", "unexpected"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := event.DecodeJSON([]byte(c.in), c.into())
			switch c.rule {
			case "":
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			case "syntax":
				var se *event.SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("got %v, want a SyntaxError", err)
				}
			default:
				fes := fieldErrors(err)
				if len(fes) == 0 || fes[0].Rule != c.rule || fes[0].Field != c.field {
					t.Fatalf("got %v, want first %s on %s", err, c.rule, c.field)
				}
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("message %q does not say %q", err, c.msg)
			}
		})
	}
}

func pos() any  { return new(event.Position) }
func qual() any { return new(event.QualityReading) }
func man() any  { return new(event.Manifest) }

// manifestWith is a whole manifest document with one member replaced.
func manifestWith(member string) string {
	b, _ := json.Marshal(validManifest())
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	name, value, _ := strings.Cut(member, ":")
	m[strings.Trim(name, `"`)] = json.RawMessage(value)
	out, _ := json.Marshal(m)
	return string(out)
}

// envelopeWith is a structured CloudEvent with one member added or replaced.
func envelopeWith(member string) string {
	s := `{"specversion":"1.0","id":"e-1","source":"urn:inbond:carrier:ENBR","type":"gov.cbp.inbond.carrier.arrived.v1",` +
		`"subject":"SHP-1","partitionkey":"SHP-1","time":"2026-10-02T00:00:00Z","datacontenttype":"application/json",` +
		`"carrier":"ENBR","data":{"port":"3802"}}`
	if member == "" {
		return s
	}
	return strings.TrimSuffix(s, "}") + "," + member + "}"
}

// TestUnmarshalStrict: the structured form (envelope and payload) is read
// as strictly, with the same rules, fields and messages.
func TestUnmarshalStrict(t *testing.T) {
	replace := func(old, new string) string { return strings.Replace(envelopeWith(""), old, new, 1) }
	for _, c := range []struct {
		in    string
		rule  event.Rule
		field string
		msg   string
	}{
		{envelopeWith(""), "", "", ""},
		{envelopeWith(`"sequence":7`), "", "", ""},
		{envelopeWith(`"sequence":0`), "", "", ""},
		{envelopeWith(`"recvtime":"2026-10-02T00:00:01Z"`), "", "", ""},
		{envelopeWith(`"sequence":7.5`), event.RuleFormat, "sequence", "sequence (7.5): format: want a whole number"},
		{envelopeWith(`"sequence":-1`), event.RuleFormat, "sequence", "sequence (-1)"},
		{envelopeWith(`"sequence":"7"`), event.RuleFormat, "sequence", `sequence ("7"): format: want a JSON number that is a whole number`},
		{envelopeWith(`"recvtime":"yesterday"`), event.RuleFormat, "recvtime", `recvtime ("yesterday"): format: want an RFC 3339 time`},
		{envelopeWith(`"Subject":"SHP-1"`), event.RuleUnknown, "Subject", `did you mean "subject"?`},
		{envelopeWith(`"carrier":"TCPL"`), event.RuleDuplicate, "carrier", "carrier: duplicate"},
		{replace(`"source":"urn:inbond:carrier:ENBR",`, ""), event.RuleRequired, "source", "source: required"},
		{replace(`"time":"2026-10-02T00:00:00Z"`, `"time":1759363200`), event.RuleFormat, "time", "time (1759363200): format: want an RFC 3339 time"},
		{replace(`"data":{"port":"3802"}`, `"data":null`), event.RuleFormat, "data", "data (null): format: want a JSON object"},
		{replace(`{"port":"3802"}`, `{"port":"3802","Port":"3802"}`), event.RuleUnknown, "data.Port", "data.Port: unknown_field"},
		{replace(`{"port":"3802"}`, `{"port":"3802","port":"3803"}`), event.RuleDuplicate, "data.port", "data.port: duplicate"},
		{replace(`{"port":"3802"}`, `{}`), event.RuleRequired, "data.port", "data.port: required"},
	} {
		_, err := event.Unmarshal([]byte(c.in))
		if c.rule == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", c.in, err)
			}
			continue
		}
		fes := fieldErrors(err)
		if len(fes) == 0 || fes[0].Rule != c.rule || fes[0].Field != c.field || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s:\n got %v\nwant %s on %s saying %q", c.in, err, c.rule, c.field, c.msg)
		}
	}
}

// TestRequiredFields lists, per payload, what the contract requires: the
// decisions documented on each type. Decoding {} must name exactly these.
func TestRequiredFields(t *testing.T) {
	want := map[event.Type][]string{
		event.TypePosition:           {"lat", "lon", "speed_kmh", "heading_deg"},
		event.TypeMeter:              {"meter", "flow_rate", "cumulative", "unit", "pressure", "pressure_unit", "temperature", "temperature_unit"},
		event.TypeQuality:            nil,
		event.TypeSeal:               {"seal", "state"},
		event.TypeDeparted:           {"port"},
		event.TypeBorderCrossed:      {"port", "lat", "lon"},
		event.TypeArrived:            {"port"},
		event.TypeDiversionRequested: {"to", "reason"},
		event.TypeDiversionApproved:  {"to", "authorization"},
		event.TypeTransferred:        {"to_carrier"},
		event.TypeExported:           {"port"},
		event.TypeDelivered:          {"ticket", "gross", "net", "unit"},
		event.TypeManifest: {"inbond_number", "entry_type", "mode", "product", "hts", "declared_quality", "declared_quantity",
			"unit", "importer", "carrier", "country_of_origin", "origin_port", "destination_port", "created_at", "deadline"},
	}
	for typ, fields := range want {
		err := event.DecodeJSON([]byte(`{}`), event.NewPayload(typ))
		var got []string
		for _, fe := range fieldErrors(err) {
			if fe.Rule != event.RuleRequired {
				t.Errorf("%s: unexpected %v", typ.Short(), fe)
			}
			got = append(got, fe.Field)
		}
		if !slices.Equal(got, fields) {
			t.Errorf("%s requires %v, want %v", typ.Short(), got, fields)
		}
	}
	// Nested objects have required members too.
	err := event.DecodeJSON([]byte(manifestWith(`"carrier":{}`)), new(event.Manifest))
	var got []string
	for _, fe := range fieldErrors(err) {
		got = append(got, fe.Field)
	}
	if !slices.Equal(got, []string{"carrier.scac", "carrier.irs_number"}) {
		t.Errorf("empty carrier: %v", err)
	}
}

// An optional field that is absent stays absent: nil for a pointer, the
// documented "not reported" zero otherwise; a present 0 stays 0.
func TestOptionalFieldsStayAbsent(t *testing.T) {
	var q event.QualityReading
	if err := event.DecodeJSON([]byte(`{"heating_value":1030}`), &q); err != nil {
		t.Fatal(err)
	}
	if q.HeatingValue == nil || *q.HeatingValue != 1030 || q.APIGravity != nil || q.SulfurPct != nil || q.CO2Pct != nil {
		t.Fatalf("quality %+v", q)
	}
	q = event.QualityReading{}
	if err := event.DecodeJSON([]byte(`{"co2_pct":0}`), &q); err != nil || q.CO2Pct == nil || *q.CO2Pct != 0 {
		t.Fatalf("present 0 lost: %+v, %v", q, err)
	}
	var p event.Position
	if err := event.DecodeJSON([]byte(`{"lat":0,"lon":0,"speed_kmh":0,"heading_deg":0}`), &p); err != nil || p != (event.Position{}) {
		t.Fatalf("zeros: %+v, %v", p, err)
	}
}

func TestIsRFC3339(t *testing.T) {
	for s, ok := range map[string]bool{
		"2026-10-01T12:00:00Z": true, "2026-10-01T12:00:00.5Z": true, "2026-10-01T12:00:00.123456789+05:30": true,
		"2026-10-01T23:59:59-23:59": true, "2024-02-29T00:00:00Z": true,
		"2026-10-01t12:00:00z": false, "2026-10-01 12:00:00Z": false, "2026-10-01T12:00Z": false,
		"2026-10-01T12:00:00,5Z": false, "2026-10-01T12:00:00.Z": false, "2026-10-01T12:00:60Z": false,
		"2026-10-01T24:00:00Z": false, "2026-10-01T12:00:00+24:00": false, "2026-10-01T12:00:00+01:60": false,
		"2026-02-29T00:00:00Z": false, "2026-13-01T00:00:00Z": false, "2026-10-01T12:00:00+0100": false,
		"2026-10-01T12:00:00": false, "+2026-10-01T12:00:00Z": false, "": false,
	} {
		if got := event.IsRFC3339(s); got != ok {
			t.Errorf("IsRFC3339(%q) = %v, want %v", s, got, ok)
		}
	}
}

// FuzzDecodeJSON: whatever the strict pass accepts, encoding/json decodes
// to an identical value, so the pass reads values exactly as the standard
// decoder does; and the pass never panics.
func FuzzDecodeJSON(f *testing.F) {
	seed := func(v any) {
		b, _ := json.Marshal(v)
		f.Add(b)
	}
	seed(validManifest())
	seed(validEnvelope().Data)
	seed(&event.Position{Lat: 48.9, Lon: -97.5, SpeedKmh: 60, HeadingDeg: 90, AccuracyM: ptr(5)})
	f.Add([]byte(`{"lat":1e3,"lon":-0,"speed_kmh":1E-2,"heading_deg":9.99999999999999999999,"accuracy_m":0.1}`))
	f.Add([]byte(`{"api_gravity":32.5,"meter":"M\u00e9-1","heating_value":null}`))
	f.Add([]byte(`{"seal":"S\ud83d\ude00","state":"intact"}`))
	f.Add([]byte(`{"to_carrier":"ENBR","to_conveyance":"\u0041\n"}`))
	types := []func() any{
		func() any { return new(event.Manifest) }, func() any { return new(event.MeterReading) },
		func() any { return new(event.Position) }, func() any { return new(event.QualityReading) },
		func() any { return new(event.SealState) }, func() any { return new(event.Transferred) },
		func() any { return new(event.Delivered) },
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, mk := range types {
			strict := mk()
			if event.DecodeJSON(b, strict) != nil {
				continue
			}
			std := mk()
			if err := json.Unmarshal(b, std); err != nil {
				t.Fatalf("strict accepted %T that encoding/json refuses: %v\n%s", strict, err, b)
			}
			if !reflect.DeepEqual(strict, std) {
				t.Fatalf("%T decoded differently:\nstrict   %+v\nstandard %+v\n%s", strict, strict, std, b)
			}
		}
	})
}

// A hostile body of thousands of faults yields a bounded list, quickly.
func TestDecodeJSONBoundsItsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 20_000 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"x` + strings.Repeat("y", i%7) + string(rune('a'+i%26)) + `":[{"deep":[[[[1]]]]}]`)
	}
	b.WriteString("}")
	err := event.DecodeJSON([]byte(b.String()), new(event.Position))
	fes := fieldErrors(err)
	if len(fes) == 0 || len(fes) > 32 || fes[0].Rule != event.RuleUnknown {
		t.Fatalf("%d field errors, first %v", len(fes), fes[0])
	}
}

// DecodeJSON refuses a destination it cannot fill instead of panicking.
func TestDecodeJSONDestinations(t *testing.T) {
	var p event.Position
	for _, v := range []any{p, (*event.Position)(nil), new(int), new(struct {
		M map[string]int `json:"m"`
	})} {
		if err := event.DecodeJSON([]byte(`{}`), v); err == nil {
			t.Errorf("DecodeJSON into %T: no error", v)
		}
	}
}
