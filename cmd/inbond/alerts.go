package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

// alertsCommand is `inbond alerts list|show|ack|resolve`: an officer's desk
// on the command line.
func alertsCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond alerts", flag.ExitOnError)
	var c common
	c.register(fs, "")
	var rf redisFlags
	rf.register(fs)
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers (ack and resolve send commands to inbond.events)")
	all := fs.Bool("all", false, "list: resolved alerts too")
	rule := fs.String("rule", "", "list: only this rule")
	shipment := fs.String("shipment", "", "list: only this shipment")
	by := fs.String("by", os.Getenv("USER"), "ack, resolve: the officer, for the audit trail")
	note := fs.String("note", "", "ack, resolve: a note for the audit trail")
	return command("alerts", "inbond alerts [flags] list | show ID | ack ID | resolve ID",
		"List and read alerts from Redis; acknowledge or resolve one (a command on inbond.events that the processor applies in order, so the log is the audit trail).",
		fs, c.withLogger(func(ctx context.Context, _ *zap.Logger) error {
			store, closeRedis, err := rf.store()
			if err != nil {
				return err
			}
			defer closeRedis() //nolint:errcheck // a read-only client
			d := &desk.Desk{Store: store}
			args := fs.Args()
			if len(args) == 0 {
				return errors.New("alerts: say list, show ID, ack ID or resolve ID")
			}
			switch verb := args[0]; {
			case verb == "list" && len(args) == 1:
				f := desk.Filter{ActiveOnly: !*all, Shipment: event.ShipmentID(*shipment)}
				if *rule != "" {
					if f.Rule, err = alerts.ParseRule(*rule); err != nil {
						return err
					}
				}
				as, err := d.List(ctx, f)
				if err != nil {
					return err
				}
				tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSHIPMENT\tRULE\tSEVERITY\tSTATUS\tOPENED\tMESSAGE")
				for _, a := range as {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Shipment, a.Rule, a.Severity, a.Status, a.OpenedAt.Format(time.RFC3339), a.Message)
				}
				return tw.Flush()
			case verb == "show" && len(args) == 2:
				a, err := d.Get(ctx, args[1])
				if err != nil {
					return err
				}
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(a)
			case (verb == "ack" || verb == "resolve") && len(args) == 2:
				w := bus.NewWriter(splitList(*brokers))
				defer w.Close()
				d.Writer = w
				send := d.Acknowledge
				if verb == "resolve" {
					send = d.Resolve
				}
				e, err := send(ctx, args[1], *by, *note)
				if err != nil {
					return err
				}
				fmt.Printf("sent %s of alert %s (command %s on %s); the processor applies it in order with the shipment's events\n", verb, args[1], e.ID, event.TopicEvents)
				return nil
			}
			return fmt.Errorf("alerts: %q: say list, show ID, ack ID or resolve ID", args)
		}))
}
