package processor

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"go.uber.org/zap"
)

// stallWatch finds partitions that nobody processes: Redis holds their
// position behind the log's end and it has not moved for Config.StallAfter.
// That is what a member the group never times out looks like from outside
// (kfake kept a SIGKILLed joiner for ever; a broker bug or a wedged instance
// would do the same on Kafka), and also a partition whose owner is stuck on
// Redis. Every instance watches every partition, so the survivors see the
// partitions of a ghost. It only reads and reports; it never takes a
// partition, which remains the group's decision.
type stallWatch struct {
	p     *Processor
	after time.Duration
	log   *zap.Logger
	// since is, per partition, the stored offset last seen and when it was
	// first seen there while the partition was behind. Confined to run.
	seen    []int64
	since   []time.Time
	stalled []int // as last reported
}

// run checks every interval until ctx ends.
func (w *stallWatch) run(ctx context.Context, partitions int, interval time.Duration) {
	w.seen, w.since = make([]int64, partitions), make([]time.Time, partitions)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			w.check(ctx, now)
		}
	}
}

// check compares the stored offsets with the log's ends once. A failed
// lookup leaves the last verdict standing until the next check.
func (w *stallWatch) check(ctx context.Context, now time.Time) {
	ends, err := bus.EndOffsets(ctx, w.p.cfg.Brokers, string(w.p.cfg.Topic))
	if err != nil || len(ends) != len(w.seen) {
		return
	}
	stored, err := w.p.cfg.Store.Offsets(ctx, len(ends))
	if err != nil {
		return
	}
	var stalled []int
	for part, end := range ends {
		behind := max(stored[part], 0) < end
		switch {
		case !behind:
			w.since[part] = time.Time{}
		case w.since[part].IsZero() || stored[part] != w.seen[part]:
			w.since[part] = now // behind, and moving or newly behind
		case now.Sub(w.since[part]) >= w.after:
			stalled = append(stalled, part)
		}
		w.seen[part] = stored[part]
	}
	w.p.cfg.Metrics.StalledPartitions.Set(float64(len(stalled)))
	if slices.Equal(stalled, w.stalled) {
		return
	}
	w.stalled = stalled
	if len(stalled) == 0 {
		w.log.Info("every partition of the topic is processed again")
		return
	}
	behind := make([]string, len(stalled))
	for i, part := range stalled {
		behind[i] = strconv.Itoa(part) + ": stored " + strconv.FormatInt(stored[part], 10) + ", end " + strconv.FormatInt(ends[part], 10)
	}
	w.log.Warn("partitions behind the log and not advancing: no member of the group processes them "+
		"(a member that died but was never timed out, or an owner stuck); check the group with kafka-consumer-groups --describe",
		zap.Ints("partitions", stalled), zap.Strings("positions", behind), zap.Duration("for_at_least", w.after))
}
