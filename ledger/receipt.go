package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/transparency-dev/formats/log"
	tlogproof "github.com/transparency-dev/formats/proof"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Receipt ties one shipment's chain to the log: its leaf in a checkpoint,
// the leaf's batch proof, and the checkpoint's index among the log's entries.
// It proves nothing by itself: Evidence.Verify checks it against a signed
// tree head.
type Receipt struct {
	Leaf       Leaf       `json:"leaf"`
	LeafIndex  uint64     `json:"leaf_index"`
	BatchProof [][]byte   `json:"batch_proof"`
	Checkpoint Checkpoint `json:"checkpoint"`
	LogIndex   uint64     `json:"log_index"`
}

// Receipts are the receipts of every leaf of b, whose entry is the log's
// entry logIndex.
func (b *Batch) Receipts(logIndex uint64) ([]Receipt, error) {
	proofs, err := b.Proofs()
	if err != nil {
		return nil, err
	}
	out := make([]Receipt, len(b.Leaves))
	for i, l := range b.Leaves {
		out[i] = Receipt{Leaf: l, LeafIndex: uint64(i), BatchProof: proofs[i], Checkpoint: b.Checkpoint, LogIndex: logIndex}
	}
	return out, nil
}

// Event is one record of a shipment's history as an archive holds it.
type Event struct {
	Offset int64           `json:"offset"`
	Value  json.RawMessage `json:"value"` // the record value, byte for byte
	// Head is the chain head after this event, as computed when the history
	// was exported; it lets a failed check name which event is wrong. It is
	// not trusted: only the leaf's head is proven.
	Head *Head `json:"head,omitempty"`
}

// Evidence is everything that proves a shipment's history up to a
// checkpoint: the events, the receipt, a signed tree head of the log and the
// inclusion proof of the receipt's checkpoint in that tree.
type Evidence struct {
	Receipt Receipt `json:"receipt"`
	Events  []Event `json:"events"`
	// SignedCheckpoint is the log's C2SP tlog-checkpoint note; LogProof the
	// RFC 6962 inclusion proof of the receipt's log entry in its tree.
	SignedCheckpoint []byte   `json:"-"`
	LogProof         [][]byte `json:"-"`
}

// Verdict says what a successful check checked, for a person to read.
type Verdict struct {
	Shipment   string
	Events     uint64
	Head       Head
	Checkpoint Checkpoint
	LogIndex   uint64
	TreeSize   uint64
	TreeRoot   []byte
	Origin     string
}

// String is the verdict in a few lines.
func (v Verdict) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "VERIFIED shipment %s\n", v.Shipment)
	fmt.Fprintf(&b, "  history:    %d events chain to head %s\n", v.Events, v.Head)
	fmt.Fprintf(&b, "  checkpoint: %s (%d shipments, root %x), cut %s\n", v.Checkpoint.ID(), v.Checkpoint.Leaves, v.Checkpoint.Root, v.Checkpoint.Time.Format(time.RFC3339Nano))
	fmt.Fprintf(&b, "  log:        entry %d of log %q, included in the signed tree of size %d, root %x\n", v.LogIndex, v.Origin, v.TreeSize, v.TreeRoot)
	return b.String()
}

// Verify checks the evidence against the log's verifier: the tree head's
// signature, the checkpoint's inclusion in that tree, the leaf's inclusion in
// the checkpoint, and that the events chain to the leaf. Its error names the
// first thing that does not hold.
func (e *Evidence) Verify(v note.Verifier) (Verdict, error) {
	r := e.Receipt
	cp, err := OpenCheckpoint(e.SignedCheckpoint, v)
	if err != nil {
		return Verdict{}, err
	}
	verdict := Verdict{Shipment: string(r.Leaf.Shipment), Events: r.Leaf.Count, Head: r.Leaf.Head, Checkpoint: r.Checkpoint,
		LogIndex: r.LogIndex, TreeSize: cp.Size, TreeRoot: cp.Hash, Origin: cp.Origin}
	if err := VerifyEntry(cp, r.LogIndex, r.Checkpoint.Entry(), e.LogProof); err != nil {
		return verdict, err
	}
	if err := VerifyLeaf(r.Checkpoint, r.LeafIndex, r.Leaf, r.BatchProof); err != nil {
		return verdict, err
	}
	if err := VerifyHistory(r.Leaf, r.Checkpoint, e.Events); err != nil {
		return verdict, err
	}
	return verdict, nil
}

// OpenCheckpoint checks a signed tree head's signature with v (whose name is
// the log's origin) and parses it.
func OpenCheckpoint(signed []byte, v note.Verifier) (*log.Checkpoint, error) {
	cp, _, _, err := log.ParseCheckpoint(signed, v.Name(), v)
	if err != nil {
		return nil, fmt.Errorf("ledger: the log's signed checkpoint does not verify with key %q (hash %08x): %w", v.Name(), v.KeyHash(), err)
	}
	return cp, nil
}

