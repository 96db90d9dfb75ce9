package pipeline_test

import (
	"os"
	"testing"

	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/pipeline"
)

// BenchmarkProcessor streams pre-generated events through in-process Kafka
// into the processor with real Redis, next to the baseline measured in the
// same run. Run: go test ./pipeline -run '^$' -bench Processor -benchtime 1x
func BenchmarkProcessor(b *testing.B) {
	r := testenv.NewRedis(b)
	for b.Loop() {
		res, err := pipeline.Bench(b.Context(), pipeline.BenchConfig{
			Redis: r.Client, Prefix: r.Prefix, Events: 200_000, Shipments: 1000, Out: os.Stdout,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.Processor.PerSecond, "events/s")
		b.ReportMetric(res.Baseline.PerSecond, "baseline-events/s")
		b.ReportMetric(res.Ratio(), "ratio")
		b.ReportMetric(res.Rules.PerSecond, "rules-events/s")
		b.ReportMetric(res.RulesRatio(), "rules-ratio")
		b.ReportMetric(float64(res.Processor.Latency.P50.Microseconds()), "flush-p50-µs")
		b.ReportMetric(float64(res.Processor.Latency.P99.Microseconds()), "flush-p99-µs")
	}
}

// BenchmarkAPI measures the shipment list and one shipment over 10,000
// shipments in state, idle (the baseline) and while the processor ingests
// 10,000 events/s. Run: go test ./pipeline -run '^$' -bench API -benchtime 1x
func BenchmarkAPI(b *testing.B) {
	r := testenv.NewRedis(b)
	for b.Loop() {
		res, err := pipeline.BenchAPI(b.Context(), pipeline.APIBenchConfig{Redis: r.Client, Prefix: r.Prefix, Out: os.Stdout})
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range []struct {
			run  pipeline.APIRun
			name string
		}{{res.Idle, "idle"}, {res.Ingesting, "ingesting"}} {
			b.ReportMetric(float64(m.run.List.P99.Microseconds())/1000, m.name+"-list-p99-ms")
			b.ReportMetric(float64(m.run.One.P99.Microseconds())/1000, m.name+"-one-p99-ms")
		}
		b.ReportMetric(res.Ingesting.Ingested, "ingested-events/s")
	}
}
