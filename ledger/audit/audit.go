// Package audit verifies a shipment's history the way an auditor would: from
// the archive (the shipment's records on inbond.events), the anchor's receipt
// and the transparency log, trusting none of them: only the log's verifier
// key. It is `inbond verify`.
package audit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// Log is where a transparency log's checkpoint, tiles and entry bundles
// are read: a directory in the C2SP tlog-tiles layout or its HTTP root.
// Proofs need the tiles; the DOE reports, which re-derive every entry, the
// bundles.
type Log interface {
	ReadCheckpoint(ctx context.Context) ([]byte, error)
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

// OpenLog opens a log by location: an http(s) URL or a directory.
func OpenLog(location string) (Log, error) {
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		u, err := url.Parse(strings.TrimSuffix(location, "/") + "/")
		if err != nil {
			return nil, fmt.Errorf("audit: log URL %q: %w", location, err)
		}
		return client.NewHTTPFetcher(u, &http.Client{Timeout: 30 * time.Second})
	}
	if _, err := os.Stat(filepath.Join(location, "checkpoint")); err != nil {
		return nil, fmt.Errorf("audit: %s holds no transparency log (no checkpoint file): %w", location, err)
	}
	return client.FileFetcher{Root: location}, nil
}

// Verifier reads a note verifier key given as the key itself or as a file
// holding it.
func Verifier(keyOrFile string) (note.Verifier, error) {
	key := strings.TrimSpace(keyOrFile)
	if b, err := os.ReadFile(keyOrFile); err == nil {
		key = strings.TrimSpace(string(b))
	}
	v, err := note.NewVerifier(key)
	if err != nil {
		return nil, fmt.Errorf("audit: verifier key %q: %w (want a note verifier key such as name+hash+base64, or a file holding one)", keyOrFile, err)
	}
	return v, nil
}

// Config is what a verification reads.
type Config struct {
	Brokers []string     // the archive: inbond.events
	Topic   event.Topic  // default inbond.events
	Store   *state.Store // where the anchor writes receipts
	Log     Log
	Key     note.Verifier
	// SeenFile keeps the last signed checkpoint this auditor accepted; each
	// run checks the log's current tree is consistent with it, then moves
	// it on. Empty: no consistency check.
	SeenFile string
}

// Report is a verification's outcome.
type Report struct {
	Verdict ledger.Verdict
	// Consistent names the earlier tree the current one was proven to
	// extend ("" when none was seen before).
	Consistent string
	// Unanchored counts the shipment's records after its receipt's
	// checkpoint: recorded, not yet in a checkpoint the log holds.
	Unanchored int
}

// String is the report for a person.
func (r Report) String() string {
	s := r.Verdict.String()
	if r.Consistent != "" {
		s += "  consistency: " + r.Consistent + "\n"
	}
	if r.Unanchored > 0 {
		s += fmt.Sprintf("  pending:    %d later events are not anchored yet (the next checkpoint will cover them)\n", r.Unanchored)
	}
	return s
}

// Verify proves shipment's history from the archive, its receipt and the
// log, and returns the report with the evidence (events with heads, for an
// offline export). Its error names what does not hold.
func Verify(ctx context.Context, cfg Config, shipment event.ShipmentID) (Report, *ledger.Evidence, error) {
	reports, evidence, err := VerifyAll(ctx, cfg, []event.ShipmentID{shipment})
	if err != nil {
		return Report{}, nil, err
	}
	return reports[shipment], evidence[shipment], nil
}

