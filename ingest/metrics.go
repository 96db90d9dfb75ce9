package ingest

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of an input, the values of the `outcome` label.
const (
	OutcomeAccepted     = "accepted"      // forwarded to inbond.events
	OutcomeDeadLettered = "dead_lettered" // written to inbond.dlq
)

// Metrics are the gateways' Prometheus instruments. One Metrics serves any
// number of gateways in a process; the `transport` label tells them apart.
type Metrics struct {
	Messages     *prometheus.CounterVec // transport, outcome: inputs durably handled
	DeadLetters  *prometheus.CounterVec // transport, reason
	WriteSeconds prometheus.Histogram   // one Kafka batch write, retries included
	BatchSize    prometheus.Histogram   // records per Kafka batch
	WriteErrors  prometheus.Counter     // failed batch attempts (each is retried)
}

// NewMetrics creates the instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "ingest", Name: "messages_total",
			Help: "Inputs durably handled, by transport and outcome (accepted or dead_lettered).",
		}, []string{"transport", "outcome"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "ingest", Name: "dead_letters_total",
			Help: "Inputs written to inbond.dlq, by transport and reason code.",
		}, []string{"transport", "reason"}),
		WriteSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "inbond", Subsystem: "ingest", Name: "kafka_write_seconds",
			Help:    "Time to durably write one batch to Kafka (acks=all), retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "inbond", Subsystem: "ingest", Name: "kafka_batch_records",
			Help:    "Records per Kafka batch write.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		WriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "ingest", Name: "kafka_write_errors_total",
			Help: "Failed Kafka batch write attempts; each is retried until it succeeds or the gateway stops.",
		}),
	}
	reg.MustRegister(m.Messages, m.DeadLetters, m.WriteSeconds, m.BatchSize, m.WriteErrors)
	return m
}
