package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts/webhook"
	"github.com/segmentio/kafka-go"
)

// flakyPublisher fails its first failures writes, then keeps what it is given.
type flakyPublisher struct {
	mu       sync.Mutex
	failures int
	calls    int
	msgs     []kafka.Message
}

func (p *flakyPublisher) WriteMessages(ctx context.Context, msgs ...kafka.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.calls <= p.failures {
		return errors.New("broker unreachable")
	}
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func TestDeadLetter(t *testing.T) {
	body := `{"id":"a-2","specversion":"1.0","subject":"S1"}`
	fail := &webhook.AttemptError{Reason: webhook.ReasonStatus, StatusCode: 502, Response: "bad gateway", Err: errors.New("502")}
	newDelivery := func() *webhook.Delivery {
		return &webhook.Delivery{
			Target:  webhook.Target{Name: "soc"},
			Event:   webhook.Event{ID: "a-2", Type: "gov.cbp.inbond.alert.opened.v1", Body: []byte(body), Key: []byte("S1"), Topic: "inbond.alerts", Partition: 2, Offset: 41},
			Attempt: 8, FirstAttemptAt: time.Now().Add(-time.Minute),
		}
	}
	failed := func(context.Context, *webhook.Delivery) error { return fail }

	pub := &flakyPublisher{failures: 2}
	d := newDelivery()
	if err := webhook.DeadLetter(pub, nil)(failed)(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	if d.Outcome != webhook.OutcomeDeadLettered || len(pub.msgs) != 1 || pub.calls != 3 {
		t.Fatalf("outcome %s, %d records after %d writes", d.Outcome, len(pub.msgs), pub.calls)
	}
	m := pub.msgs[0]
	var rec webhook.DeadLetterRecord
	if err := json.Unmarshal(m.Value, &rec); err != nil {
		t.Fatal(err)
	}
	if m.Topic != "inbond.alerts.dlq" || string(m.Key) != "S1" || rec.Target != "soc" || rec.Reason != webhook.ReasonStatus ||
		rec.StatusCode != 502 || rec.Response != "bad gateway" || rec.Attempts != 8 || rec.EventID != "a-2" ||
		rec.Source != (webhook.Source{Topic: "inbond.alerts", Partition: 2, Offset: 41}) || string(rec.Event) != body ||
		rec.FirstAttemptAt.IsZero() || rec.DeadLetteredAt.IsZero() {
		t.Fatalf("dead letter %s: %s", m.Topic, m.Value)
	}

	// Delivered: passed through, nothing written.
	d = newDelivery()
	pub = &flakyPublisher{}
	if err := webhook.DeadLetter(pub, nil)(func(context.Context, *webhook.Delivery) error { return nil })(context.Background(), d); err != nil ||
		d.Outcome != webhook.OutcomeDelivered || len(pub.msgs) != 0 {
		t.Fatalf("delivered: %v %s %d", err, d.Outcome, len(pub.msgs))
	}

	// Stopping: never settled, nothing written, the error comes back.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d = newDelivery()
	if err := webhook.DeadLetter(pub, nil)(failed)(ctx, d); err == nil || d.Outcome != "" || len(pub.msgs) != 0 {
		t.Fatalf("stopped: %v %q %d", err, d.Outcome, len(pub.msgs))
	}
	// Stopping while the dead letter cannot be written: not settled either.
	pub = &flakyPublisher{failures: 1 << 30}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	d = newDelivery()
	if err := webhook.DeadLetter(pub, nil)(failed)(ctx, d); err == nil || d.Outcome != "" {
		t.Fatalf("dead letter never written: %v %q", err, d.Outcome)
	}
}
