package processor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// entry is a shipment held in memory by its partition's loop.
type entry struct {
	sh      *state.Shipment
	flushed *state.Index // index entries as last flushed; nil when not in Redis yet
	dirty   bool
}

// partitionLoop is the apply loop of one owned partition. It is confined to
// one goroutine: nothing in it is shared.
type partitionLoop struct {
	p          *Processor
	part       int
	label      string
	claim      state.Claim
	cache      map[event.ShipmentID]*entry
	dirty      []*entry
	pending    int   // events read since the last flush
	nextOffset int64 // the offset after the last event read
	log        *zap.Logger
}

// errFenced stops a partition whose claim was taken by another instance.
var errFenced = errors.New("fenced")

// errPositionLost stops a partition whose stored position Redis lost or
// rolled back; its owner claims it again and rebuilds (state.ErrPositionLost).
var errPositionLost = errors.New("stored position lost")

// readBatch is how many already-fetched events are applied together, so new
// shipments are loaded from Redis in one round trip.
const readBatch = 1024

// runPartition owns partition part for as long as the generation lasts. When
// Redis turns out to have lost the partition's position, it throws away what
// it holds in memory and owns the partition afresh from what Redis has: a
// new claim, the stored offset, shipments reloaded as they are met.
func (p *Processor) runPartition(ctx context.Context, gen *kafka.Generation, part int, log *zap.Logger) {
	var epoch int64 // of this instance's last claim of the partition
	for {
		var err error
		epoch, err = p.ownPartition(ctx, gen, part, epoch, log)
		if !errors.Is(err, errPositionLost) || ctx.Err() != nil {
			return
		}
		p.cfg.Metrics.PositionsLost.Inc()
		log.Warn("Redis no longer holds the partition where this owner left it (keys lost or restored from an older copy); claiming it again and rebuilding from the stored offset")
	}
}

// ownPartition claims the partition with an epoch above after, reads it from
// the stored offset and applies it until the generation ends (nil), another
// owner fences it (errFenced) or Redis lost its position (errPositionLost).
// It returns the epoch it claimed.
func (p *Processor) ownPartition(ctx context.Context, gen *kafka.Generation, part int, after int64, log *zap.Logger) (int64, error) {
	m := p.cfg.Metrics
	claim, err := retry(ctx, func() (state.Claim, error) { return p.cfg.Store.Claim(ctx, part, p.cfg.Owner, after) })
	if err != nil {
		return after, nil // the generation ended before Redis answered
	}
	m.OwnedPartitions.Inc()
	defer m.OwnedPartitions.Dec()
	log.Info("partition claimed", zap.Int64("epoch", claim.Epoch), zap.Int64("offset", claim.Offset))

	reader := bus.PartitionReader(p.cfg.Brokers, string(p.cfg.Topic), part, readBatch, func(msg string, args ...any) {
		log.Warn("kafka reader: " + fmt.Sprintf(msg, args...))
	})
	defer reader.Close()
	start := claim.Offset
	if start < 0 {
		start = kafka.FirstOffset
	}
	if err := reader.SetOffset(start); err != nil {
		log.Error("seek", zap.Int64("offset", start), zap.Error(err))
		return claim.Epoch, nil
	}
	msgs := make(chan kafka.Message, 4*readBatch)
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() {
		defer close(msgs)
		for {
			msg, err := reader.FetchMessage(readCtx)
			if err != nil {
				if readCtx.Err() != nil {
					return
				}
				// kafka-go reports a failure and keeps retrying behind it.
				// Returning would release the partition, which ends the
				// generation and rebalances the whole group on every broker
				// blip; reading on rides it out.
				log.Warn("read failed; reading on", zap.Error(err))
				select {
				case <-time.After(time.Second):
					continue
				case <-readCtx.Done():
					return
				}
			}
			select {
			case msgs <- msg:
			case <-readCtx.Done():
				return
			}
		}
	}()

	l := &partitionLoop{p: p, part: part, label: strconv.Itoa(part), claim: claim,
		cache: map[event.ShipmentID]*entry{}, nextOffset: claim.Offset, log: log}
	defer func() { m.Shipments.Sub(float64(len(l.cache))) }()
	err = l.run(ctx, msgs, reader, gen)
	switch {
	case errors.Is(err, errFenced):
		log.Warn("partition taken over by a newer owner; dropping it and its unflushed work", zap.Int64("epoch", claim.Epoch))
	case errors.Is(err, errPositionLost):
		return claim.Epoch, err
	case err != nil:
		log.Error("partition stopped", zap.Error(err))
	default:
		log.Info("partition released", zap.Int64("next_offset", l.nextOffset))
	}
	return claim.Epoch, nil
}

