// Package replay runs the whole pipeline, on embedded servers, over recorded
// traffic (as `inbond simulate --out` writes it) as fast as it goes, and
// writes every output to a directory: alerts.jsonl (every alert with its
// audit trail) and shipments.jsonl (every final state), sorted; reports/,
// the DOE reports of every month the traffic covers; and every shipment's
// history anchored: log/ is the transparency log (C2SP tlog-tiles),
// log.vkey its verifier key and receipts/ each shipment's offline proof
// (C2SP tlog-proof), checked before it is written. Two runs over the same
// traffic with the same signing key (Config.KeyFile) give byte-identical
// files, the log included: its checkpoints are cut once the traffic is in,
// a partition at a time (anchorInOrder). A user backtests the rules'
// thresholds with it; the tests check the whole system with it.
//
// The partitions' clocks do not move with wall time: they stop at the
// traffic's last event, so what the timers fire is a function of the
// traffic alone.
package replay

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/inbond/inbond/pipeline"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/report"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"go.uber.org/zap"
)

// Config configures a replay.
type Config struct {
	Traffic []sim.Message
	OutDir  string      // created if missing
	Rules   *alerts.Env // nil: alerts.DefaultEnv
	Log     *zap.Logger
	// Progress, when set, receives a line now and then.
	Progress io.Writer
	// KeyFile is the log's signing key, generated there (0600) when
	// missing; two replays of the same traffic with the same key write the
	// same log, receipts and reports. Empty: a key made for this run alone,
	// so the log's signatures (not its entries) differ from run to run.
	KeyFile string
	// SkipProofs anchors every history and writes the log and its key, but
	// not receipts/ (every shipment's offline proof, verified first: the
	// costliest output). For runs that check the other outputs.
	SkipProofs bool
}

// Summary is what a replay produced.
type Summary struct {
	Messages, Events, DeadLetters int64
	Shipments                     int
	Alerts                        map[alerts.Rule]int
	// Anchored counts the shipments whose history was proven against the
	// log and written to receipts/; Checkpoints the log's entries.
	Anchored    int
	Checkpoints uint64
	// Reports are the DOE report files written under reports/.
	Reports []string
	Elapsed time.Duration
}

// neverByTime is a replay's checkpoint interval: no checkpoint is cut by
// wall time, whose cut points would differ from run to run; each partition
// cuts one once the traffic is in (anchorInOrder), or earlier only when it
// changed CheckpointLeaves shipments.
const neverByTime = 100 * 365 * 24 * time.Hour

// prefix is where a replay keeps state in its own in-process Redis.
const prefix = "inbond-replay:"

