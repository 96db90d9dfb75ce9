package processor

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/retry"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// entry is a shipment held in memory by its partition's loop.
type entry struct {
	sh      *state.Shipment
	flushed *state.Index // index entries as last flushed; nil when not in Redis yet
	// dirty marks a state changed since the last flush: it is in the loop's
	// dirty list and must stay in memory until a flush writes it. A clean
	// entry is in the loop's eviction order instead (prev, next).
	dirty      bool
	prev, next *entry
	step       uint64 // the last apply step that met it; its entries are not evicted
	// watch is what the rules keep about the shipment (nil when the rules
	// are off); flushed with the state. watchChanged marks transitions.
	watch        *alerts.Watch
	watchChanged bool
	// link is the shipment's place in its ledger chain (with the ledger
	// on); linkChanged marks it moved since the last flush.
	link        ledger.Link
	linkChanged bool
}

// evictionOrder lists a loop's clean entries, most recently used first: an
// intrusive ring around root, so keeping the order allocates nothing.
type evictionOrder struct {
	root entry // root.next is the most recently used, root.prev the least
	n    int
}

func (o *evictionOrder) init() { o.root.next, o.root.prev = &o.root, &o.root }

func (o *evictionOrder) pushFront(en *entry) {
	en.prev, en.next = &o.root, o.root.next
	o.root.next.prev = en
	o.root.next = en
	o.n++
}

func (o *evictionOrder) remove(en *entry) {
	en.prev.next, en.next.prev = en.next, en.prev
	en.prev, en.next = nil, nil
	o.n--
}

func (o *evictionOrder) moveToFront(en *entry) {
	if o.root.next != en {
		o.remove(en)
		o.pushFront(en)
	}
}

// oldest returns the least recently used clean entry, nil if there is none.
func (o *evictionOrder) oldest() *entry {
	if o.n == 0 {
		return nil
	}
	return o.root.prev
}

