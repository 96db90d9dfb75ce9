package processor_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// checkpointsTileTheLog waits until inbond.checkpoints covers every record
// of inbond.events and checks it against chains computed here from the log
// alone: per partition, the checkpoints (re-publications of one counted once)
// follow each other without gap or overlap from offset 0 to the end, and each
// holds exactly the shipments with a record in its range, each with the
// count and head of all its records before the range's end. It returns the
// number of distinct checkpoints.
func checkpointsTileTheLog(t *testing.T, brokers []string, within time.Duration) int {
	t.Helper()
	ends := testenv.EndOffsets(t, brokers, string(event.TopicEvents))
	total := 0
	for _, e := range ends {
		total += int(e)
	}
	records := testenv.ReadTopic(t, brokers, string(event.TopicEvents), total, within)
	deadline := time.Now().Add(within)
	var batches map[int][]*ledger.Batch
	for {
		var uncovered []string
		batches = readCheckpoints(t, brokers)
		for p, end := range ends {
			if end == 0 {
				continue
			}
			if bs := batches[p]; len(bs) == 0 || bs[len(bs)-1].Checkpoint.To < end {
				uncovered = append(uncovered, fmt.Sprintf("partition %d (end %d)", p, end))
			}
		}
		if len(uncovered) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoints do not cover %s after %s", strings.Join(uncovered, ", "), within)
		}
		time.Sleep(200 * time.Millisecond)
	}
	n := 0
	for p, end := range ends {
		bs := batches[p]
		var links = map[event.ShipmentID]ledger.Link{}
		recs := records[p]
		next := 0
		from := int64(0)
		for _, b := range bs {
			c := b.Checkpoint
			if c.Partition != p || c.Topic != string(event.TopicEvents) {
				t.Fatalf("checkpoint %s published for partition %d", c.ID(), p)
			}
			if c.From != from {
				t.Fatalf("partition %d: checkpoint %s follows one ending at %d: a gap or an overlap (a fork)", p, c.ID(), from)
			}
			changed := map[event.ShipmentID]bool{}
			for ; next < len(recs) && recs[next].Offset < c.To; next++ {
				e, err := event.UnmarshalCanonical(recs[next].Value)
				if err != nil {
					continue
				}
				links[e.Subject] = links[e.Subject].Next(recs[next].Value)
				changed[e.Subject] = true
			}
			var want []ledger.Leaf
			for id := range changed {
				want = append(want, ledger.Leaf{Shipment: id, Count: links[id].Count, Head: links[id].Head})
			}
			slices.SortFunc(want, func(a, b ledger.Leaf) int { return cmp.Compare(a.Shipment, b.Shipment) })
			if !slices.Equal(b.Leaves, want) {
				t.Fatalf("partition %d: checkpoint %s holds %d leaves, the log gives %d (first difference: %v)", p, c.ID(), len(b.Leaves), len(want), firstDiff(b.Leaves, want))
			}
			from = c.To
			n++
		}
		if from != end {
			t.Fatalf("partition %d: checkpoints end at %d, the log at %d", p, from, end)
		}
	}
	return n
}

func firstDiff(got, want []ledger.Leaf) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("leaf %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	return "one list is a prefix of the other"
}

// readCheckpoints returns the distinct checkpoints on inbond.checkpoints by
// events partition, in publication order. A record published twice (a crash
// between publishing and trimming the outbox) is counted once; two different
// records for one range would be a fork, which the tiling check catches.
func readCheckpoints(t *testing.T, brokers []string) map[int][]*ledger.Batch {
	t.Helper()
	out := map[int][]*ledger.Batch{}
	seen := map[string]bool{}
	for _, msgs := range testenv.ReadTopic(t, brokers, string(event.TopicCheckpoints), 1, 2*time.Second) {
		for _, m := range msgs {
			if seen[string(m.Value)] {
				continue
			}
			seen[string(m.Value)] = true
			b, err := ledger.UnmarshalBatch(m.Value)
			if err != nil {
				t.Fatalf("checkpoint record at offset %d: %v", m.Offset, err)
			}
			if !bytes.Equal(m.Key, []byte(fmt.Sprint(b.Checkpoint.Partition))) {
				t.Fatalf("checkpoint %s keyed %q", b.Checkpoint.ID(), m.Key)
			}
			out[b.Checkpoint.Partition] = append(out[b.Checkpoint.Partition], b)
		}
	}
	return out
}

// withoutLedger drops the ledger's keys (chain links, the open checkpoint,
// the outbox) from a snapshot, to compare state with a run without it.
func withoutLedger(s map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range s {
		if strings.Contains(k, ":chain:") || strings.Contains(k, ":ledger:") || strings.HasSuffix(k, ":outbox") {
			continue
		}
		out[k] = v
	}
	return out
}

