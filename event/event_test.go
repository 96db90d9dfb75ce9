package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
)

func ptr(v float64) *float64 { return &v }

func validManifest() *event.Manifest {
	created := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	return &event.Manifest{
		InBondNumber: event.InBondNumber(25770000), EntryType: event.EntryTE, Mode: event.ModePipeline,
		Product: event.ProductCrude, HTS: "2709.00.20", DeclaredQuality: event.Quality{APIGravity: ptr(32), SulfurPct: ptr(1.1)},
		DeclaredQuantity: 500000, Unit: event.VolumeBarrels, Importer: event.Party{Name: "Lakehead Refining LLC", ID: "12-3456789AB"},
		Carrier: event.BondedCarrier{SCAC: "ENBR", IRSNumber: "98-7654321AA"}, CountryOfOrigin: "CA",
		OriginPort: "3404", DestinationPort: "3802", EntryMeter: "NECHE-1", ExitMeter: "PTHURON-1",
		CreatedAt: created, Deadline: created.AddDate(0, 0, 30),
	}
}

func validEnvelope() *event.Envelope {
	t := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	return &event.Envelope{
		SpecVersion: "1.0", ID: "e-1", Source: "urn:inbond:carrier:ENBR:device:FC-1", Type: event.TypeMeter,
		Subject: "SHP-1", PartitionKey: "SHP-1", Time: t, DataContentType: event.ContentTypeJSON, Sequence: 7,
		Carrier: "ENBR", Device: "FC-1", ReceivedTime: t.Add(time.Second),
		Data: &event.MeterReading{Meter: "NECHE-1", FlowRate: 25000, Cumulative: 1000, Unit: event.VolumeBarrels,
			Pressure: 850, PressureUnit: event.PressurePSIG, Temperature: 60, TemperatureUnit: event.TemperatureF},
	}
}

func TestInBondNumberCheckDigit(t *testing.T) {
	// Examples printed with CBP Form 7512's MOD-7 formula.
	for serial, want := range map[int]string{25770003: "257700030", 25770005: "257700052"} {
		if got := event.InBondNumber(serial); got != want {
			t.Errorf("InBondNumber(%d) = %s, want %s", serial, got, want)
		}
	}
	cases := map[string]bool{
		"257700030": true, "257700052": true, "257700053": true, "257700055": true, // +1..+3 for high-volume filers
		"257700056": false, "257700051": false, "25770003": false, "2577000X0": false,
	}
	for n, ok := range cases {
		m := validManifest()
		m.InBondNumber = n
		err := m.Validate()
		if (err == nil) != ok {
			t.Errorf("in-bond %s: valid=%v, want %v (%v)", n, err == nil, ok, err)
		}
	}
}

func TestManifestValidation(t *testing.T) {
	cases := []struct {
		name  string
		mut   func(m *event.Manifest)
		field string
		rule  event.Rule
	}{
		{"valid", func(*event.Manifest) {}, "", ""},
		{"entry type 64", func(m *event.Manifest) { m.EntryType = "64" }, "entry_type", event.RuleOneOf},
		{"mode on foot", func(m *event.Manifest) { m.Mode = "walking" }, "mode", event.RuleOneOf},
		{"pipeline without exit meter", func(m *event.Manifest) { m.ExitMeter = "" }, "exit_meter", event.RuleRequired},
		{"same meters", func(m *event.Manifest) { m.ExitMeter = m.EntryMeter }, "exit_meter", event.RuleConsist},
		{"truck without corridor", func(m *event.Manifest) { m.Mode = event.ModeTruck }, "corridor", event.RuleRequired},
		{"light crude as heavy", func(m *event.Manifest) { m.HTS = "2709.00.10" }, "declared_quality.api_gravity", event.RuleConsist},
		{"HTS malformed", func(m *event.Manifest) { m.HTS = "270900" }, "hts", event.RuleFormat},
		{"gas HTS for crude", func(m *event.Manifest) { m.HTS = "2711.21.00" }, "hts", event.RuleConsist},
		{"zero quantity", func(m *event.Manifest) { m.DeclaredQuantity = 0 }, "declared_quantity", event.RuleRange},
		{"IRS number", func(m *event.Manifest) { m.Carrier.IRSNumber = "987654321" }, "carrier.irs_number", event.RuleFormat},
		{"SCAC lower case", func(m *event.Manifest) { m.Carrier.SCAC = "enbr" }, "carrier.scac", event.RuleFormat},
		{"port code letters", func(m *event.Manifest) { m.DestinationPort = "PHUR" }, "destination_port", event.RuleFormat},
		{"deadline before creation", func(m *event.Manifest) { m.Deadline = m.CreatedAt.Add(-time.Hour) }, "deadline", event.RuleConsist},
		{"country name", func(m *event.Manifest) { m.CountryOfOrigin = "Canada" }, "country_of_origin", event.RuleFormat},
		{"gas without heating value", func(m *event.Manifest) {
			m.Product, m.HTS, m.Unit, m.DeclaredQuality = event.ProductGas, "2711.21.00", event.VolumeMcf, event.Quality{}
		}, "declared_quality.heating_value", event.RuleRequired},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := validManifest()
			c.mut(m)
			err := m.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("valid manifest refused: %v", err)
				}
				return
			}
			var fe *event.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("got %v, want a FieldError on %s", err, c.field)
			}
			found := false
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				if errors.As(e, &fe) && fe.Field == c.field && fe.Rule == c.rule {
					found = true
				}
			}
			if !found {
				t.Fatalf("got %v, want %s on %s", err, c.rule, c.field)
			}
		})
	}
}

