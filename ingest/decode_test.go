package ingest_test

import (
	"bytes"
	"github.com/gowebpki/jcs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/wire"
)

// received is the receive time the decoder tests pin.
var received = time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC)

func testDecoder() *ingest.Decoder {
	return &ingest.Decoder{Now: func() time.Time { return received }}
}

// originOf is how the gateways see a case: Kafka for the carriers' Kafka
// topics, MQTT otherwise. ok is false for an MQTT topic the gateway refuses.
func originOf(topic, key string) (o ingest.Origin, ok bool) {
	if key != "" || topic == string(event.TopicCarrierEvents) || topic == string(event.TopicManifests) {
		return ingest.KafkaOrigin(topic, []byte(key)), true
	}
	o, err := ingest.MQTTOrigin(topic)
	return o, err == nil
}

// TestDecodeReasonsAndMessages: every malformed input is refused with its
// exact reason, and where the case names it, a message that names the field,
// the value and the rule.
func TestDecodeReasonsAndMessages(t *testing.T) {
	dec := testDecoder()
	for _, c := range append(mqttBadInputs(), kafkaBadInputs()...) {
		t.Run(c.name, func(t *testing.T) {
			o, ok := originOf(c.topic, c.key)
			if !ok {
				if c.reason != wire.ReasonBadTopic {
					t.Fatalf("topic %q refused, want reason %s", c.topic, c.reason)
				}
				return
			}
			e, rej := dec.Decode(o, c.body)
			if rej == nil {
				t.Fatalf("accepted as %s, want %s", e.Type, c.reason)
			}
			if rej.Reason != c.reason {
				t.Fatalf("reason %s (%v), want %s", rej.Reason, rej.Err, c.reason)
			}
			t.Logf("%s: %.300v", rej.Reason, rej.Err)
			if !strings.Contains(rej.Err.Error(), c.msg) {
				t.Fatalf("message\n %v\ndoes not say\n %s", rej.Err, c.msg)
			}
		})
	}
}

// TestDecoderAccepts: every valid input is accepted, in every form.
func TestDecoderAccepts(t *testing.T) {
	dec := testDecoder()
	for _, c := range goodInputs() {
		o, ok := originOf(c.topic, c.key)
		if !ok {
			t.Fatalf("%s: bad topic %q", c.name, c.topic)
		}
		if _, rej := dec.Decode(o, c.body); rej != nil {
			t.Errorf("%s: refused: %v\n%s", c.name, rej, c.body)
		}
	}
}

// TestAbsentStaysAbsent: an optional field left out is absent from the
// canonical event, not a 0 that was never measured, and a required field
// that is present and 0 is kept.
func TestAbsentStaysAbsent(t *testing.T) {
	dec := testDecoder()
	o, _ := ingest.MQTTOrigin(okTopic)
	e, rej := dec.Decode(o, []byte(`{"type":"quality","device":"QA-1","seq":1,"time":"2026-10-01T12:00:00Z","data":{"heating_value":1030}}`))
	if rej != nil {
		t.Fatal(rej)
	}
	q := e.Data.(*event.QualityReading)
	if q.APIGravity != nil || q.SulfurPct != nil || q.CO2Pct != nil || q.HeatingValue == nil {
		t.Fatalf("quality %+v", q)
	}
	b, _ := event.Marshal(e)
	if !bytes.Contains(b, []byte(`"data":{"heating_value":1030}`)) {
		t.Fatalf("canonical event carries more than was measured: %s", b)
	}
	e, rej = dec.Decode(o, []byte(`{"type":"position","device":"GPS-1","seq":2,"time":"2026-10-01T12:00:00Z","data":{"lat":48.9,"lon":-97.5,"speed_kmh":0,"heading_deg":0}}`))
	if rej != nil {
		t.Fatal(rej)
	}
	b, _ = event.Marshal(e)
	if !bytes.Contains(b, []byte(`"data":{"heading_deg":0,"lat":48.9,"lon":-97.5,"speed_kmh":0}`)) {
		t.Fatalf("present zeros lost or accuracy invented: %s", b)
	}
	// An optional value sent as 0 is a measured 0, not "not reported".
	e, rej = dec.Decode(o, []byte(`{"type":"meter","device":"M-1","seq":3,"time":"2026-10-01T12:00:00Z","data":{"meter":"NECHE-1","flow_rate":0,"cumulative":0,"gross_cumulative":0,"unit":"bbl","pressure":0,"pressure_unit":"psig","temperature":60,"temperature_unit":"F"}}`))
	if rej != nil {
		t.Fatal(rej)
	}
	if m := e.Data.(*event.MeterReading); m.GrossCumulative == nil || *m.GrossCumulative != 0 {
		t.Fatalf("a gross totalizer of 0 was read as %v", m.GrossCumulative)
	}
}

