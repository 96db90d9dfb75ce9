package ledger_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/ledger"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

const origin = "inbond.test/ledger"

// world is a shipment's recorded history, anchored in a log of a few
// checkpoints (an in-memory RFC 6962 tree standing in for the Tessera log),
// with the log's keys.
type world struct {
	signer   note.Signer
	verifier note.Verifier
	log      *testonly.Tree
	evidence ledger.Evidence
}

func newWorld(t testing.TB) *world {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{log: testonly.New(rfc6962.DefaultHasher)}
	if w.signer, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	if w.verifier, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	var events []ledger.Event
	var link ledger.Link
	pad := strings.Repeat("x", 20_000) // the history's extra line passes bufio.Scanner's 64 KiB
	for i := range 8 {
		v := fmt.Appendf(nil, `{"data":{"flow_rate":%d,"note":"%s"},"id":"ev-%d","subject":"SHP-1"}`, 1000+i, pad, i)
		events = append(events, ledger.Event{Offset: int64(10 * (i + 1)), Value: v})
		link = link.Next(v)
	}
	others := leaves(6)
	batch, err := ledger.NewBatch("inbond.events", 2, 0, 100, time.Date(2026, 10, 1, 0, 0, 10, 0, time.UTC),
		append(others, ledger.Leaf{Shipment: "SHP-1", Count: link.Count, Head: link.Head}))
	if err != nil {
		t.Fatal(err)
	}
	// Entries before and after ours: the log holds other partitions' checkpoints.
	w.log.AppendData([]byte("entry 0"), []byte("entry 1"), batch.Checkpoint.Entry(), []byte("entry 3"), []byte("entry 4"))
	receipts, err := batch.Receipts(2)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(receipts, func(r ledger.Receipt) bool { return r.Leaf.Shipment == "SHP-1" })
	inclusion, err := w.log.InclusionProof(2, w.log.Size())
	if err != nil {
		t.Fatal(err)
	}
	w.evidence = ledger.Evidence{Receipt: receipts[i], Events: ledger.WithHeads(events), SignedCheckpoint: w.sign(t, w.log), LogProof: inclusion}
	return w
}

func (w *world) sign(t testing.TB, tree *testonly.Tree) []byte {
	t.Helper()
	body := log.Checkpoint{Origin: origin, Size: tree.Size(), Hash: tree.Hash()}.Marshal()
	signed, err := note.Sign(&note.Note{Text: string(body)}, w.signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// roundTrip passes the evidence through its offline form, as a file would.
func roundTrip(t *testing.T, e ledger.Evidence) *ledger.Evidence {
	t.Helper()
	b, err := e.MarshalProof()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "c2sp.org/tlog-proof@v1\nextra ") {
		t.Fatalf("offline proof does not open as a C2SP tlog-proof:\n%.80s", b)
	}
	back, err := ledger.UnmarshalProof(b)
	if err != nil {
		t.Fatal(err)
	}
	return back
}

func TestUntouchedHistoryVerifies(t *testing.T) {
	w := newWorld(t)
	verdict, err := roundTrip(t, w.evidence).Verify(w.verifier)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"VERIFIED shipment SHP-1", "8 events chain to head", "inbond.events/2@0-100 (7 shipments", "entry 2 of log \"inbond.test/ledger\", included in the signed tree of size 5"} {
		if !strings.Contains(verdict.String(), want) {
			t.Errorf("verdict lacks %q:\n%s", want, verdict)
		}
	}
}

