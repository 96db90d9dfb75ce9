package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
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
	if e.SpecVersion != SpecVersion {
		x.add(invalid("specversion", e.SpecVersion, RuleOneOf, "want 1.0"))
	}
	if e.ID == "" {
		x.add(missing("id"))
	} else if len(e.ID) > 128 {
		x.add(invalid("id", len(e.ID), RuleRange, "at most 128 bytes"))
	}
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
	if e.DataContentType != ContentTypeJSON {
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

// envelopeWire is the envelope with its payload undecoded.
type envelopeWire struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            Type            `json:"type"`
	Subject         ShipmentID      `json:"subject"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Sequence        json.Number     `json:"sequence,omitempty"`
	PartitionKey    ShipmentID      `json:"partitionkey"`
	Carrier         CarrierID       `json:"carrier"`
	Device          DeviceID        `json:"device,omitempty"`
	ReceivedTime    time.Time       `json:"recvtime"`
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
	return w.envelope(p)
}

// envelope builds the Envelope of w with payload p.
func (w *envelopeWire) envelope(p Payload) (*Envelope, error) {
	e := &Envelope{
		SpecVersion: w.SpecVersion, ID: w.ID, Source: w.Source, Type: w.Type,
		Subject: w.Subject, Time: w.Time, DataContentType: w.DataContentType,
		PartitionKey: w.PartitionKey, Carrier: w.Carrier, Device: w.Device,
		ReceivedTime: w.ReceivedTime, Proof: w.Proof, Data: p,
	}
	if w.Sequence != "" {
		seq, err := strconv.ParseUint(string(w.Sequence), 10, 64)
		if err != nil {
			return nil, invalid("sequence", string(w.Sequence), RuleFormat, "want a non-negative integer")
		}
		e.Sequence = seq
	}
	return e, nil
}

// UnmarshalPayload decodes data strictly into the payload type t names.
func UnmarshalPayload(t Type, data []byte) (Payload, error) {
	p := NewPayload(t)
	if p == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownType, t)
	}
	if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
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

// DecodeJSON decodes exactly one JSON value into v with no unknown fields, and
// turns encoding/json's errors into a *FieldError where it can name the field,
// or a *SyntaxError. Every decoder of outside input uses it.
func DecodeJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return jsonError(err)
	}
	if d.More() {
		return &SyntaxError{Msg: "trailing data after the JSON value"}
	}
	if _, err := d.Token(); err == nil {
		return &SyntaxError{Msg: "trailing data after the JSON value"}
	}
	return nil
}

// SyntaxError is input that is not one well-formed JSON value.
type SyntaxError struct{ Msg string }

func (e *SyntaxError) Error() string { return "malformed JSON: " + e.Msg }

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return invalid(typeErr.Field, typeErr.Value, RuleFormat, "want a JSON "+typeErr.Type.String())
	case errors.As(err, &timeErr):
		return invalid("time", timeErr.Value, RuleFormat, "want an RFC 3339 time")
	case errors.As(err, &syn):
		return &SyntaxError{Msg: syn.Error()}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return &SyntaxError{Msg: "unexpected end of input"}
	}
	if f, ok := unknownField(err); ok {
		return &FieldError{Field: f, Rule: RuleUnknown, Detail: "not part of the schema"}
	}
	return &SyntaxError{Msg: err.Error()}
}

// unknownField extracts the field name from encoding/json's error for a field
// that DisallowUnknownFields refused; the package exports no type for it.
func unknownField(err error) (string, bool) {
	const prefix = "json: unknown field "
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return "", false
	}
	name, uerr := strconv.Unquote(strings.TrimPrefix(msg, prefix))
	if uerr != nil {
		return "", false
	}
	return name, true
}

// Normalize converts e's payload, in place, to canonical units when its type
// accepts others; field paths in the error are rooted at "data".
func Normalize(e *Envelope) error {
	n, ok := e.Data.(Normalizer)
	if !ok {
		return nil
	}
	return prefixed("data", n.Normalize())
}
