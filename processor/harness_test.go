package processor_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// produce writes canonical events to inbond.events keyed by shipment, in order.
func produce(t *testing.T, brokers []string, envs []*event.Envelope) {
	t.Helper()
	w := bus.NewWriter(brokers)
	defer w.Close()
	msgs := make([]kafka.Message, 0, bus.MaxBatchRecords)
	flush := func() {
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			t.Errorf("produce: %v", err)
		}
		msgs = msgs[:0]
	}
	for _, e := range envs {
		b, err := event.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: string(event.TopicEvents), Key: []byte(e.Subject), Value: b})
		if len(msgs) == cap(msgs) {
			flush()
		}
	}
	if len(msgs) > 0 {
		flush()
	}
}

// startProcessor runs an in-process processor; stop makes it leave cleanly.
func startProcessor(t *testing.T, brokers []string, store *state.Store, group, owner string) (stop func()) {
	t.Helper()
	done, cancel := launchProcessor(t, brokers, store, group, owner, processor.NewMetrics(prometheus.NewRegistry()))
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("processor %s: %v", owner, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// launchProcessor runs an in-process processor with a 1 s session timeout,
// changed by tune if given, and returns what its Run returns, once it
// returns, and its cancel.
func launchProcessor(t *testing.T, brokers []string, store *state.Store, group, owner string, m *processor.Metrics, tune ...func(*processor.Config)) (<-chan error, context.CancelFunc) {
	t.Helper()
	cfg := processor.Config{
		Brokers: brokers, Group: group, Owner: owner, SessionTimeout: time.Second, Store: store, Metrics: m,
		Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).With(zap.String("instance", owner)),
	}
	for _, f := range tune {
		f(&cfg)
	}
	p, err := processor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return done, cancel
}

// equalsBothReferences fails t unless snap equals the state computed from
// envs alone and, key for key, the state of one uninterrupted run over the
// topic.
func equalsBothReferences(t *testing.T, snap map[string]string, brokers []string, store *state.Store, envs []*event.Envelope, what string) {
	t.Helper()
	matchesReference(t, snap, store, envs, bus.DefaultPartitions)
	sameState(t, snap, referenceRun(t, brokers), what+" vs one uninterrupted run")
}

// waitCaughtUp waits until the offsets stored in Redis reach the end of every
// partition of inbond.events.
func waitCaughtUp(t *testing.T, brokers []string, rdb *redis.Client, store *state.Store, within time.Duration) {
	t.Helper()
	ends := testenv.EndOffsets(t, brokers, string(event.TopicEvents))
	deadline := time.Now().Add(within)
	var lastErr error
	for {
		behind := 0
		for p, end := range ends {
			off, err := rdb.HGet(context.Background(), store.OffsetKey(p), "offset").Int64()
			if err != nil && err != redis.Nil {
				// A test that restarts Redis may ask while it comes back:
				// only the deadline fails the wait.
				behind, lastErr = -1, err
				break
			}
			if end > 0 && off < end {
				behind += int(end - off)
			}
		}
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("state still %d events behind the end of %s after %s (last Redis error: %v)", behind, event.TopicEvents, within, lastErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// snapshot renders every key under prefix (with the prefix removed) and its
// value exactly: strings as stored, sets and sorted sets as sorted members,
// the offset hash without the epoch and owner, which name who wrote it.
func snapshot(t *testing.T, rdb *redis.Client, prefix string) map[string]string {
	t.Helper()
	out, err := pipelinedSnapshot(rdb, prefix)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// pipelinedSnapshot reads what snapshot renders, pipelined 1,000 keys a
// round trip: one round trip per key took about 20 s for 100,000 shipments
// under the race detector.
func pipelinedSnapshot(rdb *redis.Client, prefix string) (map[string]string, error) {
	ctx := context.Background()
	var keys []string
	iter := rdb.Scan(ctx, 0, prefix+"*", 10_000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(keys))
	for len(keys) > 0 {
		chunk := keys[:min(1000, len(keys))]
		keys = keys[len(chunk):]
		types := make([]*redis.StatusCmd, len(chunk))
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				types[i] = p.Type(ctx, k)
			}
			return nil
		}); err != nil {
			return nil, err
		}
		render := make([]func() (string, error), len(chunk))
		if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				switch typ := types[i].Val(); typ {
				case "string":
					c := p.Get(ctx, k)
					render[i] = c.Result
				case "set":
					c := p.SMembers(ctx, k)
					render[i] = func() (string, error) {
						m := c.Val()
						slices.Sort(m)
						return strings.Join(m, ","), c.Err()
					}
				case "zset":
					c := p.ZRangeWithScores(ctx, k, 0, -1)
					render[i] = func() (string, error) {
						var parts []string
						for _, z := range c.Val() {
							parts = append(parts, fmt.Sprintf("%v=%v", z.Member, z.Score))
						}
						slices.Sort(parts)
						return strings.Join(parts, ","), c.Err()
					}
				case "hash":
					c := p.HGetAll(ctx, k)
					render[i] = func() (string, error) {
						h := c.Val()
						delete(h, "epoch")
						delete(h, "owner")
						var parts []string
						for f, x := range h {
							parts = append(parts, f+"="+x)
						}
						slices.Sort(parts)
						return strings.Join(parts, ","), c.Err()
					}
				default:
					return fmt.Errorf("unexpected %s key %s", typ, k)
				}
			}
			return nil
		}); err != nil {
			return nil, err
		}
		for i, k := range chunk {
			v, err := render[i]()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[strings.TrimPrefix(k, prefix)] = v
		}
	}
	return out, nil
}

