package pipeline

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
)

// TestReprocessedFromMarks: the callbacks both peers ran are, per partition,
// the restarted one's first offset up to the killed one's last.
func TestReprocessedFromMarks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "marks")
	var b []byte
	put := func(last, first, count int64) {
		b = binary.LittleEndian.AppendUint64(b, uint64(last))
		b = binary.LittleEndian.AppendUint64(b, uint64(first))
		b = binary.LittleEndian.AppendUint64(b, uint64(count))
	}
	put(99, 0, 100) // partition 0: applied 0..99
	put(-1, -1, 0)  // partition 1: nothing
	put(49, 10, 40) // partition 2: applied 10..49
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	last, first, count, err := readMarks(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 3 || last[0] != 99 || first[2] != 10 || count[2] != 40 || last[1] != -1 {
		t.Fatalf("marks read back as last %v first %v count %v", last, first, count)
	}
	// The restarted peer began at 80 on partition 0 (20 again), at 7 on
	// partition 1 (none of them seen before), at 50 on partition 2 (none again).
	if got := reprocessed(last, []int64{80, 7, 50}); got != 20 {
		t.Fatalf("reprocessed = %d, want 20", got)
	}
	if got := reprocessed(last, []int64{-1, -1, 10}); got != 40 {
		t.Fatalf("reprocessed = %d, want 40", got)
	}
}

// TestReadTimesKeepsTheFirstResult: an at-least-once peer may report an
// offset twice; its first result is the one timed.
func TestReadTimesKeepsTheFirstResult(t *testing.T) {
	path := filepath.Join(t.TempDir(), "times")
	var b []byte
	for _, r := range [][3]int64{{3, 0, 100}, {3, 1, 110}, {3, 1, 999}, {0, 2, 50}} {
		for _, v := range r {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := readTimes(path)
	if err != nil {
		t.Fatal(err)
	}
	if at(st, 3, 0) != 100 || at(st, 3, 1) != 110 || at(st, 0, 2) != 50 || at(st, 0, 0) != 0 || at(st, 5, 0) != 0 {
		t.Fatalf("times read back as %v", st)
	}
}

// TestPeersCeilingAndInbond runs the benchmark small, without the goka peer
// (its binary is built by make bench-peers; set INBOND_GOKA_PEER to its path
// to include it, with the restart figure): both engines time every live
// event, and inbond's throughput is a share of the ceiling's.
func TestPeersCeilingAndInbond(t *testing.T) {
	r := testenv.NewRedis(t)
	cfg := PeersConfig{Redis: r.Client, Prefix: r.Prefix, Events: 3000, Shipments: 40, Rounds: 1, Rate: 5000, Out: testWriter{t}}
	if bin := os.Getenv("INBOND_GOKA_PEER"); bin != "" {
		cfg.GokaBinary, cfg.Restart, cfg.RestartRate = bin, true, 5000
	}
	res, err := Peers(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{EngineCeiling, EngineInbond} {
		run := res.Best[name]
		if run.PerSecond <= 0 || run.Live == 0 || run.Latency.P50 <= 0 {
			t.Errorf("%s: %+v", name, run)
		}
	}
	if cfg.GokaBinary != "" {
		if res.Compared == 0 || len(res.Restarts) != 1 || !res.Restarts[0].StateMatches {
			t.Errorf("goka: compared %d shipments, restarts %+v", res.Compared, res.Restarts)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestPeersKStreams runs the Kafka Streams peer (bench/kstreams, both
// guarantees) small on Apache Kafka beside the ceiling and inbond, with a
// SIGKILL mid-stream for each: its aggregates read back from its changelog
// must equal the same fields of inbond's state, every live event must be
// timed, and exactly_once_v2 must fold no record twice into the durable
// aggregate after the SIGKILL. It needs INBOND_TEST_KAFKA=real (make
// test-kafka builds the peer first); there, a missing Java or jar fails.
func TestPeersKStreams(t *testing.T) {
	if !testenv.RealKafka() {
		// make test leaves it out (-skip); in CI anything else running it
		// on kfake is a mistake to see, not a skip to miss.
		if testenv.RequireReal() {
			t.Fatalf("Kafka Streams runs on Apache Kafka only: make test-kafka (%s=real) runs this test", testenv.KafkaEnv)
		}
		t.Skipf("Kafka Streams runs on Apache Kafka only: make test-kafka (%s=real) runs this test", testenv.KafkaEnv)
	}
	libs := filepath.Join("..", KStreamsLibs)
	if _, err := os.Stat(filepath.Join(libs, "kstreams-peer.jar")); err != nil {
		t.Fatalf("the Kafka Streams peer is not built (make kstreams-peer): %v", err)
	}
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	r := testenv.NewRedis(t)
	cfg := PeersConfig{Redis: r.Client, Prefix: r.Prefix, Brokers: brokers, KStreamsLibs: libs,
		Events: 3000, Shipments: 40, Rounds: 1, Rate: 5000, Restart: true, RestartRate: 5000, Out: testWriter{t}}
	res, err := Peers(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{EngineKStreamsEOS, EngineKStreamsALOS} {
		run := res.Best[name]
		if run.PerSecond <= 0 || run.Live == 0 || run.Latency.P50 <= 0 {
			t.Errorf("%s: %+v", name, run)
		}
		// Peers fails unless every shipment of the events is compared equal.
		if res.Aggregates[name] == 0 || res.AppliedTwice[name] != 0 {
			t.Errorf("%s: %d shipments' aggregates equal inbond's, %d records folded twice without a failure (want 0)",
				name, res.Aggregates[name], res.AppliedTwice[name])
		}
	}
	if len(res.Restarts) != 2 {
		t.Fatalf("restarts: %+v", res.Restarts)
	}
	for _, rr := range res.Restarts {
		if !rr.StateMatches || rr.Recovery <= 0 {
			t.Errorf("%s after SIGKILL: %+v", rr.Engine, rr)
		}
		if rr.Engine == EngineKStreamsEOS && rr.AppliedTwice != 0 {
			t.Errorf("exactly_once_v2 folded %d records twice into its changelog after a SIGKILL", rr.AppliedTwice)
		}
	}
}
