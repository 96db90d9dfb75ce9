// Package testenv gives integration tests real servers: the Redis and
// Mosquitto running on this machine when they are reachable, in-process
// servers (miniredis, mochi-mqtt) otherwise, and an in-process Kafka cluster
// (kfake), or with INBOND_TEST_KAFKA=real Apache Kafka itself (see Kafka).
// Every helper logs which backend it used, so a test run shows what it
// really talked to.
//
// In CI (CI=true) or with INBOND_TEST_REQUIRE_REAL=1 a missing real server is
// a test failure, never a silent fallback. Addresses are overridable with
// INBOND_TEST_REDIS (host:port) and INBOND_TEST_MQTT (host:port).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
)

// RequireReal reports whether a missing real server must fail the test.
func RequireReal() bool {
	return os.Getenv("CI") == "true" || os.Getenv("INBOND_TEST_REQUIRE_REAL") == "1"
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func reachable(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// announce logs the backend to the test and to stderr, which `go test -v`
// shows for passing tests too.
func announce(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	t.Log("testenv: " + msg)
	fmt.Fprintf(os.Stderr, "testenv[%s]: %s\n", t.Name(), msg)
}

// Redis is a Redis client for one test with a unique key prefix. Cleanup
// deletes every key under the prefix; the shared server is never flushed.
type Redis struct {
	Client *redis.Client
	Addr   string
	Prefix string // "t:<random>:" — pass it to the code under test
	Real   bool
}

// NewRedis returns a Redis for t: the real server when reachable, else miniredis.
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	addr := envOr("INBOND_TEST_REDIS", "127.0.0.1:6379")
	r := &Redis{Addr: addr, Real: true, Prefix: "t:" + randomID() + ":"}
	if err := reachable(addr); err != nil {
		if RequireReal() {
			t.Fatalf("testenv: real Redis required (CI) but %s is unreachable: %v; start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no", addr, err)
		}
		a, stop, err := embedded.Redis()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
		r.Addr, r.Real = a, false
		announce(t, "redis=in-process miniredis %s (real %s unreachable: %v)", a, addr, err)
	} else {
		announce(t, "redis=real %s prefix=%s", addr, r.Prefix)
	}
	r.Client = redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		store, err := state.NewStore(r.Client, r.Prefix)
		if err == nil {
			err = store.DeletePrefix(ctx)
		}
		if err != nil {
			t.Errorf("testenv: clean up redis keys %s*: %v", r.Prefix, err)
		}
		_ = r.Client.Close()
	})
	return r
}

// SharedMQTT returns the URL of the machine's MQTT broker when reachable, else
// of an in-process mochi broker. The shared broker keeps its default queue
// limits: tests that burst thousands of messages use OwnMosquitto.
func SharedMQTT(t testing.TB) string {
	t.Helper()
	addr := envOr("INBOND_TEST_MQTT", "127.0.0.1:1883")
	if err := reachable(addr); err != nil {
		if RequireReal() {
			t.Fatalf("testenv: real Mosquitto required (CI) but %s is unreachable: %v; start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf", addr, err)
		}
		return inProcessMQTT(t, fmt.Sprintf("real %s unreachable: %v", addr, err))
	}
	announce(t, "mqtt=real mosquitto %s (shared)", addr)
	return "tcp://" + addr
}

func inProcessMQTT(t testing.TB, why string) string {
	t.Helper()
	url, stop, err := embedded.MQTT("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	announce(t, "mqtt=in-process mochi %s (%s)", url, why)
	return url
}

// BurstMosquittoConf is the Mosquitto configuration a gateway needs so that a
// burst to a subscriber that acknowledges only after its Kafka write is queued,
// not dropped. README.md's production settings are the same lines.
const BurstMosquittoConf = `max_inflight_messages 1000
max_queued_messages 0
max_queued_bytes 0
`

// Mosquitto is a mosquitto process owned by one test.
type Mosquitto struct {
	URL  string
	Addr string
	cmd  *exec.Cmd
	conf string
	t    testing.TB
}

// OwnMosquitto starts a real mosquitto on a free port with BurstMosquittoConf
// and persistence in a temporary directory. Without the mosquitto binary it
// falls back to an in-process mochi broker (and fails in CI).
func OwnMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if RequireReal() {
			t.Fatalf("testenv: mosquitto binary required (CI) but not found: %v; apt-get install -y mosquitto", err)
		}
		url := inProcessMQTT(t, "no mosquitto binary")
		return &Mosquitto{URL: url, Addr: strings.TrimPrefix(url, "tcp://"), t: t}
	}
	dir := t.TempDir()
	port := FreePort(t)
	conf := filepath.Join(dir, "mosquitto.conf")
	text := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nautosave_interval 1\nlog_dest file %s/mosquitto.log\n%s",
		port, dir, dir, BurstMosquittoConf)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	m := &Mosquitto{URL: fmt.Sprintf("tcp://127.0.0.1:%d", port), Addr: fmt.Sprintf("127.0.0.1:%d", port), conf: conf, t: t}
	m.start(bin)
	t.Cleanup(m.Stop)
	announce(t, "mqtt=real mosquitto %s (own process, burst config: max_inflight_messages 1000, max_queued_messages 0)", m.Addr)
	return m
}

func (m *Mosquitto) start(bin string) {
	m.t.Helper()
	m.cmd = exec.Command(bin, "-c", m.conf)
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	WaitListening(m.t, m.Addr, 10*time.Second)
}

