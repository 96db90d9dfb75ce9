package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/wire"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// contentTypeStructured marks a Kafka record holding a whole CloudEvent
// (CloudEvents Kafka protocol binding, structured content mode).
var contentTypeStructured = []kafka.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}

// router is the path both gateways share: decode one input, turn it into the
// canonical event or its dead letter, and hand that to the forwarder with the
// source's ack.
type router struct {
	dec     *Decoder
	fwd     *Forwarder
	metrics *Metrics
	log     *zap.Logger
}

// route submits the record for body. where names the input precisely for a
// dead letter (topic, or topic/partition@offset). refused, when not nil, is a
// rejection found before decoding (an MQTT topic outside our layout). ack runs
// after the record is durably written.
func (r *router) route(ctx context.Context, o Origin, where string, body []byte, refused *Rejection, ack func()) error {
	msg, reason := r.recordFor(o, where, body, refused)
	outcome := OutcomeAccepted
	if reason != "" {
		outcome = OutcomeDeadLettered
	}
	return r.fwd.Submit(ctx, msg, func() {
		r.metrics.Messages.WithLabelValues(o.Transport, outcome).Inc()
		if reason != "" {
			r.metrics.DeadLetters.WithLabelValues(o.Transport, string(reason)).Inc()
		}
		ack()
	})
}

// recordFor returns the Kafka record for one input and, for a dead letter, its
// reason. Every record it returns fits in bus.MaxRecordBytes.
func (r *router) recordFor(o Origin, where string, body []byte, rej *Rejection) (kafka.Message, wire.Reason) {
	if rej == nil {
		e, refused := r.dec.Decode(o, body)
		if refused == nil {
			b, err := event.Marshal(e)
			if err == nil {
				msg := kafka.Message{
					Topic: string(event.TopicEvents), Key: []byte(e.Subject), Value: b, Headers: contentTypeStructured,
				}
				n := bus.RecordSize(msg)
				if n <= bus.MaxRecordBytes {
					return msg, ""
				}
				err = fmt.Errorf("the canonical event would be a %d-byte record, over the %d-byte limit", n, bus.MaxRecordBytes)
				refused = reject(wire.ReasonOversize, err)
			} else {
				refused = reject(wire.ReasonInvalidField, err)
			}
		}
		rej = refused
	}
	if ce := r.log.Check(zap.DebugLevel, "dead-lettered"); ce != nil {
		ce.Write(zap.String("origin", where), zap.String("reason", string(rej.Reason)), zap.Error(rej.Err))
	}
	dl := NewDeadLetter(o.Transport, where, body, rej, time.Now())
	return kafka.Message{
		Topic:   string(event.TopicDLQ),
		Key:     []byte(Clip(o.Name, MaxOriginBytes)),
		Value:   dl.Marshal(),
		Headers: []kafka.Header{{Key: "reason", Value: []byte(rej.Reason)}},
	}, rej.Reason
}
