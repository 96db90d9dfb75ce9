package ingest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/ingest/ingesttest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/wire"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// faultyWriter writes through to Kafka unless told to fail. Once crashed,
// its next batch is written but reported failed (the worst case of a process
// killed between Kafka's ack and the source's ack: the records exist and their
// inputs are redelivered), and nothing after it is written. While down, every
// write fails and writes nothing, as when Kafka is unreachable.
type faultyWriter struct {
	w          *kafka.Writer
	crashed    atomic.Bool
	down       atomic.Bool
	lastWrites atomic.Int32
	attempts   atomic.Int64
}

func (c *faultyWriter) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	c.attempts.Add(1)
	switch {
	case c.down.Load():
		return errors.New("kafka unreachable")
	case !c.crashed.Load():
		return c.w.WriteMessages(ctx, msgs...)
	}
	if c.lastWrites.Add(1) == 1 {
		_ = c.w.WriteMessages(ctx, msgs...)
	}
	return errors.New("process killed")
}

// startService runs an ingest.Service and returns its controls.
func startService(t *testing.T, brokers []string, configure func(*ingest.Service)) ingesttest.Gateway {
	t.Helper()
	w := &faultyWriter{w: bus.NewWriter(brokers)}
	svc := &ingest.Service{
		Writer:       w,
		Decoder:      &ingest.Decoder{},
		DrainTimeout: 2 * time.Second,
		Metrics:      ingest.NewMetrics(prometheus.NewRegistry()),
		Log:          zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	}
	configure(svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case <-svc.Ready():
	case err := <-done:
		t.Fatalf("ingest service stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("ingest service not ready after 30s")
	}
	var once sync.Once
	stop := func(crash bool) {
		once.Do(func() {
			if crash {
				w.crashed.Store(true) // the drain then times out and acks nothing more
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ingest service: %v", err)
			}
			_ = w.w.Close()
		})
	}
	t.Cleanup(func() { stop(false) })
	return ingesttest.Gateway{
		Stop:       stop,
		FailWrites: w.down.Store,
		Attempts:   func() int { return int(w.attempts.Load()) },
	}
}

func mqttPublisher(t *testing.T, url string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("carrier-%d", time.Now().UnixNano())).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publisher connect %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// publishMQTT publishes each body with QoS 1 without waiting between them (a
// burst), then waits for every PUBACK.
func publishMQTT(t *testing.T, c mqtt.Client, topics []string, bodies [][]byte) {
	t.Helper()
	toks := make([]mqtt.Token, len(bodies))
	for i, b := range bodies {
		toks[i] = c.Publish(topics[i], 1, false, b)
	}
	for i, tok := range toks {
		if !tok.WaitTimeout(2*time.Minute) || tok.Error() != nil {
			t.Fatalf("publish %d: no PUBACK: %v", i, tok.Error())
		}
	}
}

func TestMQTTGatewayContract(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	mosq := testenv.OwnMosquitto(t)
	clientID := "inbond-ingest-test"
	ingesttest.Run(t, ingesttest.Transport{
		Brokers: brokers,
		Publish: func(t *testing.T, in []ingesttest.Input) {
			c := mqttPublisher(t, mosq.URL)
			topics := make([]string, len(in))
			bodies := make([][]byte, len(in))
			for i, x := range in {
				topics[i] = wire.MQTTTopic(x.Carrier, x.Shipment, wire.ChannelTelemetry)
				bodies[i] = x.Body
			}
			publishMQTT(t, c, topics, bodies)
		},
		StartGateway: func(t *testing.T) ingesttest.Gateway {
			return startService(t, brokers, func(s *ingest.Service) {
				s.MQTT = &ingest.MQTTConfig{Broker: mosq.URL, ClientID: clientID, SharedGroup: "inbond-ingest"}
			})
		},
	})
}

func TestKafkaGatewayContract(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	ingesttest.Run(t, ingesttest.Transport{
		Brokers: brokers,
		Publish: func(t *testing.T, in []ingesttest.Input) {
			msgs := make([]kafka.Message, len(in))
			for i, x := range in {
				msgs[i] = kafka.Message{Topic: string(event.TopicCarrierEvents), Key: []byte(x.Shipment), Value: x.Body}
			}
			publishKafka(t, brokers, msgs)
		},
		StartGateway: func(t *testing.T) ingesttest.Gateway {
			return startService(t, brokers, func(s *ingest.Service) {
				s.Kafka = &ingest.KafkaConfig{Brokers: brokers, GroupID: "inbond-ingest-test", SessionTimeout: time.Second}
			})
		},
	})
}

// publishKafka writes msgs in order, in batches, with acks=all.
func publishKafka(t *testing.T, brokers []string, msgs []kafka.Message) {
	t.Helper()
	w := bus.NewWriter(brokers)
	defer w.Close()
	for i := 0; i < len(msgs); i += 1000 {
		if err := w.WriteMessages(context.Background(), msgs[i:min(i+1000, len(msgs))]...); err != nil {
			t.Fatalf("carrier publish: %v", err)
		}
	}
}

// TestDecoderRejects checks every malformed input's reason without I/O.
func TestDecoderRejects(t *testing.T) {
	dec := &ingest.Decoder{}
	for _, c := range append(mqttBadInputs(), kafkaBadInputs()...) {
		t.Run(c.name, func(t *testing.T) {
			var o ingest.Origin
			if c.key != "" || c.topic == "inbond.carrier-events" || c.topic == "inbond.manifests" {
				o = ingest.KafkaOrigin(c.topic, []byte(c.key))
			} else {
				var err error
				o, err = ingest.MQTTOrigin(c.topic)
				if err != nil {
					if c.reason != wire.ReasonBadTopic {
						t.Fatalf("topic refused (%v), want reason %s", err, c.reason)
					}
					return
				}
			}
			e, rej := dec.Decode(o, c.body)
			if rej == nil {
				t.Fatalf("accepted %s, want reason %s", e.Type, c.reason)
			}
			if rej.Reason != c.reason {
				t.Fatalf("reason %s (%v), want %s", rej.Reason, rej.Err, c.reason)
			}
		})
	}
}

// TestMalformedInputsDeadLettered sends every malformed input through the
// real gateways with a valid message after each, and checks each bad one is
// in inbond.dlq with its reason and every good one on inbond.events.
func TestMalformedInputsDeadLettered(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	mosq := testenv.OwnMosquitto(t)
	startService(t, brokers, func(s *ingest.Service) {
		s.MQTT = &ingest.MQTTConfig{Broker: mosq.URL, ClientID: "inbond-ingest-dlq-test"}
		s.Kafka = &ingest.KafkaConfig{Brokers: brokers, GroupID: "inbond-ingest-dlq-test", SessionTimeout: time.Second}
	})

	want := map[string]badInput{} // sha256 of body → case
	var goodIDs []string
	var topics []string
	var bodies [][]byte
	good := func(i int) []byte {
		return meter(func(m, _ map[string]any) { m["seq"] = 1000 + i; m["device"] = fmt.Sprintf("GOOD-%d", i) })
	}
	expect := func(c badInput) {
		sum := sha256Hex(c.body)
		if prev, dup := want[sum]; dup {
			t.Fatalf("cases %q and %q have identical bodies; the test cannot tell their dead letters apart", prev.name, c.name)
		}
		want[sum] = c
	}
	for i, c := range mqttBadInputs() {
		expect(c)
		topics = append(topics, c.topic, okTopic)
		bodies = append(bodies, c.body, good(i))
		goodIDs = append(goodIDs, event.DeriveID("ENBR", "SHP-BAD", event.DeviceID(fmt.Sprintf("GOOD-%d", i)), uint64(1000+i), "", nil))
	}
	var kmsgs []kafka.Message
	for i, c := range kafkaBadInputs() {
		expect(c)
		kmsgs = append(kmsgs,
			kafka.Message{Topic: c.topic, Key: []byte(c.key), Value: c.body},
			kafka.Message{Topic: string(event.TopicCarrierEvents), Key: []byte("SHP-BAD"), Value: meter(func(m, _ map[string]any) {
				m["shipment"], m["carrier"], m["seq"], m["device"] = "SHP-BAD", "ENBR", 2000+i, fmt.Sprintf("KGOOD-%d", i)
			})})
		goodIDs = append(goodIDs, event.DeriveID("ENBR", "SHP-BAD", event.DeviceID(fmt.Sprintf("KGOOD-%d", i)), uint64(2000+i), "", nil))
	}
	publishMQTT(t, mqttPublisher(t, mosq.URL), topics, bodies)
	publishKafka(t, brokers, kmsgs)

	dlq := testenv.ReadTopic(t, brokers, string(event.TopicDLQ), len(want), time.Minute)
	got := map[string]ingest.DeadLetter{}
	for _, msgs := range dlq {
		for _, m := range msgs {
			var dl ingest.DeadLetter
			if err := json.Unmarshal(m.Value, &dl); err != nil {
				t.Fatalf("undecodable dead letter: %v", err)
			}
			if string(m.Headers[0].Value) != string(dl.Reason) {
				t.Errorf("reason header %q != body reason %q", m.Headers[0].Value, dl.Reason)
			}
			got[dl.SHA256] = dl
		}
	}
	for sum, c := range want {
		dl, ok := got[sum]
		switch {
		case !ok:
			t.Errorf("%s: not in the DLQ", c.name)
		case dl.Reason != c.reason:
			t.Errorf("%s: reason %s (%s), want %s", c.name, dl.Reason, dl.Message, c.reason)
		case dl.Message == "":
			t.Errorf("%s: dead letter without a message", c.name)
		case !dl.Truncated && string(dl.Original) != string(c.body):
			t.Errorf("%s: original bytes not kept", c.name)
		}
	}
	if len(got) != len(want) {
		t.Errorf("DLQ holds %d records, want %d", len(got), len(want))
	}

	events := testenv.ReadTopic(t, brokers, string(event.TopicEvents), len(goodIDs), time.Minute)
	seen := map[string]bool{}
	for _, msgs := range events {
		for _, m := range msgs {
			e, err := event.Unmarshal(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Validate(); err != nil {
				t.Errorf("invalid canonical event %s: %v", e.ID, err)
			}
			seen[e.ID] = true
		}
	}
	for i, id := range goodIDs {
		if !seen[id] {
			t.Errorf("valid message %d (id %s) missing from %s", i, id, event.TopicEvents)
		}
	}
	if len(seen) != len(goodIDs) {
		t.Errorf("%s holds %d events, want exactly the %d valid ones", event.TopicEvents, len(seen), len(goodIDs))
	}
	t.Logf("%d malformed inputs dead-lettered with their reasons; %d valid ones around them accepted", len(want), len(goodIDs))
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// TestMQTTGatewayOnTheMachinesBroker runs the MQTT gateway against the
// machine's own Mosquitto (127.0.0.1:1883, stock settings) with traffic
// within its default queue limits, and then erases the persistent session
// it created there.
func TestMQTTGatewayOnTheMachinesBroker(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	url := testenv.SharedMQTT(t)
	clientID := fmt.Sprintf("inbond-ingest-smoke-%d", time.Now().UnixNano())
	t.Cleanup(func() { // a clean-session connect under the same ID erases the session
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetCleanSession(true))
		if tok := c.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
			c.Disconnect(100)
		}
	})
	gw := startService(t, brokers, func(s *ingest.Service) {
		s.MQTT = &ingest.MQTTConfig{Broker: url, ClientID: clientID}
	})
	defer gw.Stop(false)
	in := ingesttest.Burst(300, 10)
	topics := make([]string, len(in))
	bodies := make([][]byte, len(in))
	for i, x := range in {
		topics[i], bodies[i] = wire.MQTTTopic(x.Carrier, x.Shipment, wire.ChannelTelemetry), x.Body
	}
	publishMQTT(t, mqttPublisher(t, url), topics, bodies)
	got := testenv.ReadTopic(t, brokers, string(event.TopicEvents), len(in), time.Minute)
	ingesttest.CheckDelivered(t, in, got, false)
}

// sizeRefusingWriter answers every write as a broker whose message.max.bytes
// is set below the records inbond writes.
type sizeRefusingWriter struct{}

func (sizeRefusingWriter) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	errs := make(kafka.WriteErrors, len(msgs))
	for i := range errs {
		errs[i] = kafka.MessageSizeTooLarge
	}
	return errs
}