func TestFieldErrorMessageNamesFieldValueRule(t *testing.T) {
	e := validEnvelope()
	e.Data.(*event.MeterReading).Unit = "gal"
	err := e.Validate()
	want := `data.unit ("gal"): unit: canonical events carry bbl or mcf`
	if err == nil || err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}

func TestNormalizeConvertsUnits(t *testing.T) {
	e := validEnvelope()
	e.Data = &event.MeterReading{Meter: "M", FlowRate: 10, Cumulative: 100, Unit: event.VolumeM3,
		Pressure: 6894.757293168, PressureUnit: event.PressureKPaG, Temperature: 15, TemperatureUnit: event.TemperatureC}
	if err := event.Normalize(e); err != nil {
		t.Fatal(err)
	}
	m := e.Data.(*event.MeterReading)
	near := func(got, want float64) bool { return got > want-1e-6 && got < want+1e-6 }
	if m.Unit != event.VolumeBarrels || !near(m.Cumulative, 628.9810770432105) || !near(m.FlowRate, 62.89810770432105) {
		t.Errorf("volume: %v %v %v", m.Cumulative, m.FlowRate, m.Unit)
	}
	if m.PressureUnit != event.PressurePSIG || !near(m.Pressure, 1000) {
		t.Errorf("pressure: %v %v", m.Pressure, m.PressureUnit)
	}
	if m.TemperatureUnit != event.TemperatureF || !near(m.Temperature, 59) {
		t.Errorf("temperature: %v %v", m.Temperature, m.TemperatureUnit)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("normalized event invalid: %v", err)
	}
}

func TestRoundTripAndCanonical(t *testing.T) {
	e := validEnvelope()
	b, err := event.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := event.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}
	c1, _ := event.Canonical(e)
	c2, _ := event.Canonical(back)
	if !bytes.Equal(c1, c2) {
		t.Fatalf("canonical bytes differ after a round trip:\n%s\n%s", c1, c2)
	}
	// The same event with keys reordered, spaces and another number spelling
	// has the same canonical bytes.
	var generic map[string]any
	_ = json.Unmarshal(b, &generic)
	pretty, _ := json.MarshalIndent(generic, "", "   ")
	pretty = bytes.Replace(pretty, []byte(`"cumulative": 1000`), []byte(`"cumulative": 1.0e3`), 1)
	other, err := event.Unmarshal(pretty)
	if err != nil {
		t.Fatal(err)
	}
	c3, _ := event.Canonical(other)
	if !bytes.Equal(c1, c3) {
		t.Fatalf("equivalent JSON gave other canonical bytes:\n%s\n%s", c1, c3)
	}
	// The proof is not part of what is hashed.
	e.Proof = "z3sig"
	c4, _ := event.Canonical(e)
	if !bytes.Equal(c1, c4) {
		t.Fatal("proof changed the canonical bytes")
	}
	// Keys are sorted, no insignificant whitespace (RFC 8785).
	if !bytes.HasPrefix(c1, []byte(`{"carrier":"ENBR","data":{"cumulative":1000,`)) || bytes.Contains(c1, []byte(" ")) {
		t.Fatalf("not JCS: %s", c1)
	}
	if strings.Contains(string(c1), "proof") {
		t.Fatal("proof present in canonical bytes")
	}
}

func TestDeriveIDIsStableForRedelivery(t *testing.T) {
	a := event.DeriveID("ENBR", "S1", "FC-1", 7, "telemetry", []byte("x"))
	b := event.DeriveID("ENBR", "S1", "FC-1", 7, "telemetry", []byte("y")) // same device sequence
	c := event.DeriveID("ENBR", "S1", "FC-1", 8, "telemetry", []byte("x"))
	d := event.DeriveID("ENBR", "S1", "", 0, "events", []byte("x"))
	e := event.DeriveID("ENBR", "S1", "", 0, "events", []byte("x "))
	if a != b || a == c || d == e || len(a) != 32 {
		t.Fatalf("ids: %s %s %s %s %s", a, b, c, d, e)
	}
}

func TestTypes(t *testing.T) {
	for _, c := range []struct {
		short string
		kind  event.Kind
	}{{"meter", event.KindTelemetry}, {"position", event.KindTelemetry}, {"arrived", event.KindCarrier},
		{"diversion_approved", event.KindCarrier}, {"manifest", event.KindManifest}} {
		typ, ok := event.TypeFromShort(c.short)
		if !ok || typ.Kind() != c.kind || typ.Short() != c.short {
			t.Errorf("%s: %q %v kind %s", c.short, typ, ok, typ.Kind())
		}
		if p := event.NewPayload(typ); p == nil || p.EventType() != typ {
			t.Errorf("%s: payload %T", c.short, p)
		}
	}
	if _, ok := event.TypeFromShort("teleport"); ok {
		t.Error("unknown short name resolved")
	}
}