func (l *partitionLoop) run(ctx context.Context, msgs <-chan kafka.Message, reader *kafka.Reader, gen *kafka.Generation) error {
	cfg := l.p.cfg
	ticker := time.NewTicker(cfg.FlushInterval)
	defer ticker.Stop()
	lastCommit, lastCheck := time.Now(), time.Now()
	batch := make([]kafka.Message, 0, readBatch)
	for {
		select {
		case msg, ok := <-msgs:
			if !ok {
				return l.finalFlush()
			}
			batch = append(batch[:0], msg)
		drain:
			for len(batch) < readBatch {
				select {
				case more, ok := <-msgs:
					if !ok {
						break drain
					}
					batch = append(batch, more)
				default:
					break drain
				}
			}
			if err := l.apply(ctx, batch); err != nil {
				return l.finalFlush() // ctx ended while loading; what was applied is flushed
			}
			if l.pending >= cfg.FlushEvents {
				if err := l.flushOrRelease(ctx); err != nil {
					return err
				}
			}
		case <-ticker.C:
			if l.pending > 0 {
				if err := l.flushOrRelease(ctx); err != nil {
					return err
				}
				cfg.Metrics.Lag.WithLabelValues(l.label).Set(float64(max(reader.Lag(), 0)))
				lastCheck = time.Now()
			} else if time.Since(lastCheck) >= positionCheckInterval {
				// An idle partition writes nothing, so without this check a
				// Redis that lost or rolled back its position would go
				// unnoticed, and stay stale, until the next event.
				if err := l.checkPosition(ctx); err != nil {
					return err
				}
				lastCheck = time.Now()
			}
			if time.Since(lastCommit) > time.Second && l.nextOffset >= 0 {
				// Advisory only: lets kafka-consumer-groups and lag exporters see progress.
				_ = gen.CommitOffsets(map[string]map[int]int64{string(cfg.Topic): {l.part: l.nextOffset}})
				lastCommit = time.Now()
			}
		case <-ctx.Done():
			return l.finalFlush()
		}
	}
}

// apply decodes and applies a batch in partition order, loading shipments new
// to this loop from Redis first in one round trip.
func (l *partitionLoop) apply(ctx context.Context, batch []kafka.Message) error {
	m := l.p.cfg.Metrics
	envs := make([]*event.Envelope, len(batch))
	var missing []event.ShipmentID
	for i, msg := range batch {
		e, err := event.UnmarshalCanonical(msg.Value)
		if err != nil {
			m.Events.WithLabelValues(OutcomeUndecodable).Inc()
			l.log.Error("undecodable record on the canonical topic; skipped", zap.Int64("offset", msg.Offset), zap.Error(err))
			continue
		}
		if want := l.p.partitioner.Partition([]byte(e.Subject)); want != l.part {
			m.Events.WithLabelValues(OutcomeMisrouted).Inc()
			l.log.Error("event in a partition its shipment does not hash to; skipped",
				zap.Int64("offset", msg.Offset), zap.String("shipment", string(e.Subject)), zap.Int("want_partition", want))
			continue
		}
		envs[i] = e
		if _, ok := l.cache[e.Subject]; !ok {
			l.cache[e.Subject] = nil // placeholder: loaded below
			missing = append(missing, e.Subject)
		}
	}
	if len(missing) > 0 {
		loaded, err := retry(ctx, func() (map[event.ShipmentID]*state.Shipment, error) {
			return l.p.cfg.Store.Load(ctx, l.part, missing)
		})
		if err != nil {
			for _, id := range missing {
				delete(l.cache, id)
			}
			return err
		}
		for _, id := range missing {
			en := &entry{sh: loaded[id]}
			if en.sh == nil {
				en.sh = state.New(id)
			} else {
				ix := state.IndexOf(en.sh)
				en.flushed = &ix
			}
			l.cache[id] = en
		}
		m.Shipments.Add(float64(len(missing)))
	}
	applied, dups := 0, 0
	for i, e := range envs {
		l.noteGap(batch[i].Offset)
		l.nextOffset = batch[i].Offset + 1
		l.pending++
		if e == nil {
			continue
		}
		en := l.cache[e.Subject]
		outcome, err := state.Apply(en.sh, e)
		if err != nil { // cannot happen: the cache is keyed by subject
			return err
		}
		if outcome == state.Duplicate {
			dups++
			continue
		}
		applied++
		if !en.dirty {
			en.dirty = true
			l.dirty = append(l.dirty, en)
		}
	}
	m.Events.WithLabelValues(OutcomeApplied).Add(float64(applied))
	m.Events.WithLabelValues(OutcomeDuplicate).Add(float64(dups))
	return nil
}

