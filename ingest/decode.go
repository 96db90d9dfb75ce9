package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/inbond/inbond/event"
)

// Channel says what an input path may carry.
type Channel string

// The input channels. MQTT topics end in the channel name; the Kafka topics map
// to ChannelEvents (inbond.carrier-events) and ChannelManifest (inbond.manifests).
const (
	ChannelTelemetry Channel = "telemetry"
	ChannelEvents    Channel = "events"
	ChannelManifest  Channel = "manifest"
)

// allows reports whether an event of kind k may arrive on channel c. Carrier
// systems on Kafka may forward their devices' telemetry with their own events.
func (c Channel) allows(k event.Kind, viaKafka bool) bool {
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

// Origin says where an input came from. The MQTT gateway fills Carrier,
// Shipment and Channel from the topic; the Kafka gateway fills Channel from the
// topic and Shipment from the record key when there is one.
type Origin struct {
	Transport string // "mqtt" or "kafka"
	Name      string // the MQTT topic or Kafka topic it arrived on
	Channel   Channel
	Carrier   event.CarrierID  // empty when the path does not say
	Shipment  event.ShipmentID // empty when the path does not say
}

const mqttRoot = "inbond/v1/"

// ParseMQTTTopic maps inbond/v1/{carrier}/{shipment}/{channel} to an Origin.
func ParseMQTTTopic(topic string) (Origin, error) {
	o := Origin{Transport: "mqtt", Name: topic}
	rest, ok := strings.CutPrefix(topic, mqttRoot)
	parts := strings.Split(rest, "/")
	if !ok || len(parts) != 3 {
		return o, fmt.Errorf("topic %q: want %s{carrier}/{shipment}/{telemetry|events|manifest}", topic, mqttRoot)
	}
	o.Carrier, o.Shipment, o.Channel = event.CarrierID(parts[0]), event.ShipmentID(parts[1]), Channel(parts[2])
	if err := o.Carrier.Validate("topic carrier"); err != nil {
		return o, err
	}
	if err := o.Shipment.Validate("topic shipment"); err != nil {
		return o, err
	}
	switch o.Channel {
	case ChannelTelemetry, ChannelEvents, ChannelManifest:
		return o, nil
	}
	return o, fmt.Errorf("topic %q: unknown channel %q, want telemetry, events or manifest", topic, o.Channel)
}

// MQTTTopic is the topic a carrier publishes a shipment's channel on.
func MQTTTopic(carrier event.CarrierID, shipment event.ShipmentID, c Channel) string {
	return mqttRoot + string(carrier) + "/" + string(shipment) + "/" + string(c)
}

// compactMessage is the small form devices and carrier systems may publish
// instead of a full CloudEvent. Shipment and carrier may be left out on MQTT,
// where the topic names them.
type compactMessage struct {
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type"`
	Shipment event.ShipmentID `json:"shipment,omitempty"`
	Carrier  event.CarrierID  `json:"carrier,omitempty"`
	Device   event.DeviceID   `json:"device,omitempty"`
	Seq      uint64           `json:"seq,omitempty"`
	Time     time.Time        `json:"time"`
	Data     json.RawMessage  `json:"data"`
}

// Decoder turns inputs into canonical envelopes. It is safe for concurrent use.
type Decoder struct {
	// MaxBytes bounds an input's size; larger ones are ReasonOversize.
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
		return nil, reject(ReasonOversize, fmt.Errorf("body is %d bytes, the limit is %d", len(body), limit))
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
	var c compactMessage
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
	if !o.Channel.allows(e.Kind(), o.Transport == "kafka") {
		return reject(ReasonWrongChannel, fmt.Errorf("a %s event (%s) may not arrive on the %s channel", e.Kind(), e.Type, o.Channel))
	}
	mismatch := ReasonTopicMismatch
	if o.Transport == "kafka" {
		mismatch = ReasonKeyMismatch
	}
	if o.Shipment != "" && e.Subject != o.Shipment {
		return reject(mismatch, fmt.Errorf("shipment %q in the %s differs from %q in the body", o.Shipment, where(o), e.Subject))
	}
	if o.Carrier != "" && e.Carrier != o.Carrier {
		return reject(mismatch, fmt.Errorf("carrier %q in the %s differs from %q in the body", o.Carrier, where(o), e.Carrier))
	}
	if m, ok := e.Data.(*event.Manifest); ok && m.Carrier.SCAC != e.Carrier {
		return reject(ReasonTopicMismatch, fmt.Errorf("manifest's bonded carrier %q differs from publishing carrier %q", m.Carrier.SCAC, e.Carrier))
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