// VerifyEntry checks that entry is the log's entry index in the tree cp signs.
func VerifyEntry(cp *log.Checkpoint, index uint64, entry []byte, inclusion [][]byte) error {
	if index >= cp.Size {
		return fmt.Errorf("ledger: log entry %d is beyond the signed tree of size %d", index, cp.Size)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, cp.Size, rfc6962.DefaultHasher.HashLeaf(entry), inclusion, cp.Hash); err != nil {
		return fmt.Errorf("ledger: checkpoint record is not entry %d of the log's signed tree (size %d, root %x): the checkpoint was edited or the proof is for another entry: %w", index, cp.Size, cp.Hash, readable(err))
	}
	return nil
}

// VerifyConsistency checks that the tree older signs is a prefix of the one
// newer signs: the log was only appended to in between.
func VerifyConsistency(older, newer *log.Checkpoint, consistency [][]byte) error {
	if newer.Size < older.Size {
		return fmt.Errorf("ledger: the log shrank from %d to %d entries since it was last seen", older.Size, newer.Size)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, consistency, older.Hash, newer.Hash); err != nil {
		return fmt.Errorf("ledger: the log was rewritten: its tree of size %d (root %x) is not consistent with the tree of size %d (root %x) seen before: %w",
			newer.Size, newer.Hash, older.Size, older.Hash, readable(err))
	}
	return nil
}

// VerifyHistory checks that events, the shipment's records in partition
// order up to the checkpoint's end, chain to leaf: they are exactly the
// leaf's count of records and give its head. An event at or past the end
// fails: the checkpoint proves nothing about it. Offsets only order the
// events and bound them by the checkpoint; the chain proves the values. When the events
// carry the heads of an earlier export, the error names the event that
// differs and how (changed, removed, inserted, swapped).
func VerifyHistory(leaf Leaf, cp Checkpoint, events []Event) error {
	covered := events
	for i, e := range events {
		if i > 0 && e.Offset <= events[i-1].Offset {
			return fmt.Errorf("%w: shipment %s: the archive's events are out of offset order at offset %d", ErrChain, leaf.Shipment, e.Offset)
		}
		if e.Offset >= cp.To {
			// Nothing proves an event past the checkpoint: a history that
			// carries one claims more than its receipt covers.
			return fmt.Errorf("%w: shipment %s: the event at offset %d (event %s) is past the end of checkpoint %s (offset %d): nothing proves it",
				ErrChain, leaf.Shipment, e.Offset, eventID(e.Value), cp.ID(), cp.To)
		}
	}
	var l Link
	for _, e := range covered {
		l = l.Next(e.Value)
	}
	if l.Count == leaf.Count && l.Head == leaf.Head {
		return nil
	}
	if why := diagnose(leaf, covered); why != "" {
		return fmt.Errorf("%w: shipment %s: %s", ErrChain, leaf.Shipment, why)
	}
	switch {
	case l.Count < leaf.Count:
		return fmt.Errorf("%w: shipment %s: the archive holds %d of its events up to offset %d, the ledger recorded %d: %d removed",
			ErrChain, leaf.Shipment, l.Count, cp.To, leaf.Count, leaf.Count-l.Count)
	case l.Count > leaf.Count:
		return fmt.Errorf("%w: shipment %s: the archive holds %d of its events up to offset %d, the ledger recorded %d: %d inserted",
			ErrChain, leaf.Shipment, l.Count, cp.To, leaf.Count, l.Count-leaf.Count)
	}
	return fmt.Errorf("%w: shipment %s: its %d events up to offset %d chain to head %s, the ledger recorded %s: an event was changed or two were reordered",
		ErrChain, leaf.Shipment, l.Count, cp.To, l.Head, leaf.Head)
}

// diagnose names what differs between events and the history recorded,
// using the heads an earlier export wrote beside them (each event keeps its
// own through a removal, insertion or swap); "" when they carry none.
// The heads are only a guide to the error message: VerifyHistory has already
// failed on the leaf, the one head that is proven.
func diagnose(leaf Leaf, events []Event) string {
	n := len(events)
	if n == 0 {
		return ""
	}
	for _, e := range events {
		if e.Head == nil {
			return ""
		}
	}
	links := func(prev Head, e Event) bool { return Link{Head: prev}.Next(e.Value).Head == *e.Head }
	at := func(e Event) string { return fmt.Sprintf("offset %d (event %s)", e.Offset, eventID(e.Value)) }
	var prev Head
	for i, e := range events {
		if links(prev, e) {
			prev = *e.Head
			continue
		}
		switch {
		case i+1 < n && links(prev, events[i+1]) && links(*events[i+1].Head, e):
			return fmt.Sprintf("the events at %s and %s are swapped", at(e), at(events[i+1]))
		case uint64(n) > leaf.Count && (i+1 == n || links(prev, events[i+1])):
			return fmt.Sprintf("the event at %s was never recorded: it was inserted", at(e))
		case uint64(n) < leaf.Count:
			return fmt.Sprintf("a recorded event just before the one at %s was removed", at(e))
		default:
			return fmt.Sprintf("the event at %s was changed: its value is not the one recorded", at(e))
		}
	}
	if uint64(n) < leaf.Count {
		return fmt.Sprintf("the last %d recorded events, after %s, were removed", leaf.Count-uint64(n), at(events[n-1]))
	}
	return ""
}

