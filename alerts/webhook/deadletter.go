package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/retry"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// TopicDLQ receives the deliveries that failed every attempt, and the
// records of inbond.alerts that are not alert transitions.
const TopicDLQ = event.TopicAlertsDLQ

// DLQPartitions is the partition count Run creates TopicDLQ with when it is
// missing.
const DLQPartitions = 3

// Publisher writes records durably: WriteMessages returns nil only once the
// broker has acknowledged them. A *kafka.Writer from bus.NewWriter is one.
type Publisher interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Source is where a record was read.
type Source struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
}

// DeadLetterRecord is the value of a record on TopicDLQ (JSON), keyed like
// the original record (by shipment). Replaying Event to Target with its
// EventID as webhook-id is the redrive.
type DeadLetterRecord struct {
	// Target is the target's name; "" for a record no target was tried for
	// (ReasonInvalidEvent).
	Target string `json:"target"`
	Reason Reason `json:"reason"`
	// StatusCode is the last HTTP status the target answered, 0 for none.
	StatusCode int    `json:"status_code,omitempty"`
	Error      string `json:"error"`
	// Response is the start of the last answer's body.
	Response       string    `json:"response,omitempty"`
	Attempts       int       `json:"attempts"`
	EventID        string    `json:"event_id,omitempty"`
	EventType      string    `json:"event_type,omitempty"`
	FirstAttemptAt time.Time `json:"first_attempt_at,omitzero"`
	DeadLetteredAt time.Time `json:"dead_lettered_at"`
	Source         Source    `json:"source"`
	// Event is the original record's value when it is JSON (always, for an
	// alert transition), EventBase64 its bytes otherwise.
	Event       json.RawMessage `json:"event,omitempty"`
	EventBase64 []byte          `json:"event_base64,omitempty"`
}

// newDeadLetter describes ev, which failed for target (the last failure
// err) after attempts attempts.
func newDeadLetter(target string, ev Event, err error, attempts int, first time.Time) *DeadLetterRecord {
	rec := &DeadLetterRecord{
		Target: target, Reason: ReasonTransport, Error: err.Error(), Attempts: attempts,
		EventID: ev.ID, EventType: ev.Type, FirstAttemptAt: first, DeadLetteredAt: time.Now().UTC(),
		Source: Source{Topic: ev.Topic, Partition: ev.Partition, Offset: ev.Offset},
	}
	var ae *AttemptError
	if errors.As(err, &ae) {
		rec.Reason, rec.StatusCode, rec.Response = ae.Reason, ae.StatusCode, ae.Response
	}
	if json.Valid(ev.Body) {
		rec.Event = ev.Body
	} else {
		rec.EventBase64 = ev.Body
	}
	return rec
}

// writeDeadLetter writes rec to TopicDLQ, retrying (as retry.Default says)
// until the broker acknowledges it or ctx ends.
func writeDeadLetter(ctx context.Context, pub Publisher, log *zap.Logger, key []byte, rec *DeadLetterRecord) error {
	value, err := json.Marshal(rec)
	if err != nil {
		return err // cannot happen: every field marshals
	}
	msg := kafka.Message{Topic: string(TopicDLQ), Key: key, Value: value}
	_, err = retry.Forever(ctx, retry.Default, func() (struct{}, error) {
		err := pub.WriteMessages(ctx, msg)
		if err != nil && ctx.Err() == nil {
			log.Warn("webhook dead letter not written yet; retrying", zap.String("target", rec.Target), zap.String("event_id", rec.EventID), zap.Error(err))
		}
		return struct{}{}, err
	})
	return err
}

// DeadLetter settles the deliveries next fails: when next returns an error
// while ctx is live, it writes a DeadLetterRecord to TopicDLQ through pub
// and returns nil once the broker acknowledged it, with d.Outcome
// OutcomeDeadLettered and d.DeadLetter set. It retries that write until it
// succeeds; when ctx ends first (or had ended when next returned) it
// returns the error and the delivery is not settled, so its record is not
// committed and will be delivered again. A delivery next settles gets
// d.Outcome OutcomeDelivered.
func DeadLetter(pub Publisher, log *zap.Logger) Middleware {
	if log == nil {
		log = zap.NewNop()
	}
	return func(next Handler) Handler {
		return func(ctx context.Context, d *Delivery) error {
			err := next(ctx, d)
			if err == nil {
				d.Outcome = OutcomeDelivered
				return nil
			}
			if ctx.Err() != nil {
				return err
			}
			rec := newDeadLetter(d.Target.Name, d.Event, err, d.Attempt, d.FirstAttemptAt)
			if werr := writeDeadLetter(ctx, pub, log, d.Event.Key, rec); werr != nil {
				return werr
			}
			d.Outcome, d.DeadLetter = OutcomeDeadLettered, rec
			log.Warn("webhook dead-lettered", zap.String("target", d.Target.Name), zap.String("event_id", d.Event.ID),
				zap.String("reason", string(rec.Reason)), zap.Int("status", rec.StatusCode), zap.Int("attempts", rec.Attempts), zap.Error(err))
			return nil
		}
	}
}
