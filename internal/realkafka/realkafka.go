// Package realkafka runs Apache Kafka itself — the version docker-compose.yml
// pins — for tests and benchmarks: one or three JVMs in KRaft mode (each a
// combined broker and controller) on free loopback ports, with a generated
// configuration and storage formatted by Kafka's own tool. kfake, the
// in-process imitation the default tests use, differs from Kafka where a
// stream processor's guarantees live (consumer-group timeouts, rebalances);
// this package is how the same tests run on the real thing.
//
// The jars come from Maven Central through the pinned project in
// internal/realkafka/maven (`make kafka-jars`) into .cache/realkafka, which
// git ignores. Nothing is downloaded at run time: Start fails, saying what to
// run, when the jars or Java are missing.
package realkafka

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Version is the Apache Kafka version the Maven project pins and
// docker-compose.yml runs.
const Version = "3.9.1"

// LibsEnv names the environment variable that overrides where the jars are.
const LibsEnv = "INBOND_KAFKA_LIBS"

// Config shapes a cluster.
type Config struct {
	// Brokers is the number of nodes, each a broker and a KRaft voter
	// (default 1).
	Brokers int
	// Dir holds every node's configuration, data and log (default: a new
	// temporary directory, removed by Stop).
	Dir string
	// Libs is the folder of jars (default: $INBOND_KAFKA_LIBS, else
	// .cache/realkafka/kafka-<Version>/libs at the module's root).
	Libs string
	// Java is the java binary (default: $JAVA_HOME/bin/java, else java on PATH).
	Java string
	// Heap is each JVM's -Xmx (default 512m). Tests need little; the
	// benchmark gives more.
	Heap string
	// Fast trades the JIT's top tier for start-up time
	// (-XX:TieredStopAtLevel=1): right for tests, wrong for benchmarks,
	// where C2 is what production runs.
	Fast bool
	// Proxied puts a fault-injecting proxy (see Faults) in front of every
	// broker's client listener: clients bootstrap from the proxies, and the
	// brokers advertise them, so every client connection goes through one.
	// Brokers talk to each other and to the controllers directly.
	Proxied bool
	// Properties override or extend the generated server.properties.
	Properties map[string]string
}

// Cluster is a running Kafka cluster.
type Cluster struct {
	// Brokers are the bootstrap addresses clients use (the proxies' when
	// Proxied).
	Brokers []string
	// StartupTime is how long Start took, formatting included.
	StartupTime time.Duration
	// Faults injects failures into client requests (Proxied clusters only;
	// nil otherwise).
	Faults *Faults

	dir    string
	ownDir bool
	// archiving is the class-data archive node 1 writes when it exits
	// cleanly, and where it goes (see classArchive).
	archiving, archive string
	nodes              []*node
	proxies            []*proxy
	stopped            sync.Once
}

type node struct {
	id         int
	clientPort int // the broker's own client listener
	internal   int // inter-broker listener
	controller int // KRaft controller listener
	dir        string
	cmd        *exec.Cmd
	exited     chan struct{}
	waitErr    error
}

// DefaultLibs returns where `make kafka-jars` puts the jars: the
// environment's override, else the cache folder at the root of the module
// that holds the working directory.
func DefaultLibs() (string, error) {
	if v := os.Getenv(LibsEnv); v != "" {
		return v, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache", "realkafka", "kafka-"+Version, "libs"), nil
}

// moduleRoot walks up from the working directory to inbond's go.mod (tests
// run in their package's folder).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/inbond/inbond\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("realkafka: not inside the inbond module (no go.mod of github.com/inbond/inbond above the working directory); set " + LibsEnv)
		}
		dir = parent
	}
}