// VerifyAll is Verify for many shipments, reading each partition of the
// archive once. It stops at the first shipment that does not verify.
func VerifyAll(ctx context.Context, cfg Config, shipments []event.ShipmentID) (map[event.ShipmentID]Report, map[event.ShipmentID]*ledger.Evidence, error) {
	if cfg.Topic == "" {
		cfg.Topic = event.TopicEvents
	}
	n, err := bus.PartitionCount(ctx, cfg.Brokers, string(cfg.Topic))
	if err != nil {
		return nil, nil, fmt.Errorf("audit: %w", err)
	}
	partitioner := bus.NewPartitioner(n)
	receipts := map[int]map[event.ShipmentID]ledger.Receipt{}
	for _, id := range shipments {
		part := partitioner.Partition([]byte(id))
		r, err := loadReceipt(ctx, cfg.Store, part, id)
		if err != nil {
			return nil, nil, err
		}
		if receipts[part] == nil {
			receipts[part] = map[event.ShipmentID]ledger.Receipt{}
		}
		receipts[part][id] = r
	}
	signed, err := cfg.Log.ReadCheckpoint(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: read the log's checkpoint: %w", err)
	}
	cp, err := ledger.OpenCheckpoint(signed, cfg.Key)
	if err != nil {
		return nil, nil, err
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, cfg.Log.ReadTile)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: %w", err)
	}
	var consistent string
	if cfg.SeenFile != "" {
		if consistent, err = checkSeen(ctx, cfg, pb, cp, signed); err != nil {
			return nil, nil, err
		}
	}
	reports := make(map[event.ShipmentID]Report, len(shipments))
	evidence := make(map[event.ShipmentID]*ledger.Evidence, len(shipments))
	for part, rs := range receipts {
		histories, err := Histories(ctx, cfg.Brokers, cfg.Topic, part, rs)
		if err != nil {
			return nil, nil, err
		}
		for id, r := range rs {
			if r.LogIndex >= cp.Size {
				return nil, nil, fmt.Errorf("audit: shipment %s: the receipt names log entry %d, the log's signed tree has %d entries", id, r.LogIndex, cp.Size)
			}
			inclusion, err := pb.InclusionProof(ctx, r.LogIndex)
			if err != nil {
				return nil, nil, fmt.Errorf("audit: inclusion proof of log entry %d: %w", r.LogIndex, err)
			}
			h := histories[id]
			// Heads computed here from the archive are no guide to what
			// differs: the check runs without them, the export carries them.
			check := ledger.Evidence{Receipt: r, Events: h.Events, SignedCheckpoint: signed, LogProof: inclusion}
			verdict, err := check.Verify(cfg.Key)
			if err != nil {
				return nil, nil, err
			}
			reports[id] = Report{Verdict: verdict, Consistent: consistent, Unanchored: h.Later}
			check.Events = ledger.WithHeads(h.Events)
			evidence[id] = &check
		}
	}
	return reports, evidence, nil
}

// loadReceipt reads the receipt the anchor wrote for shipment.
func loadReceipt(ctx context.Context, store *state.Store, part int, shipment event.ShipmentID) (ledger.Receipt, error) {
	recs, err := store.LoadRecords(ctx, part, []string{ledger.ReceiptSuffix(shipment)})
	if err != nil {
		return ledger.Receipt{}, fmt.Errorf("audit: read the receipt of %s: %w", shipment, err)
	}
	if recs[0] == nil {
		return ledger.Receipt{}, fmt.Errorf("audit: shipment %s has no receipt: none of its checkpoints is anchored yet (is `inbond anchor` running?), or it never had an event", shipment)
	}
	r, err := ledger.UnmarshalReceipt(recs[0])
	if err != nil {
		return r, err
	}
	if r.Leaf.Shipment != shipment {
		return r, fmt.Errorf("audit: the receipt stored for %s is %s's", shipment, r.Leaf.Shipment)
	}
	return r, nil
}

// History is one shipment's records in the archive up to its checkpoint's
// end, and how many it has beyond.
type History struct {
	Events []ledger.Event
	Later  int
}