func eventID(v []byte) string {
	var hdr struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(v, &hdr) != nil || hdr.ID == "" {
		return "?"
	}
	return hdr.ID
}

// proofExtra is the application data an offline proof carries.
type proofExtra struct {
	Version string  `json:"v"`
	Receipt Receipt `json:"receipt"`
	Events  []Event `json:"events"`
}

// ProofVersion names the layout of an offline proof's extra data.
const ProofVersion = "inbond.proof/v1"

// MarshalProof is the evidence as a C2SP tlog-proof: the log entry's index,
// its inclusion proof and the signed checkpoint, with the receipt and the
// shipment's events as extra data.
func (e *Evidence) MarshalProof() ([]byte, error) {
	p := tlogproof.TLogProof{Index: e.Receipt.LogIndex, Checkpoint: e.SignedCheckpoint,
		ExtraData: canonicalJSON(proofExtra{Version: ProofVersion, Receipt: e.Receipt, Events: e.Events})}
	for _, h := range e.LogProof {
		if len(h) != sha256.Size {
			return nil, errors.New("ledger: a log proof hash is not 32 bytes")
		}
		p.Hashes = append(p.Hashes, [sha256.Size]byte(h))
	}
	return p.Marshal(), nil
}

// UnmarshalProof reads an offline proof written by MarshalProof.
func UnmarshalProof(b []byte) (*Evidence, error) {
	// The library reads lines with a bufio.Scanner, whose 64 KiB line limit
	// a history's extra data passes: its extra line is decoded here and the
	// rest, a few short lines, left to the library.
	header, rest, _ := bytes.Cut(b, []byte{'\n'})
	var extra []byte
	if line, after, ok := bytes.Cut(rest, []byte{'\n'}); ok && bytes.HasPrefix(line, []byte("extra ")) {
		var err error
		if extra, err = base64.StdEncoding.DecodeString(string(line[len("extra "):])); err != nil {
			return nil, fmt.Errorf("ledger: offline proof: extra data not base64: %w", err)
		}
		b = append(append(header, '\n'), after...)
	}
	var p tlogproof.TLogProof
	if err := p.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("ledger: offline proof: %w", err)
	}
	p.ExtraData = extra
	// The extra data is what the chain hashes: it must be exactly its own
	// RFC 8785 form, so no duplicate name or re-encoding can show a reader
	// anything other than the bytes that were checked.
	canon := jsontext.Value(bytes.Clone(p.ExtraData))
	if err := canon.Canonicalize(); err != nil {
		return nil, fmt.Errorf("ledger: offline proof's extra data: %w", err)
	}
	if !bytes.Equal(canon, p.ExtraData) {
		return nil, errors.New("ledger: offline proof's extra data is not in its RFC 8785 canonical form: it was edited")
	}
	var x proofExtra
	dec := json.NewDecoder(bytes.NewReader(p.ExtraData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("ledger: offline proof's extra data: %w", err)
	}
	if x.Version != ProofVersion {
		return nil, fmt.Errorf("ledger: offline proof has version %q, want %q", x.Version, ProofVersion)
	}
	if x.Receipt.LogIndex != p.Index {
		return nil, fmt.Errorf("ledger: offline proof's index %d is not its receipt's log index %d", p.Index, x.Receipt.LogIndex)
	}
	e := &Evidence{Receipt: x.Receipt, Events: x.Events, SignedCheckpoint: p.Checkpoint}
	for _, h := range p.Hashes {
		e.LogProof = append(e.LogProof, h[:])
	}
	return e, nil
}

// WithHeads gives each event the chain head after it, for an export.
func WithHeads(events []Event) []Event {
	out := make([]Event, len(events))
	var l Link
	for i, e := range events {
		l = l.Next(e.Value)
		h := l.Head
		e.Head = &h
		out[i] = e
	}
	return out
}

// readable gives the Merkle library's root mismatch in hex (it prints byte
// lists); other errors pass as they are.
func readable(err error) error {
	var mismatch proof.RootMismatchError
	if errors.As(err, &mismatch) {
		return fmt.Errorf("the proof gives root %x, not %x", mismatch.CalculatedRoot, mismatch.ExpectedRoot)
	}
	return err
}