// noteGap reports records between the next offset due and offset, the one
// read. inbond.events is neither compacted nor written transactionally, so
// its offsets have no holes of their own: a gap means retention deleted
// records before they were applied and kafka-go skipped to the log's start.
// Their events can never reach state, and nothing else would say so.
func (l *partitionLoop) noteGap(offset int64) {
	due := max(l.nextOffset, 0) // -1: nothing applied yet, due from the log's first offset
	if offset <= due {
		return
	}
	l.p.cfg.Metrics.SkippedOffsets.Add(float64(offset - due))
	l.log.Error("records of the partition were deleted (retention) before they were applied; their events are missing from state",
		zap.Int64("from_offset", due), zap.Int64("to_offset", offset), zap.Int64("records", offset-due))
}

// flush writes the dirty shipments and the next offset atomically, retrying
// transient Redis errors until ctx ends. It returns errFenced when the
// partition has a newer owner, errPositionLost when Redis no longer holds the
// partition where this owner left it.
func (l *partitionLoop) flush(ctx context.Context) error {
	m := l.p.cfg.Metrics
	changes := make([]state.Change, len(l.dirty))
	for i, en := range l.dirty {
		changes[i] = state.Change{Shipment: en.sh, Before: en.flushed}
	}
	start := time.Now()
	_, err := retry(ctx, func() (struct{}, error) {
		err := l.p.cfg.Store.Flush(ctx, &l.claim, l.nextOffset, changes)
		if errors.Is(err, state.ErrFenced) || errors.Is(err, state.ErrPositionLost) {
			return struct{}{}, backoff.Permanent(err)
		}
		if err != nil {
			m.FlushErrors.Inc()
			l.log.Warn("flush failed; retrying", zap.Error(err))
		}
		return struct{}{}, err
	})
	if lost := l.ownershipLost(err); lost != nil {
		return lost
	}
	if err != nil {
		return err
	}
	latency := time.Since(start)
	m.FlushSeconds.Observe(latency.Seconds())
	if l.p.cfg.OnFlush != nil {
		l.p.cfg.OnFlush(latency, l.pending, len(changes))
	}
	m.FlushEvents.Observe(float64(l.pending))
	m.FlushShipments.Observe(float64(len(changes)))
	for _, en := range l.dirty {
		ix := state.IndexOf(en.sh)
		en.flushed, en.dirty = &ix, false
		if en.sh.Status == state.StatusExported || en.sh.Status == state.StatusConcluded {
			// Finished movements rarely hear more; reload from Redis if they do.
			delete(l.cache, en.sh.ID)
			m.Shipments.Dec()
		}
	}
	l.dirty = l.dirty[:0]
	l.pending = 0
	return nil
}

// positionCheckInterval is how often an idle partition checks that Redis
// still holds its position.
const positionCheckInterval = time.Second

// checkPosition returns errFenced or errPositionLost when Redis no longer
// holds the partition where this owner left it. Other errors are transient
// and left to the next check.
func (l *partitionLoop) checkPosition(ctx context.Context) error {
	err := l.p.cfg.Store.CheckPosition(ctx, l.claim)
	if lost := l.ownershipLost(err); lost != nil {
		return lost
	}
	if err != nil && ctx.Err() == nil {
		l.log.Warn("position check failed; trying again in a second", zap.Error(err))
	}
	return nil
}

// ownershipLost maps the store's refusals to the loop's own errors: errFenced
// when a newer owner claimed the partition, errPositionLost when Redis lost or
// rolled back its position; nil for anything else.
func (l *partitionLoop) ownershipLost(err error) error {
	switch {
	case errors.Is(err, state.ErrFenced):
		l.p.cfg.Metrics.Fenced.Inc()
		return errFenced
	case errors.Is(err, state.ErrPositionLost):
		return errPositionLost
	}
	return nil
}

// flushOrRelease flushes; if ctx ends during the attempt it makes the final
// flush instead, so a release in the middle of a Redis outage still tries.
func (l *partitionLoop) flushOrRelease(ctx context.Context) error {
	err := l.flush(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, errFenced) && !errors.Is(err, errPositionLost) {
		return l.finalFlush()
	}
	return err
}

// finalFlushTimeout bounds the flush made when a partition is released.
const finalFlushTimeout = 10 * time.Second

// finalFlush makes what was applied durable when the partition is released
// (rebalance or shutdown). If the partition was already claimed elsewhere the
// flush is fenced and the work dropped; the new owner re-reads it.
func (l *partitionLoop) finalFlush() error {
	if l.pending == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), finalFlushTimeout)
	defer cancel()
	return l.flush(ctx)
}

// retry runs op with exponential backoff until it succeeds, fails
// permanently, or ctx ends.
func retry[T any](ctx context.Context, op func() (T, error)) (T, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 20*time.Millisecond, 2*time.Second
	return backoff.Retry(ctx, op, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(0))
}