// Histories reads partition part of the archive once, from its first
// offset to its end, and returns each shipment of receipts' records, in
// offset order, up to its receipt's checkpoint end. A record belongs to a
// shipment when its value decodes with the shipment as subject: the rule
// the processor chains by.
func Histories(ctx context.Context, brokers []string, topic event.Topic, part int, receipts map[event.ShipmentID]ledger.Receipt) (map[event.ShipmentID]*History, error) {
	ends, err := bus.EndOffsets(ctx, brokers, string(topic))
	if err != nil {
		return nil, fmt.Errorf("audit: archive: %w", err)
	}
	end := ends[part]
	out := make(map[event.ShipmentID]*History, len(receipts))
	var last int64
	for id, r := range receipts {
		out[id] = &History{}
		last = max(last, r.Checkpoint.To)
	}
	if end < last {
		return nil, fmt.Errorf("audit: the archive's partition %d ends at offset %d, before a checkpoint's end %d: records were lost", part, end, last)
	}
	next := int64(0)
	err = bus.ReadRange(ctx, brokers, string(topic), part, 0, end, func(m kafka.Message) error {
		if m.Offset != next && next < last {
			return fmt.Errorf("audit: the archive's partition %d skips from offset %d to %d: records were deleted", part, next, m.Offset)
		}
		next = m.Offset + 1
		// The gateways key every record by its subject, so only the
		// shipments' own keys need decoding. A record keyed otherwise but
		// naming a shipment would be chained by the processor and missed
		// here: verification then fails, loudly, which is the safe side.
		id := event.ShipmentID(m.Key)
		h, ok := out[id]
		if !ok || !subjectIs(m.Value, id) {
			return nil
		}
		if m.Offset >= receipts[id].Checkpoint.To {
			h.Later++
			return nil
		}
		h.Events = append(h.Events, ledger.Event{Offset: m.Offset, Value: m.Value})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: archive: %w", err)
	}
	return out, nil
}

func subjectIs(value []byte, shipment event.ShipmentID) bool {
	e, err := event.UnmarshalCanonical(value)
	return err == nil && e.Subject == shipment
}

// checkSeen proves the log's current tree extends the last one this auditor
// accepted, then records the current one.
func checkSeen(ctx context.Context, cfg Config, pb *client.ProofBuilder, cp *log.Checkpoint, signed []byte) (string, error) {
	raw, err := os.ReadFile(cfg.SeenFile)
	var what string
	switch {
	case errors.Is(err, os.ErrNotExist):
		what = fmt.Sprintf("first check with %s: tree of size %d recorded as seen", cfg.SeenFile, cp.Size)
	case err != nil:
		return "", fmt.Errorf("audit: read the last seen checkpoint: %w", err)
	default:
		seen, err := ledger.OpenCheckpoint(raw, cfg.Key)
		if err != nil {
			return "", fmt.Errorf("audit: the last seen checkpoint in %s: %w", cfg.SeenFile, err)
		}
		if seen.Size > cp.Size {
			return "", fmt.Errorf("audit: the log shrank: it now signs %d entries (root %x), %d (root %x) were seen before", cp.Size, cp.Hash, seen.Size, seen.Hash)
		}
		proof, err := pb.ConsistencyProof(ctx, seen.Size, cp.Size)
		if err != nil {
			return "", fmt.Errorf("audit: consistency proof from size %d to %d: %w", seen.Size, cp.Size, err)
		}
		if err := ledger.VerifyConsistency(seen, cp, proof); err != nil {
			return "", err
		}
		what = fmt.Sprintf("the tree of size %d extends the tree of size %d (root %x) seen before", cp.Size, seen.Size, seen.Hash)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.SeenFile), 0o755); err != nil {
		return "", err
	}
	tmp := cfg.SeenFile + ".tmp"
	if err := os.WriteFile(tmp, signed, 0o644); err != nil {
		return "", err
	}
	return what, os.Rename(tmp, cfg.SeenFile)
}

// VerifyProof checks an offline proof (a C2SP tlog-proof written by
// `inbond verify --receipt`) with the verifier key alone.
func VerifyProof(raw []byte, key note.Verifier) (ledger.Verdict, error) {
	ev, err := ledger.UnmarshalProof(raw)
	if err != nil {
		return ledger.Verdict{}, err
	}
	return ev.Verify(key)
}

// Unanchored counts the shipments of partitions 0..partitions-1 whose latest
// receipt does not cover their whole chain yet: recorded, not yet anchored
// (or, after a Redis loss, not yet re-derived). Zero means every history is
// provable now.
func Unanchored(ctx context.Context, store *state.Store, partitions int) (int, error) {
	behind := 0
	for p := range partitions {
		n, err := UnanchoredIn(ctx, store, p)
		if err != nil {
			return 0, err
		}
		behind += n
	}
	return behind, nil
}

// UnanchoredIn is Unanchored for partition p alone.
func UnanchoredIn(ctx context.Context, store *state.Store, p int) (int, error) {
	ids, err := store.Members(ctx, p, state.ShipmentsSuffix)
	if err != nil {
		return 0, err
	}
	suffixes := make([]string, 0, 2*len(ids))
	for _, id := range ids {
		suffixes = append(suffixes, ledger.ChainSuffix(event.ShipmentID(id)), ledger.ReceiptSuffix(event.ShipmentID(id)))
	}
	recs, err := store.LoadRecords(ctx, p, suffixes)
	if err != nil {
		return 0, err
	}
	behind := 0
	for i := 0; i < len(recs); i += 2 {
		if recs[i] == nil || recs[i+1] == nil {
			behind++
			continue
		}
		var link ledger.Link
		if err := link.UnmarshalBinary(recs[i]); err != nil {
			return 0, fmt.Errorf("audit: shipment %s: %w", ids[i/2], err)
		}
		r, err := ledger.UnmarshalReceipt(recs[i+1])
		if err != nil {
			return 0, err
		}
		if r.Leaf.Count != link.Count {
			behind++
		}
	}
	return behind, nil
}
