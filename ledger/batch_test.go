package ledger_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ledger"
	"github.com/transparency-dev/merkle/rfc6962"
)

func leaves(n int) []ledger.Leaf {
	out := make([]ledger.Leaf, n)
	for i := range out {
		var l ledger.Link
		for j := 0; j <= i%5; j++ {
			l = l.Next(fmt.Appendf(nil, `{"n":%d,"j":%d}`, i, j))
		}
		out[i] = ledger.Leaf{Shipment: event.ShipmentID(fmt.Sprintf("S-%05d", n-i)), Count: l.Count, Head: l.Head}
	}
	return out
}

// Every leaf's batch proof verifies against the root for trees of every
// shape up to 70 leaves, and fails for a neighbour's leaf.
func TestBatchProofs(t *testing.T) {
	at := time.Date(2026, 10, 1, 0, 0, 10, 0, time.UTC)
	for n := 1; n <= 70; n++ {
		b, err := ledger.NewBatch("inbond.events", 3, 100, 200, at, leaves(n))
		if err != nil {
			t.Fatal(err)
		}
		proofs, err := b.Proofs()
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range b.Leaves {
			if err := ledger.VerifyLeaf(b.Checkpoint, uint64(i), l, proofs[i]); err != nil {
				t.Fatalf("n=%d leaf %d: %v", n, i, err)
			}
			if n > 1 {
				other := b.Leaves[(i+1)%n]
				if err := ledger.VerifyLeaf(b.Checkpoint, uint64(i), other, proofs[i]); err == nil {
					t.Fatalf("n=%d: leaf %d's proof accepted leaf %d", n, i, (i+1)%n)
				}
			}
		}
		back, err := ledger.UnmarshalBatch(b.Marshal())
		if err != nil || string(back.Checkpoint.Entry()) != string(b.Checkpoint.Entry()) {
			t.Fatalf("n=%d: batch round trip: %v", n, err)
		}
	}
}

// The root of a one-leaf batch is the RFC 6962 leaf hash of the leaf's
// canonical JSON, which names its fields in sorted order.
func TestLeafEncoding(t *testing.T) {
	l := ledger.Leaf{Shipment: "SHP-1", Count: 2}
	l.Head[0] = 0xab
	want := `{"count":2,"head":"ab00000000000000000000000000000000000000000000000000000000000000","shipment":"SHP-1"}`
	if got := string(l.Bytes()); got != want {
		t.Fatalf("leaf bytes\n%s\nwant\n%s", got, want)
	}
	b, err := ledger.NewBatch("inbond.events", 0, 0, 1, time.Unix(0, 0), []ledger.Leaf{l})
	if err != nil {
		t.Fatal(err)
	}
	if string(b.Checkpoint.Root) != string(rfc6962.DefaultHasher.HashLeaf([]byte(want))) {
		t.Fatal("one-leaf root is not the leaf hash")
	}
}

// A record whose leaves were edited no longer gives its root.
func TestUnmarshalBatchRefusesEditedLeaves(t *testing.T) {
	b, _ := ledger.NewBatch("inbond.events", 0, 0, 9, time.Unix(0, 0), leaves(4))
	b.Leaves[2].Count++
	if _, err := ledger.UnmarshalBatch(b.Marshal()); err == nil {
		t.Fatal("edited leaves accepted")
	}
	if _, err := ledger.NewBatch("t", 0, 0, 1, time.Unix(0, 0), append(leaves(2), leaves(2)...)); err == nil {
		t.Fatal("a shipment twice in one checkpoint accepted")
	}
}
