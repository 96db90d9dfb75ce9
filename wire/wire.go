// Package wire is the contract carriers speak to inbond: the MQTT topic
// layout, the channels and what each may carry, the compact message form
// devices publish, and the reason codes of the dead letters that come back.
//
// It is the one definition both sides share: the gateways (package ingest)
// decode it and the carrier simulator (package sim) encodes it, so neither
// depends on the other and the two can never disagree about the format.
// It depends on package event only.
package wire

import (
	"fmt"
	"strings"
	"time"

	"github.com/inbond/inbond/event"
)

// Channel says what an input path may carry. An MQTT topic ends in its
// channel's name; the Kafka topics map to one each (KafkaChannel).
type Channel string

// The input channels.
const (
	ChannelTelemetry Channel = "telemetry" // device readings
	ChannelEvents    Channel = "events"    // carrier milestones (and, on Kafka, forwarded telemetry)
	ChannelManifest  Channel = "manifest"  // in-bond manifests
)

// Allows reports whether an event of kind k may arrive on channel c. Carrier
// systems on Kafka may forward their devices' telemetry with their own events.
func (c Channel) Allows(k event.Kind, viaKafka bool) bool {
	switch c {
	case ChannelTelemetry:
		return k == event.KindTelemetry
	case ChannelEvents:
		return k == event.KindCarrier || (viaKafka && k == event.KindTelemetry)
	case ChannelManifest:
		return k == event.KindManifest
	}
	return false
}

// KafkaChannel returns the channel a carriers' Kafka topic carries, or ""
// for a topic carriers do not publish on.
func KafkaChannel(topic event.Topic) Channel {
	switch topic {
	case event.TopicCarrierEvents:
		return ChannelEvents
	case event.TopicManifests:
		return ChannelManifest
	}
	return ""
}

// MQTTRoot is the first levels of every carrier MQTT topic; the version
// level changes only with an incompatible change of this contract.
const MQTTRoot = "inbond/v1/"

// MQTTTopic is the topic a carrier publishes a shipment's channel on:
// inbond/v1/{carrier}/{shipment}/{channel}.
func MQTTTopic(carrier event.CarrierID, shipment event.ShipmentID, c Channel) string {
	return MQTTRoot + string(carrier) + "/" + string(shipment) + "/" + string(c)
}

// MQTTFilter is the subscription filter matching every carrier topic; with
// a non-empty group it is the shared subscription $share/{group}/…, which
// splits the messages among the group's subscribers.
func MQTTFilter(group string) string {
	f := MQTTRoot + "+/+/+"
	if group != "" {
		f = "$share/" + group + "/" + f
	}
	return f
}

// TopicPath is what an MQTT topic says about its messages.
type TopicPath struct {
	Carrier  event.CarrierID
	Shipment event.ShipmentID
	Channel  Channel
}

// ParseMQTTTopic reads inbond/v1/{carrier}/{shipment}/{channel}, validating
// each level.
func ParseMQTTTopic(topic string) (TopicPath, error) {
	var p TopicPath
	rest, ok := strings.CutPrefix(topic, MQTTRoot)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return p, fmt.Errorf("topic %q: want %s{carrier}/{shipment}/{telemetry|events|manifest}", topic, MQTTRoot)
	}
	p.Carrier, p.Shipment, p.Channel = event.CarrierID(parts[0]), event.ShipmentID(parts[1]), Channel(parts[2])
	if err := p.Carrier.Validate("topic carrier"); err != nil {
		return p, err
	}
	if err := p.Shipment.Validate("topic shipment"); err != nil {
		return p, err
	}
	switch p.Channel {
	case ChannelTelemetry, ChannelEvents, ChannelManifest:
		return p, nil
	}
	return p, fmt.Errorf("topic %q: unknown channel %q, want telemetry, events or manifest", topic, p.Channel)
}

// Compact is the small form devices and carrier systems may publish instead
// of a whole CloudEvent: {"type","device","seq","time","data"}. Shipment and
// carrier may be left out on MQTT, where the topic names them; on Kafka the
// body must carry them. ID may be left out: the gateway derives one.
//
// Required in the body: type, time and data (and device for telemetry). The
// others are optional, and each one's zero value means the same as leaving
// it out: seq 0 is an unnumbered event, "" names nothing. Member names are
// matched exactly and must be unique (event.DecodeJSON); the JSON Schema of
// this form is compact.schema.json (Schemas).
//
// D is the payload's Go type: json.RawMessage to decode (the payload's type
// is known only once Type is read), the payload value itself to encode.
type Compact[D any] struct {
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type"` // short name: position, meter, arrived, …
	Shipment event.ShipmentID `json:"shipment,omitempty"`
	Carrier  event.CarrierID  `json:"carrier,omitempty"`
	Device   event.DeviceID   `json:"device,omitempty"`
	Seq      uint64           `json:"seq,omitempty"` // the device's sequence number, from 1
	Time     time.Time        `json:"time"`          // when it was observed
	Data     D                `json:"data"`
}

// Reason is the machine-readable code of a dead letter. Codes are stable: they
// are matched by carriers' tooling, operators' alerting and the metrics'
// reason label.
type Reason string

// The reasons an input is dead-lettered.
const (
	ReasonOversize      Reason = "oversize"       // body larger than the gateway's limit
	ReasonMalformedJSON Reason = "malformed_json" // not one well-formed JSON object, in valid UTF-8 without lone surrogates
	ReasonUnknownType   Reason = "unknown_type"   // a type inbond does not know
	ReasonUnknownField  Reason = "unknown_field"  // a field not in the schema (names are case-sensitive)
	// ReasonDuplicateField is a member name that appears more than once in
	// one JSON object, at any depth. I-JSON (RFC 7493), which all input must
	// follow, forbids it: JSON readers disagree on which of the two counts.
	ReasonDuplicateField Reason = "duplicate_field"
	ReasonMissingField   Reason = "missing_field"  // a required field absent or empty
	ReasonInvalidField   Reason = "invalid_field"  // a value of the wrong shape or range
	ReasonBadUnit        Reason = "bad_unit"       // a unit of measure we cannot convert
	ReasonBadTopic       Reason = "bad_topic"      // an MQTT topic outside inbond/v1/{carrier}/{shipment}/{channel}
	ReasonWrongChannel   Reason = "wrong_channel"  // e.g. a manifest on the telemetry topic
	ReasonTopicMismatch  Reason = "topic_mismatch" // carrier or shipment in the topic differs from the body
	ReasonKeyMismatch    Reason = "key_mismatch"   // Kafka record key differs from the body's shipment
)
