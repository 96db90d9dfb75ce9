package sim

import (
	"context"
	"fmt"
	"slices"
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

// SortByTime puts msgs in the order of publication, whatever order a file
// had them in (a recording is often one channel's file after another's).
// It is stable: messages published at the same time keep their order.
func SortByTime(msgs []Message) {
	slices.SortStableFunc(msgs, func(a, b Message) int { return a.At.Compare(b.At) })
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

// Pace says how fast Play publishes.
type Pace struct {
	// Speed is simulated seconds per real second: 3600 plays an hour of
	// traffic per second, 1 is real time, 0 or less ignores the clock.
	Speed float64
	// Rate caps the messages per second, whatever the clock says (0: no cap).
	Rate float64
}

// Play publishes msgs (sorted by At) in batches, paced by p, and returns the
// number published. Messages due at the same wall instant go out together,
// at most 1000 at a time.
func Play(ctx context.Context, msgs []Message, pub Publisher, p Pace) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	start, simStart := time.Now(), msgs[0].At
	sent := 0
	for sent < len(msgs) {
		// The clock: wait until the next message is due.
		if p.Speed > 0 {
			due := start.Add(time.Duration(float64(msgs[sent].At.Sub(simStart)) / p.Speed))
			if err := sleepUntil(ctx, due); err != nil {
				return sent, err
			}
		}
		// The rate cap: never ahead of sent/Rate seconds since the start.
		if p.Rate > 0 {
			if err := sleepUntil(ctx, start.Add(time.Duration(float64(sent)/p.Rate*float64(time.Second)))); err != nil {
				return sent, err
			}
		}
		end := sent + 1
		limit := len(msgs)
		if p.Rate > 0 {
			limit = min(limit, sent+max(1, int(p.Rate/100))) // ~10 ms of traffic per batch
		}
		now := simStart.Add(time.Duration(float64(time.Since(start)) * p.Speed))
		for end < limit && end-sent < 1000 && (p.Speed <= 0 || !msgs[end].At.After(now)) {
			end++
		}
		if err := pub.Publish(ctx, msgs[sent:end]); err != nil {
			return sent, err
		}
		sent = end
	}
	return sent, nil
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// PlayScenario generates the shipped or filed scenario name with seed and
// plays all of it, at pace, into the carriers' protocols: MQTT at mqttURL,
// Kafka at brokers, as clientID. It returns the stream played (messages
// and ground-truth labels): what a test of the whole system starts with.
func PlayScenario(ctx context.Context, name string, seed uint64, mqttURL, clientID string, brokers []string, pace Pace) (*Stream, error) {
	sc, err := LoadScenario(name)
	if err != nil {
		return nil, err
	}
	stream, err := Generate(sc, seed, nil)
	if err != nil {
		return nil, err
	}
	pub, err := NewNetPublisher(mqttURL, clientID, brokers)
	if err != nil {
		return nil, err
	}
	n, err := Play(ctx, stream.Messages, pub, pace)
	if cerr := pub.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != len(stream.Messages) {
		err = fmt.Errorf("sim: played %d of %d messages", n, len(stream.Messages))
	}
	return stream, err
}
