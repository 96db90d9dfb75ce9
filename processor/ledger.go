package processor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/retry"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// chaining is a partition loop's share of the ledger: the open checkpoint's
// first offset and leaves (every shipment the partition changed since the
// last cut, with its chain link). It is confined to the loop's goroutine.
//
// Exactly once. A shipment's link advances by every record of it the loop
// reads, and is flushed with the state and the offset in one atomic step; so
// is a cut: the checkpoint record into the outbox and the next one's first
// offset. The open checkpoint's leaves are the shipments with records since
// that offset, which a new owner reads back (loadChaining). A crash
// before a flush replays exactly the records whose links were not flushed,
// from links that were; a crash after it republishes the same outbox bytes.
// A checkpoint is therefore neither lost nor forked, and its offsets tile the
// partition: each cut's From is the previous cut's To.
type chaining struct {
	topic     string
	partition int
	interval  time.Duration // between cuts
	maxLeaves int           // a checkpoint is cut early at this many shipments
	cutNow    func() bool   // a replay asked this partition to cut what is open at once (Processor.CutCheckpoints)
	from      int64         // first offset of the open checkpoint
	fromSaved bool          // from is in Redis (else the next flush writes it)
	pending   map[event.ShipmentID]ledger.Link
	lastCut   time.Time
	changed   []*entry // entries whose links moved since the last flush
}

// pendingFrom is the record of the open checkpoint's first offset.
const pendingFrom = "ledger:from"

// loadChaining rebuilds the open checkpoint of the claim's partition: its
// first offset as the last cut stored it, and its leaves, the shipments with
// a record between that offset and the stored one (read back from the log:
// at most one interval of records) with their flushed links. Rebuilding
// costs one short read at a claim; storing the leaves instead would cost a
// write per changed shipment at every flush.
func (p *Processor) loadChaining(ctx context.Context, claim state.Claim) (*chaining, error) {
	store := p.cfg.Store
	recs, err := retry.Forever(ctx, retry.Default, func() ([][]byte, error) {
		return store.LoadRecords(ctx, claim.Partition, []string{pendingFrom})
	})
	if err != nil {
		return nil, err
	}
	c := &chaining{topic: string(p.cfg.Topic), partition: claim.Partition, interval: p.cfg.CheckpointInterval,
		maxLeaves: p.cfg.CheckpointLeaves, cutNow: func() bool { return p.cutRequested(claim.Partition) }, from: max(claim.Offset, 0), lastCut: time.Now(),
		pending: map[event.ShipmentID]ledger.Link{}}
	// No first offset stored: the partition's first flush with the ledger
	// on is still to come, and the open checkpoint starts where this claim
	// does (offset 0 for a new partition). That flush stores it, so an owner
	// killed before the first cut leaves the next one the same start.
	if recs[0] != nil {
		c.fromSaved = true
		if c.from, err = strconv.ParseInt(string(recs[0]), 10, 64); err != nil {
			return nil, fmt.Errorf("ledger: open checkpoint of partition %d: first offset %q: %w", claim.Partition, recs[0], err)
		}
	}
	if c.from >= claim.Offset {
		return c, nil
	}
	// Retention may have deleted the open checkpoint's first records
	// (Kafka refuses to read them: this owner would claim and release the
	// partition for ever). Their shipments' links are in Redis all the same;
	// only shipments with no record left in the range drop out of the
	// checkpoint, which is said.
	first, err := retry.Forever(ctx, retry.Default, func() (int64, error) {
		return bus.FirstOffset(ctx, p.cfg.Brokers, string(p.cfg.Topic), claim.Partition)
	})
	if err != nil {
		return nil, err
	}
	reread := max(c.from, first)
	if reread > c.from {
		p.cfg.Log.Warn("ledger: retention deleted the start of the open checkpoint; shipments with no later record in it are left out of it",
			zap.Int("partition", claim.Partition), zap.Int64("from", c.from), zap.Int64("first_offset", first))
	}
	if reread >= claim.Offset {
		return c, nil
	}
	ids, err := p.shipmentsBetween(ctx, claim.Partition, reread, claim.Offset)
	if err != nil {
		return nil, err
	}
	suffixes := make([]string, len(ids))
	for i, id := range ids {
		suffixes[i] = ledger.ChainSuffix(id)
	}
	links, err := retry.Forever(ctx, retry.Default, func() ([][]byte, error) { return store.LoadRecords(ctx, claim.Partition, suffixes) })
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		if links[i] == nil {
			continue // chained before the ledger was turned on: its chain starts later
		}
		var l ledger.Link
		if err := l.UnmarshalBinary(links[i]); err != nil {
			return nil, fmt.Errorf("ledger: open checkpoint of partition %d: chain link of %s: %w", claim.Partition, id, err)
		}
		c.pending[id] = l
	}
	return c, nil
}