// sameState fails t with the first differences between two snapshots.
func sameState(t *testing.T, got, want map[string]string, what string) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, "missing "+k)
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("%s differs:\n  got  %.300s\n  want %.300s", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "unexpected "+k)
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		t.Fatalf("%s: %d keys differ; first ones:\n%s", what, len(diffs), strings.Join(diffs[:min(5, len(diffs))], "\n"))
	}
	t.Logf("%s: all %d keys identical", what, len(want))
}

// reference applies the input, once and in order, to fresh states: the state
// computed from the input alone, without Kafka, Redis or the processor.
func reference(envs []*event.Envelope) map[event.ShipmentID]*state.Shipment {
	out := map[event.ShipmentID]*state.Shipment{}
	for _, e := range envs {
		sh := out[e.Subject]
		if sh == nil {
			sh = state.New(e.Subject)
			out[e.Subject] = sh
		}
		if _, err := state.Apply(sh, e); err != nil {
			panic(err) // the reference keys states by subject
		}
	}
	return out
}

// matchesReference checks every stored shipment, byte for byte, against the
// reference computed from the input.
func matchesReference(t *testing.T, snap map[string]string, store *state.Store, envs []*event.Envelope, partitions int) {
	t.Helper()
	ref := reference(envs)
	for id, sh := range ref {
		want, err := state.Encode(sh)
		if err != nil {
			t.Fatal(err)
		}
		key := strings.TrimPrefix(store.ShipmentKey(bus.PartitionOf([]byte(id), partitions), id), store.Prefix())
		if got := snap[key]; got != string(want) {
			t.Fatalf("shipment %s differs from the reference:\n got  %.400s\n want %.400s", id, got, want)
		}
	}
	n := 0
	for k := range snap {
		if strings.Contains(k, ":ship:") {
			n++
		}
	}
	if n != len(ref) {
		t.Fatalf("%d shipments stored, %d in the input", n, len(ref))
	}
	t.Logf("all %d shipments equal the reference computed from the input (%d events)", n, len(envs))
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// inbondBinary builds cmd/inbond once for the tests that run it as a process.
func inbondBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "inbond-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "inbond")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/inbond").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// procProcess is `inbond process` running as a separate OS process.
type procProcess struct {
	cmd *exec.Cmd
	log *syncBuffer
}

func startProcessProcess(t *testing.T, brokers []string, r *testenv.Redis, group, owner string, extra ...string) *procProcess {
	t.Helper()
	args := append([]string{"process", "--kafka-brokers", strings.Join(brokers, ","), "--redis", r.Addr,
		"--key-prefix", r.Prefix, "--group", group, "--owner", owner, "--session-timeout", "1s",
		"--metrics-addr", "", "--log-format", "json", "--rules=false", "--ledger=false"}, extra...) // a later --rules or --ledger turns them on
	cmd := exec.Command(inbondBinary(t), args...)
	buf := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = buf, buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &procProcess{cmd: cmd, log: buf}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

// kill sends SIGKILL and reaps the process.
func (p *procProcess) kill() {
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *procProcess) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("processor process exit: %v\n%s", err, p.log.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// kafkaProcess runs the Kafka cluster as a helper process (`inbond kafka`),
// for tests where several OS processes share it: the broker then runs at
// full speed, outside this race-instrumented test binary. With
// INBOND_TEST_KAFKA=real it is testenv's Apache Kafka, a process of its own
// already.
func kafkaProcess(t *testing.T) []string {
	t.Helper()
	if testenv.RealKafka() {
		return testenv.Kafka(t, embedded.KafkaConfig{})
	}
	cmd := exec.Command(inbondBinary(t), "kafka", "--port", "0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addrs, ok := strings.CutPrefix(sc.Text(), "kafka ready: "); ok {
				line <- addrs
			}
		}
	}()
	select {
	case addrs := <-line:
		brokers := strings.Split(addrs, ",")
		t.Logf("testenv: kafka=kfake in a helper process (inbond kafka) %v", brokers)
		fmt.Fprintf(os.Stderr, "testenv[%s]: kafka=kfake in a helper process (inbond kafka) %v\n", t.Name(), brokers)
		return brokers
	case <-time.After(30 * time.Second):
		t.Fatal("inbond kafka did not start within 30 s")
		return nil
	}
}

// newFixture is where most processor tests start: the given Kafka, a Redis
// key prefix of their own with its store, and a deterministic workload.
func newFixture(t *testing.T, brokers []string, shipments, events int, seed uint64) ([]string, *testenv.Redis, *state.Store, []*event.Envelope) {
	t.Helper()
	r := testenv.NewRedis(t)
	envs := sim.Workload(sim.WorkloadConfig{Shipments: shipments, Events: events, Seed: seed})
	store, err := state.NewStore(r.Client, r.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	return brokers, r, store, envs
}
