package processor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// DefaultGroup is the processors' consumer group when Config.Group is empty.
const DefaultGroup = "inbond-processor"

// Config configures a Processor. Zero durations and counts take the defaults
// named in their comments.
type Config struct {
	Brokers []string
	Group   string      // consumer group (default DefaultGroup)
	Topic   event.Topic // default inbond.events
	// Owner names this instance in claims and logs (default hostname-pid).
	Owner string
	// FlushInterval bounds how long applied events stay only in memory (default 100 ms).
	FlushInterval time.Duration
	// FlushEvents flushes early once this many events were applied since the last flush (default 5000).
	FlushEvents int
	// CacheShipments bounds the shipment states each owned partition holds
	// in memory (default 10,000), so memory stays flat however many
	// shipments pass. Past it, states already flushed to Redis are evicted,
	// least recently used first, and reloaded from Redis when their shipment
	// is met again; eviction never changes state. States changed since the
	// last flush are never evicted: when they alone would leave no room, the
	// partition flushes early. A bound below FlushEvents plus one read batch
	// (1,024) can therefore mean smaller, more frequent flushes (the default
	// never does), and one below the shipments active at once means reloading
	// them from Redis as they come back (one MGET per batch).
	CacheShipments int
	// SessionTimeout bounds how long a silent instance keeps its partitions (default 10 s).
	SessionTimeout time.Duration
	// StallAfter is how long a partition may stay behind the log's end with
	// its stored position unmoved before this instance reports it as
	// processed by nobody (default 30 s: well above a rebalance, with its
	// session timeout, and a replay's first flush; negative disables it).
	StallAfter time.Duration
	// Alerts, when set, runs the deviation rules on every event and on the
	// partitions' event-time clocks, and publishes their transitions to
	// inbond.alerts (nil: no rules).
	Alerts *alerts.Env
	// FrozenClock keeps an idle partition's clock where its last event left
	// it instead of moving it on at wall pace: a replay of recorded traffic
	// then ends at the traffic's last event, deterministically.
	// Timers of shipments that send nothing more then fire only after
	// Processor.Settle.
	FrozenClock bool
	// Lateness is how far behind the clock the watermark that fires timers
	// stays: how much later, in event time, one channel's events may reach
	// the partition than another's (MQTT telemetry and Kafka milestones of
	// one shipment race each other). A timer fires once the clock is past
	// its due time by this much (default 1 min; negative: 0).
	Lateness time.Duration
	// Ledger, when set, hash-chains every shipment's records and cuts
	// checkpoints to inbond.checkpoints (see package ledger).
	Ledger bool
	// CheckpointInterval is how often a partition cuts a checkpoint of the
	// shipments it changed (default 10 s); CheckpointLeaves cuts one early
	// at that many shipments (default 4,096), which bounds the record.
	CheckpointInterval time.Duration
	CheckpointLeaves   int
	Store              *state.Store
	Metrics            *Metrics
	Log                *zap.Logger
	// OnFlush, when set, is called after every successful flush with its
	// latency and size (the benchmark uses it). It runs on partition
	// goroutines, concurrently, and must be cheap.
	OnFlush func(latency time.Duration, events, shipments int)
}