// Run replays cfg.Traffic and writes the outputs.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	began := time.Now()
	cfg.Traffic = slices.Clone(cfg.Traffic)
	sim.SortByTime(cfg.Traffic) // played in the order of publication, whatever the file's
	sum := Summary{Alerts: map[alerts.Rule]int{}}
	env := cfg.Rules
	if env == nil {
		var err error
		if env, err = alerts.DefaultEnv(); err != nil {
			return sum, err
		}
	}
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	sysCfg := pipeline.Embedded(0, "127.0.0.1:0")
	var received atomic.Int64 // the receipt time the gateways stamp: the end of the window being published
	sysCfg.Ingest.Now = func() time.Time { return time.UnixMilli(received.Load()).UTC() }
	sysCfg.Redis = pipeline.Redis{InProcess: true, Prefix: prefix}
	sysCfg.Process = &processor.Config{Owner: "replay", SessionTimeout: 6 * time.Second, Alerts: env, FrozenClock: true,
		StallAfter: -1, Lateness: 2 * window, Ledger: true, CheckpointInterval: neverByTime}
	logDir := filepath.Join(cfg.OutDir, "log")
	for _, old := range []string{logDir, filepath.Join(cfg.OutDir, "receipts")} {
		if err := os.RemoveAll(old); err != nil { // a log is never written over: this run's is new
			return sum, err
		}
	}
	keyFile := cfg.KeyFile
	if keyFile == "" {
		keyDir, err := os.MkdirTemp("", "inbond-replay-key-") // the run's signing key, outside the output
		if err != nil {
			return sum, err
		}
		defer os.RemoveAll(keyDir)
		keyFile = filepath.Join(keyDir, "ledger.key")
	}
	sysCfg.Anchor = &anchor.Config{Dir: logDir, KeyFile: keyFile}
	sysCfg.Log = cfg.Log
	sys, err := pipeline.Start(ctx, sysCfg)
	if err != nil {
		return sum, err
	}
	defer sys.Stop() //nolint:errcheck // stopped and checked below on the happy path
	pub, err := sim.NewNetPublisher(sys.MQTTURL, "inbond-replay-carriers", sys.Brokers)
	if err != nil {
		return sum, err
	}
	n, err := playInLockstep(ctx, sys, cfg.Traffic, pub, &received)
	_ = pub.Close()
	if err != nil {
		return sum, err
	}
	sum.Messages = int64(n)
	say("published %d messages in %s", n, time.Since(began).Round(time.Millisecond))
	if err := waitForwarded(ctx, sys, &sum); err != nil {
		return sum, err
	}
	if err := waitSettled(ctx, sys); err != nil { // every event applied
		return sum, err
	}
	sys.Processor.Settle() // now the silent shipments' timers fire, up to the last event
	if err := waitSettled(ctx, sys); err != nil {
		return sum, err
	}
	if err := anchorInOrder(ctx, sys); err != nil {
		return sum, err
	}
	say("the pipeline settled and the log holds every history after %s", time.Since(began).Round(time.Millisecond))
	if err := write(ctx, sys.Store, cfg.OutDir, &sum); err != nil {
		return sum, err
	}
	if err := writeLedger(ctx, sys, cfg.OutDir, !cfg.SkipProofs, &sum); err != nil {
		return sum, err
	}
	if err := writeReports(ctx, sys, cfg, logDir, &sum); err != nil {
		return sum, err
	}
	if err := sys.Stop(); err != nil {
		return sum, err
	}
	sum.Elapsed = time.Since(began)
	return sum, nil
}

// write dumps the alerts and the final states, sorted, one JSON a line.
func write(ctx context.Context, store *state.Store, dir string, sum *Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var all []alerts.Alert
	var ships []*state.Shipment
	for p := range bus.DefaultPartitions {
		ids, err := store.Members(ctx, p, alerts.AllSet)
		if err != nil {
			return err
		}
		suffixes := make([]string, len(ids))
		for i, id := range ids {
			suffixes[i] = alerts.RecordSuffix(id)
		}
		recs, err := store.LoadRecords(ctx, p, suffixes)
		if err != nil {
			return err
		}
		for i, b := range recs {
			var a alerts.Alert
			if err := json.Unmarshal(b, &a); err != nil {
				return fmt.Errorf("alert %s: %w", ids[i], err)
			}
			all = append(all, a)
		}
		members, err := store.Members(ctx, p, state.ShipmentsSuffix)
		if err != nil {
			return err
		}
		shipIDs := make([]event.ShipmentID, len(members))
		for i, m := range members {
			shipIDs[i] = event.ShipmentID(m)
		}
		loaded, err := store.Load(ctx, p, shipIDs)
		if err != nil {
			return err
		}
		for _, id := range shipIDs {
			if sh := loaded[id]; sh != nil {
				ships = append(ships, sh)
			}
		}
	}
	slices.SortFunc(all, func(a, b alerts.Alert) int {
		return cmp.Or(strings.Compare(string(a.Shipment), string(b.Shipment)), strings.Compare(string(a.Rule), string(b.Rule)),
			a.OpenedAt.Compare(b.OpenedAt), strings.Compare(a.ID, b.ID))
	})
	slices.SortFunc(ships, func(a, b *state.Shipment) int { return strings.Compare(string(a.ID), string(b.ID)) })
	for _, a := range all {
		sum.Alerts[a.Rule]++
	}
	sum.Shipments = len(ships)
	if err := writeLines(filepath.Join(dir, "alerts.jsonl"), len(all), func(i int) (any, error) { return all[i], nil }); err != nil {
		return err
	}
	return writeLines(filepath.Join(dir, "shipments.jsonl"), len(ships), func(i int) (any, error) { return ships[i], nil })
}

