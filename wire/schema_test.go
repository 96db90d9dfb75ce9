package wire_test

import (
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/wire"
)

// Every schema file is JSON with its own name in its $id, declares draft
// 2020-12, and every event type has its payload's schema.
func TestSchemasArePublished(t *testing.T) {
	files, err := fs.Glob(wire.Schemas(), "*.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		b, err := fs.ReadFile(wire.Schemas(), name)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
			Title  string `json:"title"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.ID != wire.SchemaBaseURI+name || s.Title == "" {
			t.Errorf("%s: $schema %q, $id %q, title %q", name, s.Schema, s.ID, s.Title)
		}
	}
	for _, want := range []string{"input", "compact", "cloudevent", "common", "manifest"} {
		if !slices.Contains(files, want+".schema.json") {
			t.Errorf("no %s.schema.json", want)
		}
	}
	for _, typ := range []event.Type{event.TypePosition, event.TypeMeter, event.TypeQuality, event.TypeSeal, event.TypeDeparted,
		event.TypeBorderCrossed, event.TypeArrived, event.TypeDiversionRequested, event.TypeDiversionApproved,
		event.TypeTransferred, event.TypeExported, event.TypeDelivered, event.TypeManifest} {
		name := typ.Short() + ".schema.json"
		if !slices.Contains(files, name) {
			t.Errorf("%s has no schema %s", typ, name)
		}
		b, _ := fs.ReadFile(wire.Schemas(), "compact.schema.json")
		if !strings.Contains(string(b), `"`+string(typ)+`"`) {
			t.Errorf("compact.schema.json does not know %s", typ)
		}
	}
}
