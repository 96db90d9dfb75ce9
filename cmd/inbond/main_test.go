package main_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inbond/inbond/internal/testenv"
)

// build compiles the inbond binary once per test binary run.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "inbond")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDemoStartsShowsTrafficAndStopsCleanly runs `inbond demo` as a user
// would: the banner within 10 s, manifests, telemetry and a dead letter
// flowing, and a clean exit on Ctrl-C (SIGINT).
func TestDemoStartsShowsTrafficAndStopsCleanly(t *testing.T) {
	bin := build(t)
	// A prefix of its own: the demo clears its prefix at start, and a
	// developer's demo may be running on this Redis.
	r := testenv.NewRedis(t)
	cmd := exec.Command(bin, "demo", "--kafka-port", "0", "--mqtt-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--ledger-listen", "127.0.0.1:0", "--redis", r.Addr, "--key-prefix", r.Prefix,
		"--metrics-addr", "127.0.0.1:0", "--speed", "7200", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // already exited on the happy path

	seen := map[string]bool{}
	want := []string{"inbond demo is up", "manifest", "departed", "meter", "position", "DLQ", "STATE", "ALERT"}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	var upAfter time.Duration
	for len(seen) < len(want) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early; stderr:\n%s", stderr.String())
			}
			for _, w := range want {
				if strings.Contains(l, w) && !seen[w] {
					seen[w] = true
					if w == want[0] {
						upAfter = time.Since(start)
					}
				}
			}
			if strings.HasPrefix(l, "DLQ") && !strings.Contains(l, "bad_unit") {
				t.Errorf("unexpected dead letter: %s", l)
			}
		case <-deadline:
			t.Fatalf("after 60 s the demo showed only %v; stderr:\n%s", seen, stderr.String())
		}
	}
	if upAfter > 10*time.Second {
		t.Errorf("demo took %s to start, want under 10 s", upAfter)
	}
	t.Logf("demo up after %s; traffic seen after %s", upAfter, time.Since(start))

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	stopped := false
	for l := range lines {
		if strings.Contains(l, "stopped cleanly") {
			stopped = true
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo exit: %v; stderr:\n%s", err, stderr.String())
	}
	if !stopped {
		t.Fatalf("demo did not report a clean stop; stderr:\n%s", stderr.String())
	}
}

// TestHelpIsComplete checks that every subcommand's --help lists its flags
// and the environment-variable convention.
func TestHelpIsComplete(t *testing.T) {
	bin := build(t)
	for sub, flags := range map[string][]string{
		"ingest": {"kafka-brokers", "gateways", "mqtt-broker", "mqtt-client-id", "mqtt-shared-group", "mqtt-password-file",
			"kafka-group", "max-message-bytes", "drain-timeout", "create-topics", "log-format", "metrics-addr"},
		"demo":    {"redis", "mqtt-listen", "kafka-port", "speed", "seed", "rounds"},
		"process": {"kafka-brokers", "redis", "redis-db", "redis-password-file", "key-prefix", "group", "owner", "flush-interval", "flush-events", "cache-shipments", "stall-after", "rules", "rules-config", "session-timeout", "metrics-addr"},
		"bench":   {"redis", "events", "shipments", "key-prefix", "latency", "rate"},
		"anchor":  {"kafka-brokers", "redis", "key-prefix", "topic", "log-dir", "origin", "key-file", "listen", "checkpoint-interval", "print-key", "metrics-addr"},
		"kafka":   {"port", "brokers", "partitions", "min-session-timeout", "evict-dead-members", "log-format"},
		"simulate": {"scenario", "random", "seed", "inject", "speed", "rate", "events", "out", "from", "labels",
			"mqtt-broker", "kafka-brokers", "embedded"},
		"replay": {"out", "replay-key-file", "rules-config", "log-format"},
	} {
		out, _ := exec.Command(bin, sub, "--help").CombinedOutput()
		for _, f := range flags {
			if !regexp.MustCompile(`-` + f + `\b`).Match(out) {
				t.Errorf("inbond %s --help does not list --%s:\n%s", sub, f, out)
			}
		}
		if !bytes.Contains(out, []byte("INBOND_")) {
			t.Errorf("inbond %s --help does not mention INBOND_ environment variables", sub)
		}
	}
	if out, err := exec.Command(bin, "nonsense").CombinedOutput(); err == nil {
		t.Errorf("unknown subcommand accepted: %s", out)
	}
}

// TestSimulateThroughTheGateways publishes the shipped scenarios through the
// real gateways (in-process Kafka and MQTT): every clean message reaches
// inbond.events, and only the labelled malformed one is dead-lettered.
func TestSimulateThroughTheGateways(t *testing.T) {
	bin := build(t)
	forwarded := regexp.MustCompile(`generated (\d+) messages[\s\S]*gateways forwarded (\d+) to inbond.events and (\d+) to inbond.dlq`)
	for scenario, wantDLQ := range map[string]string{"clean": "0", "deviations": "1"} {
		out, err := exec.Command(bin, "simulate", "--scenario", scenario, "--speed", "0", "--embedded", "--log-level", "warn").CombinedOutput()
		if err != nil {
			t.Fatalf("simulate %s: %v\n%s", scenario, err, out)
		}
		m := forwarded.FindSubmatch(out)
		if m == nil {
			t.Fatalf("simulate %s: no summary in\n%s", scenario, out)
		}
		generated, events, dlq := string(m[1]), string(m[2]), string(m[3])
		if dlq != wantDLQ {
			t.Errorf("%s: %s dead letters, want %s\n%s", scenario, dlq, wantDLQ, out)
		}
		if wantDLQ == "0" && events != generated {
			t.Errorf("%s: %s of %s messages reached inbond.events", scenario, events, generated)
		}
		t.Logf("%s: %s messages, %s events, %s dead letters", scenario, generated, events, dlq)
	}
}