// TestServiceStopsWhenTheBrokerRefusesTheSize: a write that can never succeed
// stops the service with the setting to fix, rather than retrying for ever
// with its input blocked behind it, and the input stays with its source: a
// gateway started afterwards forwards it.
func TestServiceStopsWhenTheBrokerRefusesTheSize(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	kcfg := &ingest.KafkaConfig{Brokers: brokers, GroupID: "inbond-ingest-refused", SessionTimeout: time.Second}
	svc := &ingest.Service{
		Writer: sizeRefusingWriter{}, Kafka: kcfg, Decoder: &ingest.Decoder{}, DrainTimeout: 2 * time.Second,
		Metrics: ingest.NewMetrics(prometheus.NewRegistry()), Log: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	body := meter(func(m, _ map[string]any) { m["shipment"], m["carrier"] = "SHP-REFUSED", "ENBR" })
	publishKafka(t, brokers, []kafka.Message{{Topic: string(event.TopicCarrierEvents), Key: []byte("SHP-REFUSED"), Value: body}})
	select {
	case err := <-done:
		if !errors.Is(err, kafka.MessageSizeTooLarge) || !strings.Contains(err.Error(), "message.max.bytes") {
			t.Fatalf("service stopped with %v, want the broker's refusal and the setting to fix", err)
		}
		t.Logf("service stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("service still running 30s after the broker refused every record's size")
	}

	gw := startService(t, brokers, func(s *ingest.Service) { s.Kafka = kcfg })
	defer gw.Stop(false)
	got := testenv.ReadTopic(t, brokers, string(event.TopicEvents), 1, time.Minute)
	ingesttest.CheckDelivered(t, []ingesttest.Input{{Carrier: "ENBR", Shipment: "SHP-REFUSED", Seq: 7, Body: body}}, got, true)
}
