package anchor_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"go.uber.org/zap/zaptest"
	"golang.org/x/mod/sumdb/note"
)

// env is one test's Kafka (in-process), Redis prefix (the shared server
// when reachable), log directory and key file.
type env struct {
	t       *testing.T
	brokers []string
	redis   *testenv.Redis
	store   *state.Store
	dir     string
	keyFile string
	w       *kafka.Writer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, brokers: testenv.Kafka(t, embedded.KafkaConfig{Partitions: 12}), redis: testenv.NewRedis(t)}
	var err error
	if e.store, err = state.NewStore(e.redis.Client, e.redis.Prefix); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	e.dir, e.keyFile = filepath.Join(tmp, "log"), filepath.Join(tmp, "keys", "ledger.key")
	e.w = bus.NewWriter(e.brokers)
	t.Cleanup(func() { _ = e.w.Close() })
	return e
}

// running is an anchor whose Run is under way.
type running struct {
	*anchor.Anchor
	cancel   context.CancelFunc
	done     chan error
	mu       sync.Mutex
	anchored []uint64 // OnAnchored's indexes, in order
}

func (e *env) config() anchor.Config {
	return anchor.Config{Brokers: e.brokers, Dir: e.dir, KeyFile: e.keyFile, Store: e.store, Redis: e.redis.Client,
		Logger: zaptest.NewLogger(e.t), Registerer: prometheus.NewRegistry()}
}

// start runs an anchor on the env's log, stopped when the test ends.
func (e *env) start(edit ...func(*anchor.Config)) *running {
	e.t.Helper()
	cfg := e.config()
	for _, f := range edit {
		f(&cfg)
	}
	r := &running{done: make(chan error, 1)}
	cfg.OnAnchored = func(cp ledger.Checkpoint, index uint64, published time.Time) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.anchored = append(r.anchored, index)
	}
	a, err := anchor.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	r.Anchor = a
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- a.Run(ctx) }()
	e.t.Cleanup(func() { r.stop(e.t) })
	return r
}

// stop ends Run and checks that it stopped cleanly (once).
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return 20 s after its context ended")
	}
}

func (r *running) anchoredIndexes() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.anchored)
}

// produce publishes batches as the processor does: to inbond.checkpoints,
// keyed by the event partition.
func (e *env) produce(batches ...*ledger.Batch) {
	e.t.Helper()
	for _, b := range batches {
		e.produceRaw(strconv.Itoa(b.Checkpoint.Partition), b.Marshal())
	}
}

func (e *env) produceRaw(key string, value []byte) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.w.WriteMessages(ctx, kafka.Message{Topic: string(event.TopicCheckpoints), Key: []byte(key), Value: value}); err != nil {
		e.t.Fatal(err)
	}
}

// history is one event partition's records: the events a processor chains
// and cuts checkpoints of.
type history struct {
	part   int
	events []ledger.Event
	ships  []event.ShipmentID // per event
}

// add appends n events spread over ships.
func (h *history) add(n int, ships ...event.ShipmentID) {
	for i := range n {
		off := int64(len(h.events))
		s := ships[i%len(ships)]
		h.events = append(h.events, ledger.Event{Offset: off, Value: fmt.Appendf(nil, `{"id":"ev-%d-%d","shipment":%q}`, h.part, off, s)})
		h.ships = append(h.ships, s)
	}
}

