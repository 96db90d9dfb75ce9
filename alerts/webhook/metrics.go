package webhook

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the sink's Prometheus metrics.
type Metrics struct {
	// Deliveries counts settled deliveries by target and outcome (delivered,
	// dead_lettered).
	Deliveries *prometheus.CounterVec
	// Attempts counts attempts by target and result (ok, or the Reason).
	Attempts *prometheus.CounterVec
	// DeadLetters counts records written to inbond.alerts.dlq by target and
	// reason (target "" for invalid records).
	DeadLetters *prometheus.CounterVec
	// AttemptSeconds is the duration of one attempt, by target.
	AttemptSeconds *prometheus.HistogramVec
	// DeliverySeconds is the time from fetching a record to settling its
	// delivery to a target (queueing and retries included), by target.
	DeliverySeconds *prometheus.HistogramVec
	// Uncommitted is the number of records fetched and not yet committable.
	Uncommitted prometheus.Gauge
	// CommitErrors counts failed offset commits (each is retried with the
	// next commit; none loses a record).
	CommitErrors prometheus.Counter
}

// NewMetrics returns the sink's metrics registered on reg (none when reg is
// nil). It panics if they are registered there already.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "webhook", Name: "deliveries_total",
			Help: "Deliveries settled, by target and outcome (delivered or dead_lettered).",
		}, []string{"target", "outcome"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "webhook", Name: "attempts_total",
			Help: "Delivery attempts, by target and result (ok, http_status, timeout, transport).",
		}, []string{"target", "result"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "webhook", Name: "dead_letters_total",
			Help: "Records written to inbond.alerts.dlq, by target and reason.",
		}, []string{"target", "reason"}),
		AttemptSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "inbond", Subsystem: "webhook", Name: "attempt_seconds",
			Help:    "Duration of one delivery attempt (request to the end of the answer), by target.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"target"}),
		DeliverySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "inbond", Subsystem: "webhook", Name: "delivery_seconds",
			Help:    "Time from fetching a record to settling its delivery to a target, queueing and retries included, by target.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 20),
		}, []string{"target"}),
		Uncommitted: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "inbond", Subsystem: "webhook", Name: "uncommitted_records",
			Help: "Records of inbond.alerts fetched and not yet committable (some matching target has not settled them, or an earlier record of their partition).",
		}),
		CommitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "webhook", Name: "commit_errors_total",
			Help: "Failed offset commits; the next commit covers their offsets.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Deliveries, m.Attempts, m.DeadLetters, m.AttemptSeconds, m.DeliverySeconds, m.Uncommitted, m.CommitErrors)
	}
	return m
}

// Instrument counts each attempt of next by result and times it. An attempt
// cut short because ctx ended is not counted.
func Instrument(m *Metrics) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) error {
			start := time.Now()
			err := next(ctx, d)
			if err != nil && ctx.Err() != nil {
				return err
			}
			result := "ok"
			var ae *AttemptError
			if errors.As(err, &ae) {
				result = string(ae.Reason)
			} else if err != nil {
				result = string(ReasonTransport)
			}
			m.Attempts.WithLabelValues(d.Target.Name, result).Inc()
			m.AttemptSeconds.WithLabelValues(d.Target.Name).Observe(time.Since(start).Seconds())
			return err
		}
	}
}
