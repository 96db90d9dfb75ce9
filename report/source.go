package report

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/segmentio/kafka-go"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// LogReader is a transparency log as a report reads it: its signed tree
// head and its entry bundles (C2SP tlog-tiles). Tessera's client.FileFetcher
// and client.HTTPFetcher are LogReaders.
type LogReader interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

// OpenLog opens a log by location: an http(s) URL (as `inbond anchor
// --listen` serves it) or its directory, as an auditor opens it.
func OpenLog(location string) (LogReader, error) { return audit.OpenLog(location) }

// Source is where reports are computed from: the archive, the log and the
// key that signs it, and optionally the processor's alerts.
type Source struct {
	Brokers []string
	Topic   event.Topic // default inbond.events
	Log     LogReader
	Key     note.Verifier
	// Alerts, when set, returns the alerts the processor raised, for the
	// summary's counts by rule (not re-derived by Verify: see Summary).
	Alerts func(ctx context.Context) ([]alerts.Alert, error)
}

// Snapshot is the archive as a ledger checkpoint covers it.
type Snapshot struct {
	Checkpoint Checkpoint
	// Entries are the log's entries up to the checkpoint's tree size,
	// those of the archive's topic, in log order.
	Entries []ledger.Checkpoint
	Records []Record
	Alerts  []alerts.Alert
}

// Open reads the archive at the log's tree of size size (0: the latest
// signed tree). It checks the signed tree head with src.Key, that the log's
// entries hash to its root, and that the archive's records are those the
// entries' checkpoints committed to (CheckArchive). Every error says which
// of those does not hold.
func Open(ctx context.Context, src Source, size uint64) (*Snapshot, error) {
	topic := string(src.Topic)
	if topic == "" {
		topic = string(event.TopicEvents)
	}
	signed, err := src.Log.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("report: read the log's checkpoint: %w", err)
	}
	head, err := ledger.OpenCheckpoint(signed, src.Key)
	if err != nil {
		return nil, err
	}
	if size == 0 {
		size = head.Size
	}
	if size > head.Size {
		return nil, fmt.Errorf("report: the log's signed tree has %d entries, the report asks for the tree of size %d", head.Size, size)
	}
	raw, err := readEntries(ctx, src.Log, head.Size)
	if err != nil {
		return nil, err
	}
	all, root, err := roots(raw, size)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(all, head.Hash) {
		return nil, fmt.Errorf("report: the log's %d entries hash to %x, its signed checkpoint says %x: the log's tiles were altered", head.Size, all, head.Hash)
	}
	n, err := bus.PartitionCount(ctx, src.Brokers, topic)
	if err != nil {
		return nil, fmt.Errorf("report: archive: %w", err)
	}
	snap := &Snapshot{Checkpoint: Checkpoint{Origin: head.Origin, TreeSize: size, Root: hex.EncodeToString(root), Topic: topic, Ends: make([]int64, n)}}
	for i, e := range raw[:size] {
		cp, err := ledger.ParseEntry(e)
		if err != nil {
			return nil, fmt.Errorf("report: log entry %d: %w", i, err)
		}
		if cp.Topic != topic {
			continue
		}
		if cp.Partition < 0 || cp.Partition >= n {
			return nil, fmt.Errorf("report: log entry %d names partition %d of %s, which has %d", i, cp.Partition, topic, n)
		}
		snap.Entries = append(snap.Entries, cp)
		snap.Checkpoint.Ends[cp.Partition] = max(snap.Checkpoint.Ends[cp.Partition], cp.To)
	}
	if snap.Records, err = ReadArchive(ctx, src.Brokers, topic, snap.Checkpoint.Ends); err != nil {
		return nil, err
	}
	if err := CheckArchive(snap.Records, snap.Entries, n); err != nil {
		return nil, err
	}
	if src.Alerts != nil {
		if snap.Alerts, err = src.Alerts(ctx); err != nil {
			return nil, fmt.Errorf("report: alerts: %w", err)
		}
	}
	return snap, nil
}

// readEntries reads the log's first size entries.
func readEntries(ctx context.Context, lr LogReader, size uint64) ([][]byte, error) {
	out := make([][]byte, 0, size)
	if size == 0 {
		return out, nil
	}
	bundles := client.EntryBundles(ctx, 2, func(context.Context) (uint64, error) { return size, nil }, lr.ReadEntryBundle, 0, size)
	unbundle := func(b []byte) ([][]byte, error) {
		var eb api.EntryBundle
		err := eb.UnmarshalText(b)
		return eb.Entries, err
	}
	for e, err := range client.Entries(bundles, unbundle) {
		if err != nil {
			return nil, fmt.Errorf("report: read the log's entries: %w", err)
		}
		if e.Index != uint64(len(out)) {
			return nil, fmt.Errorf("report: the log's entry %d came where %d was due", e.Index, len(out))
		}
		out = append(out, e.Entry)
	}
	if uint64(len(out)) != size {
		return nil, fmt.Errorf("report: the log gave %d of its %d entries", len(out), size)
	}
	return out, nil
}