// TestLedgerCheckpointsTileTheLog: with the ledger on, the checkpoints of a
// streamed workload cover the log exactly, with the chains the log gives,
// and the state is the state of a run without the ledger.
func TestLedgerCheckpointsTileTheLog(t *testing.T) {
	brokers, r, store, envs := newFixture(t, testenv.Kafka(t, embedded.KafkaConfig{}), 200, 12_000, 23)
	streamed := streamIn(t, brokers, envs, 8, 200*time.Millisecond)
	done, stop := launchProcessor(t, brokers, store, "g-ledger", "chainer", processor.NewMetrics(prometheus.NewRegistry()), func(c *processor.Config) {
		c.Ledger, c.CheckpointInterval = true, 300*time.Millisecond
	})
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	<-streamed
	waitCaughtUp(t, brokers, r.Client, store, 2*time.Minute)
	n := checkpointsTileTheLog(t, brokers, time.Minute)
	if n <= 12 {
		t.Fatalf("%d checkpoints for 12 partitions streamed over 1.6 s at a 300 ms interval: intervals were not cut", n)
	}
	t.Logf("%d checkpoints tile the log", n)
	equalsBothReferences(t, withoutLedger(snapshot(t, r.Client, r.Prefix)), brokers, store, envs, "state with the ledger on")
}

// TestLedgerSurvivesSIGKILL kills processor processes (three times) mid-interval while
// events stream in: no checkpoint is lost or forked (they still tile the log
// with the log's chains) and the state is that of an uninterrupted run.
func TestLedgerSurvivesSIGKILL(t *testing.T) {
	brokers, r, store, envs := newFixture(t, kafkaProcess(t), 300, 30_000, 29)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 2))
	t.Logf("kill schedule seed %d", seed)
	flags := []string{"--ledger", "--checkpoint-interval", "250ms"}
	streamed := streamIn(t, brokers, envs, 20, 100*time.Millisecond)
	proc := startProcessProcess(t, brokers, r, "g-ledger-crash", "chainer-0", flags...)
	for kill := 1; kill <= 3; kill++ {
		time.Sleep(time.Duration(200+rng.IntN(700)) * time.Millisecond)
		proc.kill()
		proc = startProcessProcess(t, brokers, r, "g-ledger-crash", fmt.Sprintf("chainer-%d", kill), flags...)
	}
	<-streamed
	waitCaughtUp(t, brokers, r.Client, store, 3*time.Minute)
	n := checkpointsTileTheLog(t, brokers, time.Minute)
	proc.stop(t)
	t.Logf("3 SIGKILLs; %d checkpoints tile the log", n)
	equalsBothReferences(t, withoutLedger(snapshot(t, r.Client, r.Prefix)), brokers, store, envs, "state after 3 SIGKILLs with the ledger on")
}