// Stop stops the broker (SIGTERM, so it saves its persistent sessions).
func (m *Mosquitto) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Signal(os.Interrupt)
	_ = m.cmd.Wait()
	m.cmd = nil
}

// WaitListening waits until addr accepts TCP connections.
func WaitListening(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if reachable(addr) == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: nothing listening on %s after %s", addr, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ReadTopic reads every partition of topic from the beginning until it holds
// at least want records in all or within elapses, and returns them grouped
// by partition in offset order.
func ReadTopic(t testing.TB, brokers []string, topic string, want int, within time.Duration) map[int][]kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	parts, err := bus.Partitions(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[int][]kafka.Message, len(parts))
	readers := make([]*kafka.Reader, len(parts))
	for i, p := range parts {
		readers[i] = bus.PartitionReader(brokers, topic, p.ID, 1000, nil)
		defer readers[i].Close()
	}
	type rec struct {
		p int
		m kafka.Message
	}
	ch := make(chan rec, 1024)
	for i, r := range readers {
		go func() {
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					return
				}
				select {
				case ch <- rec{parts[i].ID, m}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	n := 0
	for n < want {
		select {
		case r := <-ch:
			out[r.p] = append(out[r.p], r.m)
			n++
		case <-ctx.Done():
			return out
		}
	}
	// Linger briefly so extra records (duplicates, stray writes) are seen too.
	settle := time.After(300 * time.Millisecond)
	for {
		select {
		case r := <-ch:
			out[r.p] = append(out[r.p], r.m)
		case <-settle:
			return out
		}
	}
}

// EndOffsets returns each partition's end offset (the offset the next record
// will get) for topic, indexed by partition.
func EndOffsets(t testing.TB, brokers []string, topic string) []int64 {
	t.Helper()
	ends, err := bus.EndOffsets(context.Background(), brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	return ends
}

// OwnRedisServer is a redis-server process owned by one test, with an append-only
// file fsynced on every write so a restart keeps everything acknowledged.
type OwnRedisServer struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
	port int
	t    testing.TB
}

// StartOwnRedis starts a real redis-server on a free port (the test fails,
// saying why, when the binary is missing).
func StartOwnRedis(t testing.TB) *OwnRedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("testenv: this test restarts its own redis-server, which is not installed: %v (apt-get install -y redis-server)", err)
	}
	s := &OwnRedisServer{dir: t.TempDir(), port: FreePort(t), t: t}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	s.Start()
	t.Cleanup(s.Kill)
	announce(t, "redis=real redis-server %s (own process, appendonly, fsync always)", s.Addr)
	return s
}

// Start (re)starts the server on its port with its data directory.
func (s *OwnRedisServer) Start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", fmt.Sprint(s.port), "--dir", s.dir,
		"--appendonly", "yes", "--appendfsync", "always", "--save", "")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	WaitListening(s.t, s.Addr, 10*time.Second)
}

// Kill stops the server with SIGKILL.
func (s *OwnRedisServer) Kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

// OwnRedisCluster is a Redis Cluster of redis-server processes owned by one
// test: masters only, no replicas, no persistence.
type OwnRedisCluster struct {
	Addrs []string // every master, host:port
	dir   string
}

// StartOwnRedisCluster starts masters (at least 3, as redis-cli requires)
// redis-server processes with cluster mode on, on free ports, joins them with
// `redis-cli --cluster create`, and returns once every node reports
// cluster_state:ok and knows every other. The processes are killed when the
// test ends. The test fails, saying why, when redis-server or redis-cli is
// missing: there is no in-process stand-in for a cluster.
func StartOwnRedisCluster(t testing.TB, masters int) *OwnRedisCluster {
	t.Helper()
	if masters < 3 {
		t.Fatalf("testenv: a Redis Cluster needs at least 3 masters, asked for %d", masters)
	}
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("testenv: this test runs its own Redis Cluster, but %s is not installed: %v (apt-get install -y redis-server redis-tools)", bin, err)
		}
	}
	c := &OwnRedisCluster{dir: t.TempDir()}
	for range masters {
		port, busPort := FreePort(t), FreePort(t)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", fmt.Sprint(port),
			"--cluster-enabled", "yes", "--cluster-port", fmt.Sprint(busPort),
			"--cluster-config-file", filepath.Join(c.dir, fmt.Sprintf("nodes-%d.conf", port)),
			"--dir", c.dir, "--logfile", filepath.Join(c.dir, fmt.Sprintf("redis-%d.log", port)),
			"--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatalf("testenv: start redis-server (cluster node %s): %v", addr, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		c.Addrs = append(c.Addrs, addr)
	}
	for _, a := range c.Addrs {
		WaitListening(t, a, 10*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli %s: %v\n%s\n(node logs in %s)", strings.Join(args, " "), err, out, c.dir)
	}
	for _, a := range c.Addrs {
		c.waitReady(ctx, t, a, masters)
	}
	announce(t, "redis=real Redis Cluster of %d redis-server masters %v (own processes, no replicas, no persistence)", masters, c.Addrs)
	return c
}

// waitReady waits until node addr reports cluster_state:ok and knows all n nodes.
func (c *OwnRedisCluster) waitReady(ctx context.Context, t testing.TB, addr string, n int) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	known := fmt.Sprintf("cluster_known_nodes:%d", n)
	var info string
	for {
		var err error
		info, err = rdb.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, known) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: Redis Cluster node %s not ready (want cluster_state:ok, %s): %v\n%s\n(node logs in %s)", addr, known, err, info, c.dir)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
