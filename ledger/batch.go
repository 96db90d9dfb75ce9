package ledger

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/inbond/inbond/event"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Leaf is one shipment's place in a checkpoint: its chain at the
// checkpoint's end offset.
type Leaf struct {
	Shipment event.ShipmentID `json:"shipment"`
	Count    uint64           `json:"count"`
	Head     Head             `json:"head"`
}

// Bytes is the leaf's encoding, hashed as an RFC 6962 leaf: the RFC 8785
// canonical JSON of {"count","head","shipment"}.
func (l Leaf) Bytes() []byte { return canonicalJSON(l) }

// Hash is the leaf's RFC 6962 leaf hash.
func (l Leaf) Hash() []byte { return rfc6962.DefaultHasher.HashLeaf(l.Bytes()) }

// EntryVersion names the checkpoint entry's layout.
const EntryVersion = "inbond.checkpoint/v1"

// Checkpoint is what one partition's interval commits to, and the entry the
// anchor appends to the transparency log: the offset range of inbond.events
// it covers and the Merkle root over its leaves.
type Checkpoint struct {
	Version   string    `json:"v"`
	Topic     string    `json:"topic"`
	Partition int       `json:"partition"`
	From      int64     `json:"from"` // first offset covered
	To        int64     `json:"to"`   // offset after the last covered
	Time      time.Time `json:"time"` // when the processor cut it (UTC)
	Leaves    uint64    `json:"leaves"`
	Root      []byte    `json:"root"` // RFC 6962 root over the leaves (base64)
}

// Entry is the log entry: the checkpoint's RFC 8785 canonical JSON.
func (c Checkpoint) Entry() []byte { return canonicalJSON(c) }

// ParseEntry reads a log entry written by Entry.
func ParseEntry(b []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("ledger: log entry: %w", err)
	}
	if c.Version != EntryVersion {
		return c, fmt.Errorf("ledger: log entry has version %q, want %q", c.Version, EntryVersion)
	}
	return c, nil
}

// ID names the checkpoint for people and logs: topic/partition@from-to.
func (c Checkpoint) ID() string {
	return fmt.Sprintf("%s/%d@%d-%d", c.Topic, c.Partition, c.From, c.To)
}

// Batch is a checkpoint with its leaves, sorted by shipment: the record the
// processor publishes to inbond.checkpoints, from which the anchor writes
// each shipment's receipt.
type Batch struct {
	Checkpoint Checkpoint `json:"checkpoint"`
	Leaves     []Leaf     `json:"leaves"`
}

// NewBatch builds the checkpoint of partition's offsets [from, to) over
// leaves (in any order; one per shipment), cut at t.
func NewBatch(topic string, partition int, from, to int64, t time.Time, leaves []Leaf) (*Batch, error) {
	leaves = slices.Clone(leaves)
	slices.SortFunc(leaves, func(a, b Leaf) int { return cmp.Compare(a.Shipment, b.Shipment) })
	for i := 1; i < len(leaves); i++ {
		if leaves[i].Shipment == leaves[i-1].Shipment {
			return nil, fmt.Errorf("ledger: checkpoint of %s/%d@%d-%d has shipment %s twice", topic, partition, from, to, leaves[i].Shipment)
		}
	}
	if len(leaves) == 0 {
		return nil, fmt.Errorf("ledger: checkpoint of %s/%d@%d-%d has no leaf", topic, partition, from, to)
	}
	b := &Batch{Leaves: leaves, Checkpoint: Checkpoint{Version: EntryVersion, Topic: topic, Partition: partition,
		From: from, To: to, Time: t.UTC().Truncate(time.Millisecond), Leaves: uint64(len(leaves))}}
	tree, err := newTree(leaves)
	if err != nil {
		return nil, err
	}
	b.Checkpoint.Root = tree.root
	return b, nil
}

// Marshal is the batch's record value on inbond.checkpoints.
func (b *Batch) Marshal() []byte { return canonicalJSON(b) }

// UnmarshalBatch reads a record of inbond.checkpoints and checks that its
// leaves give its root.
func UnmarshalBatch(v []byte) (*Batch, error) {
	var b Batch
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, fmt.Errorf("ledger: checkpoint record: %w", err)
	}
	if b.Checkpoint.Version != EntryVersion {
		return nil, fmt.Errorf("ledger: checkpoint record has version %q, want %q", b.Checkpoint.Version, EntryVersion)
	}
	if uint64(len(b.Leaves)) != b.Checkpoint.Leaves {
		return nil, fmt.Errorf("ledger: checkpoint %s names %d leaves and carries %d", b.Checkpoint.ID(), b.Checkpoint.Leaves, len(b.Leaves))
	}
	tree, err := newTree(b.Leaves)
	if err != nil {
		return nil, err
	}
	if string(tree.root) != string(b.Checkpoint.Root) {
		return nil, fmt.Errorf("ledger: checkpoint %s: its leaves do not give its root", b.Checkpoint.ID())
	}
	return &b, nil
}

// Proofs returns every leaf's RFC 6962 inclusion proof in the batch's tree,
// in leaf order: one pass over the tree, then each proof's nodes looked up.
func (b *Batch) Proofs() ([][][]byte, error) {
	tree, err := newTree(b.Leaves)
	if err != nil {
		return nil, err
	}
	out := make([][][]byte, len(b.Leaves))
	for i := range b.Leaves {
		if out[i], err = tree.inclusion(uint64(i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// VerifyLeaf checks that leaf sits at index in the tree whose root c names.
func VerifyLeaf(c Checkpoint, index uint64, leaf Leaf, batchProof [][]byte) error {
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, c.Leaves, leaf.Hash(), batchProof, c.Root); err != nil {
		return fmt.Errorf("ledger: shipment %s (%d events, head %s) is not leaf %d of checkpoint %s: %w",
			leaf.Shipment, leaf.Count, leaf.Head, index, c.ID(), readable(err))
	}
	return nil
}

// tree holds every perfect-subtree node of a batch's Merkle tree, as the
// compact range reports them, so proofs are look-ups.
type tree struct {
	size  uint64
	nodes map[compact.NodeID][]byte
	root  []byte
}

func newTree(leaves []Leaf) (*tree, error) {
	t := &tree{size: uint64(len(leaves)), nodes: make(map[compact.NodeID][]byte, 2*len(leaves))}
	visit := func(id compact.NodeID, h []byte) { t.nodes[id] = h }
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	r := rf.NewEmptyRange(0)
	for _, l := range leaves {
		if err := r.Append(l.Hash(), visit); err != nil {
			return nil, err
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, err
	}
	if root == nil {
		root = rfc6962.DefaultHasher.EmptyRoot()
	}
	t.root = root
	return t, nil
}

func (t *tree) inclusion(index uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, t.size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		h, ok := t.nodes[id]
		if !ok {
			return nil, errors.New("ledger: batch tree is missing a proof node")
		}
		hashes[i] = h
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}

// canonicalJSON is v's RFC 8785 form. The ledger's own types always encode.
func canonicalJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("ledger: encode %T: %v", v, err))
	}
	out := jsontext.Value(b)
	if err := out.Canonicalize(); err != nil {
		panic(fmt.Sprintf("ledger: canonicalize %T: %v", v, err))
	}
	return out
}
