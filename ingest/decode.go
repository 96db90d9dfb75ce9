package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/wire"
)

// Origin says where an input came from. The MQTT gateway fills Carrier,
// Shipment and Channel from the topic (MQTTOrigin); the Kafka gateway fills
// Channel from the topic and Shipment from the record key when there is one
// (KafkaOrigin).
type Origin struct {
	Transport string // "mqtt" or "kafka"
	Name      string // the MQTT topic or Kafka topic it arrived on
	Channel   wire.Channel
	Carrier   event.CarrierID  // empty when the path does not say
	Shipment  event.ShipmentID // empty when the path does not say
}

// MQTTOrigin is how the MQTT gateway sees a message published on topic; the
// error says how the topic departs from the wire layout.
func MQTTOrigin(topic string) (Origin, error) {
	p, err := wire.ParseMQTTTopic(topic)
	return Origin{Transport: "mqtt", Name: topic, Channel: p.Channel, Carrier: p.Carrier, Shipment: p.Shipment}, err
}

// Decoder turns inputs into canonical envelopes. It is safe for concurrent use.
type Decoder struct {
	// MaxBytes bounds an input's size; larger ones are wire.ReasonOversize.
	MaxBytes int
	// Now stamps recvtime; it is a field so tests and the simulator can pin it.
	Now func() time.Time
}

// DefaultMaxBytes is the default input size limit: ten times the largest
// legitimate message (a manifest with its device list).
const DefaultMaxBytes = 64 << 10

// Decode validates and normalizes one input. It accepts three body forms: a
// structured CloudEvent (has "specversion"), the compact form {"type":…,
// "device":…, "seq":…, "time":…, "data":…}, and on the manifest channel a bare
// manifest document (has "inbond_number"). The result is a valid canonical
// envelope, or a *Rejection.
func (d *Decoder) Decode(o Origin, body []byte) (*event.Envelope, *Rejection) {
	limit := d.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	if len(body) > limit {
		return nil, reject(wire.ReasonOversize, fmt.Errorf("body is %d bytes, the limit is %d", len(body), limit))
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	form, err := sniff(body)
	if err != nil {
		return nil, classify(err)
	}
	var e *event.Envelope
	switch form {
	case "specversion":
		e, err = event.Unmarshal(body)
	case "inbond_number":
		e, err = fromBareManifest(o, body)
	default:
		e, err = fromCompact(o, body)
	}
	if err != nil {
		return nil, classify(err)
	}
	e.ReceivedTime = now().UTC().Truncate(time.Microsecond)
	if e.ID == "" {
		e.ID = event.DeriveID(e.Carrier, e.Subject, e.Device, e.Sequence, string(o.Channel), body)
	}
	if r := checkOrigin(o, e); r != nil {
		return nil, r
	}
	if err := event.Normalize(e); err != nil {
		return nil, classify(err)
	}
	if err := e.Validate(); err != nil {
		return nil, classify(err)
	}
	return e, nil
}

// sniff finds which body form this is from its top-level keys, without
// decoding the payload twice.
func sniff(body []byte) (string, error) {
	var top map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&top); err != nil {
		return "", &event.SyntaxError{Msg: err.Error()}
	}
	if top == nil {
		return "", &event.SyntaxError{Msg: "want a JSON object, got null"}
	}
	for _, k := range []string{"specversion", "inbond_number"} {
		if _, ok := top[k]; ok {
			return k, nil
		}
	}
	return "compact", nil
}

func fromCompact(o Origin, body []byte) (*event.Envelope, error) {
	var c wire.Compact[json.RawMessage]
	if err := event.DecodeJSON(body, &c); err != nil {
		return nil, err
	}
	if c.Type == "" {
		return nil, &event.FieldError{Field: "type", Rule: event.RuleRequired, Detail: "must be present and non-empty"}
	}
	t, ok := event.TypeFromShort(c.Type)
	if !ok {
		return nil, fmt.Errorf("%w %q", event.ErrUnknownType, c.Type)
	}
	p, err := event.UnmarshalPayload(t, c.Data)
	if err != nil {
		return nil, err
	}
	e := &event.Envelope{
		SpecVersion:     event.SpecVersion,
		ID:              c.ID,
		Type:            t,
		Subject:         pick(c.Shipment, o.Shipment),
		Time:            c.Time.UTC(),
		DataContentType: event.ContentTypeJSON,
		Sequence:        c.Seq,
		Carrier:         pick(c.Carrier, o.Carrier),
		Device:          c.Device,
		Data:            p,
	}
	e.PartitionKey = e.Subject
	e.Source = sourceURI(e.Carrier, e.Device)
	return e, nil
}

func fromBareManifest(o Origin, body []byte) (*event.Envelope, error) {
	m, err := event.UnmarshalManifest(body)
	if err != nil {
		return nil, err
	}
	e := &event.Envelope{
		SpecVersion:     event.SpecVersion,
		Type:            event.TypeManifest,
		Subject:         o.Shipment,
		Time:            m.CreatedAt.UTC(),
		DataContentType: event.ContentTypeJSON,
		Carrier:         pick(m.Carrier.SCAC, o.Carrier),
		Data:            m,
	}
	if e.Subject == "" {
		// A bare manifest on Kafka without a key is identified by its in-bond number.
		e.Subject = event.ShipmentID(m.InBondNumber)
	}
	e.PartitionKey = e.Subject
	e.Source = sourceURI(e.Carrier, "")
	return e, nil
}

// checkOrigin refuses an event whose body disagrees with where it arrived.
func checkOrigin(o Origin, e *event.Envelope) *Rejection {
	if !o.Channel.Allows(e.Kind(), o.Transport == "kafka") {
		return reject(wire.ReasonWrongChannel, fmt.Errorf("a %s event (%s) may not arrive on the %s channel", e.Kind(), e.Type, o.Channel))
	}
	mismatch := wire.ReasonTopicMismatch
	if o.Transport == "kafka" {
		mismatch = wire.ReasonKeyMismatch
	}
	if o.Shipment != "" && e.Subject != o.Shipment {
		return reject(mismatch, fmt.Errorf("shipment %q in the %s differs from %q in the body", o.Shipment, where(o), e.Subject))
	}
	if o.Carrier != "" && e.Carrier != o.Carrier {
		return reject(mismatch, fmt.Errorf("carrier %q in the %s differs from %q in the body", o.Carrier, where(o), e.Carrier))
	}
	if m, ok := e.Data.(*event.Manifest); ok && m.Carrier.SCAC != e.Carrier {
		return reject(wire.ReasonTopicMismatch, fmt.Errorf("manifest's bonded carrier %q differs from publishing carrier %q", m.Carrier.SCAC, e.Carrier))
	}
	return nil
}

func where(o Origin) string {
	if o.Transport == "kafka" {
		return "record key"
	}
	return "topic"
}

func sourceURI(c event.CarrierID, d event.DeviceID) string {
	if d == "" {
		return "urn:inbond:carrier:" + string(c)
	}
	return "urn:inbond:carrier:" + string(c) + ":device:" + string(d)
}

func pick[T ~string](fromBody, fromPath T) T {
	if fromBody != "" {
		return fromBody
	}
	return fromPath
}
