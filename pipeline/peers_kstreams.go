package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/realkafka"
	"github.com/inbond/inbond/state"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Engine names of the Kafka Streams peer (bench/kstreams), one per
// processing.guarantee.
const (
	EngineKStreamsEOS  = "kstreams-eos"  // processing.guarantee=exactly_once_v2
	EngineKStreamsALOS = "kstreams-alos" // processing.guarantee=at_least_once
)

// Kafka selections of PeersConfig.Kafka.
const (
	PeersKafkaFake = "kfake" // in-process kfake (the default)
	PeersKafkaReal = "real"  // Apache Kafka started from internal/realkafka's jars
)

// kstreamsMain is the peer's main class in bench/kstreams.
const kstreamsMain = "inbond.bench.KStreamsPeer"

// KStreamsLibs is where `make kstreams-peer` puts the Kafka Streams peer's
// jar and its dependencies, under the module's root.
const KStreamsLibs = ".cache/kstreams/libs"

func guaranteeOf(engine string) string {
	if engine == EngineKStreamsALOS {
		return "at_least_once"
	}
	return "exactly_once_v2"
}

// startKafka starts the benchmark's Kafka: the brokers given, Apache Kafka
// (realkafka, the JIT's full tiers and a heap for a benchmark), or kfake;
// inbond's topics are created on it. It returns a description and a stop
// function.
func (b *peerBench) startKafka(ctx context.Context) (string, func(), error) {
	switch {
	case len(b.cfg.Brokers) > 0:
		b.brokers = b.cfg.Brokers
		return fmt.Sprintf("Kafka %v (given)", b.brokers), func() {}, b.ensureInbondTopics(ctx)
	case b.cfg.Kafka == PeersKafkaReal:
		if err := realkafka.Available(realkafka.Config{}); err != nil {
			return "", nil, fmt.Errorf("--kafka real: %w", err)
		}
		c, err := realkafka.Start(ctx, realkafka.Config{Heap: "1g"})
		if err != nil {
			return "", nil, err
		}
		b.brokers = c.Brokers
		return fmt.Sprintf("Apache Kafka %s %v (one broker, KRaft, started in %s)", realkafka.Version, c.Brokers, c.StartupTime.Round(time.Millisecond)),
			c.Stop, b.ensureInbondTopics(ctx)
	case b.cfg.Kafka == "" || b.cfg.Kafka == PeersKafkaFake:
		cluster, err := Start(ctx, Config{Kafka: Kafka{Embedded: true}})
		if err != nil {
			return "", nil, err
		}
		b.brokers = cluster.Brokers
		return fmt.Sprintf("in-process kfake %v", b.brokers), func() { _ = cluster.Stop() }, nil
	}
	return "", nil, fmt.Errorf("kafka %q: %s or %s", b.cfg.Kafka, PeersKafkaFake, PeersKafkaReal)
}

// realKafka reports whether the run is on Apache Kafka rather than kfake.
func (b *peerBench) realKafka() bool { return len(b.cfg.Brokers) > 0 || b.cfg.Kafka == PeersKafkaReal }