// FindJava returns the java binary Start would run.
func FindJava() (string, error) {
	if h := os.Getenv("JAVA_HOME"); h != "" {
		p := filepath.Join(h, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("realkafka: no java on PATH and no $JAVA_HOME/bin/java (Kafka %s needs Java 11+; apt-get install -y openjdk-17-jre-headless): %w", Version, err)
	}
	return p, nil
}

// Available reports why Start cannot run here (nil when it can): Java or the
// jars missing.
func Available(cfg Config) error {
	if cfg.Java == "" {
		if _, err := FindJava(); err != nil {
			return err
		}
	}
	libs := cfg.Libs
	if libs == "" {
		var err error
		if libs, err = DefaultLibs(); err != nil {
			return err
		}
	}
	if _, err := os.Stat(filepath.Join(libs, "kafka_2.13-"+Version+".jar")); err != nil {
		return fmt.Errorf("realkafka: Kafka %s jars not in %s (run `make kafka-jars`, which fetches them from Maven Central with internal/realkafka/maven/pom.xml): %w", Version, libs, err)
	}
	return nil
}

// Start formats storage and starts the cluster, and returns once every
// broker is registered, unfenced and answering metadata on its client
// listener. ctx bounds the start only; Stop ends the cluster.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	began := time.Now()
	if cfg.Brokers <= 0 {
		cfg.Brokers = 1
	}
	if cfg.Heap == "" {
		cfg.Heap = "512m"
	}
	if err := Available(cfg); err != nil {
		return nil, err
	}
	if cfg.Java == "" {
		cfg.Java, _ = FindJava()
	}
	if cfg.Libs == "" {
		cfg.Libs, _ = DefaultLibs()
	}
	c := &Cluster{dir: cfg.Dir}
	if c.dir == "" {
		removeStaleDirs()
		d, err := os.MkdirTemp("", fmt.Sprintf("realkafka-%d-", os.Getpid()))
		if err != nil {
			return nil, err
		}
		c.dir, c.ownDir = d, true
	}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()

	ports, err := freePorts(4 * cfg.Brokers)
	if err != nil {
		return nil, err
	}
	var voters []string
	for i := range cfg.Brokers {
		n := &node{id: i + 1, clientPort: ports[4*i], internal: ports[4*i+1], controller: ports[4*i+2],
			dir: filepath.Join(c.dir, fmt.Sprintf("node-%d", i+1)), exited: make(chan struct{})}
		c.nodes = append(c.nodes, n)
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", n.id, n.controller))
	}
	advertised := make([]int, cfg.Brokers)
	for i, n := range c.nodes {
		advertised[i] = n.clientPort
		if cfg.Proxied {
			advertised[i] = ports[4*i+3]
		}
	}
	if cfg.Proxied {
		c.Faults = &Faults{}
		for i, n := range c.nodes {
			p, err := startProxy(fmt.Sprintf("127.0.0.1:%d", advertised[i]), fmt.Sprintf("127.0.0.1:%d", n.clientPort), c.Faults)
			if err != nil {
				return nil, err
			}
			c.proxies = append(c.proxies, p)
		}
	}
	clusterID := newClusterID()
	for i, n := range c.nodes {
		if err := n.writeConfig(cfg, strings.Join(voters, ","), advertised[i]); err != nil {
			return nil, err
		}
	}
	archive := classArchive(cfg)
	_, err = os.Stat(archive)
	haveArchive := err == nil
	var formatShare []string
	if haveArchive {
		formatShare = []string{"-XX:SharedArchiveFile=" + archive}
	}
	// Format every node's storage with Kafka's own tool, in parallel: each
	// is a JVM start (about a second, 0.6 s with the archive).
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = n.format(ctx, cfg, clusterID, formatShare)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, n := range c.nodes {
		var share []string
		switch {
		case archive != "" && haveArchive:
			share = []string{"-XX:SharedArchiveFile=" + archive}
		case archive != "" && i == 0:
			// No archive yet: node 1 writes one when Stop ends it cleanly.
			c.archive, c.archiving = archive, fmt.Sprintf("%s.%d.tmp", archive, os.Getpid())
			share = []string{"-XX:ArchiveClassesAtExit=" + c.archiving}
		}
		if err := n.start(cfg, share); err != nil {
			return nil, err
		}
		c.Brokers = append(c.Brokers, fmt.Sprintf("127.0.0.1:%d", advertised[i]))
	}
	if err := c.waitReady(ctx); err != nil {
		return nil, err
	}
	if err := c.warmCoordinator(ctx); err != nil {
		return nil, err
	}
	c.StartupTime = time.Since(began)
	ok = true
	return c, nil
}