func writeLines(path string, n int, line func(int) (any, error)) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		v, err := line(i)
		if err == nil {
			var b []byte
			if b, err = json.Marshal(v); err == nil {
				_, err = w.Write(append(b, '\n'))
			}
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// window is how much event time a replay publishes before it waits for the
// gateways to have forwarded all of it. The MQTT and Kafka paths race each
// other; publishing window by window keeps one channel's events from getting
// further ahead of the other's than this (the processor's lateness is twice
// it), so the outputs do not depend on which gateway ran faster.
const window = 15 * time.Minute

// playInLockstep publishes msgs, sorted by time, window by window, waiting
// after each until the gateways have written a record for all of it; the
// gateways stamp each window's inputs as received at its end.
func playInLockstep(ctx context.Context, sys *pipeline.System, msgs []sim.Message, pub sim.Publisher, received *atomic.Int64) (int, error) {
	sent := 0
	for sent < len(msgs) {
		end := sent + 1
		for end < len(msgs) && msgs[end].At.Before(msgs[sent].At.Add(window)) {
			end++
		}
		// Received at the window's end: what the gateways stamp is a function
		// of the traffic alone, not of how fast they ran.
		received.Store(msgs[sent].At.Add(window).UnixMilli())
		// Within a window, one channel after the other, each forwarded before
		// the next: the order events of different channels reach
		// inbond.events in is then the same in every run.
		for _, group := range byChannel(msgs[sent:end]) {
			n, err := sim.Play(ctx, group, pub, sim.Pace{})
			sent += n
			if err != nil {
				return sent, err
			}
			s := Summary{Messages: int64(sent)}
			if err := waitForwarded(ctx, sys, &s); err != nil {
				return sent, err
			}
		}
	}
	return sent, nil
}

// byChannel splits msgs into manifests, device and MQTT traffic, and
// carriers' Kafka events, each in its own order.
func byChannel(msgs []sim.Message) [][]sim.Message {
	groups := make([][]sim.Message, 3)
	for _, m := range msgs {
		g := 2
		switch {
		case m.Via == sim.ViaKafka && m.Topic == string(event.TopicManifests):
			g = 0
		case m.Via == sim.ViaMQTT:
			g = 1
		}
		groups[g] = append(groups[g], m)
	}
	return slices.DeleteFunc(groups, func(g []sim.Message) bool { return len(g) == 0 })
}

// waitForwarded waits until the gateways wrote a record for every message.
func waitForwarded(ctx context.Context, sys *pipeline.System, sum *Summary) error {
	for {
		events, dlq, err := sys.Forwarded(ctx)
		if err != nil {
			return err
		}
		if events+dlq >= sum.Messages {
			sum.Events, sum.DeadLetters = events, dlq
			return nil
		}
		if err := pause(ctx, sys, 2*time.Millisecond); err != nil {
			return err
		}
	}
}

// waitSettled waits until the processor has applied every event, fired
// every timer its clocks have passed and published every transition: the
// stored positions at the log's ends and nothing changing in Redis for a
// few flush intervals.
func waitSettled(ctx context.Context, sys *pipeline.System) error {
	ends, err := bus.EndOffsets(ctx, sys.Brokers, string(event.TopicEvents))
	if err != nil {
		return err
	}
	var last string
	quiet := 0
	for quiet < 5 {
		stored, err := sys.Store.Offsets(ctx, len(ends))
		if err != nil {
			return err
		}
		caughtUp := true
		for p, end := range ends {
			caughtUp = caughtUp && max(stored[p], 0) >= end
		}
		mark, err := sys.Store.Fingerprint(ctx, len(ends), alerts.AllSet)
		if err != nil {
			return err
		}
		if caughtUp && mark == last {
			quiet++
		} else {
			quiet = 0
		}
		last = mark
		if err := pause(ctx, sys, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func pause(ctx context.Context, sys *pipeline.System, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-sys.Ended():
		return fmt.Errorf("replay: a stage stopped: %w", sys.Stop())
	case <-time.After(d):
		return nil
	}
}

// anchorInOrder has each partition cut its checkpoint, one after the
// other, and waits after each until every shipment of the partition has a
// receipt covering its whole chain (the checkpoint logged): the log's
// entries are then in partition order, whatever the anchor's timing.
func anchorInOrder(ctx context.Context, sys *pipeline.System) error {
	for p := range bus.DefaultPartitions {
		sys.Processor.CutCheckpoints(p)
		for {
			behind, err := audit.UnanchoredIn(ctx, sys.Store, p)
			if err != nil {
				return err
			}
			if behind == 0 {
				break
			}
			if err := pause(ctx, sys, 20*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeLedger writes the log's verifier key beside the log and, with
// proofs, every shipment's offline proof, each verified against the log
// first.
func writeLedger(ctx context.Context, sys *pipeline.System, dir string, proofs bool, sum *Summary) error {
	if err := sys.Anchor.WriteVerifierKey(filepath.Join(dir, "log.vkey")); err != nil {
		return err
	}
	if !proofs {
		return nil
	}
	ac, err := sys.Audit()
	if err != nil {
		return err
	}
	var ids []event.ShipmentID
	for p := range bus.DefaultPartitions {
		members, err := sys.Store.Members(ctx, p, state.ShipmentsSuffix)
		if err != nil {
			return err
		}
		for _, m := range members {
			ids = append(ids, event.ShipmentID(m))
		}
	}
	reports, evidence, err := audit.VerifyAll(ctx, ac, ids)
	if err != nil {
		return fmt.Errorf("replay: the ledger does not verify: %w", err)
	}
	receipts := filepath.Join(dir, "receipts")
	if err := os.MkdirAll(receipts, 0o755); err != nil {
		return err
	}
	for _, id := range ids {
		b, err := evidence[id].MarshalProof()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(receipts, string(id)+".tlog-proof"), b, 0o644); err != nil {
			return err
		}
		sum.Checkpoints = reports[id].Verdict.TreeSize
	}
	sum.Anchored = len(ids)
	return nil
}

// writeReports writes the DOE reports (CSV, JSON, HTML) of every month the
// traffic covers to dir/reports, computed from the archive at the log's
// final tree. Their totals are a function of the traffic alone, and the
// checkpoint they name (tree size, root) of the traffic and the key, as the
// log is.
func writeReports(ctx context.Context, sys *pipeline.System, cfg Config, logDir string, sum *Summary) error {
	if len(cfg.Traffic) == 0 {
		return nil
	}
	lr, err := report.OpenLog(logDir)
	if err != nil {
		return err
	}
	key, err := audit.Verifier(sys.Anchor.VerifierKey())
	if err != nil {
		return err
	}
	snap, err := report.Open(ctx, report.Source{Brokers: sys.Brokers, Log: lr, Key: key,
		Alerts: (&desk.Desk{Store: sys.Store}).All}, 0)
	if err != nil {
		return fmt.Errorf("replay: reports: %w", err)
	}
	dir := filepath.Join(cfg.OutDir, "reports")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for _, p := range report.Covering(cfg.Traffic[0].At, cfg.Traffic[len(cfg.Traffic)-1].At) {
		d, err := report.ComputeAt(p, snap)
		if err != nil {
			return err
		}
		files, err := report.WriteFiles(ctx, d, dir, []string{"csv", "json", "html"})
		if err != nil {
			return err
		}
		for _, f := range files {
			sum.Reports = append(sum.Reports, f.Name)
		}
	}
	return nil
}
