package processor

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of an event, the values of the `outcome` label.
const (
	OutcomeApplied     = "applied"
	OutcomeDuplicate   = "duplicate"
	OutcomeUndecodable = "undecodable" // not a canonical event: skipped, logged
	OutcomeMisrouted   = "misrouted"   // in a partition its shipment does not hash to: skipped, logged
)

// Metrics are the processor's Prometheus instruments.
type Metrics struct {
	Events          *prometheus.CounterVec // outcome
	FlushSeconds    prometheus.Histogram
	FlushEvents     prometheus.Histogram
	FlushShipments  prometheus.Histogram
	FlushErrors     prometheus.Counter
	Fenced          prometheus.Counter
	PositionsLost   prometheus.Counter
	Generations     prometheus.Counter
	SkippedOffsets  prometheus.Counter
	Lag             *prometheus.GaugeVec // partition
	Shipments       prometheus.Gauge     // shipments held in memory
	CacheEvictions  prometheus.Counter   // clean shipments dropped from memory to keep within Config.CacheShipments
	CachePeak       *prometheus.GaugeVec // partition: the most shipments its loop held at once
	OwnedPartitions prometheus.Gauge
	// StalledPartitions counts partitions behind the log's end whose stored
	// position has not moved for Config.StallAfter: processed by nobody.
	StalledPartitions prometheus.Gauge
	AlertsPublished   prometheus.Counter // alert transitions written to inbond.alerts
	// Checkpoints counts ledger checkpoints cut (into the outbox);
	// CheckpointLeaves their sizes; OutboxPublished every output published.
	Checkpoints      prometheus.Counter
	CheckpointLeaves prometheus.Histogram
	OutboxPublished  *prometheus.CounterVec // topic
}

// NewMetrics creates the instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "inbond", Subsystem: "processor", Name: name, Help: help})
	}
	m := &Metrics{
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "events_total",
			Help: "Events read from inbond.events, by outcome (applied, duplicate, undecodable, misrouted).",
		}, []string{"outcome"}),
		FlushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "flush_seconds",
			Help: "Latency of one atomic flush of state and offset to Redis.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
		FlushEvents: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "flush_events",
			Help: "Events covered by one flush.", Buckets: prometheus.ExponentialBuckets(1, 2, 16),
		}),
		FlushShipments: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "flush_shipments",
			Help: "Shipments written by one flush.", Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		FlushErrors: counter("flush_errors_total",
			"Failed flush attempts (retried); refusals (fenced, position lost) are counted apart."),
		Fenced: counter("fenced_total",
			"Flushes refused because another instance had claimed the partition."),
		PositionsLost: counter("positions_lost_total",
			"Flushes refused because Redis lost or rolled back the partition's stored position; the partition was claimed again and rebuilt."),
		Generations: counter("generations_total",
			"Consumer-group generations this instance joined; each one after the first is a rebalance."),
		SkippedOffsets: counter("skipped_offsets_total",
			"Records of inbond.events deleted by retention before they were applied: events that never reached state."),
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "lag_events",
			Help: "Events between the last read and the end of the partition.",
		}, []string{"partition"}),
		Shipments: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "shipments_in_memory",
			Help: "Shipment states held in memory by this instance.",
		}),
		CacheEvictions: counter("cache_evictions_total",
			"Shipment states, already flushed to Redis, dropped from memory to keep each partition within its cache bound; reloaded from Redis when met again."),
		CachePeak: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "cache_peak_shipments",
			Help: "The most shipment states the partition's loop has held in memory at once since this instance last claimed it; never above the cache bound.",
		}, []string{"partition"}),
		OwnedPartitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "owned_partitions",
			Help: "Partitions this instance currently owns.",
		}),
		AlertsPublished: counter("alerts_published_total",
			"Alert transitions published to inbond.alerts from the partitions' outboxes (a re-publication after a crash counts again)."),
		Checkpoints: counter("checkpoints_total",
			"Ledger checkpoints cut: a partition's interval of inbond.events with the Merkle root over the shipments it changed, written to the outbox."),
		CheckpointLeaves: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "checkpoint_leaves",
			Help: "Shipments (leaves) in one ledger checkpoint.", Buckets: prometheus.ExponentialBuckets(1, 2, 14),
		}),
		OutboxPublished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "outbox_published_total",
			Help: "Outputs published from the partitions' outboxes, by topic (a re-publication after a crash counts again).",
		}, []string{"topic"}),
		StalledPartitions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "inbond", Subsystem: "processor", Name: "stalled_partitions",
			Help: "Partitions of the topic, owned by any instance, whose position in Redis is behind the log's end and has not moved for the stall time: processed by nobody.",
		}),
	}
	reg.MustRegister(m.Events, m.FlushSeconds, m.FlushEvents, m.FlushShipments, m.FlushErrors, m.Fenced, m.PositionsLost, m.Generations, m.SkippedOffsets, m.Lag, m.Shipments,
		m.CacheEvictions, m.CachePeak, m.OwnedPartitions, m.StalledPartitions, m.AlertsPublished,
		m.Checkpoints, m.CheckpointLeaves, m.OutboxPublished)
	return m
}
