package processor_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// streamIn produces envs in chunks with pauses, like live traffic, and
// returns a channel closed when all are written.
func streamIn(t *testing.T, brokers []string, envs []*event.Envelope, chunks int, pause time.Duration) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		size := (len(envs) + chunks - 1) / chunks
		for i := 0; i < len(envs); i += size {
			produce(t, brokers, envs[i:min(i+size, len(envs))])
			time.Sleep(pause)
		}
	}()
	return done
}

// referenceRun processes the whole input once, uninterrupted, with an
// in-process processor into its own key prefix, and returns its snapshot.
func referenceRun(t *testing.T, brokers []string) map[string]string {
	t.Helper()
	r := testenv.NewRedis(t)
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	stop := startProcessor(t, brokers, store, "g-reference", "reference")
	waitCaughtUp(t, brokers, r.Client, store, 3*time.Minute)
	stop()
	return snapshot(t, r.Client, r.Prefix)
}

// TestCrashRecoverySIGKILL kills a processor process at random points while
// 200,000 events for 1,000 shipments stream in; after the last restart the
// state is byte for byte the state of one uninterrupted run.
func TestCrashRecoverySIGKILL(t *testing.T) {
	brokers, r, store, envs := newFixture(t, kafkaProcess(t), 1000, 200_000, 7)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("kill schedule seed %d", seed)

	streamed := streamIn(t, brokers, envs, 40, 150*time.Millisecond)
	proc := startProcessProcess(t, brokers, r, "g-crash", "crashy-0")
	kills := 0
	for kills < 6 {
		time.Sleep(time.Duration(300+rng.IntN(1200)) * time.Millisecond)
		proc.kill()
		kills++
		proc = startProcessProcess(t, brokers, r, "g-crash", "crashy-"+string(rune('0'+kills)))
	}
	<-streamed
	t.Cleanup(func() {
		if t.Failed() {
			_ = proc.cmd.Process.Signal(syscall.SIGQUIT) // Go prints every goroutine's stack
			time.Sleep(time.Second)
			var logLines []string
			for _, l := range strings.Split(proc.log.String(), "\n") {
				if strings.HasPrefix(l, "{") {
					logLines = append(logLines, l)
				}
			}
			t.Logf("last processor's log:\n%s", strings.Join(logLines[max(0, len(logLines)-80):], "\n"))
			t.Logf("its goroutines:\n%s", tail(proc.log.String(), 300))
		}
	})
	waitCaughtUp(t, brokers, r.Client, store, 3*time.Minute)
	proc.stop(t)
	t.Logf("%d SIGKILLs; last restart caught up", kills)

	equalsBothReferences(t, snapshot(t, r.Client, r.Prefix), brokers, store, envs, "state after 6 SIGKILLs")
}

// TestZombieFlushIsFenced pauses a processor process (SIGSTOP) past its
// session timeout while it holds applied but unflushed events; its
// successor takes the partitions; when the zombie wakes its flushes are
// refused and the state stays correct.
func TestZombieFlushIsFenced(t *testing.T) {
	brokers, r, store, envs := newFixture(t, kafkaProcess(t), 300, 30_000, 11)
	half := len(envs) / 2

	// The zombie-to-be flushes only when it loses a partition.
	zombie := startProcessProcess(t, brokers, r, "g-zombie", "zombie", "--flush-interval", "1h", "--flush-events", "100000000")
	waitLog(t, zombie.log, `"partition claimed"`, bus.DefaultPartitions, 30*time.Second)
	produce(t, brokers, envs[:half])
	time.Sleep(time.Second) // it reads and applies, in memory only

	if err := zombie.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	successor := startProcessProcess(t, brokers, r, "g-zombie", "successor")
	waitLog(t, successor.log, `"partition claimed"`, bus.DefaultPartitions, 30*time.Second)
	produce(t, brokers, envs[half:])
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	before := snapshot(t, r.Client, r.Prefix)

	if err := zombie.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// On waking, the zombie's generation ends and each partition makes its
	// final flush: refused ("taken over") when fencing works, written
	// ("partition released") when it does not. Look at Redis right then,
	// before a rebalance replays the log over a stale write and hides it.
	fenced, released := `taken over by a newer owner`, `"partition released"`
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(zombie.log.String(), fenced)+strings.Count(zombie.log.String(), released) < bus.DefaultPartitions && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	sameState(t, snapshot(t, r.Client, r.Prefix), before, "state right after the zombie's flushes vs before")
	if !strings.Contains(zombie.log.String(), fenced) {
		t.Errorf("the zombie's flush was not refused: no fencing in its log")
	}
	zombie.stop(t) // it may have rejoined and legitimately owned partitions: they flush on exit
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	successor.stop(t)

	after := snapshot(t, r.Client, r.Prefix)
	sameState(t, after, before, "state once the zombie stopped vs before")
	matchesReference(t, after, store, envs, bus.DefaultPartitions)
	t.Logf("zombie fenced on %d partition(s)", strings.Count(zombie.log.String(), "taken over by a newer owner"))
}

