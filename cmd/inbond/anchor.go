package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/pipeline"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

// anchorCommand runs the ledger's anchor service: inbond.checkpoints into
// the transparency log, receipts into Redis.
func anchorCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond anchor", flag.ExitOnError)
	var c common
	c.register(fs, ":9467")
	var rf redisFlags
	rf.register(fs)
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	topic := fs.String("topic", string(event.TopicCheckpoints), "topic the processors publish their checkpoints to")
	dir := fs.String("log-dir", "", "directory of the transparency log (C2SP tlog-tiles: checkpoint, tile/..., Tessera's .state/), created on first run (required)")
	origin := fs.String("origin", "", "origin of the log, the name its tree heads are signed under (default: the key's name, or "+anchor.DefaultOrigin+" for a new key)")
	keyFile := fs.String("key-file", "", "file of the log's note signing key, generated (0600) on first run; keep it secret and backed up (default: inbond/ledger.key under the user's config directory, e.g. ~/.config)")
	listen := fs.String("listen", "", "HTTP address serving the log read-only to tlog clients: /checkpoint, /tile/..., /log.vkey, /healthz (empty disables; e.g. :8467)")
	interval := fs.Duration("checkpoint-interval", 0, "how often a new signed tree head is published while the log grows (default and minimum 100ms)")
	printKey := fs.Bool("print-key", false, "print the log's verifier key (generating the signing key if needed) and exit")
	return command("anchor", "inbond anchor --log-dir DIR [flags]",
		"Anchor the ledger: append every checkpoint on inbond.checkpoints to a signed transparency log and write each shipment's receipt to Redis.",
		fs, c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			if *dir == "" {
				return errors.New("--log-dir: required (the transparency log's directory; it is the ledger's permanent record, so put it on durable storage)")
			}
			redisCfg, err := rf.config()
			if err != nil {
				return err
			}
			cfg := pipeline.Config{
				Kafka: pipeline.Kafka{Brokers: splitList(*brokers)},
				Redis: redisCfg,
				Anchor: &anchor.Config{Topic: *topic, Dir: *dir, Origin: *origin, KeyFile: *keyFile,
					Listen: *listen, CheckpointInterval: *interval},
				MetricsAddr: c.metricsAddr,
				Log:         log,
			}
			if *printKey {
				cfg.MetricsAddr, cfg.Anchor.Listen = "", ""
			}
			sys, err := pipeline.Start(ctx, cfg)
			if err != nil {
				return err
			}
			// The verifier key alone on stdout, for scripts and auditors.
			fmt.Println(sys.Anchor.VerifierKey())
			if !*printKey {
				select {
				case <-ctx.Done():
				case <-sys.Ended():
				}
			}
			return sys.Stop()
		}))
}