// roots returns the RFC 6962 root of all entries and of the first size.
func roots(entries [][]byte, size uint64) (all, prefix []byte, err error) {
	f := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := f.NewEmptyRange(0)
	prefix = rfc6962.DefaultHasher.EmptyRoot()
	for i, e := range entries {
		if err := r.Append(rfc6962.DefaultHasher.HashLeaf(e), nil); err != nil {
			return nil, nil, err
		}
		if uint64(i+1) == size {
			if prefix, err = r.GetRootHash(nil); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(entries) == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), prefix, nil
	}
	all, err = r.GetRootHash(nil)
	return all, prefix, err
}

// ReadArchive reads each partition p of the archive from offset 0 to
// ends[p], and fails when an offset is missing (a deleted record).
func ReadArchive(ctx context.Context, brokers []string, topic string, ends []int64) ([]Record, error) {
	var out []Record
	for p, end := range ends {
		if end == 0 {
			continue
		}
		next := int64(0)
		err := bus.ReadRange(ctx, brokers, topic, p, 0, end, func(m kafka.Message) error {
			if m.Offset != next {
				return fmt.Errorf("partition %d skips from offset %d to %d: records were deleted", p, next, m.Offset)
			}
			next = m.Offset + 1
			out = append(out, Record{Partition: p, Offset: m.Offset, Value: m.Value})
			return nil
		})
		if err == nil && next != end {
			err = fmt.Errorf("partition %d ends at offset %d, the checkpoints cover it to %d: records were lost", p, next, end)
		}
		if err != nil {
			return nil, fmt.Errorf("report: archive %s: %w", topic, err)
		}
	}
	return out, nil
}

// CheckArchive checks that records (each partition's, from offset 0, in
// offset order) are what the ledger's checkpoints committed to: for each
// checkpoint, the Merkle root over the (shipment, count, chain head) leaves
// the records give equals the root it names. It chains as the processor
// does: every record of a shipment routed to the partition, duplicates
// included, from the partition's first offset (the ledger on from the
// start, as inbond runs it).
func CheckArchive(records []Record, entries []ledger.Checkpoint, partitions int) error {
	type linked struct {
		shipment event.ShipmentID
		link     ledger.Link
		offset   int64
	}
	byPart := make([][]linked, partitions)
	links := map[event.ShipmentID]ledger.Link{}
	router := bus.NewPartitioner(partitions)
	for _, r := range records {
		e, err := event.UnmarshalCanonical(r.Value)
		if err != nil || router.Partition([]byte(e.Subject)) != r.Partition {
			continue // the processor applies (and chains) neither
		}
		l := links[e.Subject].Next(r.Value)
		links[e.Subject] = l
		byPart[r.Partition] = append(byPart[r.Partition], linked{e.Subject, l, r.Offset})
	}
	for _, cp := range entries {
		recs := byPart[cp.Partition]
		seen := map[event.ShipmentID]bool{}
		var leaves []ledger.Leaf
		for i := len(recs) - 1; i >= 0; i-- { // backwards: each shipment's last link in the range
			x := recs[i]
			if x.offset >= cp.To || x.offset < cp.From || seen[x.shipment] {
				continue
			}
			seen[x.shipment] = true
			leaves = append(leaves, ledger.Leaf{Shipment: x.shipment, Count: x.link.Count, Head: x.link.Head})
		}
		if len(leaves) == 0 {
			return fmt.Errorf("report: the archive holds no record of ledger checkpoint %s: records were removed", cp.ID())
		}
		b, err := ledger.NewBatch(cp.Topic, cp.Partition, cp.From, cp.To, cp.Time, leaves)
		if err != nil {
			return err
		}
		if !bytes.Equal(b.Checkpoint.Root, cp.Root) {
			return fmt.Errorf("report: the archive does not match ledger checkpoint %s: its records give the root %x, the checkpoint committed to %x: a record of partition %d in offsets [%d, %d) was altered, removed or inserted",
				cp.ID(), b.Checkpoint.Root, cp.Root, cp.Partition, cp.From, cp.To)
		}
	}
	return nil
}

// ComputeAt computes period p's reports from a snapshot.
func ComputeAt(p Period, s *Snapshot) (*DOE, error) {
	return Compute(p, s.Checkpoint, s.Records, s.Alerts)
}