// TestCanonicalEncodingIsStable: the gateways publish, for every valid
// input, exactly the inbond.events bytes of testdata/canonical.golden (one
// line per good input), which are RFC 8785 canonical: the ledger hashes them
// as they are, so a change here forks every chain. Regenerate it only for a
// deliberate change of the format (the last: issue 17, JCS record values).
func TestCanonicalEncodingIsStable(t *testing.T) {
	dec := testDecoder()
	var got bytes.Buffer
	for _, c := range goodInputs() {
		o, _ := originOf(c.topic, c.key)
		e, rej := dec.Decode(o, c.body)
		if rej != nil {
			t.Fatalf("%s: refused: %v", c.name, rej)
		}
		b, err := event.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if ref, err := jcs.Transform(b); err != nil || !bytes.Equal(ref, b) {
			t.Fatalf("%s: the record value is not RFC 8785 canonical (%v):\n%s\n%s", c.name, err, b, ref)
		}
		got.WriteString(c.name + "\t")
		got.Write(b)
		got.WriteByte('\n')
		fast, err := event.UnmarshalCanonical(b)
		if err != nil {
			t.Fatalf("%s: the processor's decoder refuses the canonical event: %v", c.name, err)
		}
		if b2, _ := event.Marshal(fast); !bytes.Equal(b, b2) {
			t.Fatalf("%s: the processor reads another event:\n%s\n%s", c.name, b, b2)
		}
	}
	golden := filepath.Join("testdata", "canonical.golden")
	if os.Getenv("INBOND_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	gotLines, wantLines := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
	for i := range max(len(gotLines), len(wantLines)) {
		var g, w string
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if g != w {
			t.Errorf("canonical bytes changed:\n got %s\nwant %s", g, w)
		}
	}
}

// Commands are what officers do, written by inbond itself: no carrier
// channel accepts one, whatever form it comes in.
func TestCarriersCannotSendCommands(t *testing.T) {
	dec := testDecoder()
	cmd := `"type":"alert","time":"2026-10-01T12:00:00Z","data":{"alert":"abc","action":"resolve","by":"me"}`
	for name, c := range map[string]struct {
		o    func() ingest.Origin
		body string
	}{
		"mqtt events, compact": {func() ingest.Origin { o, _ := ingest.MQTTOrigin("inbond/v1/ENBR/SHP-BAD/events"); return o }, `{` + cmd + `}`},
		"kafka, compact": {func() ingest.Origin { return ingest.KafkaOrigin(string(event.TopicCarrierEvents), []byte("SHP-BAD")) },
			`{"shipment":"SHP-BAD","carrier":"ENBR",` + cmd + `}`},
		"kafka, full type": {func() ingest.Origin { return ingest.KafkaOrigin(string(event.TopicCarrierEvents), []byte("SHP-BAD")) },
			`{"shipment":"SHP-BAD","carrier":"ENBR","type":"gov.cbp.inbond.command.alert.v1","time":"2026-10-01T12:00:00Z","data":{"alert":"abc","action":"resolve","by":"me"}}`},
	} {
		if e, rej := dec.Decode(c.o(), []byte(c.body)); rej == nil || rej.Reason != wire.ReasonWrongChannel {
			t.Errorf("%s: accepted as %v, or refused as %v; want wrong_channel", name, e, rej)
		}
	}
}
