package main

import (
	"context"
	"flag"
	"os"
	"time"

	"github.com/inbond/inbond/demo"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

func demoCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond demo", flag.ExitOnError)
	var c common
	c.register(fs, "127.0.0.1:9464")
	redisAddr := fs.String("redis", "127.0.0.1:6379", "Redis to use when reachable; otherwise the demo starts an in-process one")
	keyPrefix := fs.String("key-prefix", demo.DefaultPrefix, "prefix of the demo's keys in Redis, cleared when it starts; one demo at a time may use it")
	mqttAddr := fs.String("mqtt-listen", "127.0.0.1:1884", "listen address of the embedded MQTT broker")
	kafkaPort := fs.Int("kafka-port", 9092, "port of the embedded Kafka broker (0: any free port)")
	ledgerAddr := fs.String("ledger-listen", "127.0.0.1:8491", "where the demo's transparency log is served for tlog clients and inbond verify (busy: any free port)")
	apiAddr := fs.String("api-listen", "127.0.0.1:8490", "where the dashboard and the HTTP API are served (busy: any free port)")
	officer := fs.Duration("officer-after", 20*time.Second, "the demo's duty officer acknowledges an alert open this long (wall time) and resolves it after twice that (0: none; alerts wait for you)")
	scenario := fs.String("scenario", "default", "scenario played in rounds: a shipped one (default, clean, deviations) or a YAML file")
	speed := fs.Float64("speed", 7200, "simulated seconds per real second")
	seed := fs.Uint64("seed", 1, "simulation seed: the same seed plays the same traffic")
	rounds := fs.Int("rounds", 0, "rounds of the scenario to play (0: until Ctrl-C)")
	rulesConfig := fs.String("rules-config", "", "YAML file of the rules' thresholds, severities and disabled rules (default: DESIGN.md's limits)")
	return command("demo", "inbond demo [flags]",
		"Start the whole system on embedded Kafka, MQTT and Redis with live simulated carriers, and print what flows.",
		fs, c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			return demo.Run(ctx, demo.Config{
				RedisAddr: *redisAddr, KeyPrefix: *keyPrefix, MQTTAddr: *mqttAddr, KafkaPort: *kafkaPort, MetricsAddr: c.metricsAddr, LedgerAddr: *ledgerAddr, APIAddr: *apiAddr, OfficerAfter: *officer,
				Scenario: *scenario, Speed: *speed, Seed: *seed, Rounds: *rounds, RulesConfig: *rulesConfig, Out: os.Stdout, Log: log,
			})
		}))
}
