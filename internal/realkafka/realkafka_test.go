package realkafka_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/realkafka"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// start starts a cluster for t, failing (never skipping) when Java or the
// jars are missing: this package exists to run Kafka.
func start(t *testing.T, cfg realkafka.Config) *realkafka.Cluster {
	t.Helper()
	c, err := realkafka.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	t.Logf("Kafka %s, %d broker(s) %v, started in %v", realkafka.Version, len(c.Brokers), c.Brokers, c.StartupTime.Round(time.Millisecond))
	fmt.Fprintf(os.Stderr, "testenv[%s]: kafka=real Apache Kafka %s %v (%d broker(s), started in %v)\n", t.Name(), realkafka.Version, c.Brokers, len(c.Brokers), c.StartupTime.Round(time.Millisecond))
	return c
}

// roundTrip creates inbond's topics, writes n records with acks=all and
// reads every one back.
func roundTrip(t *testing.T, brokers []string, n int) {
	t.Helper()
	roundTripWant(t, brokers, n, n)
}

// roundTripWant is roundTrip on a topic that holds want records after the write.
func roundTripWant(t *testing.T, brokers []string, n, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, bus.Topics(0)); err != nil {
		t.Fatal(err)
	}
	w := bus.NewWriter(brokers)
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: "inbond.events", Key: fmt.Appendf(nil, "ship-%d", i%50), Value: fmt.Appendf(nil, "v%d", i)}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	ends, err := bus.EndOffsets(ctx, brokers, "inbond.events")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for p, end := range ends {
		read := int64(0)
		if err := bus.ReadRange(ctx, brokers, "inbond.events", p, 0, end, func(kafka.Message) error { read++; return nil }); err != nil {
			t.Fatal(err)
		}
		if read != end {
			t.Fatalf("partition %d: read %d of %d", p, read, end)
		}
		total += read
	}
	if total != int64(want) {
		t.Fatalf("%d records in the topic, want %d", total, want)
	}
}

func TestOneBroker(t *testing.T) {
	c := start(t, realkafka.Config{Fast: true})
	roundTrip(t, c.Brokers, 1000)
}

func TestThreeBrokers(t *testing.T) {
	c := start(t, realkafka.Config{Brokers: 3, Fast: true})
	roundTrip(t, c.Brokers, 1000)
	parts, err := bus.Partitions(t.Context(), c.Brokers, "inbond.events")
	if err != nil {
		t.Fatal(err)
	}
	leaders := map[int]int{}
	for _, p := range parts {
		leaders[p.Leader.ID]++
	}
	if len(leaders) != 3 {
		t.Fatalf("partition leaders %v: want partitions led by all 3 brokers", leaders)
	}
}

// TestFaultsFailFetches: with fetches failing, a read fails; healed, it
// works; the proxy counted the refusals.
func TestFaultsFailFetches(t *testing.T) {
	c := start(t, realkafka.Config{Fast: true, Proxied: true})
	roundTrip(t, c.Brokers, 100)
	c.Faults.Fail(kmsg.Fetch.Int16())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	err := bus.ReadRange(ctx, c.Brokers, "inbond.events", 0, 0, 1, func(kafka.Message) error { return nil })
	cancel()
	if err == nil {
		t.Fatal("a fetch succeeded while fetches fail")
	}
	if c.Faults.Refused() == 0 {
		t.Fatal("no request refused")
	}
	c.Faults.Heal()
	roundTripWant(t, c.Brokers, 100, 200)
}
