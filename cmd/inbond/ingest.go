package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/pipeline"
	"github.com/peterbourgon/ff/v3/ffcli"
	"go.uber.org/zap"
)

func ingestCommand() *ffcli.Command {
	fs := flag.NewFlagSet("inbond ingest", flag.ExitOnError)
	var c common
	c.register(fs, ":9464")
	hostname, _ := os.Hostname()
	brokers := fs.String("kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	gateways := fs.String("gateways", "mqtt,kafka", "gateways to run: mqtt, kafka or both, comma-separated")
	mqttURL := fs.String("mqtt-broker", "tcp://127.0.0.1:1883", "MQTT broker URL of the carriers' devices")
	clientID := fs.String("mqtt-client-id", "inbond-ingest-"+hostname, "MQTT client ID; keep it stable across restarts: the broker keeps the session under it")
	group := fs.String("mqtt-shared-group", "inbond-ingest", "shared-subscription group so several gateways split the load (empty: plain subscription)")
	user := fs.String("mqtt-username", "", "MQTT username (optional)")
	passFile := fs.String("mqtt-password-file", "", "file holding the MQTT password (optional)")
	kafkaGroup := fs.String("kafka-group", "inbond-ingest", "consumer group reading inbond.carrier-events and inbond.manifests")
	maxBytes := fs.Int("max-message-bytes", ingest.DefaultMaxBytes, "largest accepted input; larger ones are dead-lettered as oversize")
	batch := fs.Int("batch", 500, "largest Kafka batch the gateways write at once")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on shutdown, how long to wait for in-flight inputs to be written and acked")
	create := fs.Bool("create-topics", false, "create inbond's topics if they are missing")
	partitions := fs.Int("partitions", bus.DefaultPartitions, "partitions of inbond.events when --create-topics creates it")

	return command("ingest", "inbond ingest [flags]",
		"Run the MQTT and Kafka gateways: validate carriers' input into inbond.events, dead-letter the rest to inbond.dlq.",
		fs, c.withLogger(func(ctx context.Context, log *zap.Logger) error {
			bs := splitList(*brokers)
			stage := &pipeline.Ingest{
				MaxMessageBytes: *maxBytes,
				Forwarder:       ingest.ForwarderConfig{MaxBatch: *batch},
				DrainTimeout:    *drain,
			}
			for _, g := range splitList(*gateways) {
				switch g {
				case "mqtt":
					password, err := readSecret(*passFile, "mqtt password")
					if err != nil {
						return err
					}
					stage.MQTT = &ingest.MQTTConfig{ClientID: *clientID, SharedGroup: *group, Username: *user, Password: password}
				case "kafka":
					stage.Kafka = &ingest.KafkaConfig{GroupID: *kafkaGroup}
				default:
					return fmt.Errorf("--gateways: unknown gateway %q (want mqtt, kafka)", g)
				}
			}
			return pipeline.Run(ctx, pipeline.Config{
				Kafka:       pipeline.Kafka{Brokers: bs, CreateTopics: *create, Partitions: *partitions},
				MQTT:        pipeline.MQTT{URL: *mqttURL},
				Ingest:      stage,
				MetricsAddr: c.metricsAddr,
				Log:         log,
			})
		}))
}
