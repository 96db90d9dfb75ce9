package processor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/retry"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/state"
)

// chaining is a partition loop's share of the ledger: the open checkpoint's
// first offset and leaves (every shipment the partition changed since the
// last cut, with its chain link). It is confined to the loop's goroutine.
//
// Exactly once. A shipment's link advances by every record of it the loop
// reads, and is flushed with the state and the offset in one atomic step; so
// is the open checkpoint (its leaves as a hash, its first offset), and a cut
// replaces it in that step by the checkpoint record in the outbox. A crash
// before a flush replays exactly the records whose links were not flushed,
// from links that were; a crash after it republishes the same outbox bytes.
// A checkpoint is therefore neither lost nor forked, and its offsets tile the
// partition: each cut's From is the previous cut's To.
type chaining struct {
	topic     string
	partition int
	interval  time.Duration // between cuts
	maxLeaves int           // a checkpoint is cut early at this many shipments
	settled   func() bool   // a replay's traffic is in: cut what is open at once
	from      int64         // first offset of the open checkpoint
	pending   map[event.ShipmentID]ledger.Link
	lastCut   time.Time
	changed   []*entry // entries whose links moved since the last flush
}

// pendingFrom is the record of the open checkpoint's first offset.
const pendingFrom = "ledger:from"

// loadChaining reads the open checkpoint of the claim's partition.
func (p *Processor) loadChaining(ctx context.Context, claim state.Claim) (*chaining, error) {
	store := p.cfg.Store
	fields, err := retry.Forever(ctx, retry.Default, func() (map[string][]byte, error) {
		return store.Hash(ctx, claim.Partition, ledger.PendingSuffix)
	})
	if err != nil {
		return nil, err
	}
	recs, err := retry.Forever(ctx, retry.Default, func() ([][]byte, error) {
		return store.LoadRecords(ctx, claim.Partition, []string{pendingFrom})
	})
	if err != nil {
		return nil, err
	}
	c := &chaining{topic: string(p.cfg.Topic), partition: claim.Partition, interval: p.cfg.CheckpointInterval,
		maxLeaves: p.cfg.CheckpointLeaves, settled: p.settled.Load, from: max(claim.Offset, 0), lastCut: time.Now(),
		pending: make(map[event.ShipmentID]ledger.Link, len(fields))}
	if recs[0] != nil {
		if c.from, err = strconv.ParseInt(string(recs[0]), 10, 64); err != nil {
			return nil, fmt.Errorf("ledger: open checkpoint of partition %d: first offset %q: %w", claim.Partition, recs[0], err)
		}
	}
	for id, b := range fields {
		var l ledger.Link
		if err := l.UnmarshalBinary(b); err != nil {
			return nil, fmt.Errorf("ledger: open checkpoint of partition %d, shipment %s: %w", claim.Partition, id, err)
		}
		c.pending[event.ShipmentID(id)] = l
	}
	return c, nil
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
	return len(c.pending) > 0 && (c.full() || now.Sub(c.lastCut) >= c.interval || c.settled())
}

// extra adds what the next flush, which moves the partition to nextOffset,
// writes for the ledger: the moved links and either the open checkpoint's
// new leaves or, when cut, the checkpoint itself. It returns the cut batch.
func (c *chaining) extra(x *state.Extra, nextOffset int64, now time.Time) (*ledger.Batch, error) {
	for _, en := range c.changed {
		b, _ := en.link.MarshalBinary()
		x.Records = append(x.Records, state.Record{Suffix: ledger.ChainSuffix(en.sh.ID), Value: b})
	}
	if !c.due(now) {
		for _, en := range c.changed {
			b, _ := en.link.MarshalBinary()
			x.Fields = append(x.Fields, state.Field{Hash: ledger.PendingSuffix, Field: string(en.sh.ID), Value: b})
		}
		return nil, nil
	}
	leaves := make([]ledger.Leaf, 0, len(c.pending))
	for id, l := range c.pending {
		leaves = append(leaves, ledger.Leaf{Shipment: id, Count: l.Count, Head: l.Head})
	}
	batch, err := ledger.NewBatch(c.topic, c.partition, c.from, nextOffset, now, leaves)
	if err != nil {
		return nil, err
	}
	x.Delete = append(x.Delete, ledger.PendingSuffix)
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
	if cut != nil {
		c.from = cut.Checkpoint.To
		c.lastCut = now
		clear(c.pending)
	}
}
