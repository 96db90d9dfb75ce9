package replay_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/inbond/inbond/replay"
	"github.com/inbond/inbond/sim"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Two replays of the same traffic through the real gateways write the same
// final states and the same alerts, byte for byte, and every shipment of the
// traffic is in them.
func TestReplayIsDeterministic(t *testing.T) {
	sc, err := sim.LoadScenario("deviations")
	if err != nil {
		t.Fatal(err)
	}
	stream, err := sim.Generate(sc, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("testenv: kafka=in-process kfake, mqtt=in-process mochi, redis=in-process miniredis (replay runs on embedded servers)")
	var outs [2]string
	for i := range outs {
		outs[i] = filepath.Join(t.TempDir(), "out")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		sum, err := replay.Run(ctx, replay.Config{Traffic: stream.Messages, OutDir: outs[i], Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if sum.Messages != int64(len(stream.Messages)) || sum.Events+sum.DeadLetters != sum.Messages || sum.Shipments != len(sc.Shipments) {
			t.Fatalf("run %d: %+v for %d messages of %d shipments", i, sum, len(stream.Messages), len(sc.Shipments))
		}
		t.Logf("run %d: %+v", i, sum)
	}
	for _, name := range []string{"shipments.jsonl", "alerts.jsonl"} {
		a, err := os.ReadFile(filepath.Join(outs[0], name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(outs[1], name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) || len(a) == 0 {
			t.Fatalf("the two replays wrote different %s (%d and %d bytes)", name, len(a), len(b))
		}
	}
}
