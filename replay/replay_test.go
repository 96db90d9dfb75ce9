package replay_test

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/replay"
	"github.com/inbond/inbond/sim"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// Two replays of the same traffic through the real gateways write the same
// final states and the same alerts, byte for byte, and every shipment of the
// traffic is in them. The second reads the traffic as a recording often
// comes, one channel's messages after another's (carriers' Kafka events,
// then the devices' MQTT, then the manifests), not in publication order.
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
	byChannel := slices.Clone(stream.Messages)
	channel := func(m sim.Message) int {
		switch {
		case m.Via == sim.ViaMQTT:
			return 1
		case m.Topic == string(event.TopicManifests):
			return 2
		}
		return 0
	}
	slices.SortStableFunc(byChannel, func(a, b sim.Message) int { return cmp.Compare(channel(a), channel(b)) })
	if slices.EqualFunc(byChannel, stream.Messages, func(a, b sim.Message) bool { return bytes.Equal(a.Body, b.Body) }) {
		t.Fatal("the traffic regrouped by channel is in its original order: the second run would test nothing")
	}
	traffic := [2][]sim.Message{stream.Messages, byChannel}
	var outs [2]string
	for i := range outs {
		outs[i] = filepath.Join(t.TempDir(), "out")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		sum, err := replay.Run(ctx, replay.Config{Traffic: traffic[i], OutDir: outs[i], Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if sum.Messages != int64(len(stream.Messages)) || sum.Events+sum.DeadLetters != sum.Messages || sum.Shipments != len(sc.Shipments) {
			t.Fatalf("run %d: %+v for %d messages of %d shipments", i, sum, len(stream.Messages), len(sc.Shipments))
		}
		// Every history anchored, each offline proof written (and verified
		// by the replay before it was).
		proofs, err := filepath.Glob(filepath.Join(outs[i], "receipts", "*.tlog-proof"))
		if err != nil || sum.Anchored != sum.Shipments || len(proofs) != sum.Shipments {
			t.Fatalf("run %d: %d of %d shipments anchored, %d offline proofs written (%v)", i, sum.Anchored, sum.Shipments, len(proofs), err)
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
	sameReportTotals(t, outs[0], outs[1], "eia-814-2026-10.csv", "fe-746r-2026-10.csv", "inbond-summary-2026-10.csv", "metering-2026-10.csv")
	checkLabels(t, "deviations", stream, outs[0])
}

// sameReportTotals fails t unless both replays wrote each DOE report named
// under reports/, with the same rows once the checkpoint columns are left
// out: each run has a log of its own (another key, so other roots), the
// totals are the traffic's.
func sameReportTotals(t *testing.T, a, b string, names ...string) {
	t.Helper()
	rows := func(dir, name string) []string {
		raw, err := os.ReadFile(filepath.Join(dir, "reports", name))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
			fields := strings.Split(line, ",")
			if len(fields) < 4 {
				t.Fatalf("%s: a line without the checkpoint columns: %q", name, line)
			}
			out = append(out, strings.Join(fields[:len(fields)-3], ","))
		}
		return out
	}
	for _, name := range names {
		ra, rb := rows(a, name), rows(b, name)
		if len(ra) < 2 || !slices.Equal(ra, rb) {
			t.Errorf("%s: %d and %d rows, or different totals:\n%s\n--\n%s", name, len(ra), len(rb), strings.Join(ra, "\n"), strings.Join(rb, "\n"))
		}
	}
}

var longRun = flag.Bool("replay.long", false, "also replay random scenarios of 80 shipments with every deviation for seeds 7 to 12")

// The whole system, through the real gateways, raises exactly the labelled
// (shipment, rule) pairs of the simulator's ground truth, each opened at or
// after its label's begins: a random scenario of 40 shipments with every
// deviation injected (80 shipments, seeds 7 to 12, with -replay.long), and none for the clean one (the deviations scenario is
// checked by TestReplayIsDeterministic, which replays it anyway).
func TestReplayRaisesExactlyTheLabels(t *testing.T) {
	type scenario struct {
		name   string
		build  func() (*sim.Scenario, error)
		seed   uint64
		inject []alerts.Rule
	}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	cases := []scenario{
		{"clean", func() (*sim.Scenario, error) { return sim.LoadScenario("clean") }, 1, nil},
		{"random-40-every-deviation-seed-7", func() (*sim.Scenario, error) { return sim.RandomScenario(40, 7, start) }, 7, sim.Rules},
	}
	if *longRun {
		for seed := uint64(7); seed <= 12; seed++ {
			cases = append(cases, scenario{fmt.Sprintf("random-80-every-deviation-seed-%d", seed),
				func() (*sim.Scenario, error) { return sim.RandomScenario(80, seed, start) }, seed, sim.Rules})
		}
	}
	t.Log("testenv: kafka=in-process kfake, mqtt=in-process mochi, redis=in-process miniredis (replay runs on embedded servers)")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc, err := c.build()
			if err != nil {
				t.Fatal(err)
			}
			stream, err := sim.Generate(sc, c.seed, c.inject)
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			// The labels are the point here; the proofs are checked by
			// TestReplayIsDeterministic and ledger/independent.
			if _, err := replay.Run(ctx, replay.Config{Traffic: stream.Messages, OutDir: out, SkipProofs: true,
				Log: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}); err != nil {
				t.Fatal(err)
			}
			checkLabels(t, c.name, stream, out)
		})
	}
}

// checkLabels fails t unless out/alerts.jsonl holds exactly the labelled
// (shipment, rule) pairs of stream, each opened at or after its label's
// begins, and logs the precision and recall.
func checkLabels(t *testing.T, name string, stream *sim.Stream, out string) {
	t.Helper()
	type key struct {
		shipment event.ShipmentID
		rule     alerts.Rule
	}
	want := map[key]time.Time{}
	for _, l := range stream.Labels {
		if l.Kind == "deviation" && l.Rule != sim.RuleMalformed {
			want[key{l.Shipment, l.Rule}] = l.Begins
		}
	}
	f, err := os.Open(filepath.Join(out, "alerts.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[key]bool{}
	lines := bufio.NewScanner(f)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var a alerts.Alert
		if err := json.Unmarshal(lines.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		k := key{a.Shipment, a.Rule}
		begins, labelled := want[k]
		switch {
		case !labelled:
			t.Errorf("unlabelled alert %s on %s: %s", a.Rule, a.Shipment, a.Message)
		case a.OpenedAt.Before(begins):
			t.Errorf("%s on %s opened at %s, before its label's %s", a.Rule, a.Shipment, a.OpenedAt, begins)
		}
		got[k] = true
	}
	found := 0
	for k := range want {
		if got[k] {
			found++
		} else {
			t.Errorf("labelled %s on %s raised no alert", k.rule, k.shipment)
		}
	}
	precision, recall := 1.0, 1.0
	if len(got) > 0 {
		precision = float64(found) / float64(len(got))
	}
	if len(want) > 0 {
		recall = float64(found) / float64(len(want))
	}
	t.Logf("%s: %d messages, %d labelled deviations, %d alerts: precision %.3f, recall %.3f", name, len(stream.Messages), len(want), len(got), precision, recall)
}
