package event_test

import (
	"testing"

	"github.com/inbond/inbond/event"
)

// BenchmarkDecode compares the strict decoder for outside input with the
// processor's trusted decoder for inbond.events, on a meter reading.
func BenchmarkDecode(b *testing.B) {
	raw, err := event.Marshal(validEnvelope())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("strict", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := event.Unmarshal(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("canonical", func(b *testing.B) {
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := event.UnmarshalCanonical(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCanonical measures the RFC 8785 bytes that will be hashed per event.
func BenchmarkCanonical(b *testing.B) {
	e := validEnvelope()
	for b.Loop() {
		if _, err := event.Canonical(e); err != nil {
			b.Fatal(err)
		}
	}
}