// Every tampering fails verification with a message naming what is wrong.
func TestTamperingIsNamed(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(w *world, e *ledger.Evidence)
		want   string
	}{
		{"an archived event's value changed", func(_ *world, e *ledger.Evidence) {
			e.Events[3].Value = []byte(`{"data":{"flow_rate":9999},"id":"ev-3","subject":"SHP-1"}`)
		}, "the event at offset 40 (event ev-3) was changed"},
		{"an event removed", func(_ *world, e *ledger.Evidence) {
			e.Events = slices.Delete(e.Events, 4, 5)
		}, "a recorded event just before the one at offset 60 (event ev-5) was removed"},
		{"the last event removed", func(_ *world, e *ledger.Evidence) {
			e.Events = e.Events[:7]
		}, "the last 1 recorded events, after offset 70 (event ev-6), were removed"},
		{"two events swapped", func(_ *world, e *ledger.Evidence) {
			e.Events[2].Value, e.Events[3].Value = e.Events[3].Value, e.Events[2].Value
			e.Events[2].Head, e.Events[3].Head = e.Events[3].Head, e.Events[2].Head
		}, "the events at offset 30 (event ev-3) and offset 40 (event ev-2) are swapped"},
		{"an event inserted", func(_ *world, e *ledger.Evidence) {
			forged := ledger.Event{Offset: 55, Value: []byte(`{"id":"forged","subject":"SHP-1"}`), Head: e.Events[4].Head}
			e.Events = slices.Insert(e.Events, 5, forged)
		}, "the event at offset 55 (event forged) was never recorded: it was inserted"},
		{"the checkpoint record edited", func(_ *world, e *ledger.Evidence) {
			e.Receipt.Checkpoint.To = 90
		}, "checkpoint record is not entry 2 of the log's signed tree"},
		{"the leaf edited", func(_ *world, e *ledger.Evidence) {
			e.Receipt.Leaf.Count = 7
		}, "shipment SHP-1 (7 events"},
		{"a wrong verifier key", func(w *world, _ *ledger.Evidence) {
			_, vkey, _ := note.GenerateKey(rand.Reader, origin)
			w.verifier, _ = note.NewVerifier(vkey)
		}, `does not verify with key "inbond.test/ledger"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			e := roundTrip(t, w.evidence)
			c.tamper(w, e)
			_, err := roundTrip(t, *e).Verify(w.verifier)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant an error naming %q", err, c.want)
			}
		})
	}
}

// Without the export's heads (events read from the archive itself), a
// tampered history still fails, naming the count or the head that differ.
func TestTamperingWithoutHeads(t *testing.T) {
	w := newWorld(t)
	strip := func(es []ledger.Event) []ledger.Event {
		out := slices.Clone(es)
		for i := range out {
			out[i].Head = nil
		}
		return out
	}
	for name, c := range map[string]struct {
		events []ledger.Event
		want   string
	}{
		"removed":  {slices.Delete(strip(w.evidence.Events), 1, 2), "the archive holds 7 of its events up to offset 100, the ledger recorded 8: 1 removed"},
		"inserted": {slices.Insert(strip(w.evidence.Events), 1, ledger.Event{Offset: 15, Value: []byte(`{}`)}), "the ledger recorded 8: 1 inserted"},
		"changed":  {append(strip(w.evidence.Events[:7]), ledger.Event{Offset: 80, Value: []byte(`{"id":"x"}`)}), "an event was changed or two were reordered"},
	} {
		err := ledger.VerifyHistory(w.evidence.Receipt.Leaf, w.evidence.Receipt.Checkpoint, c.events)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
	}
	// An event past the checkpoint's end is proven by nothing: refused.
	later := append(strip(w.evidence.Events), ledger.Event{Offset: 100, Value: []byte(`{"id":"later"}`)})
	if err := ledger.VerifyHistory(w.evidence.Receipt.Leaf, w.evidence.Receipt.Checkpoint, later); err == nil || !strings.Contains(err.Error(), "the event at offset 100 (event later) is past the end of checkpoint") {
		t.Errorf("an event past the checkpoint: got %v", err)
	}
}

// A log rewritten under the same key (an entry replaced, the tree re-signed)
// is caught by the consistency check against the tree seen before.
func TestRewrittenLogFailsConsistency(t *testing.T) {
	w := newWorld(t)
	seen, err := ledger.OpenCheckpoint(w.evidence.SignedCheckpoint, w.verifier)
	if err != nil {
		t.Fatal(err)
	}
	honest := testonly.New(rfc6962.DefaultHasher)
	forged := testonly.New(rfc6962.DefaultHasher)
	for i := range w.log.Size() + 3 {
		entry := fmt.Appendf(nil, "entry %d", i)
		if i < w.log.Size() {
			honest.Append(w.log.LeafHash(i))
		} else {
			honest.AppendData(entry)
		}
		if i == 1 {
			entry = []byte("entry 1, rewritten")
		}
		if i < w.log.Size() && i != 1 {
			forged.Append(w.log.LeafHash(i))
		} else {
			forged.AppendData(entry)
		}
	}
	for name, tree := range map[string]*testonly.Tree{"appended": honest, "rewritten": forged} {
		later, err := ledger.OpenCheckpoint(w.sign(t, tree), w.verifier)
		if err != nil {
			t.Fatal(err)
		}
		proof, err := tree.ConsistencyProof(seen.Size, later.Size)
		if err != nil {
			t.Fatal(err)
		}
		err = ledger.VerifyConsistency(seen, later, proof)
		switch {
		case name == "appended" && err != nil:
			t.Errorf("an honestly appended log failed consistency: %v", err)
		case name == "rewritten" && (err == nil || !strings.Contains(err.Error(), "the log was rewritten: its tree of size 8")):
			t.Errorf("a rewritten log: got %v", err)
		}
	}
}

// An offline proof's extra data must be exactly its canonical form: a
// duplicate name (which a reader might resolve either way) or any
// re-encoding is refused before anything is checked.
func TestOfflineProofExtraMustBeCanonical(t *testing.T) {
	w := newWorld(t)
	b, err := w.evidence.MarshalProof()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	extra, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		edit func(string) string
		want string
	}{
		"duplicate name": {func(s string) string { return strings.Replace(s, `"value":{`, `"value":{"made":"up"},"value":{`, 1) }, "duplicate"},
		"re-encoded":     {func(s string) string { return strings.Replace(s, `{"events":[`, `{ "events":[`, 1) }, "not in its RFC 8785 canonical form"},
	} {
		edited := c.edit(string(extra))
		if edited == string(extra) {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		lines[1] = "extra " + base64.StdEncoding.EncodeToString([]byte(edited))
		if _, err := ledger.UnmarshalProof([]byte(strings.Join(lines, "\n"))); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", name, err, c.want)
		}
	}
}