// TestRebalanceJoinLeave: three instances share twelve partitions, joining and
// leaving while events stream in; the final state equals one uninterrupted run.
func TestRebalanceJoinLeave(t *testing.T) {
	brokers, r, store, envs := newFixture(t, testenv.Kafka(t, embedded.KafkaConfig{}), 600, 60_000, 13)
	streamed := streamIn(t, brokers, envs, 30, 150*time.Millisecond)

	step := func() { time.Sleep(600 * time.Millisecond) }
	stopA := startProcessor(t, brokers, store, "g-rebalance", "a")
	step()
	stopB := startProcessor(t, brokers, store, "g-rebalance", "b")
	step()
	stopC := startProcessor(t, brokers, store, "g-rebalance", "c")
	step()
	stopA() // leaves
	step()
	startProcessor(t, brokers, store, "g-rebalance", "a2") // joins
	step()
	stopB()
	step()
	stopC()
	startProcessor(t, brokers, store, "g-rebalance", "d")
	<-streamed
	waitCaughtUp(t, brokers, r.Client, store, 2*time.Minute)

	equalsBothReferences(t, snapshot(t, r.Client, r.Prefix), brokers, store, envs, "state after joins and leaves")
}

// TestDuplicatesChangeNothing replays the whole input, then re-sends a random
// 10% of it: the shipments and indexes stay exactly as they were.
func TestDuplicatesChangeNothing(t *testing.T) {
	brokers, r, store, envs := newFixture(t, testenv.Kafka(t, embedded.KafkaConfig{}), 200, 20_000, 17)
	produce(t, brokers, envs)
	startProcessor(t, brokers, store, "g-dup", "solo")
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	once := withoutOffsets(snapshot(t, r.Client, r.Prefix))

	produce(t, brokers, envs) // the whole input again
	rng := rand.New(rand.NewPCG(17, 1))
	var resend []*event.Envelope
	for _, e := range envs {
		if rng.IntN(10) == 0 {
			resend = append(resend, e)
		}
	}
	produce(t, brokers, resend)
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	sameState(t, withoutOffsets(snapshot(t, r.Client, r.Prefix)), once,
		fmt.Sprintf("state after replaying the input and re-sending %d events", len(resend)))
}

func withoutOffsets(s map[string]string) map[string]string {
	for k := range s {
		if strings.HasSuffix(k, ":offset") {
			delete(s, k)
		}
	}
	return s
}

// waitLog waits until log holds n occurrences of needle, or fails t.
func waitLog(t *testing.T, log *syncBuffer, needle string, n int, within time.Duration) {
	t.Helper()
	if !seeLog(log, needle, n, within) {
		t.Fatalf("%d× %q not seen within %s; log:\n%s", n, needle, within, log.String())
	}
}