// cut is the checkpoint of offsets [from, to) cut at t: a leaf for each
// shipment with an event in the range, chained over all its events before to.
func (h *history) cut(t *testing.T, from, to int64, at time.Time) *ledger.Batch {
	t.Helper()
	links := map[event.ShipmentID]ledger.Link{}
	changed := map[event.ShipmentID]bool{}
	for i, ev := range h.events[:to] {
		s := h.ships[i]
		links[s] = links[s].Next(ev.Value)
		if ev.Offset >= from {
			changed[s] = true
		}
	}
	var leaves []ledger.Leaf
	for s := range changed {
		leaves = append(leaves, ledger.Leaf{Shipment: s, Count: links[s].Count, Head: links[s].Head})
	}
	b, err := ledger.NewBatch(string(event.TopicEvents), h.part, from, to, at, leaves)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// of is the shipment's events.
func (h *history) of(s event.ShipmentID) []ledger.Event {
	var out []ledger.Event
	for i, ev := range h.events {
		if h.ships[i] == s {
			out = append(out, ev)
		}
	}
	return out
}

func ids(prefix string, n int) []event.ShipmentID {
	out := make([]event.ShipmentID, n)
	for i := range out {
		out[i] = event.ShipmentID(fmt.Sprintf("%s-%03d", prefix, i))
	}
	return out
}

// eventually polls cond every 20 ms until it holds, failing after 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func count(c prometheus.Collector) int { return int(testutil.ToFloat64(c)) }

func samples(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// receipt reads a shipment's stored receipt (nil when absent).
func (e *env) receipt(part int, s event.ShipmentID) []byte {
	e.t.Helper()
	b, err := e.redis.Client.Get(context.Background(), e.store.RecordKey(part, ledger.ReceiptSuffix(s))).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// receipts reads the stored receipts of ships in part, in order.
func (e *env) receipts(part int, ships []event.ShipmentID) [][]byte {
	out := make([][]byte, len(ships))
	for i, s := range ships {
		out[i] = e.receipt(part, s)
	}
	return out
}

// logEntries reads every entry of the log in the directory (through
// Tessera's client, as an auditor would) up to its signed tree head.
func (e *env) logEntries(vkey string) [][]byte {
	e.t.Helper()
	ctx := context.Background()
	tree := e.tree(vkey)
	f := client.FileFetcher{Root: e.dir}
	size := func(context.Context) (uint64, error) { return tree.Size, nil }
	var out [][]byte
	unbundle := func(b []byte) ([][]byte, error) {
		var eb api.EntryBundle
		err := eb.UnmarshalText(b)
		return eb.Entries, err
	}
	for en, err := range client.Entries(client.EntryBundles(ctx, 1, size, f.ReadEntryBundle, 0, tree.Size), unbundle) {
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, en.Entry)
	}
	return out
}

// tree is the log's signed tree head, checked with vkey.
func (e *env) tree(vkey string) *treeHead {
	e.t.Helper()
	raw, err := client.FileFetcher{Root: e.dir}.ReadCheckpoint(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		e.t.Fatal(err)
	}
	cp, err := ledger.OpenCheckpoint(raw, v)
	if err != nil {
		e.t.Fatal(err)
	}
	return &treeHead{Size: cp.Size, raw: raw, v: v}
}

type treeHead struct {
	Size uint64
	raw  []byte
	v    note.Verifier
}

// verify checks a stored receipt end to end as an auditor does: the
// inclusion proof of its checkpoint in the signed tree (built from the log's
// tiles by Tessera's ProofBuilder), its leaf's batch proof, and that the
// shipment's events chain to the leaf.
func (e *env) verify(vkey string, stored []byte, events []ledger.Event) ledger.Verdict {
	e.t.Helper()
	r, err := ledger.UnmarshalReceipt(stored)
	if err != nil {
		e.t.Fatal(err)
	}
	tree := e.tree(vkey)
	pb, err := client.NewProofBuilder(context.Background(), tree.Size, client.FileFetcher{Root: e.dir}.ReadTile)
	if err != nil {
		e.t.Fatal(err)
	}
	incl, err := pb.InclusionProof(context.Background(), r.LogIndex)
	if err != nil {
		e.t.Fatal(err)
	}
	ev := ledger.Evidence{Receipt: r, Events: events, SignedCheckpoint: tree.raw, LogProof: incl}
	verdict, err := ev.Verify(tree.v)
	if err != nil {
		e.t.Fatalf("receipt of %s does not verify: %v", r.Leaf.Shipment, err)
	}
	return verdict
}

// (a) Checkpoints of two event partitions are each appended once, a signed
// tree head covers them, and every shipment's receipt is its latest
// checkpoint's and verifies with the log's verifier key alone.
func TestAnchorsCheckpointsAndWritesVerifiableReceipts(t *testing.T) {
	e := newEnv(t)
	a := e.start()
	now := time.Now()
	parts := map[int]*history{0: {part: 0}, 7: {part: 7}}
	ships := map[int][]event.ShipmentID{0: ids("S0", 5), 7: ids("S7", 3)}
	var batches []*ledger.Batch
	for p, h := range parts {
		h.add(10, ships[p]...)
		h.add(10, ships[p][:2]...) // the second cut changes only two
		h.add(6, ships[p]...)
		batches = append(batches, h.cut(t, 0, 10, now.Add(-3*time.Second)), h.cut(t, 10, 20, now.Add(-2*time.Second)), h.cut(t, 20, 26, now.Add(-time.Second)))
	}
	e.produce(batches...)
	leaves := 0
	for _, b := range batches {
		leaves += len(b.Leaves)
	}
	m := a.Metrics()
	eventually(t, "6 records done", func() bool { return count(m.Records) == 6 })
	if count(m.Appended) != 6 || count(m.Receipts) != leaves {
		t.Fatalf("%d appended, %d receipts written; want 6 and %d", count(m.Appended), count(m.Receipts), leaves)
	}

	vkey := a.VerifierKey()
	if got := e.tree(vkey).Size; got != 6 {
		t.Fatalf("signed tree size %d, want 6", got)
	}
	entries := e.logEntries(vkey)
	var want []string
	for _, b := range batches {
		want = append(want, string(b.Checkpoint.Entry()))
	}
	var got []string
	for _, en := range entries {
		got = append(got, string(en))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("log entries\n%q\nwant the 6 checkpoints' entries\n%q", got, want)
	}
	if idx := a.anchoredIndexes(); len(idx) != 6 || !slices.Equal(slices.Sorted(slices.Values(idx)), []uint64{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("OnAnchored indexes %v, want 0..5 once each", idx)
	}
	if n := samples(t, m.Latency); n != 6 {
		t.Fatalf("latency histogram holds %d samples, want 6", n)
	}
	bad := count(m.BadRecords.WithLabelValues(anchor.ReasonUndecodable)) + count(m.BadRecords.WithLabelValues(anchor.ReasonInvalid))
	if got := count(m.Duplicates) + count(m.Stale) + bad; got != 0 {
		t.Fatalf("%d records counted duplicate, stale or bad", got)
	}
	if got := int(testutil.ToFloat64(m.TreeSize)); got != 6 {
		t.Fatalf("tree size gauge %d, want 6", got)
	}

	for p, h := range parts {
		for _, s := range ships[p] {
			stored := e.receipt(p, s)
			if stored == nil {
				t.Fatalf("no receipt for %s", s)
			}
			v := e.verify(vkey, stored, h.of(s))
			// Every shipment is in the last cut: its receipt is that one's.
			if v.Checkpoint.To != 26 || v.Checkpoint.Partition != p || v.Events != uint64(len(h.of(s))) {
				t.Fatalf("%s: receipt of checkpoint %s covering %d events, want the last cut (to 26) with %d", s, v.Checkpoint.ID(), v.Events, len(h.of(s)))
			}
			if v.TreeSize != 6 || v.Origin != anchor.DefaultOrigin {
				t.Fatalf("%s: verdict %+v", s, v)
			}
		}
	}
}

// (b) A record delivered again is not appended again, and neither is one
// read by a new anchor on the same log after a restart; a second anchor on
// a log in use is refused.
func TestRedeliveredCheckpointIsNotAppendedTwice(t *testing.T) {
	e := newEnv(t)
	h := &history{part: 3}
	h.add(20, ids("S", 4)...)
	h.add(10, ids("S", 4)...)
	cp1, cp2, cp3 := h.cut(t, 0, 10, time.Now()), h.cut(t, 10, 20, time.Now()), h.cut(t, 20, 30, time.Now())

	a := e.start()
	e.produce(cp1, cp2)
	m := a.Metrics()
	eventually(t, "2 records done", func() bool { return count(m.Records) == 2 })
	if count(m.Appended) != 2 || count(m.Receipts) != 8 {
		t.Fatalf("%d appended, %d receipts written; want 2 and 8", count(m.Appended), count(m.Receipts))
	}
	before := e.receipts(3, ids("S", 4))
	e.produce(cp1)
	eventually(t, "the re-delivered record done", func() bool { return count(m.Records) == 3 })
	if count(m.Appended) != 2 || count(m.Duplicates) != 1 || count(m.Receipts) != 8 {
		t.Fatalf("after re-delivery: %d appended, %d duplicates, %d receipts written; want 2, 1 and 8", count(m.Appended), count(m.Duplicates), count(m.Receipts))
	}
	if !slices.EqualFunc(before, e.receipts(3, ids("S", 4)), slices.Equal) {
		t.Fatal("the re-delivered older checkpoint changed receipts")
	}

	second, err := anchor.New(e.config())
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Run(context.Background()); err == nil {
		t.Fatal("a second anchor ran on a log in use")
	}

	a.stop(t)
	vkey := a.VerifierKey()
	if got := e.tree(vkey).Size; got != 2 {
		t.Fatalf("tree size %d after stop, want 2", got)
	}
	b := e.start()
	if b.VerifierKey() != vkey {
		t.Fatal("the restarted anchor has another key")
	}
	e.produce(cp2, cp3)
	mb := b.Metrics()
	eventually(t, "the restarted anchor done with both", func() bool { return count(mb.Records) == 2 })
	if count(mb.Appended) != 1 || count(mb.Duplicates) != 1 || count(mb.Receipts) != 4 {
		t.Fatalf("restarted anchor: %d appended, %d duplicates, %d receipts; want 1, 1 and 4 (cp3's)", count(mb.Appended), count(mb.Duplicates), count(mb.Receipts))
	}
	entries := e.logEntries(vkey)
	want := [][]byte{cp1.Checkpoint.Entry(), cp2.Checkpoint.Entry(), cp3.Checkpoint.Entry()}
	if !slices.EqualFunc(entries, want, slices.Equal) {
		t.Fatalf("log entries %q, want cp1, cp2, cp3 once each", entries)
	}
	if idx := b.anchoredIndexes(); !slices.Equal(idx, []uint64{2}) {
		t.Fatalf("restarted anchor anchored %v, want [2]", idx)
	}
}

// (c) A checkpoint ending at or before what the log holds for its partition
// (a processor that rebuilt restates different bytes) is skipped: nothing
// appended, no receipt changed; a later one is appended as usual.
func TestStaleCheckpointIsSkipped(t *testing.T) {
	e := newEnv(t)
	h := &history{part: 5}
	h.add(30, ids("S", 3)...)
	cp1, cp2 := h.cut(t, 0, 10, time.Now()), h.cut(t, 10, 20, time.Now())
	a := e.start()
	m := a.Metrics()
	e.produce(cp1, cp2)
	eventually(t, "2 records done", func() bool { return count(m.Records) == 2 })
	if count(m.Appended) != 2 || count(m.Receipts) != 6 {
		t.Fatalf("%d appended, %d receipts written; want 2 and 6", count(m.Appended), count(m.Receipts))
	}
	before := e.receipts(5, ids("S", 3))

	restated := h.cut(t, 0, 20, time.Now().Add(time.Hour)) // same end, other bytes
	shorter := h.cut(t, 0, 15, time.Now())
	e.produce(restated, shorter)
	eventually(t, "4 records done", func() bool { return count(m.Records) == 4 })
	if count(m.Stale) != 2 || count(m.Appended) != 2 || count(m.Receipts) != 6 || count(m.Duplicates) != 0 {
		t.Fatalf("after the restatements: %d stale, %d appended, %d receipts, %d duplicates; want 2, 2, 6, 0", count(m.Stale), count(m.Appended), count(m.Receipts), count(m.Duplicates))
	}
	if !slices.EqualFunc(before, e.receipts(5, ids("S", 3)), slices.Equal) {
		t.Fatal("a stale checkpoint changed receipts")
	}
	cp3 := h.cut(t, 20, 30, time.Now())
	e.produce(cp3)
	eventually(t, "5 records done", func() bool { return count(m.Records) == 5 })
	if count(m.Appended) != 3 || count(m.Receipts) != 9 {
		t.Fatalf("%d appended, %d receipts written; want 3 and 9", count(m.Appended), count(m.Receipts))
	}
	if got := e.tree(a.VerifierKey()).Size; got != 3 {
		t.Fatalf("tree size %d, want 3", got)
	}
	for _, s := range ids("S", 3) {
		if v := e.verify(a.VerifierKey(), e.receipt(5, s), h.of(s)); v.Checkpoint.To != 30 || v.LogIndex != 2 {
			t.Fatalf("%s: receipt of %s (entry %d), want cp3 (entry 2)", s, v.Checkpoint.ID(), v.LogIndex)
		}
	}
}

// (d) When Redis loses the receipts and the anchor's position (a FLUSHALL,
// simulated on this test's keys only), a restarted anchor reads
// inbond.checkpoints from its start and writes the same receipts again,
// byte for byte, appending nothing; so does a running one, which notices the
// lost position by itself.
func TestRederivesReceiptsAfterRedisLosesThem(t *testing.T) {
	e := newEnv(t)
	hs := []*history{{part: 1}, {part: 2}}
	var batches []*ledger.Batch
	ships := ids("S", 6)
	for _, h := range hs {
		h.add(12, ships...)
		h.add(12, ships[:3]...)
		batches = append(batches, h.cut(t, 0, 12, time.Now()), h.cut(t, 12, 24, time.Now()))
	}
	// A stale restatement among them: re-derivation must skip it again.
	batches = append(batches, hs[0].cut(t, 0, 24, time.Now().Add(time.Minute)))
	a := e.start()
	e.produce(batches...)
	m := a.Metrics()
	eventually(t, "5 records done", func() bool { return count(m.Records) == 5 })
	if count(m.Appended) != 4 || count(m.Stale) != 1 || count(m.Receipts) != 18 {
		t.Fatalf("%d appended, %d stale, %d receipts written; want 4, 1 and 18", count(m.Appended), count(m.Stale), count(m.Receipts))
	}
	snapshot := func() [][]byte { return append(e.receipts(1, ships), e.receipts(2, ships)...) }
	before := snapshot()
	for i, r := range before {
		if r == nil {
			t.Fatalf("receipt %d missing", i)
		}
	}
	vkey := a.VerifierKey()
	a.stop(t)

	ctx := context.Background()
	if err := e.store.DeletePrefix(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(slices.DeleteFunc(snapshot(), func(b []byte) bool { return b == nil })); n != 0 {
		t.Fatalf("%d receipts survived the deletion", n)
	}
	b := e.start()
	mb := b.Metrics()
	eventually(t, "every record read again", func() bool { return count(mb.Records) == 5 })
	if !slices.EqualFunc(snapshot(), before, slices.Equal) {
		t.Fatal("the receipts written again differ")
	}
	if count(mb.Duplicates) != 4 || count(mb.Stale) != 1 || count(mb.Receipts) != 18 || count(mb.Appended) != 0 || e.tree(vkey).Size != 4 {
		t.Fatalf("re-derivation: %d duplicates, %d stale, %d receipts, %d appended, tree size %d; want 4, 1, 18, 0, 4",
			count(mb.Duplicates), count(mb.Stale), count(mb.Receipts), count(mb.Appended), e.tree(vkey).Size)
	}

	// Live: the receipts go, then the position; the running anchor notices
	// within a second and writes them all again.
	var keys []string
	for _, p := range []int{1, 2} {
		for _, s := range ships {
			keys = append(keys, e.store.RecordKey(p, ledger.ReceiptSuffix(s)))
		}
	}
	for _, k := range keys {
		if err := e.redis.Client.Del(ctx, k).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.redis.Client.Del(ctx, e.store.Prefix()+"anchor:offsets").Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the running anchor reads every record again", func() bool { return count(mb.Records) == 10 })
	if !slices.EqualFunc(snapshot(), before, slices.Equal) {
		t.Fatal("the receipts written again differ")
	}
	if count(mb.PositionsLost) != 1 || count(mb.Duplicates) != 8 || count(mb.Stale) != 2 || count(mb.Receipts) != 36 || count(mb.Appended) != 0 || e.tree(vkey).Size != 4 {
		t.Fatalf("live re-derivation: %d positions lost, %d duplicates, %d stale, %d receipts, %d appended, tree size %d; want 1, 8, 2, 36, 0, 4",
			count(mb.PositionsLost), count(mb.Duplicates), count(mb.Stale), count(mb.Receipts), count(mb.Appended), e.tree(vkey).Size)
	}
}

// (e) A receipt is replaced only by a newer one: an older checkpoint read
// again writes the receipts that are missing, and leaves those a later
// checkpoint wrote.
func TestOlderReceiptNeverOverwritesNewer(t *testing.T) {
	e := newEnv(t)
	h := &history{part: 9}
	h.add(10, "A", "B")
	h.add(10, "A")
	cp1, cp2 := h.cut(t, 0, 10, time.Now()), h.cut(t, 10, 20, time.Now())
	a := e.start()
	m := a.Metrics()
	e.produce(cp1, cp2)
	eventually(t, "2 records done", func() bool { return count(m.Records) == 2 })
	if count(m.Appended) != 2 || count(m.Receipts) != 3 {
		t.Fatalf("%d appended, %d receipts written; want 2 and 3", count(m.Appended), count(m.Receipts))
	}
	newerA := e.receipt(9, "A")
	olderB := e.receipt(9, "B")
	if v := e.verify(a.VerifierKey(), newerA, h.of("A")); v.Checkpoint.To != 20 {
		t.Fatalf("A's receipt is of %s, want cp2", v.Checkpoint.ID())
	}
	if err := e.redis.Client.Del(context.Background(), e.store.RecordKey(9, ledger.ReceiptSuffix("B"))).Err(); err != nil {
		t.Fatal(err)
	}
	e.produce(cp1)
	eventually(t, "cp1 done again", func() bool { return count(m.Records) == 3 })
	if count(m.Duplicates) != 1 {
		t.Fatalf("%d duplicates, want 1", count(m.Duplicates))
	}
	if got := e.receipt(9, "A"); string(got) != string(newerA) {
		t.Fatalf("A's receipt was replaced by an older one:\n%s\nwant\n%s", got, newerA)
	}
	if got := e.receipt(9, "B"); string(got) != string(olderB) {
		t.Fatalf("B's receipt written again differs:\n%s\nwant\n%s", got, olderB)
	}
	if count(m.Receipts) != 4 {
		t.Fatalf("%d receipts written, want 4 (3, then B's again)", count(m.Receipts))
	}
}

// (g) A record that is not a batch, one whose leaves do not give its root
// and one with no leaf are skipped, counted by reason, and the good record
// behind them on the same partition is anchored.
func TestBadRecordsAreSkipped(t *testing.T) {
	e := newEnv(t)
	h := &history{part: 4}
	h.add(5, "A", "B")
	good := h.cut(t, 0, 5, time.Now())
	edited := h.cut(t, 0, 5, time.Now())
	edited.Leaves[0].Count++
	empty := fmt.Appendf(nil, `{"checkpoint":{"v":%q,"topic":"inbond.events","partition":4,"from":0,"to":5,"time":"2026-01-01T00:00:00Z","leaves":0,"root":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="},"leaves":[]}`, ledger.EntryVersion)
	e.produceRaw("4", []byte("not json"))
	e.produceRaw("4", edited.Marshal())
	e.produceRaw("4", empty)
	e.produce(good)
	a := e.start()
	m := a.Metrics()
	eventually(t, "4 records done", func() bool { return count(m.Records) == 4 })
	if count(m.Appended) != 1 || count(m.Receipts) != 2 {
		t.Fatalf("%d appended, %d receipts written; want 1 and 2", count(m.Appended), count(m.Receipts))
	}
	if u, i := count(m.BadRecords.WithLabelValues(anchor.ReasonUndecodable)), count(m.BadRecords.WithLabelValues(anchor.ReasonInvalid)); u != 2 || i != 1 {
		t.Fatalf("bad records: %d undecodable, %d invalid; want 2 and 1", u, i)
	}
	for _, s := range []event.ShipmentID{"A", "B"} {
		e.verify(a.VerifierKey(), e.receipt(4, s), h.of(s))
	}
	if got := e.tree(a.VerifierKey()).Size; got != 1 {
		t.Fatalf("tree size %d, want 1", got)
	}
}