// writeConfig writes the node's server.properties and log4j.properties.
func (n *node) writeConfig(cfg Config, voters string, advertisedPort int) error {
	if err := os.MkdirAll(filepath.Join(n.dir, "data"), 0o755); err != nil {
		return err
	}
	props := map[string]string{
		"process.roles":                            "broker,controller",
		"node.id":                                  strconv.Itoa(n.id),
		"controller.quorum.voters":                 voters,
		"listeners":                                fmt.Sprintf("CLIENT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", n.clientPort, n.internal, n.controller),
		"advertised.listeners":                     fmt.Sprintf("CLIENT://127.0.0.1:%d,INTERNAL://127.0.0.1:%d", advertisedPort, n.internal),
		"listener.security.protocol.map":           "CLIENT:PLAINTEXT,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"inter.broker.listener.name":               "INTERNAL",
		"controller.listener.names":                "CONTROLLER",
		"log.dirs":                                 filepath.Join(n.dir, "data"),
		"auto.create.topics.enable":                "false",
		"num.partitions":                           "1",
		"default.replication.factor":               "1",
		"min.insync.replicas":                      "1",
		"offsets.topic.replication.factor":         "1",
		"offsets.topic.num.partitions":             "6",
		"transaction.state.log.replication.factor": "1",
		"transaction.state.log.min.isr":            "1",
		"transaction.state.log.num.partitions":     "6",
		// Tests run consumer groups with 1 s sessions; Kafka's floor is 6 s.
		"group.min.session.timeout.ms": "500",
		// The first member of a new group would wait 3 s for others.
		"group.initial.rebalance.delay.ms": "0",
		// A broker is unfenced at its first heartbeat after catching up
		// with the metadata log: heartbeats every 2 s by default make the
		// start wait for them.
		"broker.heartbeat.interval.ms": "250",
		"broker.session.timeout.ms":    "3000",
		// 2 cores: fewer threads than the defaults (3 network, 8 I/O).
		"num.network.threads":               "2",
		"num.io.threads":                    "4",
		"num.recovery.threads.per.data.dir": "1",
		"log.cleaner.threads":               "1",
		"log.cleaner.dedupe.buffer.size":    strconv.Itoa(8 << 20),
	}
	for k, v := range cfg.Properties {
		props[k] = v
	}
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	if err := os.WriteFile(filepath.Join(n.dir, "server.properties"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	log4j := fmt.Sprintf(`log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=%s
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
`, filepath.Join(n.dir, "server.log"))
	return os.WriteFile(filepath.Join(n.dir, "log4j.properties"), []byte(log4j), 0o644)
}

// jvmArgs are the flags of every JVM this package starts.
func (n *node) jvmArgs(cfg Config, heap string) []string {
	args := []string{
		"-Xms64m", "-Xmx" + heap,
		// Serial GC: fewest threads to start, and the tests' heaps are small.
		"-XX:+UseSerialGC",
		"-Xshare:auto",  // class-data archives when usable, never a failure
		"-Xlog:cds=off", // its warnings about classes it cannot archive
		"-Xlog:cds+dynamic=off",
		"-XX:-UsePerfData",
		"-Djava.awt.headless=true",
		"-Dlog4j.configuration=file:" + filepath.Join(n.dir, "log4j.properties"),
		"-Dkafka.logs.dir=" + n.dir,
	}
	if cfg.Fast {
		args = append(args, "-XX:TieredStopAtLevel=1")
	}
	return append(args, "-cp", filepath.Join(cfg.Libs, "*"))
}

// newClusterID returns a Kafka cluster ID: 16 random bytes, URL-safe base64
// without padding, as `kafka-storage random-uuid` prints.
// Like Kafka's Uuid.randomUuid it never starts with "-", which the
// format tool's argument parser would take for an option (it failed a test
// run once).
func newClusterID() string {
	for {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		if id := base64.RawURLEncoding.EncodeToString(b); id[0] != '-' {
			return id
		}
	}
}

// format runs kafka.tools.StorageTool format on the node's log directory.
func (n *node) format(ctx context.Context, cfg Config, clusterID string, share []string) error {
	args := append(append(share, n.jvmArgs(Config{Libs: cfg.Libs, Fast: true}, "128m")...), "kafka.tools.StorageTool", "format",
		"--cluster-id="+clusterID, "--config="+filepath.Join(n.dir, "server.properties"))
	cmd := exec.CommandContext(ctx, cfg.Java, args...)
	setDeathSignal(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("realkafka: format node %d: %v\n%s", n.id, err, out)
	}
	return nil
}

// start starts the node's JVM. It dies with this process (see
// setDeathSignal) or at Stop.
func (n *node) start(cfg Config, share []string) error {
	args := append(append(share, n.jvmArgs(cfg, cfg.Heap)...), "kafka.Kafka", filepath.Join(n.dir, "server.properties"))
	n.cmd = exec.Command(cfg.Java, args...)
	out, err := os.Create(filepath.Join(n.dir, "stdout.log"))
	if err != nil {
		return err
	}
	n.cmd.Stdout, n.cmd.Stderr = out, out
	setDeathSignal(n.cmd)
	if err := n.cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("realkafka: start node %d: %w", n.id, err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		out.Close()
		close(n.exited)
	}()
	return nil
}

// waitReady waits until every broker's metadata lists all brokers, so a
// topic created next can place partitions on any of them.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for i, n := range c.nodes {
		addr := c.Brokers[i]
		var last error
		for {
			select {
			case <-n.exited:
				return fmt.Errorf("realkafka: node %d exited while starting (%v); its log:\n%s", n.id, n.waitErr, c.nodeLog(n, 40))
			default:
			}
			last = brokersListed(ctx, addr, len(c.nodes))
			if last == nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("realkafka: node %d at %s not ready: %v (last: %v); its log:\n%s", n.id, addr, ctx.Err(), last, c.nodeLog(n, 40))
			case <-time.After(25 * time.Millisecond):
			}
		}
	}
	return nil
}

