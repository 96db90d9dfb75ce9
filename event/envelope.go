package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// SpecVersion is the CloudEvents version of the envelope.
const SpecVersion = "1.0"

// ContentTypeJSON is the datacontenttype of every canonical event.
const ContentTypeJSON = "application/json"

// Envelope is the canonical event: CloudEvents 1.0 attributes in structured
// JSON mode, with inbond's extensions. Once a gateway has published an envelope
// to inbond.events it is immutable: its canonical bytes are hashed into the
// shipment's chain, so nothing downstream may rewrite it.
type Envelope struct {
	SpecVersion     string     `json:"specversion"`
	ID              string     `json:"id"`
	Source          string     `json:"source"`  // URI of the producing system or device
	Type            Type       `json:"type"`    // selects the payload type
	Subject         ShipmentID `json:"subject"` // the shipment
	Time            time.Time  `json:"time"`    // when the device observed it
	DataContentType string     `json:"datacontenttype"`
	// Sequence is the CloudEvents sequence extension, here an Integer counted
	// per device (1, 2, 3…); 0 means the producer does not number its events.
	Sequence     uint64     `json:"sequence,omitempty"`
	PartitionKey ShipmentID `json:"partitionkey"` // CloudEvents partitioning extension; always Subject
	Carrier      CarrierID  `json:"carrier"`
	Device       DeviceID   `json:"device,omitempty"`
	ReceivedTime time.Time  `json:"recvtime"` // when a gateway accepted it
	// Proof is reserved for the device's signature over the canonical bytes
	// (device identity comes in a later issue); it is excluded from hashing.
	Proof string  `json:"proof,omitempty"`
	Data  Payload `json:"data"`
}

// Kind is the kind of the event's type.
func (e *Envelope) Kind() Kind { return e.Type.Kind() }

// MaxClockSkew bounds how far in the future an observed time may be before the
// envelope is refused; smaller skews are the sequence/replay rule's business.
const MaxClockSkew = 24 * time.Hour

// Validate checks every attribute and the payload. It does not normalize: a
// canonical envelope must already carry canonical units.
func (e *Envelope) Validate() error {
	var x errs
	switch e.SpecVersion {
	case SpecVersion:
	case "":
		x.add(missing("specversion"))
	default:
		x.add(invalid("specversion", e.SpecVersion, RuleOneOf, "want 1.0"))
	}
	x.add(checkText("id", e.ID, 128))
	x.add(checkText("source", e.Source, 256))
	switch {
	case e.Type == "":
		x.add(missing("type"))
	case !e.Type.Known():
		x.add(invalid("type", e.Type, RuleOneOf, "unknown event type"))
	}
	x.add(e.Subject.Validate("subject"))
	if e.PartitionKey != e.Subject {
		x.add(invalid("partitionkey", e.PartitionKey, RuleConsist, "must equal subject"))
	}
	switch e.DataContentType {
	case ContentTypeJSON:
	case "":
		x.add(missing("datacontenttype"))
	default:
		x.add(invalid("datacontenttype", e.DataContentType, RuleOneOf, "want application/json"))
	}
	x.add(e.Carrier.Validate("carrier"))
	if e.Device != "" {
		x.add(e.Device.Validate("device"))
	}
	if e.Kind() == KindTelemetry && e.Device == "" {
		x.add(&FieldError{Field: "device", Rule: RuleRequired, Detail: "telemetry must name its device"})
	}
	lo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	x.add(checkTime("time", e.Time, lo, e.ReceivedTime.Add(MaxClockSkew)))
	x.add(checkTime("recvtime", e.ReceivedTime, lo, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)))
	switch {
	case e.Data == nil:
		x.add(missing("data"))
	case e.Type.Known() && e.Data.EventType() != e.Type:
		x.add(invalid("data", string(e.Data.EventType()), RuleConsist, "payload does not match type"))
	default:
		x.add(prefixed("data", e.Data.Validate()))
	}
	if m, ok := e.Data.(*Manifest); ok && m.Carrier.SCAC != "" && e.Carrier != "" && m.Carrier.SCAC != e.Carrier {
		x.add(invalid("data.carrier.scac", m.Carrier.SCAC, RuleConsist, "a manifest is published by its bonded carrier, here "+string(e.Carrier)))
	}
	return x.join()
}

