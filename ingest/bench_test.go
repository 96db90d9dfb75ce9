package ingest_test

import (
	"testing"
	"time"

	"github.com/inbond/inbond/ingest"
)

// BenchmarkDecode measures the gateway's decode path (size check, form
// sniffing, strict decoding, I-JSON checks, unit conversion, validation) on
// the two inputs that dominate its traffic: a compact meter reading on MQTT
// and a bare manifest on the manifest channel.
func BenchmarkDecode(b *testing.B) {
	dec := &ingest.Decoder{Now: func() time.Time { return time.Date(2026, 10, 1, 12, 0, 1, 0, time.UTC) }}
	for _, c := range []struct {
		name, topic string
		body        []byte
	}{
		{"meter", okTopic, meter(nil)},
		{"manifest", "inbond/v1/ENBR/SHP-BAD/manifest", validManifest(nil)},
	} {
		o, err := ingest.MQTTOrigin(c.topic)
		if err != nil {
			b.Fatal(err)
		}
		if _, rej := dec.Decode(o, c.body); rej != nil {
			b.Fatalf("%s refused: %v", c.name, rej)
		}
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, rej := dec.Decode(o, c.body); rej != nil {
					b.Fatal(rej)
				}
			}
		})
	}
}