// warmCoordinator asks for a group coordinator until one answers. Kafka
// creates __consumer_offsets at the first such request, and answers
// COORDINATOR_NOT_AVAILABLE until its partitions are loaded: the first
// consumer group of a test would wait for that, and a test's own group
// queries saw the error (kfake never gives it).
func (c *Cluster) warmCoordinator(ctx context.Context) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKeys = []string{"realkafka-warm-up"}
		resp, err := req.RequestWith(ctx, cl)
		if err == nil {
			for _, k := range resp.Coordinators {
				err = kerr.ErrorForCode(k.ErrorCode)
			}
			if err == nil && len(resp.Coordinators) > 0 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("realkafka: no group coordinator: %v (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// brokersListed asks addr for the cluster's brokers and wants n of them.
func brokersListed(ctx context.Context, addr string, n int) error {
	d := &kafka.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	bs, err := conn.Brokers()
	if err != nil {
		return err
	}
	if len(bs) != n {
		return fmt.Errorf("%d of %d brokers registered", len(bs), n)
	}
	if _, err := conn.Controller(); err != nil {
		return err
	}
	return nil
}

// nodeLog returns the last lines of a node's server and stdout logs.
func (c *Cluster) nodeLog(n *node, lines int) string {
	var b strings.Builder
	for _, f := range []string{"stdout.log", "server.log"} {
		data, _ := os.ReadFile(filepath.Join(n.dir, f))
		ls := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&b, "--- %s ---\n%s\n", f, strings.Join(ls[max(0, len(ls)-lines):], "\n"))
	}
	return b.String()
}

// Log returns the last lines of every node's logs, for a failing test's output.
func (c *Cluster) Log(lines int) string {
	var b strings.Builder
	for _, n := range c.nodes {
		fmt.Fprintf(&b, "=== node %d (%s) ===\n%s", n.id, n.dir, c.nodeLog(n, lines))
	}
	return b.String()
}

// Dir is the folder of the nodes' configuration, data and logs.
func (c *Cluster) Dir() string { return c.dir }

// Stop kills every JVM (SIGKILL: the data is thrown away, so there is
// nothing to shut down cleanly) and removes a temporary directory. The one
// exception is a node writing the class-data archive: it gets SIGTERM, and
// up to 30 s to shut down and write it.
func (c *Cluster) Stop() {
	c.stopped.Do(func() {
		if c.archiving != "" && c.nodes[0].cmd != nil && c.nodes[0].cmd.Process != nil {
			n := c.nodes[0]
			_ = n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.exited:
				if _, err := os.Stat(c.archiving); err == nil {
					_ = os.Rename(c.archiving, c.archive)
				}
			case <-time.After(30 * time.Second):
			}
			_ = os.Remove(c.archiving)
		}
		for _, n := range c.nodes {
			if n.cmd != nil && n.cmd.Process != nil {
				_ = n.cmd.Process.Kill()
				<-n.exited
			}
		}
		for _, p := range c.proxies {
			p.close()
		}
		if c.ownDir {
			_ = os.RemoveAll(c.dir)
		}
	})
}

// classArchive is where the JVMs' class-data archive (AppCDS) of the
// Kafka classes lives: beside the jars, named after the java binary it was
// made by, as an archive only works for the JVM that wrote it. Loading
// Kafka's classes from it takes 0.7 s off a broker's start and 0.5 s off a
// format here. "" when the jars' folder is not writable.
func classArchive(cfg Config) string {
	fi, err := os.Stat(cfg.Java)
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(cfg.Java); err == nil {
		if f, err := os.Stat(real); err == nil {
			fi = f
		}
	}
	dir := filepath.Dir(filepath.Clean(cfg.Libs))
	probe := filepath.Join(dir, ".writable")
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		return ""
	}
	_ = os.Remove(probe)
	return filepath.Join(dir, fmt.Sprintf("kafka-%s-java-%d-%d.jsa", Version, fi.Size(), fi.ModTime().Unix()))
}

// removeStaleDirs removes the temporary directories of clusters whose
// process is gone: a test binary killed (its JVMs die with it, see
// setDeathSignal) never reaches Stop.
func removeStaleDirs() {
	if _, err := os.Stat("/proc/self"); err != nil {
		return // no way to tell a live owner from a dead one
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "realkafka-*-*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(d), "realkafka-"), "-", 2)[0])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			_ = os.RemoveAll(d)
		}
	}
}

// freePorts returns n distinct loopback ports that were free a moment ago.
// All are held open together, so none is handed out twice.
func freePorts(n int) ([]int, error) {
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("realkafka: free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