// DeriveID returns a deterministic event ID for producers that send none. A
// numbered device event is identified by (carrier, shipment, device, sequence),
// so a redelivered MQTT message gets the same ID and is deduplicated downstream;
// anything else by the SHA-256 of where it came from and its exact bytes.
func DeriveID(carrier CarrierID, shipment ShipmentID, device DeviceID, seq uint64, origin string, body []byte) string {
	h := sha256.New()
	if device != "" && seq != 0 {
		fmt.Fprintf(h, "dev\x00%s\x00%s\x00%s\x00%d", carrier, shipment, device, seq)
	} else {
		fmt.Fprintf(h, "raw\x00%s\x00", origin)
		h.Write(body)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// envelopeWire is the envelope with its payload undecoded. Its tags are the
// structured form's input contract (see DecodeJSON): recvtime is optional
// there, since the gateway stamps its own.
type envelopeWire struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            Type            `json:"type"`
	Subject         ShipmentID      `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Sequence        uint64          `json:"sequence,omitempty"`
	PartitionKey    ShipmentID      `json:"partitionkey"`
	Carrier         CarrierID       `json:"carrier"`
	Device          DeviceID        `json:"device,omitempty"`
	ReceivedTime    time.Time       `json:"recvtime,omitzero"`
	Proof           string          `json:"proof,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// ErrUnknownType is wrapped by decoding errors for an event type inbond does
// not know.
var ErrUnknownType = errors.New("unknown event type")

// Unmarshal decodes a structured-mode CloudEvent strictly: unknown attributes
// or payload fields are errors, and the payload is decoded into the concrete
// type its `type` names. It does not validate; call Validate.
func Unmarshal(b []byte) (*Envelope, error) {
	var w envelopeWire
	if err := DecodeJSON(b, &w); err != nil {
		return nil, err
	}
	p, err := UnmarshalPayload(w.Type, w.Data)
	if err != nil {
		return nil, err
	}
	return w.envelope(p), nil
}

// envelope builds the Envelope of w with payload p.
func (w *envelopeWire) envelope(p Payload) *Envelope {
	return &Envelope{
		SpecVersion: w.SpecVersion, ID: w.ID, Source: w.Source, Type: w.Type,
		Subject: w.Subject, Time: w.Time, DataContentType: w.DataContentType, Sequence: w.Sequence,
		PartitionKey: w.PartitionKey, Carrier: w.Carrier, Device: w.Device,
		ReceivedTime: w.ReceivedTime, Proof: w.Proof, Data: p,
	}
}

// UnmarshalPayload decodes data strictly into the payload type t names.
func UnmarshalPayload(t Type, data []byte) (Payload, error) {
	p := NewPayload(t)
	if p == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, t)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, missing("data")
	}
	if err := DecodeJSON(data, p); err != nil {
		return nil, prefixed("data", err)
	}
	return p, nil
}

// UnmarshalManifest decodes a bare manifest document strictly.
func UnmarshalManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := DecodeJSON(b, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// DecodeJSON decodes b, which must be exactly one JSON object, into v, a
// pointer to a struct, following the contract's rules for outside input.
// Every decoder of outside input uses it. The input must be I-JSON (RFC
// 7493): valid UTF-8 without lone surrogates, member names unique in every
// object at every depth. Names match exactly, case included; a member that
// is not a field is refused; a value must have its field's JSON type and is
// never null; and a field whose json tag lacks omitempty (or omitzero) is
// required. So an absent number is never read as 0: it is refused when
// required, and stays absent (nil, or its field's zero value) when optional.
//
// The error is a *SyntaxError for input that is not one I-JSON object, or a
// join of *FieldError naming each field, its value and the rule (RuleUnknown,
// RuleDuplicate, RuleRequired, RuleFormat, RuleRange). It does not validate
// values beyond their JSON type; call Validate.
func DecodeJSON(b []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("event: DecodeJSON into %T: want a non-nil pointer to a struct", v)
	}
	s, err := shapeOf(rv.Type().Elem())
	if err != nil {
		return err
	}
	return decodeStrict(b, s, rv.Elem())
}

// SyntaxError is input that is not one well-formed JSON value.
type SyntaxError struct{ Msg string }

func (e *SyntaxError) Error() string { return "malformed JSON: " + e.Msg }

// Normalize converts e's payload, in place, to canonical units when its type
// accepts others; field paths in the error are rooted at "data".
func Normalize(e *Envelope) error {
	n, ok := e.Data.(Normalizer)
	if !ok {
		return nil
	}
	return prefixed("data", n.Normalize())
}
