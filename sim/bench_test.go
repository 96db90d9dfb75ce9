package sim_test

import (
	"io"
	"testing"
	"time"

	"github.com/inbond/inbond/sim"
)

// BenchmarkPregenerate measures generating a large random stream and writing
// it as a traffic file, the way `inbond simulate --out` pre-generates events
// for benchmarks and crash tests.
func BenchmarkPregenerate(b *testing.B) {
	for b.Loop() {
		sc, err := sim.RandomScenario(200, 1, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		s, err := sim.Generate(sc, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := sim.WriteMessages(io.Discard, s.Messages); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(s.Messages))/time.Since(start).Seconds(), "events/s")
	}
}
