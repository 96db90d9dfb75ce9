package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/inbond/inbond/pipeline"
	"github.com/inbond/inbond/sim"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

func simulateCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond simulate", flag.ExitOnError)
	var c common
	c.register(fs, "")
	scenario := fs.String("scenario", "default", "scenario: a shipped one ("+fmt.Sprint(sim.ShippedScenarios())+") or a YAML file")
	random := fs.Int("random", 0, "instead of a scenario, N random shipments drawn from --seed")
	seed := fs.Uint64("seed", 1, "seed: the same scenario and seed give byte-identical traffic and labels")
	inject := fs.String("inject", "", "deviations to add to every shipment they apply to, comma-separated: "+fmt.Sprint(sim.Rules))
	speed := fs.Float64("speed", 3600, "simulated seconds per real second (1: real time; 0: as fast as the brokers take it)")
	rate := fs.Float64("rate", 0, "cap on messages published per second (0: no cap)")
	events := fs.Int("events", 0, "publish or write only the first N messages (0: all)")
	out := fs.String("out", "", "write the traffic to this JSON-lines file instead of publishing it")
	from := fs.String("from", "", "publish a traffic file written with --out instead of generating")
	labels := fs.String("labels", "", "write the ground-truth labels (JSON lines) to this file")
	mqttURL := fs.String("mqtt-broker", "tcp://127.0.0.1:1883", "MQTT broker the devices publish to")
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka brokers the carriers' systems publish to")
	embedded := fs.Bool("embedded", false, "start in-process Kafka, MQTT and the ingest gateways and publish into them (measures the whole ingest path)")
	return command("simulate", "inbond simulate [flags]",
		"Play carriers: publish a scenario's manifests, carrier events and device telemetry through MQTT and Kafka, as carriers do, with ground-truth labels.",
		fs, c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			var msgs []sim.Message
			var err error
			began := time.Now()
			if *from != "" {
				f, err := os.Open(*from)
				if err != nil {
					return err
				}
				msgs, err = sim.ReadMessages(f)
				f.Close()
				if err != nil {
					return err
				}
				sim.SortByTime(msgs)
				fmt.Printf("read %d messages from %s in %s\n", len(msgs), *from, time.Since(began).Round(time.Millisecond))
			} else {
				rules, err := sim.ParseRules(*inject)
				if err != nil {
					return err
				}
				var sc *sim.Scenario
				if *random > 0 {
					sc, err = sim.RandomScenario(*random, *seed, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
				} else {
					sc, err = sim.LoadScenario(*scenario)
				}
				if err != nil {
					return err
				}
				stream, err := sim.Generate(sc, *seed, rules)
				if err != nil {
					return err
				}
				msgs = stream.Messages
				fmt.Printf("generated %d messages for %d shipments of scenario %s (seed %d) in %s\n",
					len(msgs), len(sc.Shipments), sc.Name, *seed, time.Since(began).Round(time.Millisecond))
				if *labels != "" {
					if err := writeFile(*labels, func(f *os.File) error { return sim.WriteLabels(f, stream.Labels) }); err != nil {
						return err
					}
					fmt.Printf("wrote %d labels to %s\n", len(stream.Labels), *labels)
				}
			}
			if *events > 0 && *events < len(msgs) {
				msgs = msgs[:*events]
			}
			if *out != "" {
				began = time.Now()
				if err := writeFile(*out, func(f *os.File) error { return sim.WriteMessages(f, msgs) }); err != nil {
					return err
				}
				fmt.Printf("wrote %d messages to %s in %s\n", len(msgs), *out, time.Since(began).Round(time.Millisecond))
				return nil
			}

			mqttTarget, kafkaTarget := *mqttURL, splitList(*brokers)
			var sys *pipeline.System
			if *embedded {
				cfg := pipeline.Embedded(0, "127.0.0.1:0")
				cfg.Log = log
				sys, err = pipeline.Start(ctx, cfg)
				if err != nil {
					return err
				}
				defer sys.Stop() //nolint:errcheck // the gateways' errors are logged as they stop
				mqttTarget, kafkaTarget = sys.MQTTURL, sys.Brokers
				fmt.Printf("embedded stack: kafka %v, mqtt %s, ingest gateways running\n", kafkaTarget, mqttTarget)
			}
			pub, err := sim.NewNetPublisher(mqttTarget, fmt.Sprintf("inbond-simulator-%d", os.Getpid()), kafkaTarget)
			if err != nil {
				return err
			}
			defer pub.Close()
			began = time.Now()
			n, err := sim.Play(ctx, msgs, pub, sim.Pace{Speed: *speed, Rate: *rate})
			elapsed := time.Since(began)
			fmt.Printf("published %d messages in %s: %.0f messages/s (acknowledged by the brokers)\n",
				n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
			if err != nil {
				return err
			}
			if sys != nil {
				return reportForwarded(ctx, sys, n, began)
			}
			return nil
		}))
}

func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// reportForwarded waits until the embedded gateways have written a record
// for each of the n published messages and prints the end-to-end rate.
func reportForwarded(ctx context.Context, sys *pipeline.System, n int, began time.Time) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		events, dlq, err := sys.Forwarded(ctx)
		if err != nil {
			return err
		}
		if events+dlq >= int64(n) || time.Now().After(deadline) {
			elapsed := time.Since(began)
			fmt.Printf("gateways forwarded %d to inbond.events and %d to inbond.dlq in %s: %.0f messages/s end to end\n",
				events, dlq, elapsed.Round(time.Millisecond), float64(events+dlq)/elapsed.Seconds())
			if events+dlq < int64(n) {
				return fmt.Errorf("only %d of %d messages reached Kafka within 2 minutes", events+dlq, n)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
