package main

import (
	"context"
	"errors"
	"flag"

	"github.com/inbond/inbond/alerts/webhook"
	"github.com/inbond/inbond/pipeline"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

// webhooksCommand runs the webhook sink: a member of its consumer group on
// inbond.alerts.
func webhooksCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond webhooks", flag.ExitOnError)
	var c common
	c.register(fs, ":9466")
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	configPath := fs.String("webhooks-config", "", "YAML file of the webhook targets, their filters, secrets' files or variables, attempts and backoff (required; see alerts/webhook/testdata/webhooks.example.yaml)")
	return command("webhooks", "inbond webhooks --webhooks-config FILE [flags]",
		"Deliver every alert transition on inbond.alerts to webhook targets (Standard Webhooks signatures), with retries and a dead letter to inbond.alerts.dlq.",
		fs, c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			if *configPath == "" {
				return errors.New("--webhooks-config: required (a YAML file of targets; see alerts/webhook/testdata/webhooks.example.yaml)")
			}
			cfg, err := webhook.LoadConfig(*configPath)
			if err != nil {
				return err
			}
			return pipeline.Run(ctx, pipeline.Config{
				Kafka: pipeline.Kafka{Brokers: splitList(*brokers)}, Webhooks: &cfg, MetricsAddr: c.metricsAddr, Log: log,
			})
		}))
}