// partitionLoop is the apply loop of one owned partition. It is confined to
// one goroutine: nothing in it is shared.
//
// Its cache holds at most Config.CacheShipments shipments, never more, not
// even between loading and applying a batch. Every entry is either dirty (in
// dirty, awaiting a flush) or clean (in clean, equal to what Redis holds).
// Only clean entries are evicted, least recently used first, to make room for
// shipments a batch meets that are not in memory; when the dirty ones leave
// too little room, the loop flushes first, which makes them all clean.
// Eviction therefore never changes state: a clean entry's state and index
// entries are exactly those of the last flush that wrote it (or absent from
// Redis, for a shipment no event changed, which loads as state.New), and a
// shipment met again is reloaded from Redis before its next event is applied,
// the same path a shipment new to the loop takes. Equal states give equal
// bytes (state.Apply is pure, the stored form round-trips), so a bounded
// cache flushes the same bytes as an unbounded one. Should Redis have lost or
// rolled back the partition meanwhile, a reload reads that other state, but
// nothing computed from it lands: the next flush fails the position check
// (errPositionLost) and the partition is rebuilt from the stored offset.
type partitionLoop struct {
	p          *Processor
	part       int
	label      string
	claim      state.Claim
	bound      int // Config.CacheShipments
	cache      map[event.ShipmentID]*entry
	dirty      []*entry
	clean      evictionOrder
	step       uint64            // counts apply steps, to mark the entries one meets
	peak       int               // the most entries cache has held
	pending    int               // events read since the last flush
	nextOffset int64             // the offset after the last event read
	envs       []*event.Envelope // apply's decoded step, kept for its capacity
	missing    []event.ShipmentID
	alerting   *alerting     // nil when the rules are off
	chaining   *chaining     // nil when the ledger is off
	kick       chan struct{} // wakes the outbox publisher after a flush
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
	claim, err := retry.Forever(ctx, retry.Default, func() (state.Claim, error) { return p.cfg.Store.Claim(ctx, part, p.cfg.Owner, after) })
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
	fetched := make(chan struct{}) // closed when the fetch goroutine has returned
	// The fetch goroutine is the reader's only other user. Deferred after
	// reader.Close, this runs before it: the goroutine is stopped and has
	// returned before the reader closes, so no fetch is ever in flight on a
	// closed reader, and when ownPartition returns (to runPartition, which
	// may claim the partition again at once with a new reader) nothing of
	// this ownership runs on.
	defer func() {
		stopReading()
		<-fetched
	}()
	go func() {
		defer close(fetched)
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

	l := &partitionLoop{p: p, part: part, label: strconv.Itoa(part), claim: claim, bound: p.cfg.CacheShipments,
		cache: map[event.ShipmentID]*entry{}, nextOffset: claim.Offset, log: log}
	l.clean.init()
	if p.cfg.Alerts != nil {
		timers, err := retry.Forever(ctx, retry.Default, func() (map[event.ShipmentID]int64, error) { return p.cfg.Store.Timers(ctx, part) })
		if err != nil {
			return claim.Epoch, nil // the generation ended before Redis answered
		}
		l.alerting = newAlerting(p.cfg.Alerts, p.cfg.FrozenClock, &p.settled, p.cfg.Lateness, &p.latest, claim.Clock, timers)
	}
	if p.cfg.Ledger {
		if l.chaining, err = p.loadChaining(ctx, claim); err != nil {
			if ctx.Err() == nil {
				log.Error("open checkpoint not readable; releasing the partition", zap.Error(err))
			}
			return claim.Epoch, nil
		}
	}
	if l.alerting != nil || l.chaining != nil {
		l.kick = make(chan struct{}, 1)
		released := make(chan struct{})
		published := make(chan struct{})
		go func() {
			defer close(published)
			p.publishOutbox(claim, l.kick, released, log)
		}()
		// Runs once run has returned, after its final flush: the publisher
		// publishes what is left and stops (within a bound; what it could not
		// publish stays in the outbox for the next owner). Nothing of this
		// ownership outlives ownPartition.
		defer func() {
			close(released)
			<-published
		}()
	}
	m.CachePeak.WithLabelValues(l.label).Set(0)
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
			for rest := batch; len(rest) > 0; {
				n, err := l.apply(ctx, rest)
				if err != nil {
					return l.finalFlush() // ctx ended while loading; what was applied is flushed
				}
				rest = rest[n:]
				// The rest meets more shipments than the cache holds beside
				// the unflushed ones: flushed, those can be evicted. An alert
				// waiting to be published is flushed at once: officers see it
				// within milliseconds, not at the next interval.
				if len(rest) > 0 || l.pending >= cfg.FlushEvents || l.alerting != nil && l.alerting.transitions > 0 || l.chaining != nil && l.chaining.full() {
					if err := l.flushOrRelease(ctx); err != nil {
						return err
					}
				}
			}
		case now := <-ticker.C:
			if l.alerting != nil {
				if due := l.alerting.idle(now); len(due) > 0 {
					if err := l.fireTimers(ctx, due); err != nil {
						return err
					}
				}
			}
			if l.pending > 0 || l.chaining != nil && l.chaining.due(now) {
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

// apply decodes and applies the longest prefix of batch whose shipments the
// cache can hold beside its dirty entries, in partition order, and returns
// its length. Shipments the prefix meets that are not in memory are loaded
// from Redis first, in one round trip, after clean entries it does not meet
// were evicted to make room. The prefix is shorter than batch only when the
// dirty entries leave too little room; it is empty only when they fill the
// cache, which a flush resolves, so a flush and another call always progress.
func (l *partitionLoop) apply(ctx context.Context, batch []kafka.Message) (int, error) {
	m := l.p.cfg.Metrics
	l.step++
	envs, missing := l.envs[:0], l.missing[:0]
	defer func() {
		clear(envs) // hold no event past its step
		l.envs, l.missing = envs[:0], missing[:0]
	}()
	held := len(l.dirty) // entries that must be in memory for this step: dirty, and those it meets
	n := 0
	for ; n < len(batch); n++ {
		msg := batch[n]
		e, err := event.UnmarshalCanonical(msg.Value)
		if err != nil {
			m.Events.WithLabelValues(OutcomeUndecodable).Inc()
			l.log.Error("undecodable record on the canonical topic; skipped", zap.Int64("offset", msg.Offset), zap.Error(err))
			envs = append(envs, nil)
			continue
		}
		if want := l.p.partitioner.Partition([]byte(e.Subject)); want != l.part {
			m.Events.WithLabelValues(OutcomeMisrouted).Inc()
			l.log.Error("event in a partition its shipment does not hash to; skipped",
				zap.Int64("offset", msg.Offset), zap.String("shipment", string(e.Subject)), zap.Int("want_partition", want))
			envs = append(envs, nil)
			continue
		}
		en, ok := l.cache[e.Subject]
		switch {
		case !ok:
			if held >= l.bound {
				return l.applyPrefix(ctx, batch[:n], envs, missing)
			}
			held++
			l.cache[e.Subject] = nil // placeholder: loaded below
			missing = append(missing, e.Subject)
		case en != nil && !en.dirty && en.step != l.step:
			if held >= l.bound {
				return l.applyPrefix(ctx, batch[:n], envs, missing)
			}
			held++
			en.step = l.step
			l.clean.moveToFront(en)
		}
		envs = append(envs, e)
	}
	return l.applyPrefix(ctx, batch, envs, missing)
}

// applyPrefix loads missing, the shipments of prefix not in memory (held in
// the cache as nil placeholders), and applies envs, the decoded prefix (nil
// for a skipped record).
func (l *partitionLoop) applyPrefix(ctx context.Context, prefix []kafka.Message, envs []*event.Envelope, missing []event.ShipmentID) (int, error) {
	m := l.p.cfg.Metrics
	if len(missing) > 0 {
		l.evict()
		if err := l.load(ctx, missing); err != nil {
			return 0, err
		}
		if len(l.cache) > l.peak {
			l.peak = len(l.cache)
			m.CachePeak.WithLabelValues(l.label).Set(float64(l.peak))
		}
	}
	applied, dups := 0, 0
	for i, e := range envs {
		l.noteGap(prefix[i].Offset)
		l.nextOffset = prefix[i].Offset + 1
		l.pending++
		if e == nil {
			continue
		}
		en := l.cache[e.Subject]
		outcome, err := state.Apply(en.sh, e)
		if err != nil { // cannot happen: the cache is keyed by subject
			return 0, err
		}
		if l.chaining != nil {
			// Every record of the shipment is chained, a duplicate too: the
			// chain is the history as the log holds it.
			l.chaining.chain(en, prefix[i].Value)
			l.markDirty(en)
		}
		if l.alerting != nil {
			// The rules see duplicates too (a replayed sequence number is
			// one), and may change their memory on any event.
			l.alerting.observe(en, e, outcome == state.Applied, l.log)
			l.markDirty(en)
		}
		if outcome == state.Duplicate {
			dups++
			continue
		}
		applied++
		l.markDirty(en)
	}
	m.Events.WithLabelValues(OutcomeApplied).Add(float64(applied))
	m.Events.WithLabelValues(OutcomeDuplicate).Add(float64(dups))
	return len(prefix), nil
}

// load reads the shipments ids (and, with the rules on, their watches) from
// Redis into the cache as clean entries met at this step. On an error (ctx
// ended) none of them is in the cache.
func (l *partitionLoop) load(ctx context.Context, ids []event.ShipmentID) error {
	var suffixes []func(event.ShipmentID) string
	if l.alerting != nil {
		suffixes = append(suffixes, alerts.WatchSuffix)
	}
	if l.chaining != nil {
		suffixes = append(suffixes, ledger.ChainSuffix)
	}
	type loaded struct {
		states  map[event.ShipmentID]*state.Shipment
		records [][][]byte
	}
	got, err := retry.Forever(ctx, retry.Default, func() (loaded, error) {
		states, records, err := l.p.cfg.Store.LoadWith(ctx, l.part, ids, suffixes...)
		return loaded{states, records}, err
	})
	if err == nil {
		err = l.admit(ids, got.states, got.records)
	}
	if err != nil {
		for _, id := range ids {
			if en := l.cache[id]; en != nil {
				l.clean.remove(en)
			}
			delete(l.cache, id)
		}
		return err
	}
	l.p.cfg.Metrics.Shipments.Add(float64(len(ids)))
	return nil
}

// admit puts the loaded shipments ids into the cache as clean entries met at
// this step, with their watch and chain link from records (LoadWith's, in
// load's suffix order).
func (l *partitionLoop) admit(ids []event.ShipmentID, states map[event.ShipmentID]*state.Shipment, records [][][]byte) error {
	var watches, links [][]byte
	if l.alerting != nil {
		watches, records = records[0], records[1:]
	}
	if l.chaining != nil {
		links = records[0]
	}
	for i, id := range ids {
		en := &entry{sh: states[id], step: l.step}
		if en.sh == nil {
			en.sh = state.New(id)
		} else {
			ix := state.IndexOf(en.sh)
			en.flushed = &ix
		}
		l.cache[id] = en
		l.clean.pushFront(en)
		if watches != nil {
			w, err := decodeWatch(id, watches[i])
			if err != nil {
				return err
			}
			en.watch = w
		}
		if links != nil && links[i] != nil {
			if err := en.link.UnmarshalBinary(links[i]); err != nil {
				return fmt.Errorf("chain link of %s: %w", id, err)
			}
		}
	}
	return nil
}

// markDirty moves en from the eviction order to the flush's list.
func (l *partitionLoop) markDirty(en *entry) {
	if !en.dirty {
		en.dirty = true
		l.clean.remove(en)
		l.dirty = append(l.dirty, en)
	}
}

// fireTimers ticks the shipments whose timers the idle clock has passed,
// loading those not in memory, and flushes what they changed.
func (l *partitionLoop) fireTimers(ctx context.Context, ids []event.ShipmentID) error {
	var missing []event.ShipmentID
	for _, id := range ids {
		if l.cache[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		if err := l.load(ctx, missing); err != nil {
			return nil // ctx ended; the timers fire at the next owner's first check
		}
	}
	for _, id := range ids {
		en := l.cache[id]
		l.alerting.fireOwn(en, l.alerting.watermark(), l.log)
		l.markDirty(en)
	}
	if err := l.flushOrRelease(ctx); err != nil {
		return err
	}
	l.evict()
	return nil
}

// kickPublisher wakes the outbox publisher, if it sleeps.
func (l *partitionLoop) kickPublisher() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// evict drops clean entries, least recently used first, until the cache,
// placeholders included, holds at most the bound. It never drops a dirty
// entry (they are not in the eviction order) nor one the current step meets.
func (l *partitionLoop) evict() {
	evicted := 0
	for len(l.cache) > l.bound {
		en := l.clean.oldest()
		if en == nil || en.step == l.step {
			break // cannot happen: apply's prefix fits beside the dirty entries
		}
		l.clean.remove(en)
		delete(l.cache, en.sh.ID)
		evicted++
	}
	if evicted > 0 {
		l.p.cfg.Metrics.CacheEvictions.Add(float64(evicted))
		l.p.cfg.Metrics.Shipments.Sub(float64(evicted))
	}
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
	extra := &state.Extra{}
	if l.alerting != nil {
		extra = l.alerting.extra(l.dirty)
	}
	now := time.Now()
	var cut *ledger.Batch
	if l.chaining != nil {
		var err error
		if cut, err = l.chaining.extra(extra, l.nextOffset, now, l.p.cutTime(now)); err != nil {
			return err // cannot happen: the open checkpoint's leaves are one per shipment
		}
	}
	start := time.Now()
	_, err := retry.Forever(ctx, retry.Default, func() (struct{}, error) {
		err := l.p.cfg.Store.FlushWith(ctx, &l.claim, l.nextOffset, changes, extra)
		if errors.Is(err, state.ErrFenced) || errors.Is(err, state.ErrPositionLost) {
			return struct{}{}, retry.Permanent(err)
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
		} else {
			l.clean.pushFront(en) // flushed: now evictable, as used at this flush
		}
	}
	l.dirty = l.dirty[:0]
	l.pending = 0
	if l.alerting != nil {
		l.alerting.flushed()
	}
	if l.chaining != nil {
		l.chaining.flushed(cut, now)
		if cut != nil {
			m.Checkpoints.Inc()
			m.CheckpointLeaves.Observe(float64(cut.Checkpoint.Leaves))
		}
	}
	if l.kick != nil {
		l.kickPublisher()
	}
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