// shipmentsBetween returns the shipments the loop chained a record of in
// partition part's offsets [from, to): those it applies, decodable and
// routed to the partition.
func (p *Processor) shipmentsBetween(ctx context.Context, part int, from, to int64) ([]event.ShipmentID, error) {
	seen := map[event.ShipmentID]bool{}
	var ids []event.ShipmentID
	err := bus.ReadRange(ctx, p.cfg.Brokers, string(p.cfg.Topic), part, from, to, func(m kafka.Message) error {
		e, err := event.UnmarshalCanonical(m.Value)
		if err == nil && p.partitioner.Partition([]byte(e.Subject)) == part && !seen[e.Subject] {
			seen[e.Subject] = true
			ids = append(ids, e.Subject)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: reread the open checkpoint: %w", err)
	}
	return ids, nil
}

// chain advances en's link by a record of its shipment.
func (c *chaining) chain(en *entry, value []byte) {
	en.link = en.link.Next(value)
	c.pending[en.sh.ID] = en.link
	if !en.linkChanged {
		en.linkChanged = true
		c.changed = append(c.changed, en)
	}
}

// full reports whether the open checkpoint must be cut before it grows more.
func (c *chaining) full() bool { return len(c.pending) >= c.maxLeaves }

// due reports whether the next flush cuts the open checkpoint.
func (c *chaining) due(now time.Time) bool {
	return len(c.pending) > 0 && (c.full() || now.Sub(c.lastCut) >= c.interval || c.cutNow())
}

// extra adds what the next flush, which moves the partition to nextOffset,
// writes for the ledger: the moved links and either the open checkpoint's
// new leaves or, when cut, the checkpoint itself, stamped cutAt. It returns
// the cut batch.
func (c *chaining) extra(x *state.Extra, nextOffset int64, now, cutAt time.Time) (*ledger.Batch, error) {
	for _, en := range c.changed {
		b, _ := en.link.MarshalBinary()
		x.Records = append(x.Records, state.Record{Suffix: ledger.ChainSuffix(en.sh.ID), Value: b})
	}
	if !c.due(now) {
		if !c.fromSaved {
			x.Records = append(x.Records, state.Record{Suffix: pendingFrom, Value: []byte(strconv.FormatInt(c.from, 10))})
		}
		return nil, nil
	}
	leaves := make([]ledger.Leaf, 0, len(c.pending))
	for id, l := range c.pending {
		leaves = append(leaves, ledger.Leaf{Shipment: id, Count: l.Count, Head: l.Head})
	}
	batch, err := ledger.NewBatch(c.topic, c.partition, c.from, nextOffset, cutAt, leaves)
	if err != nil {
		return nil, err
	}
	x.Records = append(x.Records, state.Record{Suffix: pendingFrom, Value: []byte(strconv.FormatInt(nextOffset, 10))})
	x.Outbox = append(x.Outbox, outboxItem(string(event.TopicCheckpoints), strconv.Itoa(c.partition), batch.Marshal()))
	return batch, nil
}

// flushed forgets what a successful flush wrote; cut is its checkpoint.
func (c *chaining) flushed(cut *ledger.Batch, now time.Time) {
	for _, en := range c.changed {
		en.linkChanged = false
	}
	c.changed = c.changed[:0]
	c.fromSaved = true
	if cut != nil {
		c.from = cut.Checkpoint.To
		c.lastCut = now
		clear(c.pending)
	}
}
