package ingest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// batchRecorder is a Writer that keeps what each WriteMessages call carried.
// It stands in for Kafka only to observe how the forwarder cuts batches.
type batchRecorder struct {
	mu      sync.Mutex
	batches [][]kafka.Message
}

func (b *batchRecorder) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches = append(b.batches, append([]kafka.Message(nil), msgs...))
	return nil
}

// TestForwarderBatchesStayUnderTheByteBound queues records of up to 400 KiB
// before the forwarder starts, so it could take all of them at once, and
// checks that no write carries more than bus.MaxBatchBytes (kafka-go would
// split it into produce requests that fail independently), that every
// record is written once, in order, and acked after its write.
func TestForwarderBatchesStayUnderTheByteBound(t *testing.T) {
	rec := &batchRecorder{}
	fwd := ingest.NewForwarder(rec, ingest.ForwarderConfig{MaxBatch: 1000, Queue: 100}, ingest.NewMetrics(prometheus.NewRegistry()), zap.NewNop())
	var acked []int
	var sizes []int
	for i := range 40 {
		size := []int{400 << 10, 10 << 10, 250 << 10, 100}[i%4]
		sizes = append(sizes, size)
		msg := kafka.Message{Topic: "inbond.events", Key: []byte(fmt.Sprint(i)), Value: []byte(strings.Repeat("x", size))}
		if err := fwd.Submit(t.Context(), msg, func() { acked = append(acked, i) }); err != nil {
			t.Fatal(err)
		}
	}
	fwd.Close()
	if err := fwd.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	next := 0
	for b, batch := range rec.batches {
		total := 0
		for _, m := range batch {
			total += bus.RecordSize(m)
			if string(m.Key) != fmt.Sprint(next) {
				t.Fatalf("batch %d: record %s written where %d was due", b, m.Key, next)
			}
			next++
		}
		if total > bus.MaxBatchBytes {
			t.Errorf("batch %d: %d records, %d bytes: over the %d-byte bound", b, len(batch), total, bus.MaxBatchBytes)
		}
	}
	if next != len(sizes) || len(acked) != len(sizes) {
		t.Fatalf("%d records written and %d acked, want %d", next, len(acked), len(sizes))
	}
	for i, a := range acked {
		if a != i {
			t.Fatalf("ack %d ran for record %d", i, a)
		}
	}
	t.Logf("%d records of up to 400 KiB in %d writes, each within %d bytes", len(sizes), len(rec.batches), bus.MaxBatchBytes)
}
