package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/realkafka"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// KafkaEnv selects the Kafka the tests run on: "kfake" (the default, in
// process, no Java needed) or "real" (Apache Kafka, see internal/realkafka;
// `make test-kafka` sets it).
const KafkaEnv = "INBOND_TEST_KAFKA"

// RealKafka reports whether the tests run on Apache Kafka (INBOND_TEST_KAFKA=real).
func RealKafka() bool { return os.Getenv(KafkaEnv) == "real" }

// Kafka returns the bootstrap brokers of a Kafka cluster for t with
// inbond's topics created (cfg.Partitions of inbond.events) and nothing
// else: no other topic, record or consumer group.
//
// On kfake (the default) that is a new in-process cluster for the test.
// With INBOND_TEST_KAFKA=real it is the test binary's Apache Kafka cluster
// of cfg.Brokers brokers, started at its first use (one cluster per test
// package; its JVMs die with the test binary), emptied for each test: every
// topic and consumer group of the tests before is deleted and inbond's
// topics are created again. So the tests of one binary must not run Kafka
// tests in parallel (none calls t.Parallel with Kafka). Asking for real
// Kafka where Java or the jars are missing fails the test, saying what to
// run, in CI and out of it: a run that asked for real Kafka never quietly
// gets kfake.
//
// cfg.OnStart and cfg.KeepDeadMembers reach into kfake and fail the test on
// real Kafka; faults are injected with KafkaFaults on both.
func Kafka(t testing.TB, cfg embedded.KafkaConfig) []string {
	t.Helper()
	if !RealKafka() {
		brokers, stop, err := embedded.Kafka(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		announce(t, "kafka=in-process kfake %v (%d broker(s))", brokers, max(cfg.Brokers, 1))
		return brokers
	}
	if cfg.OnStart != nil || cfg.KeepDeadMembers {
		t.Fatalf("testenv: this test reaches into kfake (OnStart/KeepDeadMembers), which %s=real cannot give; use KafkaFaults", KafkaEnv)
	}
	c := sharedCluster(t, cfg.Brokers)
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c.Faults.Heal()
	if err := c.Clear(ctx); err != nil {
		t.Fatalf("testenv: empty the shared Kafka cluster for this test: %v", err)
	}
	// kafka-go's shared transport caches each cluster's metadata by
	// address (refreshed every 6 s): a writer of this test would still see
	// the partitions of the topics just deleted, and write to partition 9
	// of a topic that now has one. Each kfake cluster has new addresses.
	if tr, ok := kafka.DefaultTransport.(*kafka.Transport); ok {
		tr.CloseIdleConnections()
	}
	if err := createTopics(ctx, c.Brokers, bus.Topics(cfg.Partitions)); err != nil {
		t.Fatalf("testenv: %v\n%s", err, c.Log(30))
	}
	announce(t, "kafka=real Apache Kafka %s %v (%d broker(s), KRaft; shared by this package's tests, started in %v; emptied and topics created for this test in %v)",
		realkafka.Version, c.Brokers, len(c.Brokers), c.StartupTime.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: Kafka's logs (%s):\n%s", c.Dir(), c.Log(40))
		}
	})
	return c.Brokers
}

// Faults injects failures into a test's Kafka: requests of the named API
// keys (kmsg.Fetch.Int16(), …) fail, their connection closed before the
// broker answers, until Heal. On kfake through its request control, on real
// Kafka through the proxy every client connection of the test cluster goes
// through (realkafka.Faults).
type Faults interface {
	// Fail makes requests with these API keys fail from now on.
	Fail(keys ...int16)
	// Heal serves every request again.
	Heal()
	// Refused counts the requests failed so far.
	Refused() int64
}

// KafkaFaults is Kafka with a way to make the brokers fail requests.
func KafkaFaults(t testing.TB, cfg embedded.KafkaConfig) ([]string, Faults) {
	t.Helper()
	if RealKafka() {
		brokers := Kafka(t, cfg)
		return brokers, sharedCluster(t, cfg.Brokers).Faults
	}
	f := &kfakeFaults{}
	cfg.OnStart = func(c *kfake.Cluster) { f.c = c }
	return Kafka(t, cfg), f
}

// kfakeFaults fails requests through kfake's ControlKey: one control per API
// key, kept for the cluster's life, refusing while the key is failing.
type kfakeFaults struct {
	c       *kfake.Cluster
	mu      sync.Mutex
	keys    map[int16]*atomic.Bool
	refused atomic.Int64
}

func (f *kfakeFaults) Fail(keys ...int16) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.keys == nil {
		f.keys = map[int16]*atomic.Bool{}
	}
	for _, k := range keys {
		failing, ok := f.keys[k]
		if !ok {
			failing = new(atomic.Bool)
			f.keys[k] = failing
			f.c.ControlKey(k, func(kmsg.Request) (kmsg.Response, error, bool) {
				f.c.KeepControl()
				if !failing.Load() {
					return nil, nil, false // served as usual
				}
				f.refused.Add(1)
				return nil, errors.New("injected failure"), true // the connection is closed
			})
		}
		failing.Store(true)
	}
}

func (f *kfakeFaults) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, failing := range f.keys {
		failing.Store(false)
	}
}

func (f *kfakeFaults) Refused() int64 { return f.refused.Load() }

var (
	clustersMu sync.Mutex
	clusters   = map[int]*realkafka.Cluster{} // by broker count
)

// sharedCluster returns the test binary's real cluster of n brokers,
// starting it at the first call. It is never stopped explicitly: its JVMs
// die with the test binary (realkafka's parent-death signal).
func sharedCluster(t testing.TB, n int) *realkafka.Cluster {
	t.Helper()
	n = max(n, 1)
	clustersMu.Lock()
	defer clustersMu.Unlock()
	if c := clusters[n]; c != nil {
		return c
	}
	if err := realkafka.Available(realkafka.Config{}); err != nil {
		t.Fatalf("testenv: %s=real asks for Apache Kafka, which cannot run here: %v", KafkaEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := realkafka.Start(ctx, realkafka.Config{Brokers: n, Fast: true, Proxied: true})
	if err != nil {
		t.Fatalf("testenv: start Apache Kafka (%d broker(s)): %v", n, err)
	}
	fmt.Fprintf(os.Stderr, "testenv: started Apache Kafka %s, %d broker(s) %v, in %v (data and logs in %s)\n",
		realkafka.Version, n, c.Brokers, c.StartupTime.Round(time.Millisecond), c.Dir())
	clusters[n] = c
	return c
}

// createTopics creates inbond's topics and waits until every partition's
// leader answers for it: the controller commits a topic before the brokers
// have loaded its partitions, and a producer that comes too early is told
// the partition is unknown.
func createTopics(ctx context.Context, brokers []string, specs []bus.TopicSpec) error {
	for {
		err := bus.EnsureTopics(ctx, brokers, specs)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create inbond's topics: %w", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, s := range specs {
		for {
			ends, err := bus.EndOffsets(ctx, brokers, string(s.Topic))
			if err == nil && len(ends) == s.Partitions {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("topic %s not served (%d of %d partitions): %v", s.Topic, len(ends), s.Partitions, err)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}