// seeLog reports whether log holds n occurrences of needle within the time.
func seeLog(log *syncBuffer, needle string, n int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for strings.Count(log.String(), needle) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// TestRedisRestart kills Redis (SIGKILL) twice while the processor applies a
// stream; the processor retries its claims, loads and flushes until Redis is
// back, and the final state equals the reference computed from the input.
func TestRedisRestart(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	srv := testenv.StartOwnRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := state.NewStore(rdb, "restart:")
	if err != nil {
		t.Fatal(err)
	}
	envs := sim.Workload(sim.WorkloadConfig{Shipments: 300, Events: 40_000, Seed: 19})
	streamed := streamIn(t, brokers, envs, 20, 150*time.Millisecond)
	startProcessor(t, brokers, store, "g-redis-restart", "solo")
	for range 2 {
		time.Sleep(800 * time.Millisecond)
		srv.Kill()
		time.Sleep(700 * time.Millisecond) // flushes fail and are retried meanwhile
		srv.Start()
	}
	<-streamed
	waitCaughtUp(t, brokers, rdb, store, 2*time.Minute)
	matchesReference(t, snapshot(t, rdb, "restart:"), store, envs, bus.DefaultPartitions)
}

// TestRedisLosesEverything empties Redis as a restart without persistence or
// a failover to an empty replica would: twice while events stream in, and
// once more after the processor has caught up and sits idle. Each time the
// partitions find their position gone, are claimed again and replay the log
// from the start; the end state is exactly that of one uninterrupted run,
// indexes included.
func TestRedisLosesEverything(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	srv := testenv.StartOwnRedis(t) // its own server: FLUSHALL touches nothing shared
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := state.NewStore(rdb, "lost:")
	if err != nil {
		t.Fatal(err)
	}
	envs := sim.Workload(sim.WorkloadConfig{Shipments: 300, Events: 40_000, Seed: 23})
	streamed := streamIn(t, brokers, envs, 20, 150*time.Millisecond)
	startProcessor(t, brokers, store, "g-redis-lost", "solo")
	flushAll := func() {
		if err := rdb.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		time.Sleep(900 * time.Millisecond)
		flushAll()
	}
	<-streamed
	waitCaughtUp(t, brokers, rdb, store, 2*time.Minute)
	flushAll() // nothing left to read: only the idle partitions' position check can notice
	waitCaughtUp(t, brokers, rdb, store, 30*time.Second)
	equalsBothReferences(t, snapshot(t, rdb, "lost:"), brokers, store, envs, "state after Redis lost everything three times")
}

// snapshotScript and restoreScript copy every key under a prefix out of Redis
// and put them back, each in one atomic step: a point-in-time copy, such as a
// backup or a replica's, and its restore.
var (
	snapshotScript = redis.NewScript(`
local out = {}
for _, k in ipairs(redis.call('KEYS', ARGV[1] .. '*')) do
  table.insert(out, k)
  table.insert(out, redis.call('DUMP', k))
end
return out`)
	restoreScript = redis.NewScript(`
for _, k in ipairs(redis.call('KEYS', ARGV[1] .. '*')) do redis.call('DEL', k) end
for i = 2, #ARGV, 2 do redis.call('RESTORE', ARGV[i], 0, ARGV[i + 1]) end
return (#ARGV - 1) / 2`)
)

// TestRedisRollsBack puts Redis back to an older point-in-time copy of the
// state, as a crash with appendfsync everysec or a failover to a lagging
// replica does: once while events stream in, and once after the processor
// has caught up, when the copy holds only the first half of the input. The
// owners find their offsets older than they left them, drop what they hold
// in memory and replay from the older offset. Without that, shipments
// flushed after the copy would stay rolled back while the offset moved on,
// or, on an idle partition, the whole rollback would stay.
func TestRedisRollsBack(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	r := testenv.NewRedis(t)
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	envs := sim.Workload(sim.WorkloadConfig{Shipments: 300, Events: 40_000, Seed: 29})
	half := len(envs) / 2
	ctx := t.Context()
	copyState := func() []string {
		copied, err := snapshotScript.Run(ctx, r.Client, nil, r.Prefix).StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		return copied
	}
	restore := func(copied []string) {
		args := []any{r.Prefix}
		for _, s := range copied {
			args = append(args, s)
		}
		if err := restoreScript.Run(ctx, r.Client, nil, args...).Err(); err != nil {
			t.Fatal(err)
		}
	}

	streamed := streamIn(t, brokers, envs[:half], 10, 150*time.Millisecond)
	startProcessor(t, brokers, store, "g-redis-rollback", "solo")
	time.Sleep(500 * time.Millisecond)
	midStream := copyState()
	time.Sleep(500 * time.Millisecond) // the processor flushes on meanwhile
	restore(midStream)
	<-streamed
	waitCaughtUp(t, brokers, r.Client, store, 2*time.Minute)

	firstHalf := copyState()
	produce(t, brokers, envs[half:])
	waitCaughtUp(t, brokers, r.Client, store, 2*time.Minute)
	restore(firstHalf) // the processor is idle: nothing is left to read
	t.Logf("Redis put back to copies of %d keys (mid-stream) and %d keys (first half, while idle)", len(midStream)/2, len(firstHalf)/2)
	waitCaughtUp(t, brokers, r.Client, store, 30*time.Second)

	equalsBothReferences(t, snapshot(t, r.Client, r.Prefix), brokers, store, envs, "state after two rollbacks")
}

// TestPartitionCountChangeStops adds partitions to inbond.events under a
// running processor. Its shipments would hash elsewhere from then on, so it
// must stop with ErrPartitionCountChanged instead of skipping their events
// as misrouted, and the state it flushed must stay as it was.
func TestPartitionCountChangeStops(t *testing.T) {
	brokers, r, store, envs := newFixture(t, testenv.Kafka(t, embedded.KafkaConfig{}), 50, 2_000, 31)
	done, cancel := launchProcessor(t, brokers, store, "g-partitions", "solo", processor.NewMetrics(prometheus.NewRegistry()))
	defer cancel()
	produce(t, brokers, envs)
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	before := snapshot(t, r.Client, r.Prefix)

	client := &kafka.Client{Addr: kafka.TCP(brokers...)}
	res, err := client.CreatePartitions(t.Context(), &kafka.CreatePartitionsRequest{
		Topics: []kafka.TopicPartitionsConfig{{Name: string(event.TopicEvents), Count: bus.DefaultPartitions + 4}},
	})
	if err != nil || res.Errors[string(event.TopicEvents)] != nil {
		t.Fatalf("add partitions: %v %v", err, res)
	}
	select {
	case err := <-done:
		if !errors.Is(err, processor.ErrPartitionCountChanged) {
			t.Fatalf("processor stopped with %v, want ErrPartitionCountChanged", err)
		}
		t.Logf("processor stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("processor still running 30s after inbond.events grew from 12 to 16 partitions")
	}
	sameState(t, snapshot(t, r.Client, r.Prefix), before, "state after the stop vs before the change")
}

// TestFetchOutageKeepsTheGeneration makes every fetch and offset lookup fail
// for 6 s, long enough for kafka-go to give up its retries and report errors,
// while events wait in the log. The processor must ride it out in the same
// consumer-group generation (a partition that gave up would end it and
// rebalance the whole group) and then apply everything.
func TestFetchOutageKeepsTheGeneration(t *testing.T) {
	brokers, faults := testenv.KafkaFaults(t, embedded.KafkaConfig{})
	_, r, store, envs := newFixture(t, brokers, 200, 20_000, 37)
	metrics := processor.NewMetrics(prometheus.NewRegistry())
	// A session long enough that a slow heartbeat on a loaded machine cannot
	// rebalance the group: only the outage could.
	done, cancel := launchProcessor(t, brokers, store, "g-fetch-outage", "solo", metrics,
		func(c *processor.Config) { c.SessionTimeout = 15 * time.Second })
	t.Cleanup(func() { cancel(); <-done })
	half := len(envs) / 2
	produce(t, brokers, envs[:half])
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)

	// Fetches fail, and so do the offset lookups a reader makes when it
	// reconnects: kafka-go then gives up after its attempts and reports.
	// The group's heartbeats go on.
	faults.Fail(kmsg.Fetch.Int16(), kmsg.ListOffsets.Int16())
	produce(t, brokers, envs[half:])
	time.Sleep(6 * time.Second)
	faults.Heal()
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	if faults.Refused() == 0 {
		t.Fatal("no fetch was refused: the outage did not happen")
	}
	if n := testutil.ToFloat64(metrics.Generations); n != 1 {
		t.Fatalf("%v generations: the fetch outage rebalanced the group", n)
	}
	t.Logf("%d fetches and offset lookups refused over 6 s; one generation throughout", faults.Refused())
	matchesReference(t, snapshot(t, r.Client, r.Prefix), store, envs, bus.DefaultPartitions)
}

// deleteRecordsBelow deletes partition part's records of inbond.events
// below offset cut, as retention does.
func deleteRecordsBelow(t *testing.T, brokers []string, part int, cut int64) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = string(event.TopicEvents)
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Partition, rp.Offset = int32(part), cut
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("delete records below %d of partition %d: %v %+v", cut, part, err, resp)
	}
}

