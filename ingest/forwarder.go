package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/retry"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// Writer is the part of *kafka.Writer the forwarder uses. WriteMessages must
// return only once every message is durably written or has failed; a
// kafka.WriteErrors says which ones failed.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// ErrClosed is returned by Submit after Close.
var ErrClosed = errors.New("ingest: forwarder closed")

// Forwarder batches records from the gateways into synchronous Kafka writes
// and runs each record's ack once the write has succeeded.
//
// Guarantees:
//   - An ack runs only after Kafka acknowledged its record (acks=all), and
//     acks run in Submit order, one goroutine, never concurrently.
//   - Records are written in Submit order: one batch is in flight at a time
//     and a failed batch is retried, never skipped, before the next is taken.
//   - A failed write is retried with exponential backoff until it succeeds or
//     Run's context ends; then the unwritten records are not acked and their
//     sources redeliver them.
//   - A write that can never succeed (the broker refuses a record's size) is
//     not retried: Run returns the error, naming the setting to fix, and the
//     records stay unacked.
type Forwarder struct {
	mu     sync.RWMutex // guards closed and the closing of queue against Submit
	closed bool

	w        Writer
	queue    chan pending
	maxBatch int
	metrics  *Metrics
	log      *zap.Logger
}

type pending struct {
	msg kafka.Message
	ack func()
}

// ForwarderConfig sizes the forwarder.
type ForwarderConfig struct {
	// MaxBatch bounds the records per Kafka write (default 500, at most
	// bus.MaxBatchRecords). Bytes are bounded by bus.MaxBatchBytes as well.
	MaxBatch int
	// Queue is how many records may wait for a write (default 4×MaxBatch). A
	// full queue blocks Submit, which is how backpressure reaches the sources.
	Queue int
}

// NewForwarder returns a forwarder writing through w. Call Run to start it.
func NewForwarder(w Writer, cfg ForwarderConfig, m *Metrics, log *zap.Logger) *Forwarder {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 500
	}
	cfg.MaxBatch = min(cfg.MaxBatch, bus.MaxBatchRecords)
	if cfg.Queue <= 0 {
		cfg.Queue = 4 * cfg.MaxBatch
	}
	return &Forwarder{w: w, queue: make(chan pending, cfg.Queue), maxBatch: cfg.MaxBatch, metrics: m, log: log}
}

// Submit queues msg for writing; ack runs after it is durably written. It
// blocks while the queue is full and returns ctx's error if ctx ends first, or
// ErrClosed after Close. It is safe for concurrent use, also with Close.
func (f *Forwarder) Submit(ctx context.Context, msg kafka.Message, ack func()) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		return ErrClosed
	}
	select {
	case f.queue <- pending{msg, ack}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close tells Run to write what is queued and return; later Submits fail.
// It waits for Submits in progress, which Run keeps draining.
func (f *Forwarder) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.queue)
	}
}

// Run writes batches until Close has been called and the queue is drained
// (returns nil), or ctx ends (returns ctx's error; queued records stay unacked).
func (f *Forwarder) Run(ctx context.Context) error {
	batch := make([]pending, 0, f.maxBatch)
	var carried *pending // taken from the queue but left for the next batch
	for {
		batch = batch[:0]
		var first pending
		if carried != nil {
			first, carried = *carried, nil
		} else {
			select {
			case p, open := <-f.queue:
				if !open {
					return nil
				}
				first = p
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		batch = append(batch, first)
		size := bus.RecordSize(first.msg)
		// Take whatever else is already waiting: batches grow with load and a
		// lone record is written at once. A batch stays within
		// bus.MaxBatchBytes, so kafka-go never splits it into several produce
		// requests for one partition, which could fail independently and
		// reorder a shipment's events on retry.
	fill:
		for len(batch) < f.maxBatch {
			select {
			case p, ok := <-f.queue:
				if !ok {
					break fill // drained; the next receive returns
				}
				n := bus.RecordSize(p.msg)
				if size+n > bus.MaxBatchBytes {
					carried = &p
					break fill
				}
				size += n
				batch = append(batch, p)
			default:
				break fill
			}
		}
		if err := f.write(ctx, batch); err != nil {
			return err
		}
		for _, p := range batch {
			p.ack()
		}
	}
}

// writeRetry paces the retries of a Kafka write: a broker election or a
// restart takes seconds, so waits grow to 5 s.
var writeRetry = retry.Policy{Initial: 50 * time.Millisecond, Max: 5 * time.Second}

// write writes batch until every record succeeded, retrying only the records
// that failed. Within one partition a produce request succeeds or fails whole,
// so retrying the failed subset keeps each partition's order.
func (f *Forwarder) write(ctx context.Context, batch []pending) error {
	start := time.Now()
	msgs := make([]kafka.Message, len(batch))
	for i, p := range batch {
		msgs[i] = p.msg
	}
	f.metrics.BatchSize.Observe(float64(len(msgs)))
	_, err := retry.Forever(ctx, writeRetry, func() (struct{}, error) {
		err := f.w.WriteMessages(ctx, msgs...)
		if err == nil {
			return struct{}{}, nil
		}
		f.metrics.WriteErrors.Inc()
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(msgs) {
			failed := msgs[:0:0]
			for i, e := range werrs {
				if errors.Is(e, kafka.MessageSizeTooLarge) {
					return struct{}{}, retry.Permanent(fmt.Errorf("the broker refuses a %d-byte record on %s: "+
						"set its message.max.bytes to at least 1 MiB: %w", bus.RecordSize(msgs[i]), msgs[i].Topic, e))
				}
				if e != nil {
					failed = append(failed, msgs[i])
				}
			}
			msgs = failed
		}
		if ctx.Err() != nil {
			return struct{}{}, retry.Permanent(ctx.Err())
		}
		f.log.Warn("kafka write failed; retrying", zap.Int("records", len(msgs)), zap.Error(err))
		return struct{}{}, err
	})
	f.metrics.WriteSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("forward %d records: %w", len(msgs), err)
	}
	return nil
}
