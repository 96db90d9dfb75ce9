package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/replay"
	"github.com/inbond/inbond/sim"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

func replayCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond replay", flag.ExitOnError)
	var c common
	c.register(fs, "")
	out := fs.String("out", "replay-out", "directory for alerts.jsonl, shipments.jsonl, reports/, the ledger log/, log.vkey and receipts/")
	keyFile := fs.String("replay-key-file", defaultReplayKey(), "file of the replay log's signing key, generated (0600) on first run; a key of its own, never anchor's --key-file (a replay's log is not the production log): replays of the same traffic with the same key write the same files, the log included (empty: a key for this run only)")
	rulesConfig := fs.String("rules-config", "", "YAML file of the rules' thresholds, severities and disabled rules (default: DESIGN.md's limits)")
	return command("replay", "inbond replay [flags] TRAFFIC.jsonl",
		"Run the whole pipeline on embedded servers over recorded traffic (as simulate --out writes it), as fast as it goes, and write every output to --out: alerts.jsonl and shipments.jsonl (sorted), the DOE reports of every month the traffic covers (reports/), and the ledger (log/, its key log.vkey, each shipment's offline proof in receipts/). Two runs over the same traffic with the same --replay-key-file write the same files, byte for byte, the log and receipts included (while no partition changes more than 4,096 shipments).",
		fs, c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			if fs.NArg() != 1 {
				return errors.New("replay: name one traffic file (inbond simulate --out writes one)")
			}
			f, err := os.Open(fs.Arg(0))
			if err != nil {
				return err
			}
			msgs, err := sim.ReadMessages(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("replay: %s: %w", fs.Arg(0), err)
			}
			env, err := alerts.LoadEnv(*rulesConfig)
			if err != nil {
				return err
			}
			sum, err := replay.Run(ctx, replay.Config{Traffic: msgs, OutDir: *out, Rules: env, Log: log, Progress: os.Stdout, KeyFile: *keyFile})
			if err != nil {
				return err
			}
			fmt.Printf("replayed %d messages (%d events, %d dead letters) in %s: %d shipments, alerts by rule:",
				sum.Messages, sum.Events, sum.DeadLetters, sum.Elapsed.Round(1e6), sum.Shipments)
			rules := make([]string, 0, len(sum.Alerts))
			for r, n := range sum.Alerts {
				rules = append(rules, fmt.Sprintf(" %s %d", r, n))
			}
			slices.Sort(rules)
			for _, r := range rules {
				fmt.Print(r)
			}
			fmt.Printf("\nwrote %s/alerts.jsonl, %s/shipments.jsonl and the reports in %s/reports/\n", *out, *out, *out)
			fmt.Printf("anchored %d shipments in a log of %d checkpoints: %s/log (tlog-tiles), its key %s/log.vkey, offline proofs %s/receipts/SHIPMENT.tlog-proof\n",
				sum.Anchored, sum.Checkpoints, *out, *out, *out)
			fmt.Printf("check one with: inbond verify --offline %s/receipts/SHIPMENT.tlog-proof --key %s/log.vkey\n", *out, *out)
			return nil
		}))
}

// defaultReplayKey is where replays keep their log's signing key: beside
// the anchor's under the user's config directory, a key of its own (a
// replay's log is a local artifact, never the production log). Empty when
// there is no config directory: each replay then makes its own.
func defaultReplayKey() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "inbond", "replay-ledger.key")
}
