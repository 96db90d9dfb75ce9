package anchor

import "github.com/prometheus/client_golang/prometheus"

// Reasons a record of inbond.checkpoints is refused, the values of the
// `reason` label of BadRecords.
const (
	ReasonUndecodable = "undecodable" // not a batch, or its leaves do not give its root
	ReasonInvalid     = "invalid"     // a batch no processor cuts: no leaf, no offset, a negative partition, an entry too large for the log
)

// Metrics are the anchor's Prometheus instruments, named inbond_anchor_*.
type Metrics struct {
	// Appended counts checkpoints appended to the log; Duplicates records
	// whose entry the log already held (re-delivered: their receipts are
	// written again, nothing is appended); Stale records whose range ends at
	// or before what the log holds for their partition (a restatement, e.g.
	// by a processor that rebuilt its state: skipped, no receipt).
	Appended   prometheus.Counter
	Duplicates prometheus.Counter
	Stale      prometheus.Counter
	BadRecords *prometheus.CounterVec // reason
	// Receipts counts receipts stored (a receipt no newer than the stored one
	// is not counted: it was not written).
	Receipts prometheus.Counter
	// Latency is from a checkpoint's cut (Checkpoint.Time) to the signed
	// tree head that first covers it, for appended checkpoints.
	Latency  prometheus.Histogram
	TreeSize prometheus.Gauge
	// Records counts records of inbond.checkpoints done with: their
	// receipts written and the position advanced past them.
	Records prometheus.Counter
	// PositionsLost counts the times Redis no longer held the anchor's
	// position (flushed, restarted without persistence), each followed by a
	// re-read of inbond.checkpoints from its start.
	PositionsLost prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "inbond", Subsystem: "anchor", Name: name, Help: help})
	}
	m := &Metrics{
		Appended:   counter("entries_appended_total", "Checkpoints appended to the transparency log."),
		Duplicates: counter("duplicates_total", "Records of inbond.checkpoints whose entry the log already held (not appended again)."),
		Stale:      counter("stale_total", "Records of inbond.checkpoints ending at or before the log's last checkpoint of their partition (skipped)."),
		BadRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "inbond", Subsystem: "anchor", Name: "bad_records_total",
			Help: "Records of inbond.checkpoints skipped as unreadable or invalid, by reason."}, []string{"reason"}),
		Receipts: counter("receipts_written_total", "Receipts stored in Redis (newer than the one stored before)."),
		Latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "inbond", Subsystem: "anchor", Name: "latency_seconds",
			Help:    "From a checkpoint's cut to its publication in a signed tree head.",
			Buckets: []float64{0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 300}}),
		TreeSize: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "inbond", Subsystem: "anchor", Name: "tree_size",
			Help: "Entries in the log's latest signed tree head."}),
		Records:       counter("records_total", "Records of inbond.checkpoints done with (receipts written, position advanced past them)."),
		PositionsLost: counter("positions_lost_total", "Times Redis lost the anchor's position and inbond.checkpoints was read again from its start."),
	}
	for _, r := range []string{ReasonUndecodable, ReasonInvalid} {
		m.BadRecords.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Appended, m.Duplicates, m.Stale, m.BadRecords, m.Receipts, m.Latency, m.TreeSize, m.Records, m.PositionsLost)
	}
	return m
}
