package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
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
// manifest document (no "type", and members of a manifest). Every form is
// read strictly (event.DecodeJSON: I-JSON, exact names, required fields
// present, no nulls). The result is a valid canonical envelope, or a
// *Rejection.
//
// The checks run in an order that makes the reason name the first real
// fault: the body's own form and fields first, then whether its kind may use
// this channel, then units and values, and only then whether the body agrees
// with the topic or the record key, so that a body that is wrong in itself is
// never reported as a mismatch.
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
	e, f, err := decodeBody(o, body)
	if err != nil {
		return nil, classify(err)
	}
	e.ReceivedTime = now().UTC().Truncate(time.Microsecond)
	if e.ID == "" {
		e.ID = event.DeriveID(e.Carrier, e.Subject, e.Device, e.Sequence, string(o.Channel), body)
	}
	if !o.Channel.Allows(e.Kind(), o.Transport == "kafka") {
		return nil, reject(wire.ReasonWrongChannel, fmt.Errorf("a %s event (%s) may not arrive on the %s channel", e.Kind(), e.Type, o.Channel))
	}
	if err := event.Normalize(e); err != nil {
		return nil, classify(bodyPaths(f, err))
	}
	if err := e.Validate(); err != nil {
		return nil, classify(bodyPaths(f, err))
	}
	if r := checkOrigin(o, e); r != nil {
		return nil, r
	}
	return e, nil
}

// decodeBody decodes body in whichever of the three forms it is. Which form
// that is follows from the top-level members (see otherForm). The compact
// form's refusal of a body says which other form it is, so nearly all
// traffic, compact telemetry, costs one pass. A body that merely contains
// the bytes "specversion" or "inbond_number" is tried in that form first, so
// that a valid structured event or manifest costs one pass too; success in
// that form agrees with otherForm's rule, since the structured form requires
// "specversion" and a manifest has no "type".
func decodeBody(o Origin, body []byte) (*event.Envelope, form, error) {
	switch {
	case bytes.Contains(body, []byte(`"specversion"`)):
		if e, err := event.Unmarshal(body); err == nil {
			return e, formStructured, nil
		}
	case bytes.Contains(body, []byte(`"inbond_number"`)):
		if e, err := fromBareManifest(o, body); err == nil {
			return e, formManifest, nil
		}
	}
	var c wire.Compact[json.RawMessage]
	err := event.DecodeJSON(body, &c)
	if err == nil {
		e, err := fromCompact(o, &c)
		return e, formCompact, err
	}
	f := otherForm(err)
	var e *event.Envelope
	switch f {
	case formStructured:
		e, err = event.Unmarshal(body)
	case formManifest:
		e, err = fromBareManifest(o, body)
	}
	return e, f, err
}

// bodyPaths re-roots the field paths of a validation error on the body the
// carrier sent: a bare manifest's fields are at its top level, not under the
// canonical envelope's "data".
func bodyPaths(f form, err error) error {
	if f != formManifest {
		return err
	}
	return event.MapFields(err, func(field string) string {
		rest, _ := strings.CutPrefix(field, "data.")
		return rest
	})
}

type form int

const (
	formCompact form = iota
	formStructured
	formManifest
)

// The top-level member names of a structured CloudEvent and of a manifest
// that the compact form does not have.
var (
	structuredOnly = onlyIn(reflect.TypeFor[event.Envelope]())
	manifestOnly   = onlyIn(reflect.TypeFor[event.Manifest]())
)

// onlyIn returns the json names of struct t that the compact form lacks.
func onlyIn(t reflect.Type) map[string]bool {
	compact := map[string]bool{}
	for _, n := range jsonNames(reflect.TypeFor[wire.Compact[json.RawMessage]]()) {
		compact[n] = true
	}
	out := map[string]bool{}
	for _, n := range jsonNames(t) {
		if !compact[n] {
			out[n] = true
		}
	}
	return out
}

func jsonNames(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// otherForm says which form a body the compact form refused (err) is meant
// as, from its top-level members, so that the reason names the real fault:
//   - with "specversion", a structured CloudEvent;
//   - without "type" and with members only a manifest has, a bare manifest
//     (so a manifest without "inbond_number" is missing_field
//     inbond_number, not unknown_field entry_type);
//   - with two or more members only a CloudEvent has (say "source" and
//     "subject"), a structured CloudEvent that lacks its "specversion";
//   - otherwise compact, refused for what the compact form says.
func otherForm(err error) form {
	var fes []*event.FieldError
	collect(err, &fes)
	noType, manifest, structured := false, false, 0
	for _, fe := range fes {
		switch {
		case fe.Rule == event.RuleUnknown && fe.Field == "specversion":
			return formStructured
		case fe.Rule == event.RuleUnknown && manifestOnly[fe.Field]:
			manifest = true
		case fe.Rule == event.RuleUnknown && structuredOnly[fe.Field]:
			structured++
		case fe.Rule == event.RuleRequired && fe.Field == "type":
			noType = true
		}
	}
	switch {
	case noType && manifest:
		return formManifest
	case structured >= 2:
		return formStructured
	}
	return formCompact
}

func collect(err error, out *[]*event.FieldError) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			collect(e, out)
		}
		return
	}
	if fe, ok := err.(*event.FieldError); ok {
		*out = append(*out, fe)
	}
}

func fromCompact(o Origin, c *wire.Compact[json.RawMessage]) (*event.Envelope, error) {
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
	if m, ok := p.(*event.Manifest); ok {
		// A manifest is published by its bonded carrier: as for a bare
		// manifest, that is the carrier the topic must name.
		e.Carrier = pick(c.Carrier, m.Carrier.SCAC)
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

// checkOrigin refuses an event whose body disagrees with the topic or the
// record key it arrived with.
func checkOrigin(o Origin, e *event.Envelope) *Rejection {
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
