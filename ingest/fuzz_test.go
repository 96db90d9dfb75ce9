package ingest_test

import (
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/wire"
)

// FuzzDecode feeds arbitrary topics and bodies to the gateway decoder: it must
// never panic, must answer with exactly one of an event or a rejection with a
// known reason, and every event it accepts must be valid and encodable.
func FuzzDecode(f *testing.F) {
	f.Add(okTopic, meter(nil))
	f.Add(okTopic, position(48.9))
	f.Add("inbond/v1/ENBR/SHP-BAD/manifest", validManifest(nil))
	f.Add("inbond/v1/ENBR/SHP-BAD/events", structured(nil))
	f.Add("inbond/v1/ENBR/SHP-BAD/events", []byte(`{"type":"delivered","time":"2026-10-02T00:00:00Z","data":{"ticket":"T1","gross":10,"net":11,"unit":"m3"}}`))
	for _, c := range goodInputs() {
		if _, err := ingest.MQTTOrigin(c.topic); err == nil {
			f.Add(c.topic, c.body)
		}
	}
	known := map[wire.Reason]bool{}
	for _, c := range append(mqttBadInputs(), kafkaBadInputs()...) {
		known[c.reason] = true
		if len(c.body) > 8<<10 {
			// A 60 KB seed makes every mutation of it slow, and the fuzzer then
			// misses its own deadline ("context deadline exceeded"); the
			// table tests cover these cases.
			continue
		}
		f.Add(c.topic, c.body)
	}
	dec := &ingest.Decoder{Now: func() time.Time { return time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC) }}
	f.Fuzz(func(t *testing.T, topic string, body []byte) {
		o, err := ingest.MQTTOrigin(topic)
		if err != nil {
			return
		}
		e, rej := dec.Decode(o, body)
		if (e == nil) == (rej == nil) {
			t.Fatalf("want exactly one of event and rejection, got %v and %v", e, rej)
		}
		if rej != nil {
			if !known[rej.Reason] || rej.Err == nil {
				t.Fatalf("rejection with unexpected reason %q: %v", rej.Reason, rej.Err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("accepted an invalid event: %v", err)
		}
		if _, err := event.Canonical(e); err != nil {
			t.Fatalf("accepted event has no canonical form: %v", err)
		}
	})
}
