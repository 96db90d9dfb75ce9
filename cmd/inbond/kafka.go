package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/obs"
	"github.com/peterbourgon/ff/v3/ffcli"
)

func kafkaCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond kafka", flag.ExitOnError)
	port := fs.Int("port", 9092, "port of the first broker (0: any free port)")
	brokers := fs.Int("brokers", 1, "number of brokers")
	partitions := fs.Int("partitions", bus.DefaultPartitions, "partitions of inbond.events and inbond.carrier-events")
	session := fs.Duration("min-session-timeout", 500*time.Millisecond, "smallest consumer-group session timeout accepted")
	evict := fs.Bool("evict-dead-members", true, "evict a consumer-group member nothing was heard from for twice its session timeout in a stable group: kfake never times out a member killed while it was joining, and its partitions would be processed by nobody (false only to show that)")
	logFormat := fs.String("log-format", "console", "log format: console (people) or json (log shippers)")
	return command("kafka", "inbond kafka [flags]",
		"Run an in-process Kafka cluster (kfake) with inbond's topics until stopped: for development, kcat experiments and tests that run several inbond processes.",
		fs, func(ctx context.Context, _ []string) error {
			log, err := obs.NewLogger(*logFormat, "info") // on stderr; stdout has the ready line
			if err != nil {
				return err
			}
			defer log.Sync() //nolint:errcheck // best effort on exit
			addrs, stop, err := embedded.Kafka(embedded.KafkaConfig{
				Brokers: *brokers, Partitions: *partitions, Port: *port, MinSessionTimeout: *session,
				KeepDeadMembers: !*evict, Log: log,
			})
			if err != nil {
				return err
			}
			defer stop()
			// Tests read this line to learn the addresses.
			fmt.Printf("kafka ready: %s\n", strings.Join(addrs, ","))
			<-ctx.Done()
			return nil
		})
}
