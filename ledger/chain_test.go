package ledger_test

import (
	"crypto/sha256"
	"testing"

	"github.com/inbond/inbond/ledger"
)

// The chain is defined by DESIGN.md's formula, computed here with
// crypto/sha256 alone.
func TestLinkNextIsTheFormula(t *testing.T) {
	var l ledger.Link
	var head [32]byte
	for i, v := range []string{`{"a":1}`, `{"b":2}`, `{"c":3}`} {
		l = l.Next([]byte(v))
		head = sha256.Sum256(append(head[:], v...))
		if l.Head != ledger.Head(head) || l.Count != uint64(i+1) {
			t.Fatalf("after %d records: link %d %s, want %d %x", i+1, l.Count, l.Head, i+1, head)
		}
	}
	b, _ := l.MarshalBinary()
	var back ledger.Link
	if err := back.UnmarshalBinary(b); err != nil || back != l {
		t.Fatalf("stored link round trip: %v %v", back, err)
	}
	if err := back.UnmarshalBinary(b[:39]); err == nil {
		t.Fatal("a short stored link was accepted")
	}
}
