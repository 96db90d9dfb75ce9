package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/inbond/inbond/pipeline"
	"github.com/peterbourgon/ff/v3/ffcli"
	"github.com/redis/go-redis/v9"
)

func benchCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond bench", flag.ExitOnError)
	var rf redisFlags
	rf.register(fs)
	events := fs.Int("events", 500_000, "events to pre-generate and stream through")
	shipments := fs.Int("shipments", 1000, "shipments the events belong to")
	latency := fs.Bool("latency", true, "then time ingest -> alert: simulated carriers with every deviation into the gateways, processor and rules")
	rate := fs.Float64("rate", 10_000, "messages per second the latency run publishes into the gateways")
	c := command("bench", "inbond bench [flags] | inbond bench peers [flags] | inbond bench api [flags]",
		"Measure the processor: stream pre-generated events through in-process Kafka into it with the real Redis at --redis, next to a baseline measured in the same run (read from Kafka, one pipelined Redis write per event).",
		fs, func(ctx context.Context, _ []string) error {
			rdb, err := rf.benchClient(ctx, "bench")
			if err != nil {
				return err
			}
			defer rdb.Close()
			fmt.Printf("inbond bench: %d events, %d shipments, Redis %s (keys under %s, removed afterwards)\n", *events, *shipments, rf.addr, rf.prefix)
			if _, err = pipeline.Bench(ctx, pipeline.BenchConfig{
				Redis: rdb, Prefix: rf.prefix, Events: *events, Shipments: *shipments, Out: os.Stdout,
			}); err != nil || !*latency {
				return err
			}
			_, err = pipeline.Latency(ctx, pipeline.LatencyConfig{Redis: rdb, Prefix: rf.prefix + "latency:", Rate: *rate, Out: os.Stdout})
			return err
		})
	c.Subcommands = []*ffcli.Command{benchPeersCommand(), benchAPICommand()}
	return c
}

// benchAPICommand measures the API's shipment reads over a full state,
// idle and while the processor ingests.
func benchAPICommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond bench api", flag.ExitOnError)
	var rf redisFlags
	rf.register(fs)
	shipments := fs.Int("shipments", 10_000, "shipments in state before the API is measured")
	rate := fs.Float64("rate", 10_000, "events per second written to inbond.events while the API is measured under ingest")
	duration := fs.Duration("duration", 15*time.Second, "how long each phase (idle, ingesting) is measured")
	clients := fs.Int("clients", 4, "concurrent API clients, each one request after another")
	streams := fs.Int("streams", 2, "dashboards following /v1/stream while ingesting, each checked to receive every shipment update (0: none)")
	return command("api", "inbond bench api [flags]",
		"Measure the API: p50/p99 of the shipment list and one shipment with the state full, idle (the baseline) and while the processor ingests --rate events/s, and whether dashboards following the live stream keep up.",
		fs, func(ctx context.Context, _ []string) error {
			rdb, err := rf.benchClient(ctx, "bench-api")
			if err != nil {
				return err
			}
			defer rdb.Close()
			fmt.Printf("inbond bench api: %d shipments, %.0f events/s, %s a phase, %d clients, %d streams, Redis %s (keys under %s, removed afterwards)\n",
				*shipments, *rate, *duration, *clients, *streams, rf.addr, rf.prefix)
			_, err = pipeline.BenchAPI(ctx, pipeline.APIBenchConfig{Redis: rdb, Prefix: rf.prefix, Shipments: *shipments,
				Rate: *rate, Duration: *duration, Clients: *clients, Streams: cmp.Or(*streams, -1), Out: os.Stdout})
			return err
		})
}

// benchClient connects a benchmark to the real Redis the flags name, under
// a prefix of its own (name and the time) that it removes afterwards.
func (r *redisFlags) benchClient(ctx context.Context, name string) (*redis.Client, error) {
	r.prefix = fmt.Sprintf("%s%s:%d:", r.prefix, name, time.Now().UnixNano())
	rdb, err := r.client()
	if err != nil {
		return nil, err
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("the benchmark needs a real Redis: %s: %w", r.addr, err)
	}
	return rdb, nil
}
