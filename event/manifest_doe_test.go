package event_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/inbond/inbond/event"
)

// The DOE fields (authorization, processing) are optional: a manifest
// without them encodes as before (its hash is unchanged), one with them
// decodes strictly and validates.
func TestManifestDOEFields(t *testing.T) {
	m := validManifest()
	e := validEnvelope()
	e.Type, e.Device, e.Sequence, e.Data = event.TypeManifest, "", 0, m
	plain, err := event.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain, []byte("processing")) || bytes.Contains(plain, []byte("authorization")) {
		t.Fatalf("a manifest without DOE fields encodes them: %s", plain)
	}
	m.Authorization = "FE 24-101-NG"
	m.Processing = event.Facility{Company: "Lakehead Refining LLC", Name: "Superior Refinery", State: "WI"}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := event.UnmarshalManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	if got.Authorization != m.Authorization || got.Processing != m.Processing {
		t.Fatalf("round trip: %+v", got)
	}
	got.Processing.State = "Wisconsin"
	if err := got.Validate(); err == nil || !strings.Contains(err.Error(), "processing.state") {
		t.Fatalf("a bad state validates: %v", err)
	}
	partial := strings.Replace(string(b), `"name":"Superior Refinery",`, "", 1)
	if _, err := event.UnmarshalManifest([]byte(partial)); err == nil || !strings.Contains(err.Error(), "processing.name") {
		t.Fatalf("a facility without its name decodes: %v", err)
	}
}
