package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/peterbourgon/ff/v3/ffcli"
)

func verifyCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond verify", flag.ExitOnError)
	var rf redisFlags
	rf.register(fs)
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers of the archive (inbond.events), comma-separated")
	logAt := fs.String("log", "http://127.0.0.1:8491", "the transparency log: its HTTP root (as `inbond anchor --listen` serves it) or its directory")
	key := fs.String("key", "", "the log's note verifier key, or a file holding it (required: the one key an auditor trusts)")
	seen := fs.String("seen", defaultSeenFile(), "file keeping the last signed checkpoint this auditor accepted; each run proves the log extends it (empty: no consistency check)")
	receipt := fs.String("receipt", "", "also write an offline proof (C2SP tlog-proof carrying the shipment's events) to this file")
	offline := fs.String("offline", "", "check this offline proof with --key alone: no Redis, no Kafka, no log")
	cmd := command("verify", "inbond verify [flags] SHIPMENT | inbond verify --offline FILE --key VKEY",
		"prove a shipment's history against the signed transparency log", fs,
		func(ctx context.Context, args []string) error {
			v, err := logVerifier("verify", *key)
			if err != nil {
				return err
			}
			if *offline != "" {
				raw, err := os.ReadFile(*offline)
				if err != nil {
					return err
				}
				verdict, err := audit.VerifyProof(raw, v)
				if err != nil {
					return fmt.Errorf("FAILED offline proof %s: %w", *offline, err)
				}
				fmt.Print(verdict)
				return nil
			}
			if len(args) != 1 {
				return errors.New("verify: name one shipment (or give --offline FILE)")
			}
			shipment := event.ShipmentID(args[0])
			store, closeRedis, err := rf.store()
			if err != nil {
				return err
			}
			defer closeRedis() //nolint:errcheck // a read-only client
			lg, err := audit.OpenLog(*logAt)
			if err != nil {
				return err
			}
			report, ev, err := audit.Verify(ctx, audit.Config{Brokers: strings.Split(*brokers, ","), Store: store, Log: lg, Key: v, SeenFile: *seen}, shipment)
			if err != nil {
				return fmt.Errorf("FAILED shipment %s: %w", shipment, err)
			}
			fmt.Print(report)
			if *receipt != "" {
				b, err := ev.MarshalProof()
				if err != nil {
					return err
				}
				if err := os.WriteFile(*receipt, b, 0o644); err != nil {
					return err
				}
				fmt.Printf("  offline proof written to %s (check it with: inbond verify --offline %s --key VKEY)\n", *receipt, *receipt)
			}
			return nil
		})
	return cmd
}

// defaultSeenFile is where an auditor's last accepted checkpoint is kept.
func defaultSeenFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "inbond", "seen-checkpoint")
}