func (c *Config) setDefaults() {
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.Topic == "" {
		c.Topic = event.TopicEvents
	}
	if c.Owner == "" {
		host, _ := os.Hostname()
		c.Owner = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 100 * time.Millisecond
	}
	if c.FlushEvents <= 0 {
		c.FlushEvents = 5000
	}
	if c.CacheShipments <= 0 {
		c.CacheShipments = 10_000
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.Lateness == 0 {
		c.Lateness = time.Minute
	}
	c.Lateness = max(c.Lateness, 0)
	if c.StallAfter == 0 {
		c.StallAfter = 30 * time.Second
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = 10 * time.Second
	}
	if c.CheckpointLeaves <= 0 {
		c.CheckpointLeaves = 4096
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("processor: no Kafka brokers configured")
	case c.Store == nil:
		return errors.New("processor: no state store")
	case c.Metrics == nil:
		return errors.New("processor: no metrics")
	}
	return nil
}

// Processor is one member of the processor group. Build it with New; it is
// the same for `inbond process`, the demo, the tests and the benchmark.
type Processor struct {
	cfg         Config
	partitioner *bus.Partitioner // of the topic, to check each event's routing
	outWriter   *kafka.Writer    // the outboxes' topics; nil without rules or ledger
	// latest is the latest event time (unix ms) any of this instance's
	// partitions applied: with FrozenClock, every idle partition's clock
	// moves up to it, so a replay ends with every clock at the traffic's
	// last event.
	latest atomic.Int64
	// settled is set by Settle: with FrozenClock, silent shipments' timers
	// wait for it.
	settled atomic.Bool
	// cuts are the partitions CutCheckpoints was called for.
	cuts sync.Map // int -> struct{}
}

// Settle tells a processor with FrozenClock that the traffic is in: from now
// on its partitions' clocks stand at the latest event any of them applied,
// and the timers of shipments that sent nothing more fire up to it. A replay
// calls it once every event is applied.
func (p *Processor) Settle() { p.settled.Store(true) }

// CutCheckpoints tells a processor that partition part cuts its open
// ledger checkpoint at its next flush, and from then on at every flush that
// has something to cut. A replay, whose interval never elapses, calls it
// once the traffic is in, one partition after the other, each once the
// previous one's checkpoint is anchored: the log then holds one checkpoint
// a partition (while a partition changes no more than CheckpointLeaves
// shipments), in partition order, each stamped with the traffic's last
// event time, so that it is a function of the traffic alone.
func (p *Processor) CutCheckpoints(part int) { p.cuts.Store(part, struct{}{}) }

func (p *Processor) cutRequested(part int) bool {
	_, ok := p.cuts.Load(part)
	return ok
}

// cutTime is the time a checkpoint cut at wall-clock now is stamped with:
// now, or, in a settled replay, the traffic's last event time (what now is
// to a replay's frozen clocks).
func (p *Processor) cutTime(now time.Time) time.Time {
	if p.cfg.FrozenClock && p.settled.Load() {
		return time.UnixMilli(p.latest.Load()).UTC()
	}
	return now
}

// New validates cfg and returns a processor.
func New(cfg Config) (*Processor, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Processor{cfg: cfg}, nil
}

// ErrPartitionCountChanged is returned by Run when the topic no longer has
// the partition count the processor started with.
var ErrPartitionCountChanged = errors.New("processor: the partition count of the topic changed")

// checkPartitionCount returns ErrPartitionCountChanged unless the topic still
// has want partitions. A shipment's partition is its key's hash modulo the
// count: with another count, new events of most shipments land in partitions
// that do not hold their state and their earlier events, so per-shipment order
// and single ownership both break. Running on would skip them as misrouted;
// stopping keeps them in the log until an operator decides. A failed lookup
// is not a change: the check runs again at the next generation.
func (p *Processor) checkPartitionCount(ctx context.Context, want int) error {
	n, err := bus.PartitionCount(ctx, p.cfg.Brokers, string(p.cfg.Topic))
	if err != nil || n == want {
		return nil
	}
	return fmt.Errorf("%w: %s has %d partitions, %d when this instance started; "+
		"every shipment's events must stay in one partition, so the count of %s must never change "+
		"(recreate it with %d partitions and replay, or rebuild the state from scratch for the new count)",
		ErrPartitionCountChanged, p.cfg.Topic, n, want, p.cfg.Topic, want)
}

// Run joins the group and processes assigned partitions until ctx ends; then
// every partition flushes what it applied and the member leaves the group.
// It returns an error wrapping ErrPartitionCountChanged, after the same clean
// release, if the topic's partition count changes under it.
func (p *Processor) Run(ctx context.Context) error {
	log := p.cfg.Log.With(zap.String("owner", p.cfg.Owner))
	n, err := bus.PartitionCount(ctx, p.cfg.Brokers, string(p.cfg.Topic))
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	p.partitioner = bus.NewPartitioner(n)
	cg, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID:                p.cfg.Group,
		Brokers:           p.cfg.Brokers,
		Topics:            []string{string(p.cfg.Topic)},
		SessionTimeout:    p.cfg.SessionTimeout,
		HeartbeatInterval: p.cfg.SessionTimeout / 10,
		RebalanceTimeout:  p.cfg.SessionTimeout,
		JoinGroupBackoff:  200 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		// A partition added to the topic ends the generation, and the next
		// one refuses to run (see checkPartitionCount).
		WatchPartitionChanges: true,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Debug("consumer group: " + fmt.Sprintf(msg, args...))
		}),
	})
	if err != nil {
		return fmt.Errorf("processor: consumer group: %w", err)
	}
	log.Info("processor joining group", zap.String("group", p.cfg.Group), zap.String("topic", string(p.cfg.Topic)), zap.Int("partitions", n))
	if p.cfg.Alerts != nil || p.cfg.Ledger {
		p.outWriter = bus.NewWriter(p.cfg.Brokers)
		defer p.outWriter.Close() // after every partition's publisher has stopped (wg.Wait below)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cg.Close() // leaves the group; generations end and partitions flush
	if p.cfg.StallAfter > 0 {
		watchCtx, stopWatching := context.WithCancel(ctx)
		defer stopWatching() // before wg.Wait: the watch ends with Run
		w := &stallWatch{p: p, after: p.cfg.StallAfter, log: log}
		wg.Go(func() { w.run(watchCtx, n, min(p.cfg.StallAfter/4, 5*time.Second)) })
	}
	for {
		gen, err := cg.Next(ctx)
		switch {
		case err == nil:
		case ctx.Err() != nil, errors.Is(err, kafka.ErrGroupClosed):
			return nil
		default:
			// Rebalances in progress, unknown member IDs and dial errors are
			// temporary: the group retries the join by itself.
			log.Debug("consumer group: waiting for the next generation", zap.Error(err))
			continue
		}
		if err := p.checkPartitionCount(ctx, n); err != nil {
			log.Error("stopping: the topic's partition count changed", zap.Error(err))
			return err
		}
		assigned := gen.Assignments[string(p.cfg.Topic)]
		p.cfg.Metrics.Generations.Inc()
		log.Info("generation", zap.Int32("id", gen.ID), zap.Int("partitions", len(assigned)))
		for _, a := range assigned {
			wg.Add(1)
			gen.Start(func(gctx context.Context) {
				defer wg.Done()
				p.runPartition(gctx, gen, a.ID, log.With(zap.Int("partition", a.ID)))
			})
		}
	}
}
