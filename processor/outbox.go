package processor

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/retry"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// publishOutbox publishes the partition's flushed outputs (alert transitions
// to inbond.alerts, ledger checkpoints to inbond.checkpoints), oldest first,
// and trims each published batch from the outbox: a crash between the two
// publishes them again, byte for byte (consumers deduplicate: alerts by
// CloudEvents id, the anchor by entry), never loses them. kick wakes it after a
// flush. Once released is closed it publishes what is left, for at most
// releaseDrain, and returns; it returns at once when the partition is fenced.
func (p *Processor) publishOutbox(claim state.Claim, kick, released <-chan struct{}, log *zap.Logger) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		select {
		case <-released:
			select {
			case <-time.After(releaseDrain):
			case <-ctx.Done():
			}
			cancel()
		case <-ctx.Done():
		}
	})
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		done := false
		select {
		case <-released:
			done = true
		default:
		}
		for {
			items, err := p.cfg.Store.Outbox(ctx, claim.Partition, 500)
			if err != nil || len(items) == 0 {
				break
			}
			msgs := make([]kafka.Message, 0, len(items))
			for _, b := range items {
				msg, err := parseOutboxItem(b)
				if err != nil { // cannot happen: only the loop writes the outbox
					log.Error("outbox item not readable; dropped", zap.Error(err))
					continue
				}
				msgs = append(msgs, msg)
			}
			if _, err := retry.Forever(ctx, retry.Default, func() (struct{}, error) { return struct{}{}, p.outWriter.WriteMessages(ctx, msgs...) }); err != nil {
				return // released and out of time; the next owner publishes the rest
			}
			if err := p.cfg.Store.TrimOutbox(ctx, claim, len(items)); err != nil {
				if errors.Is(err, state.ErrFenced) {
					return
				}
				log.Warn("outbox trim failed; the batch will be published again", zap.Error(err))
				break
			}
			for _, msg := range msgs {
				p.cfg.Metrics.OutboxPublished.WithLabelValues(msg.Topic).Inc()
				if msg.Topic == string(event.TopicAlerts) {
					p.cfg.Metrics.AlertsPublished.Inc()
				}
			}
		}
		if done {
			return
		}
		select {
		case <-released:
		case <-kick:
		case <-t.C:
		}
	}
}

// releaseDrain bounds how long a released partition's publisher goes on.
const releaseDrain = 5 * time.Second

var (
	cloudEventsJSON = []kafka.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}
	plainJSON       = []kafka.Header{{Key: "content-type", Value: []byte("application/json")}}
)

// outboxItem is the stored form of one output: topic, key and value, the
// first two ended by a newline (neither a topic nor a key holds one), so the
// publisher needs no decoding to route it.
func outboxItem(topic, key string, value []byte) []byte {
	b := make([]byte, 0, len(topic)+len(key)+2+len(value))
	b = append(append(append(b, topic...), '\n'), key...)
	return append(append(b, '\n'), value...)
}

// parseOutboxItem reads what outboxItem wrote as the message to publish.
func parseOutboxItem(b []byte) (kafka.Message, error) {
	topic, rest, ok1 := bytes.Cut(b, []byte{'\n'})
	key, value, ok2 := bytes.Cut(rest, []byte{'\n'})
	if !ok1 || !ok2 {
		return kafka.Message{}, errors.New("outbox item without topic and key")
	}
	headers := plainJSON
	if string(topic) == string(event.TopicAlerts) {
		headers = cloudEventsJSON
	}
	return kafka.Message{Topic: string(topic), Key: key, Value: value, Headers: headers}, nil
}
