package ingest

import (
	"errors"

	"github.com/inbond/inbond/event"
)

// Reason is the machine-readable code of a dead letter. Codes are stable: they
// are matched by operators' alerting and by the metrics' reason label.
type Reason string

// The reasons an input is dead-lettered.
const (
	ReasonOversize      Reason = "oversize"       // body larger than the gateway's limit
	ReasonMalformedJSON Reason = "malformed_json" // not one well-formed JSON value
	ReasonUnknownType   Reason = "unknown_type"   // a type inbond does not know
	ReasonUnknownField  Reason = "unknown_field"  // a field not in the schema
	ReasonMissingField  Reason = "missing_field"  // a required field absent or empty
	ReasonInvalidField  Reason = "invalid_field"  // a value of the wrong shape or range
	ReasonBadUnit       Reason = "bad_unit"       // a unit of measure we cannot convert
	ReasonBadTopic      Reason = "bad_topic"      // an MQTT topic outside inbond/v1/{carrier}/{shipment}/{channel}
	ReasonWrongChannel  Reason = "wrong_channel"  // e.g. a manifest on the telemetry topic
	ReasonTopicMismatch Reason = "topic_mismatch" // carrier or shipment in the topic differs from the body
	ReasonKeyMismatch   Reason = "key_mismatch"   // Kafka record key differs from the body's shipment
)

// Rejection is why an input was refused: a Reason and a message for humans.
type Rejection struct {
	Reason Reason
	Err    error
}

func (r *Rejection) Error() string { return string(r.Reason) + ": " + r.Err.Error() }

// Unwrap returns the underlying validation or decoding error.
func (r *Rejection) Unwrap() error { return r.Err }

func reject(reason Reason, err error) *Rejection { return &Rejection{Reason: reason, Err: err} }

// classify turns a decoding or validation error from package event into the
// rejection a dead letter records.
func classify(err error) *Rejection {
	var syn *event.SyntaxError
	switch {
	case errors.As(err, &syn):
		return reject(ReasonMalformedJSON, err)
	case errors.Is(err, event.ErrUnknownType):
		return reject(ReasonUnknownType, err)
	}
	switch event.FirstRule(err) {
	case event.RuleRequired:
		return reject(ReasonMissingField, err)
	case event.RuleUnit:
		return reject(ReasonBadUnit, err)
	case event.RuleUnknown:
		return reject(ReasonUnknownField, err)
	}
	return reject(ReasonInvalidField, err)
}
