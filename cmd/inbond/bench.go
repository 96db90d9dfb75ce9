package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/inbond/inbond/pipeline"
	"github.com/peterbourgon/ff/v3/ffcli"
)

func benchCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond bench", flag.ExitOnError)
	var rf redisFlags
	rf.register(fs)
	events := fs.Int("events", 500_000, "events to pre-generate and stream through")
	shipments := fs.Int("shipments", 1000, "shipments the events belong to")
	latency := fs.Bool("latency", true, "then time ingest -> alert: simulated carriers with every deviation into the gateways, processor and rules")
	rate := fs.Float64("rate", 10_000, "messages per second the latency run publishes into the gateways")
	c := command("bench", "inbond bench [flags] | inbond bench peers [flags]",
		"Measure the processor: stream pre-generated events through in-process Kafka into it with the real Redis at --redis, next to a baseline measured in the same run (read from Kafka, one pipelined Redis write per event).",
		fs, func(ctx context.Context, _ []string) error {
			rf.prefix = fmt.Sprintf("%sbench:%d:", rf.prefix, time.Now().UnixNano())
			rdb, err := rf.client()
			if err != nil {
				return err
			}
			defer rdb.Close()
			if err := rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("the benchmark needs a real Redis: %s: %w", rf.addr, err)
			}
			fmt.Printf("inbond bench: %d events, %d shipments, Redis %s (keys under %s, removed afterwards)\n", *events, *shipments, rf.addr, rf.prefix)
			if _, err = pipeline.Bench(ctx, pipeline.BenchConfig{
				Redis: rdb, Prefix: rf.prefix, Events: *events, Shipments: *shipments, Out: os.Stdout,
			}); err != nil || !*latency {
				return err
			}
			_, err = pipeline.Latency(ctx, pipeline.LatencyConfig{Redis: rdb, Prefix: rf.prefix + "latency:", Rate: *rate, Out: os.Stdout})
			return err
		})
	c.Subcommands = []*ffcli.Command{benchPeersCommand()}
	return c
}