// ensureInbondTopics creates inbond's topics and waits until inbond.events
// answers for its end offsets: on Apache Kafka a created topic's partitions
// are served a moment after CreateTopics returns.
func (b *peerBench) ensureInbondTopics(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := bus.EnsureTopics(ctx, b.brokers, bus.Topics(bus.DefaultPartitions))
		if err == nil {
			_, err = bus.EndOffsets(ctx, b.brokers, string(event.TopicEvents))
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("create inbond's topics: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ensureServed creates topic (bus.DefaultPartitions partitions, configs)
// where missing and waits until its partitions answer for their end
// offsets. goka creates its table topic itself and at once asks for its
// oldest offsets: on Apache Kafka a new topic's partitions are served a
// moment after CreateTopics returns, and goka fails on the NOT_LEADER
// answer instead of retrying, so the benchmark creates it first (as a
// deployment creates its topics ahead).
func (b *peerBench) ensureServed(topic string, configs map[string]string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		err := bus.EnsureTopics(ctx, b.brokers, []bus.TopicSpec{{Topic: event.Topic(topic), Partitions: bus.DefaultPartitions, Configs: configs}})
		if err == nil {
			var ends []int64
			if ends, err = bus.EndOffsets(ctx, b.brokers, topic); err == nil && len(ends) == bus.DefaultPartitions {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create %s: %v", topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kstreamsEngine is the Kafka Streams peer as a child JVM. A record has its
// result when the application's committed offset passes it: under
// exactly_once_v2 its transaction (changelog writes and offsets) committed,
// under at_least_once its changelog writes acknowledged before the offsets
// were committed. Either way its effect is durable, as inbond's result is.
// The committed offsets are read every 2 ms.
type kstreamsEngine struct {
	b         *peerBench
	engine    string
	dump      bool // read its changelog back before its topics are deleted
	table     map[string]ksAggregate
	app       string
	times     string
	child     *peerChild
	committed *committedPoller
}

func (k *kstreamsEngine) start(ctx context.Context, topic string) error {
	k.app = "bench-" + k.engine + "-" + topic
	k.times = filepath.Join(k.b.tmp, k.app+".times")
	var err error
	if k.child, err = k.b.startKStreams(k.engine, topic, k.app, "--times", k.times); err != nil {
		return err
	}
	k.committed = k.b.pollCommitted(k.app, topic, nil)
	return nil
}

func (k *kstreamsEngine) progress(context.Context) ([]int64, error) {
	if _, err := k.child.progress(); err != nil {
		return nil, err
	}
	return k.committed.progress()
}

func (k *kstreamsEngine) diag() string { return k.child.stderr.String() }

func (k *kstreamsEngine) stop(ctx context.Context) ([][]int64, error) {
	defer k.b.deleteTopics(k.app + "-agg-changelog")
	if k.child == nil {
		return nil, nil
	}
	err := k.child.terminate()
	k.committed.stop()
	if err != nil {
		return nil, err
	}
	if k.dump {
		if k.table, err = k.b.dumpKStreams(ctx, k.app); err != nil {
			return nil, err
		}
	}
	// The callbacks' own times are there too (--times): the committed
	// offsets are the result compared with inbond's, so they are not used.
	return k.committed.book.t, nil
}

func (k *kstreamsEngine) childPID() int { return k.child.cmd.Process.Pid }

// startKStreams starts the peer for engine on topic as application app.
func (b *peerBench) startKStreams(engine, topic, app string, extra ...string) (*peerChild, error) {
	java := b.cfg.Java
	if java == "" {
		var err error
		if java, err = realkafka.FindJava(); err != nil {
			return nil, err
		}
	}
	args := append([]string{"-Xms256m", "-Xmx1g", "-cp", filepath.Join(b.cfg.KStreamsLibs, "*"), kstreamsMain,
		"--bootstrap", strings.Join(b.brokers, ","), "--topic", topic, "--application-id", app,
		"--guarantee", guaranteeOf(engine), "--state-dir", filepath.Join(b.tmp, app+".state"),
		"--commit-ms", strconv.FormatInt(b.commitInterval().Milliseconds(), 10),
		"--partitions", strconv.Itoa(bus.DefaultPartitions)}, extra...)
	return startChild(java, args, readPeerReport)
}

// commitInterval is the peer's commit.interval.ms: inbond's flush interval
// (100 ms by default), so both make their results durable as often.
func (b *peerBench) commitInterval() time.Duration {
	if b.cfg.KStreamsCommit > 0 {
		return b.cfg.KStreamsCommit
	}
	return 100 * time.Millisecond
}

// committedPoller reads a consumer group's committed offsets every 2 ms
// and stamps the records they passed.
type committedPoller struct {
	book   *stampBook
	err    atomic.Pointer[error]
	cancel context.CancelFunc
	done   chan struct{}
}

// pollCommitted starts polling group's committed offsets of topic. With
// onAdvance, it is called with the offsets at every change.
func (b *peerBench) pollCommitted(group, topic string, onAdvance func([]int64)) *committedPoller {
	c := &committedPoller{book: newStampBook(bus.DefaultPartitions), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		for ctx.Err() == nil {
			offs, err := b.committedOffsets(ctx, group, topic)
			now := time.Now().UnixNano()
			if err != nil && ctx.Err() == nil {
				c.err.Store(&err)
			}
			changed := false
			for p, off := range offs {
				if from := c.book.next[p].Load(); off > from {
					c.book.mark(p, from, off, now)
					changed = true
				}
			}
			if changed && onAdvance != nil {
				onAdvance(offs)
			}
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	return c
}

func (c *committedPoller) progress() ([]int64, error) {
	if err := c.err.Load(); err != nil {
		return nil, *err
	}
	return c.book.progress(), nil
}

func (c *committedPoller) stop() {
	c.cancel()
	<-c.done
}

// committedOffsets is group's committed offset of every partition of topic
// (0 where none): OffsetFetch without RequireStable, so an offset committed
// in a transaction shows once the transaction has committed.
func (b *peerBench) committedOffsets(ctx context.Context, group, topic string) ([]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range bus.DefaultPartitions {
		rt.Partitions = append(rt.Partitions, int32(p))
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, b.kc)
	if err != nil {
		return nil, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	out := make([]int64, bus.DefaultPartitions)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("offset of group %s partition %d: %w", group, p.Partition, err)
			}
			if int(p.Partition) < len(out) && p.Offset > 0 {
				out[p.Partition] = p.Offset
			}
		}
	}
	return out, nil
}

// ksAggregate is the fields of the peer's aggregate the benchmark compares
// (bench/kstreams' Agg): the same as inbond's state.Shipment's, and Records,
// every record folded (duplicates included), which inbond has no field for.
type ksAggregate struct {
	EventCount uint64                    `json:"event_count"`
	Records    int64                     `json:"records"`
	Status     state.Status              `json:"status"`
	Meters     map[event.MeterID]ksMeter `json:"meters"`
	Quality    ksQuality                 `json:"quality"`
}

type ksMeter struct {
	Cumulative float64 `json:"cumulative"`
	Readings   uint64  `json:"readings"`
}

type ksQuality struct {
	Weight          float64 `json:"weight"`
	APIGravitySum   float64 `json:"api_gravity_sum"`
	SulfurSum       float64 `json:"sulfur_sum"`
	HeatingValueSum float64 `json:"heating_value_sum"`
	Samples         uint64  `json:"samples"`
}

// aggregateOf is sh reduced to the fields the peer keeps (Records aside).
func aggregateOf(sh *state.Shipment) ksAggregate {
	a := ksAggregate{EventCount: sh.EventCount, Status: sh.Status, Quality: ksQuality{
		Weight: sh.Quality.Weight, APIGravitySum: sh.Quality.APIGravitySum, SulfurSum: sh.Quality.SulfurSum,
		HeatingValueSum: sh.Quality.HeatingValueSum, Samples: sh.Quality.Samples,
	}}
	if len(sh.Meters) > 0 {
		a.Meters = map[event.MeterID]ksMeter{}
		for id, m := range sh.Meters {
			a.Meters[id] = ksMeter{Cumulative: m.Cumulative, Readings: m.Readings}
		}
	}
	return a
}

// equalAggregate compares the fields exactly: the floating-point sums
// bit for bit, since both folds run the same operations in the same order.
func equalAggregate(a, b ksAggregate) bool {
	if a.EventCount != b.EventCount || a.Status != b.Status || a.Quality != b.Quality || len(a.Meters) != len(b.Meters) {
		return false
	}
	for id, m := range a.Meters {
		if o, ok := b.Meters[id]; !ok || o != m {
			return false
		}
	}
	return true
}

// dumpKStreams reads the peer's changelog back (--dump: read_committed, from
// its start to its end, as a restore reads it).
func (b *peerBench) dumpKStreams(ctx context.Context, app string) (map[string]ksAggregate, error) {
	java := b.cfg.Java
	if java == "" {
		var err error
		if java, err = realkafka.FindJava(); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(b.tmp, app+".dump.json")
	cmd := exec.CommandContext(ctx, java, "-cp", filepath.Join(b.cfg.KStreamsLibs, "*"), kstreamsMain,
		"--bootstrap", strings.Join(b.brokers, ","), "--application-id", app, "--dump", path)
	var stderr tailBuffer
	stderr.max = 64 << 10
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kstreams peer --dump: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var table map[string]ksAggregate
	return table, json.Unmarshal(raw, &table)
}

// compareAggregates checks that table holds exactly the shipments of the
// events, each with the fields of its state in store, and that it folded
// every published record of each at least once. It returns how many
// shipments it compared and how many records were folded more than once
// (the records counted beyond those published).
func (b *peerBench) compareAggregates(ctx context.Context, what string, table map[string]ksAggregate, store *state.Store) (int, int64, error) {
	published := map[string]int64{}
	for _, r := range b.recs {
		published[string(r.key)]++
	}
	byPart := b.byPartition()
	var diffs []string
	var twice int64
	n := 0
	for p, ids := range byPart {
		got, err := store.Load(ctx, p, ids)
		if err != nil {
			return 0, 0, err
		}
		for _, id := range ids {
			sh := got[id]
			theirs, ok := table[string(id)]
			switch {
			case sh == nil:
				diffs = append(diffs, fmt.Sprintf("%s: missing from inbond", id))
				continue
			case !ok:
				diffs = append(diffs, fmt.Sprintf("%s: missing from %s", id, what))
				continue
			}
			if extra := theirs.Records - published[string(id)]; extra < 0 {
				diffs = append(diffs, fmt.Sprintf("%s: %s folded %d records of the %d published", id, what, theirs.Records, published[string(id)]))
				continue
			} else {
				twice += extra
			}
			ours := aggregateOf(sh)
			theirs.Records = 0
			if !equalAggregate(ours, theirs) {
				o, _ := json.Marshal(ours)
				t, _ := json.Marshal(theirs)
				diffs = append(diffs, fmt.Sprintf("%s: differs:\n inbond %s\n other  %s", id, o, t))
				continue
			}
			n++
		}
	}
	return n, twice, differences(what, len(table), n, diffs)
}

// restartKStreams streams every event into a new topic while the peer runs,
// SIGKILLs it once it has folded a fifth of them and restarts it at once, on the same
// state directory (a supervisor restarting it on its host). Recovery runs
// to the first committed offset past those committed at the kill, as for
// inbond; the callbacks run twice come from the marks, as for goka; and the
// records applied twice to the durable aggregate from its Records count.
func (b *peerBench) restartKStreams(ctx context.Context, engine string, reference *state.Store) (RestartRun, error) {
	r := RestartRun{Engine: engine, Events: len(b.recs)}
	topic := fmt.Sprintf("inbond-bench.restart.%s.%d", engine, b.seq.Add(1))
	app := "bench-" + engine + "-" + topic
	if err := bus.EnsureTopics(ctx, b.brokers, []bus.TopicSpec{{Topic: event.Topic(topic), Partitions: bus.DefaultPartitions}}); err != nil {
		return r, err
	}
	defer b.deleteTopics(topic, app+"-agg-changelog")
	marks1, marks2 := filepath.Join(b.tmp, app+".marks1"), filepath.Join(b.tmp, app+".marks2")
	c1, err := b.startKStreams(engine, topic, app, "--marks", marks1)
	if err != nil {
		return r, err
	}
	var published atomic.Int64
	streamed := b.streamAll(ctx, topic, b.cfg.RestartRate, &published)
	if err := b.killPoint(ctx, &published); err != nil {
		c1.kill()
		return r, err
	}
	// The JVM takes seconds to start and folds slower than the stream
	// comes: at 40% of the stream it may have folded next to nothing. Kill
	// it in its steady state instead, once it has folded a fifth of the
	// events.
	for deadline := time.Now().Add(3 * time.Minute); ; {
		c1.mu.Lock()
		folded := c1.last.N
		c1.mu.Unlock()
		if folded >= int64(len(b.recs))/5 {
			break
		}
		if !c1.running() || time.Now().After(deadline) {
			c1.kill()
			return r, fmt.Errorf("the peer folded %d records before the kill point\n%s", folded, c1.stderr)
		}
		time.Sleep(time.Millisecond)
	}
	c1.kill()
	killed := time.Now()
	last1, _, count1, err := readMarks(marks1)
	if err != nil {
		return r, err
	}
	// What the killed one had committed.
	c2, before, stopC2, err := succeed(ctx, func() (*peerChild, error) { return b.startKStreams(engine, topic, app, "--marks", marks2) },
		func(ctx context.Context) ([]int64, error) { return b.committedOffsets(ctx, app, topic) })
	if err != nil {
		return r, err
	}
	defer stopC2()
	var live atomic.Int64
	poller := b.pollCommitted(app, topic, func(offs []int64) {
		for p := range offs {
			if offs[p] > before[p] && live.Load() == 0 {
				live.Store(time.Now().UnixNano())
			}
		}
	})
	defer poller.stop()
	if err := <-streamed; err != nil {
		return r, err
	}
	ends, err := bus.EndOffsets(ctx, b.brokers, topic)
	if err != nil {
		return r, err
	}
	view := &committedProgress{child: c2, poller: poller}
	if err := b.waitFor(ctx, engine+" after SIGKILL", view, ends, 3*time.Minute); err != nil {
		return r, err
	}
	c2.mu.Lock()
	first := c2.first
	c2.mu.Unlock()
	if err := c2.terminate(); err != nil {
		return r, err
	}
	_, first2, _, err := readMarks(marks2)
	if err != nil {
		return r, err
	}
	if t := live.Load(); t != 0 {
		r.Recovery = time.Unix(0, t).Sub(killed)
	} else {
		return r, errors.New("the restarted peer never committed past the killed one's offsets")
	}
	r.Reprocessed = reprocessed(last1, first2)
	var applied1, committed int64
	for _, n := range count1 {
		applied1 += n
	}
	for _, off := range before {
		committed += off
	}
	table, err := b.dumpKStreams(ctx, app)
	if err != nil {
		return r, err
	}
	if reference != nil {
		if _, r.AppliedTwice, err = b.compareAggregates(ctx, engine+"'s changelog after the SIGKILL", table, reference); err != nil {
			return r, err
		}
		r.StateMatches = true
	}
	r.ReprocessedNote = fmt.Sprintf("callbacks run again on records the killed peer had folded (it had folded %d, %d of them committed); "+
		"folded twice into the durable aggregate: %d; first callback %s after the SIGKILL",
		applied1, committed, r.AppliedTwice, time.Unix(0, first).Sub(killed).Round(time.Millisecond))
	return r, nil
}

// committedProgress is a restarted peer's progress: its committed offsets.
type committedProgress struct {
	child  *peerChild
	poller *committedPoller
}

func (v *committedProgress) start(context.Context, string) error     { return nil }
func (v *committedProgress) stop(context.Context) ([][]int64, error) { return nil, nil }
func (v *committedProgress) progress(context.Context) ([]int64, error) {
	if _, err := v.child.progress(); err != nil {
		return nil, err
	}
	return v.poller.progress()
}

func (v *committedProgress) diag() string { return v.child.stderr.String() }
