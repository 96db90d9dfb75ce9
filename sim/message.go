package sim

import (
	"context"
	"fmt"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/inbond/inbond/internal/bus"
	"github.com/segmentio/kafka-go"
)

// Via is the transport a message is published on.
type Via string

// The transports carriers use.
const (
	ViaMQTT  Via = "mqtt"  // devices: telemetry on inbond/v1/{carrier}/{shipment}/telemetry
	ViaKafka Via = "kafka" // carrier systems: inbond.carrier-events and inbond.manifests
)

// Message is one publication of the simulator.
type Message struct {
	At    time.Time // simulated time of publication
	Via   Via
	Topic string // MQTT topic or Kafka topic
	Key   string // Kafka record key (the shipment)
	Body  []byte
}

// Publisher sends messages the way a carrier would. Publish returns once the
// broker acknowledged the message (MQTT PUBACK, Kafka acks=all).
type Publisher interface {
	Publish(ctx context.Context, msgs []Message) error
	Close() error
}

// NetPublisher publishes MQTT messages with QoS 1 and Kafka messages with acks=all.
type NetPublisher struct {
	mqtt  mqtt.Client
	kafka *kafka.Writer
}

// NewNetPublisher connects to the MQTT broker and prepares a Kafka writer.
func NewNetPublisher(mqttURL, clientID string, brokers []string) (*NetPublisher, error) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mqttURL).SetClientID(clientID).
		SetCleanSession(true).SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("simulator: connect MQTT %s: %v", mqttURL, tok.Error())
	}
	return &NetPublisher{mqtt: c, kafka: bus.NewWriter(brokers)}, nil
}

// Publish sends msgs in order: MQTT ones in one burst then waits for their
// PUBACKs, Kafka ones in one batch write.
func (p *NetPublisher) Publish(ctx context.Context, msgs []Message) error {
	var toks []mqtt.Token
	var recs []kafka.Message
	for _, m := range msgs {
		switch m.Via {
		case ViaMQTT:
			toks = append(toks, p.mqtt.Publish(m.Topic, 1, false, m.Body))
		case ViaKafka:
			recs = append(recs, kafka.Message{Topic: m.Topic, Key: []byte(m.Key), Value: m.Body})
		}
	}
	if len(recs) > 0 {
		if err := p.kafka.WriteMessages(ctx, recs...); err != nil {
			return fmt.Errorf("simulator: kafka publish: %w", err)
		}
	}
	for _, t := range toks {
		select {
		case <-t.Done():
			if err := t.Error(); err != nil {
				return fmt.Errorf("simulator: mqtt publish: %w", err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close disconnects.
func (p *NetPublisher) Close() error {
	p.mqtt.Disconnect(250)
	return p.kafka.Close()
}

// Play publishes msgs (sorted by At) paced by a clock running speed times
// faster than real time from the first message's At; speed <= 0 publishes as
// fast as the brokers accept. Messages due at the same wall instant go out
// together. It returns the number published.
func Play(ctx context.Context, msgs []Message, pub Publisher, speed float64) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	start, simStart := time.Now(), msgs[0].At
	sent := 0
	for sent < len(msgs) {
		end := sent + 1
		if speed > 0 {
			due := start.Add(time.Duration(float64(msgs[sent].At.Sub(simStart)) / speed))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return sent, ctx.Err()
				}
			}
			now := simStart.Add(time.Duration(float64(time.Since(start)) * speed))
			for end < len(msgs) && !msgs[end].At.After(now) && end-sent < 1000 {
				end++
			}
		} else {
			end = min(sent+1000, len(msgs))
		}
		if err := pub.Publish(ctx, msgs[sent:end]); err != nil {
			return sent, err
		}
		sent = end
	}
	return sent, nil
}