// TestLedgerProvesHistoriesAfterCrashAndRedisLoss runs the whole ledger (the
// processor as a process, the anchor, Tessera's log) while processors are
// SIGKILLed mid-interval; every shipment then verifies against the signed
// log. Redis then loses everything (FLUSHALL): the processor rebuilds state
// and chains from the log, the anchor re-derives every receipt from
// inbond.checkpoints, and every shipment verifies again against the same
// checkpoints and roots, with nothing appended to the log.
func TestLedgerProvesHistoriesAfterCrashAndRedisLoss(t *testing.T) {
	brokers := kafkaProcess(t)
	srv := testenv.StartOwnRedis(t) // its own server: FLUSHALL touches nothing shared
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	r := &testenv.Redis{Client: rdb, Addr: srv.Addr, Prefix: "e2e:", Real: true}
	store, err := state.NewStore(rdb, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	envs := sim.Workload(sim.WorkloadConfig{Shipments: 150, Events: 15_000, Seed: 31})
	dir := t.TempDir()
	a, err := anchor.New(anchor.Config{Brokers: brokers, Dir: filepath.Join(dir, "log"), KeyFile: filepath.Join(dir, "ledger.key"),
		Store: store, Redis: rdb, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	anchored := make(chan error, 1)
	go func() { anchored <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-anchored; err != nil {
			t.Errorf("anchor: %v", err)
		}
	})

	flags := []string{"--ledger", "--checkpoint-interval", "300ms"}
	streamed := streamIn(t, brokers, envs, 15, 100*time.Millisecond)
	proc := startProcessProcess(t, brokers, r, "g-e2e", "e2e-0", flags...)
	for kill := 1; kill <= 2; kill++ {
		time.Sleep(700 * time.Millisecond)
		proc.kill()
		proc = startProcessProcess(t, brokers, r, "g-e2e", fmt.Sprintf("e2e-%d", kill), flags...)
	}
	<-streamed
	waitCaughtUp(t, brokers, rdb, store, 2*time.Minute)
	key, err := audit.Verifier(a.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	lg, err := audit.OpenLog(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]event.ShipmentID, 0, 150)
	for id := range reference(envs) {
		ids = append(ids, id)
	}
	proveAll := func(when string) map[event.ShipmentID]audit.Report {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			behind, err := audit.Unanchored(t.Context(), store, bus.DefaultPartitions)
			if err == nil && behind == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d shipments still not anchored after a minute (%v)", when, behind, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		seen := filepath.Join(dir, "seen-checkpoint") // the auditor's memory of the log across both checks
		reports, _, err := audit.VerifyAll(t.Context(), audit.Config{Brokers: brokers, Store: store, Log: lg, Key: key, SeenFile: seen}, ids)
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if len(reports) != len(ids) {
			t.Fatalf("%s: %d of %d shipments verified", when, len(reports), len(ids))
		}
		return reports
	}
	before := proveAll("after 2 SIGKILLs")
	entries := testutil.ToFloat64(a.Metrics().Appended)
	t.Logf("every one of %d shipments verifies against a signed tree of %d entries", len(ids), before[ids[0]].Verdict.TreeSize)

	if err := rdb.FlushAll(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, brokers, rdb, store, 2*time.Minute)
	after := proveAll("after FLUSHALL")
	for _, id := range ids {
		b, a := before[id].Verdict, after[id].Verdict
		if b.Checkpoint.ID() != a.Checkpoint.ID() || !bytes.Equal(b.Checkpoint.Root, a.Checkpoint.Root) || b.Head != a.Head || b.Events != a.Events {
			t.Fatalf("shipment %s: proven by %s root %x (%d events) before the loss, by %s root %x (%d events) after",
				id, b.Checkpoint.ID(), b.Checkpoint.Root, b.Events, a.Checkpoint.ID(), a.Checkpoint.Root, a.Events)
		}
	}
	if c := after[ids[0]].Consistent; !strings.Contains(c, "extends the tree of size") {
		t.Fatalf("the second check did not prove the log extends the first one's tree: %q", c)
	}
	if got := testutil.ToFloat64(a.Metrics().Appended); got != entries {
		t.Fatalf("the rebuild appended %v entries to the log", got-entries)
	}
	proc.stop(t)
	t.Logf("after FLUSHALL every shipment verifies again by the same checkpoint and root; the log did not grow")
}

// TestLedgerKillBeforeTheFirstCut kills a processor that has flushed but not
// yet cut any checkpoint (its interval is an hour): its successor's first
// checkpoints still start at offset 0.
func TestLedgerKillBeforeTheFirstCut(t *testing.T) {
	brokers, r, store, envs := newFixture(t, kafkaProcess(t), 100, 5_000, 37)
	produce(t, brokers, envs)
	proc := startProcessProcess(t, brokers, r, "g-ledger-first", "slow-cutter", "--ledger", "--checkpoint-interval", "1h")
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	proc.kill()
	if n := len(readCheckpoints(t, brokers)); n != 0 {
		t.Fatalf("%d checkpoints cut within an hour's interval", n)
	}
	proc = startProcessProcess(t, brokers, r, "g-ledger-first", "quick-cutter", "--ledger", "--checkpoint-interval", "200ms")
	n := checkpointsTileTheLog(t, brokers, time.Minute)
	proc.stop(t)
	t.Logf("after a kill before the first cut, %d checkpoints tile the log from offset 0", n)
}

// TestLedgerReopensPastRetention: retention deletes the start of a
// partition's open checkpoint while no processor runs. The next owner
// cannot reread it (Kafka answers OFFSET_OUT_OF_RANGE; an owner that asked
// claimed and released the partition for ever), so it rebuilds the open
// checkpoint from what the log still holds, and the partition's checkpoints
// go on: the next one is cut, from where the open one began, within seconds.
func TestLedgerReopensPastRetention(t *testing.T) {
	brokers, r, store, envs := newFixture(t, testenv.Kafka(t, embedded.KafkaConfig{}), 60, 3_000, 43)
	produce(t, brokers, envs[:2_000])
	ledgerOn := func(every time.Duration) func(*processor.Config) {
		return func(c *processor.Config) { c.Ledger, c.CheckpointInterval = true, every }
	}
	done, cancel := launchProcessor(t, brokers, store, "g-ledger-retention", "before", processor.NewMetrics(prometheus.NewRegistry()), ledgerOn(time.Hour))
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	cancel()
	<-done
	if n := len(readCheckpoints(t, brokers)); n != 0 {
		t.Fatalf("%d checkpoints cut within an hour's interval", n)
	}
	ends := testenv.EndOffsets(t, brokers, string(event.TopicEvents))
	part := 0
	for p, end := range ends {
		if end > ends[part] {
			part = p
		}
	}
	deleteRecordsBelow(t, brokers, part, ends[part]/2)

	metrics := processor.NewMetrics(prometheus.NewRegistry())
	done, cancel = launchProcessor(t, brokers, store, "g-ledger-retention", "after", metrics, ledgerOn(200*time.Millisecond))
	t.Cleanup(func() { cancel(); <-done })
	produce(t, brokers, envs[2_000:])
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for {
		cps := readCheckpoints(t, brokers)[part]
		if len(cps) > 0 {
			if c := cps[0].Checkpoint; c.From != 0 {
				t.Fatalf("partition %d's first checkpoint starts at %d, not where its open checkpoint began (0)", part, c.From)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of partition %d within 30 s of the restart (%v generations)", part, testutil.ToFloat64(metrics.Generations))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if g := testutil.ToFloat64(metrics.Generations); g != 1 {
		t.Errorf("%v generations for one instance: it claimed and released its partitions", g)
	}
	t.Logf("partition %d: half its open checkpoint deleted, the next owner cut from offset 0 on", part)
}
