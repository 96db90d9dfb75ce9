package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
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
	rulesConfig := fs.String("rules-config", "", "YAML file of the rules' thresholds, severities and disabled rules (default: DESIGN.md's limits)")
	return command("replay", "inbond replay [flags] TRAFFIC.jsonl",
		"Run the whole pipeline on embedded servers over recorded traffic (as simulate --out writes it), as fast as it goes, and write every output to --out: alerts.jsonl and shipments.jsonl (sorted), the DOE reports of every month the traffic covers (reports/), and the ledger (log/, its key log.vkey, each shipment's offline proof in receipts/). Two runs over the same traffic write the same alerts, shipments and report figures; the ledger carries the times its checkpoints were cut and a key made for the run, so it and the reports' checkpoint columns differ from run to run while proving the same histories.",
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
			sum, err := replay.Run(ctx, replay.Config{Traffic: msgs, OutDir: *out, Rules: env, Log: log, Progress: os.Stdout})
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
