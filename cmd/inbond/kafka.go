package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/peterbourgon/ff/v3/ffcli"
)

func kafkaCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond kafka", flag.ExitOnError)
	port := fs.Int("port", 9092, "port of the first broker (0: any free port)")
	brokers := fs.Int("brokers", 1, "number of brokers")
	partitions := fs.Int("partitions", bus.DefaultPartitions, "partitions of inbond.events and inbond.carrier-events")
	session := fs.Duration("min-session-timeout", 500*time.Millisecond, "smallest consumer-group session timeout accepted")
	return command("kafka", "inbond kafka [flags]",
		"Run an in-process Kafka cluster (kfake) with inbond's topics until stopped: for development, kcat experiments and tests that run several inbond processes.",
		fs, func(ctx context.Context, _ []string) error {
			addrs, stop, err := embedded.Kafka(embedded.KafkaConfig{Brokers: *brokers, Partitions: *partitions, Port: *port, MinSessionTimeout: *session})
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
