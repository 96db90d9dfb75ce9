package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/segmentio/kafka-go"
)

// Event is one record of inbond.alerts, decoded as far as the sink needs.
type Event struct {
	ID       string // the CloudEvents id: the webhook-id
	Type     string // gov.cbp.inbond.alert.<opened|updated|acknowledged|resolved>.v1
	Shipment event.ShipmentID
	Rule     alerts.Rule
	Severity alerts.Severity
	// Body is the record's value exactly as published: the bytes POSTed
	// and signed.
	Body []byte
	// Where the record was read.
	Key       []byte
	Topic     string
	Partition int
	Offset    int64
}

// DecodeEvent reads a record of inbond.alerts. Its error names what is
// wrong; the record is then dead-lettered with ReasonInvalidEvent.
func DecodeEvent(m kafka.Message) (Event, error) {
	ev := Event{Body: m.Value, Key: m.Key, Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
	var ce alerts.TransitionEvent
	if err := json.Unmarshal(m.Value, &ce); err != nil {
		return ev, fmt.Errorf("not an alert transition CloudEvent: %w", err)
	}
	ev.ID, ev.Type, ev.Shipment, ev.Rule, ev.Severity = ce.ID, ce.Type, ce.Subject, ce.Data.Rule, ce.Data.Severity
	switch {
	case ev.ID == "":
		return ev, errors.New("the CloudEvent has no id, which every delivery needs as its webhook-id")
	case strings.Contains(ev.ID, "."):
		// The signed content is id.timestamp.body: the spec forbids a "." in
		// the id, which would make two messages sign alike.
		return ev, fmt.Errorf("the CloudEvent id %q contains a \".\", which a webhook-id must not", ev.ID)
	}
	return ev, nil
}

// Outcome is how a delivery settled.
type Outcome string

// Outcomes of a delivery.
const (
	OutcomeDelivered    Outcome = "delivered"     // the target answered 2xx
	OutcomeDeadLettered Outcome = "dead_lettered" // written to inbond.alerts.dlq
)

// Delivery is one event on its way to one target. The middleware of the
// chain share it: Retry counts Attempt, DeadLetter sets DeadLetter and
// Outcome. A delivery is used by one goroutine at a time.
type Delivery struct {
	Target Target // with the defaults applied
	Secret Secret // the target's signing key
	Event  Event
	// Attempt is the number of the attempt under way or last made, from 1.
	Attempt int
	// FirstAttemptAt is when the first attempt started.
	FirstAttemptAt time.Time
	// Outcome is how it settled, once the chain returned nil.
	Outcome Outcome
	// DeadLetter is what was written to the dead-letter topic, if it was.
	DeadLetter *DeadLetterRecord
}

// Handler sends a delivery. A nil error means it settled: the target has
// it, or (after DeadLetter) the dead-letter topic has it. An error means it
// did not; when ctx has ended the error says so and nothing was settled.
type Handler func(ctx context.Context, d *Delivery) error

// Middleware wraps a handler with one concern: Retry, DeadLetter,
// Instrument.
type Middleware func(Handler) Handler

// Chain returns h wrapped by the middleware, the first outermost:
// Chain(h, a, b) is a(b(h)).
func Chain(h Handler, mw ...Middleware) Handler {
	for i := len(mw) - 1; i >= 0; i-- {
		h = mw[i](h)
	}
	return h
}

// Reason says why a delivery failed: the last attempt's failure.
type Reason string

// Reasons of failed attempts and dead letters.
const (
	ReasonStatus       Reason = "http_status"   // the target answered, but not 2xx
	ReasonTimeout      Reason = "timeout"       // no complete answer within the target's timeout
	ReasonTransport    Reason = "transport"     // no answer: dial, TLS or connection failure
	ReasonInvalidEvent Reason = "invalid_event" // the record is not an alert transition (no target tried)
)

// AttemptError is a failed attempt.
type AttemptError struct {
	Reason     Reason
	StatusCode int    // the HTTP status, when the target answered
	Response   string // the start of the answer's body, for the dead letter
	// RetryAfter is the wait the target asked for (Retry-After in seconds,
	// on 429 and 503); Retry honours it up to its policy's Max.
	RetryAfter time.Duration
	Err        error
}

func (e *AttemptError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("%s: HTTP %d: %v", e.Reason, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Reason, e.Err)
}

func (e *AttemptError) Unwrap() error { return e.Err }
