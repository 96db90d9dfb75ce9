package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/wire"
)

func TestMQTTTopicRoundTrips(t *testing.T) {
	topic := wire.MQTTTopic("ENBR", "SHP-1", wire.ChannelTelemetry)
	if topic != "inbond/v1/ENBR/SHP-1/telemetry" {
		t.Fatalf("topic %q", topic)
	}
	p, err := wire.ParseMQTTTopic(topic)
	if err != nil || p != (wire.TopicPath{Carrier: "ENBR", Shipment: "SHP-1", Channel: wire.ChannelTelemetry}) {
		t.Fatalf("parse %q: %+v, %v", topic, p, err)
	}
}

func TestParseMQTTTopicRefuses(t *testing.T) {
	for _, topic := range []string{
		"inbond/v2/ENBR/SHP-1/telemetry", "inbond/v1/ENBR/SHP-1", "inbond/v1/ENBR/SHP-1/telemetry/x",
		"inbond/v1/ENBR/SHP-1/status", "inbond/v1//SHP-1/telemetry", "inbond/v1/ENBR//events",
	} {
		if p, err := wire.ParseMQTTTopic(topic); err == nil {
			t.Errorf("%q accepted as %+v", topic, p)
		}
	}
}

func TestMQTTFilter(t *testing.T) {
	if got := wire.MQTTFilter(""); got != "inbond/v1/+/+/+" {
		t.Errorf("plain filter %q", got)
	}
	if got := wire.MQTTFilter("g"); got != "$share/g/inbond/v1/+/+/+" {
		t.Errorf("shared filter %q", got)
	}
}

func TestChannels(t *testing.T) {
	for _, c := range []struct {
		ch       wire.Channel
		kind     event.Kind
		viaKafka bool
		want     bool
	}{
		{wire.ChannelTelemetry, event.KindTelemetry, false, true},
		{wire.ChannelTelemetry, event.KindCarrier, false, false},
		{wire.ChannelEvents, event.KindCarrier, false, true},
		{wire.ChannelEvents, event.KindTelemetry, false, false},
		{wire.ChannelEvents, event.KindTelemetry, true, true},
		{wire.ChannelManifest, event.KindManifest, true, true},
		{wire.ChannelManifest, event.KindCarrier, true, false},
		{"other", event.KindTelemetry, true, false},
	} {
		if got := c.ch.Allows(c.kind, c.viaKafka); got != c.want {
			t.Errorf("%s allows %s (kafka %v) = %v, want %v", c.ch, c.kind, c.viaKafka, got, c.want)
		}
	}
	if wire.KafkaChannel(event.TopicCarrierEvents) != wire.ChannelEvents || wire.KafkaChannel(event.TopicManifests) != wire.ChannelManifest ||
		wire.KafkaChannel(event.TopicEvents) != "" {
		t.Error("Kafka topics map to the wrong channels")
	}
}

// The compact form encodes to the documented field names, in that order,
// and what one side encodes the other decodes.
func TestCompactEncodesTheDocumentedForm(t *testing.T) {
	at := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	b, err := json.Marshal(wire.Compact[map[string]int]{Type: "position", Device: "GPS-1", Seq: 3, Time: at, Data: map[string]int{"lat": 48}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"position","device":"GPS-1","seq":3,"time":"2026-10-01T12:00:00Z","data":{"lat":48}}`; string(b) != want {
		t.Fatalf("encoded\n %s\nwant\n %s", b, want)
	}
	var back wire.Compact[json.RawMessage]
	if err := json.Unmarshal(b, &back); err != nil || back.Seq != 3 || !back.Time.Equal(at) || string(back.Data) != `{"lat":48}` {
		t.Fatalf("decoded %+v, %v", back, err)
	}
}
