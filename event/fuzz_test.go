package event_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
	"github.com/inbond/inbond/event"
)

// FuzzUnmarshal feeds arbitrary bytes to the canonical-event decoder: it must
// never panic, and whatever it accepts as valid must survive a round trip
// with identical canonical bytes.
func FuzzUnmarshal(f *testing.F) {
	b, _ := event.Marshal(validEnvelope())
	f.Add(b)
	f.Add([]byte(`{"specversion":"1.0","type":"gov.cbp.inbond.telemetry.position.v1","data":{"lat":1e400}}`))
	f.Add([]byte(`{"data":null}`))
	f.Add([]byte(`{"specversion":"1.0","id":"e-<&>\u2028","source":"urn:x","type":"gov.cbp.inbond.telemetry.meter.v1","subject":"S-é","time":"2026-10-01T12:00:00Z","data":{"meter":"M","flow_rate":1e-7,"cumulative":123456789012345678901,"unit":"bbl","pressure":0.1,"pressure_unit":"psig","temperature":-0,"temperature_unit":"F"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := event.Unmarshal(data)
		if err != nil || e.Validate() != nil {
			return
		}
		c1, err := event.Canonical(e)
		if err != nil {
			t.Fatalf("valid event has no canonical form: %v", err)
		}
		out, err := event.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		// The record value is RFC 8785 canonical: an independent JCS
		// implementation leaves it byte for byte as it is.
		if ref, err := jcs.Transform(out); err != nil || !bytes.Equal(ref, out) {
			t.Fatalf("record value is not JCS canonical (%v):\n%s\n%s", err, out, ref)
		}
		back, err := event.Unmarshal(out)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		c2, _ := event.Canonical(back)
		if !bytes.Equal(c1, c2) {
			t.Fatalf("canonical bytes changed in a round trip:\n%s\n%s", c1, c2)
		}
		// The processor's fast decoder reads what the gateways write exactly
		// as the strict one does.
		fast, err := event.UnmarshalCanonical(out)
		if err != nil {
			t.Fatalf("fast decoder refused a canonical event: %v", err)
		}
		c3, _ := event.Canonical(fast)
		if !bytes.Equal(c1, c3) {
			t.Fatalf("fast decoder disagrees with the strict one:\n%s\n%s", c1, c3)
		}
	})
}

// FuzzUnmarshalManifest: the manifest decoder and validator never panic.
func FuzzUnmarshalManifest(f *testing.F) {
	b, _ := json.Marshal(validManifest())
	f.Add(b)
	f.Add([]byte(`{"inbond_number":"257700030","declared_quality":{"api_gravity":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := event.UnmarshalManifest(data)
		if err != nil {
			return
		}
		_ = m.Normalize()
		_ = m.Validate()
	})
}