// TestRetentionGapIsCounted deletes the older half of one partition before
// the processor has read it, as retention does to a processor down too long.
// Those events can never reach state; the processor must say how many were
// lost (inbond_processor_skipped_offsets_total) rather than skip them quietly.
func TestRetentionGapIsCounted(t *testing.T) {
	brokers, r, store, envs := newFixture(t, testenv.Kafka(t, embedded.KafkaConfig{}), 50, 3_000, 41)
	produce(t, brokers, envs)
	ends := testenv.EndOffsets(t, brokers, string(event.TopicEvents))
	part := 0
	for p, end := range ends {
		if end > ends[part] {
			part = p
		}
	}
	cut := ends[part] / 2

	deleteRecordsBelow(t, brokers, part, cut)

	metrics := processor.NewMetrics(prometheus.NewRegistry())
	done, cancel := launchProcessor(t, brokers, store, "g-retention", "solo", metrics)
	t.Cleanup(func() { cancel(); <-done })
	waitCaughtUp(t, brokers, r.Client, store, time.Minute)
	if got := testutil.ToFloat64(metrics.SkippedOffsets); got != float64(cut) {
		t.Fatalf("%v offsets counted as skipped, want the %d deleted from partition %d", got, cut, part)
	}
	t.Logf("partition %d: the %d records deleted before they were read were counted as skipped", part, cut)
}
