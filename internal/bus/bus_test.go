package bus_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/segmentio/kafka-go"
)

// TestMetadataTriesEveryBroker: the metadata helpers (Partitions,
// PartitionCount, EndOffsets, EnsureTopics) skip a broker that does not
// answer for the next one, and when none answers they say which brokers they
// tried.
func TestMetadataTriesEveryBroker(t *testing.T) {
	const partitions = 5
	live := testenv.Kafka(t, embedded.KafkaConfig{Brokers: 3, Partitions: partitions})
	dead := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) // nothing listens there
	brokers := append([]string{dead}, live...)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	topic := string(event.TopicEvents)

	// Records in several partitions, so that each end offset is read from
	// its own leader.
	want := make([]int64, partitions)
	var msgs []kafka.Message
	for i := range 40 {
		key := fmt.Appendf(nil, "S-%d", i)
		want[bus.PartitionOf(key, partitions)]++
		msgs = append(msgs, kafka.Message{Topic: topic, Key: key, Value: []byte("{}")})
	}
	w := bus.NewWriter(live)
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()

	t.Run("a dead broker first", func(t *testing.T) {
		parts, err := bus.Partitions(ctx, brokers, topic)
		if err != nil {
			t.Fatalf("Partitions(%v): %v", brokers, err)
		}
		ids := make([]int, len(parts))
		leaders := map[int]bool{}
		for i, p := range parts {
			ids[i] = p.ID
			leaders[p.Leader.ID] = true
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []int{0, 1, 2, 3, 4}) {
			t.Errorf("Partitions: ids %v, want 0..4", ids)
		}
		t.Logf("leaders of %s's %d partitions: brokers %v", topic, len(parts), leaders)

		if n, err := bus.PartitionCount(ctx, brokers, topic); err != nil || n != partitions {
			t.Errorf("PartitionCount(%v) = %d, %v; want %d", brokers, n, err, partitions)
		}
		ends, err := bus.EndOffsets(ctx, brokers, topic)
		if err != nil || !slices.Equal(ends, want) {
			t.Errorf("EndOffsets(%v) = %v, %v; want %v", brokers, ends, err, want)
		}
		const created = event.Topic("inbond.test-ensure")
		if err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{{Topic: created, Partitions: 2}}); err != nil {
			t.Fatalf("EnsureTopics(%v): %v", brokers, err)
		}
		if n, err := bus.PartitionCount(ctx, live, string(created)); err != nil || n != 2 {
			t.Errorf("%s after EnsureTopics: %d partitions, %v; want 2", created, n, err)
		}
	})

	t.Run("every broker dead", func(t *testing.T) {
		allDead := []string{dead, fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
		t.Logf("backend: none; brokers %v are closed ports", allDead)
		check := func(name string, err error) {
			t.Helper()
			if err == nil {
				t.Errorf("%s(%v) succeeded with no broker listening", name, allDead)
				return
			}
			for _, b := range allDead {
				if !strings.Contains(err.Error(), b) {
					t.Errorf("%s: error does not name broker %s: %v", name, b, err)
				}
			}
		}
		_, err := bus.Partitions(ctx, allDead, topic)
		check("Partitions", err)
		t.Logf("Partitions: %v", err)
		_, err = bus.PartitionCount(ctx, allDead, topic)
		check("PartitionCount", err)
		_, err = bus.EndOffsets(ctx, allDead, topic)
		check("EndOffsets", err)
		check("EnsureTopics", bus.EnsureTopics(ctx, allDead, bus.Topics(0)))
		if _, err := bus.Partitions(ctx, nil, topic); err == nil {
			t.Error("Partitions with no brokers succeeded")
		}
	})

	t.Run("an unknown topic is an answer", func(t *testing.T) {
		// The first live broker answers that the topic does not exist; that
		// is the answer, not a reason to ask the others.
		_, err := bus.Partitions(ctx, brokers, "inbond.no-such-topic")
		if !errors.Is(err, kafka.UnknownTopicOrPartition) || strings.Contains(err.Error(), dead) {
			t.Fatalf("Partitions of a topic that does not exist: %v; want the broker's UnknownTopicOrPartition alone", err)
		}
	})
}

// TestReadRange reads exactly the records of a range, in order, across
// several fetches and record batches, and says when the range outruns the
// partition.
func TestReadRange(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{Partitions: 1})
	topic := string(event.TopicEvents)
	w := bus.NewWriter(brokers)
	defer w.Close()
	for batch := range 5 { // several record batches
		var msgs []kafka.Message
		for i := range 500 {
			msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte("S"), Value: fmt.Appendf(nil, `{"n":%d}`, batch*500+i)})
		}
		if err := w.WriteMessages(t.Context(), msgs...); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	err := bus.ReadRange(t.Context(), brokers, topic, 0, 123, 2301, func(m kafka.Message) error {
		if want := fmt.Sprintf(`{"n":%d}`, m.Offset); string(m.Value) != want {
			return fmt.Errorf("offset %d holds %s, want %s", m.Offset, m.Value, want)
		}
		got = append(got, m.Offset)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2301-123 || got[0] != 123 || got[len(got)-1] != 2300 || !slices.IsSorted(got) {
		t.Fatalf("read %d records from %d to %d, want 2178 from 123 to 2300", len(got), got[0], got[len(got)-1])
	}
	stop := errors.New("stop")
	if err := bus.ReadRange(t.Context(), brokers, topic, 0, 0, 10, func(kafka.Message) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("fn's error: got %v", err)
	}
	if err := bus.ReadRange(t.Context(), brokers, topic, 3, 0, 10, func(kafka.Message) error { return nil }); err == nil {
		t.Fatal("a partition that does not exist was read")
	}
}
