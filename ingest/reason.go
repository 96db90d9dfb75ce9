package ingest

import (
	"errors"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/wire"
)

// Rejection is why an input was refused: a Reason and a message for humans.
type Rejection struct {
	Reason wire.Reason
	Err    error
}

func (r *Rejection) Error() string { return string(r.Reason) + ": " + r.Err.Error() }

// Unwrap returns the underlying validation or decoding error.
func (r *Rejection) Unwrap() error { return r.Err }

func reject(reason wire.Reason, err error) *Rejection { return &Rejection{Reason: reason, Err: err} }

// classify turns a decoding or validation error from package event into the
// rejection a dead letter records.
func classify(err error) *Rejection {
	var syn *event.SyntaxError
	switch {
	case errors.As(err, &syn):
		return reject(wire.ReasonMalformedJSON, err)
	case errors.Is(err, event.ErrUnknownType):
		return reject(wire.ReasonUnknownType, err)
	}
	switch event.FirstRule(err) {
	case event.RuleRequired:
		return reject(wire.ReasonMissingField, err)
	case event.RuleUnit:
		return reject(wire.ReasonBadUnit, err)
	case event.RuleUnknown:
		return reject(wire.ReasonUnknownField, err)
	case event.RuleDuplicate:
		return reject(wire.ReasonDuplicateField, err)
	}
	return reject(wire.ReasonInvalidField, err)
}
