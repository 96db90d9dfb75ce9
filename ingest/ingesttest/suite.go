// Package ingesttest is the contract every ingest gateway must pass: no loss
// under a burst, each event in its shipment's partition, per-shipment order
// kept, and nothing lost across a gateway restart. A gateway's own test
// provides a Transport and calls Run.
package ingesttest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/wire"
	"github.com/segmentio/kafka-go"
)

// Input is one message a carrier publishes in the suite.
type Input struct {
	Carrier  event.CarrierID
	Shipment event.ShipmentID
	Seq      uint64
	Body     []byte // compact form, naming carrier and shipment
}

// Transport is how the suite drives one kind of gateway.
type Transport struct {
	// Brokers of the Kafka cluster the gateway writes to (and, for the Kafka
	// gateway, reads from).
	Brokers []string
	// Publish publishes the inputs in order, the way carriers do, and returns
	// once the source acknowledged every one (MQTT PUBACK, Kafka acks=all).
	Publish func(t *testing.T, in []Input)
	// StartGateway starts a gateway and returns its controls. A restarted
	// gateway resumes the same session/group.
	StartGateway func(t *testing.T) Gateway
}

// Gateway is a running gateway as the suite controls it.
type Gateway struct {
	// Stop stops the gateway gracefully (drain and ack) when crash is false,
	// or abandons what it holds, like a killed process, when crash is true.
	Stop func(crash bool)
	// FailWrites makes every Kafka write of this gateway fail while on, as
	// when the cluster is unreachable from it.
	FailWrites func(on bool)
	// Attempts counts the Kafka writes this gateway has tried so far.
	Attempts func() int
}

// Burst returns n telemetry inputs for shipments, round-robin, each
// shipment's device numbering its readings 1, 2, 3…
func Burst(n, shipments int) []Input {
	in := make([]Input, n)
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	for i := range in {
		s := i % shipments
		seq := uint64(i/shipments + 1)
		ship := event.ShipmentID(fmt.Sprintf("SHP-%04d", s))
		body, _ := json.Marshal(wire.Compact[map[string]any]{
			Type: "meter", Shipment: ship, Carrier: "ENBR", Device: event.DeviceID(fmt.Sprintf("M-%04d", s)), Seq: seq,
			Time: base.Add(time.Duration(seq) * time.Minute),
			Data: map[string]any{
				"meter": "NECHE-1", "flow_rate": 3000.5, "cumulative": float64(seq) * 50, "unit": "bbl",
				"pressure": 900, "pressure_unit": "psig", "temperature": 60, "temperature_unit": "F",
			},
		})
		in[i] = Input{Carrier: "ENBR", Shipment: ship, Seq: seq, Body: body}
	}
	return in
}

// Run runs the contract against tr.
func Run(t *testing.T, tr Transport) {
	t.Run("Burst10kNoLossPartitionedOrdered", func(t *testing.T) {
		in := Burst(10_000, 100)
		gw := tr.StartGateway(t)
		defer gw.Stop(false)
		tr.Publish(t, in)
		got := testenv.ReadTopic(t, tr.Brokers, string(event.TopicEvents), len(in), 2*time.Minute)
		CheckDelivered(t, in, got, true)
	})
	t.Run("RestartMidBurstLosesNothing", func(t *testing.T) {
		for _, crash := range []bool{false, true} {
			name := map[bool]string{false: "graceful", true: "crash"}[crash]
			t.Run(name, func(t *testing.T) {
				in := retagAll(Burst(10_000, 100), name)
				before := countRecords(t, tr.Brokers)
				gw := tr.StartGateway(t)
				var wg sync.WaitGroup
				wg.Go(func() { tr.Publish(t, in) })
				waitForRecords(t, tr.Brokers, before+len(in)/5, time.Minute) // mid-burst
				gw.Stop(crash)
				restarted := tr.StartGateway(t)
				defer restarted.Stop(false)
				wg.Wait()
				got := testenv.ReadTopic(t, tr.Brokers, string(event.TopicEvents), before+len(in), 2*time.Minute)
				CheckDelivered(t, in, got, false)
			})
		}
	})
	// Published while no gateway runs: the source keeps the inputs (the MQTT
	// broker in the gateway's persistent session) and hands them all over the
	// moment the gateway is back, for MQTT before it has subscribed again.
	t.Run("PublishedWhileDownArriveOnRestart", func(t *testing.T) {
		in := retagAll(Burst(2_000, 100), "offline")
		before := countRecords(t, tr.Brokers)
		tr.StartGateway(t).Stop(false) // the session exists and holds the subscription
		tr.Publish(t, in)
		restarted := tr.StartGateway(t)
		defer restarted.Stop(false)
		got := testenv.ReadTopic(t, tr.Brokers, string(event.TopicEvents), before+len(in), time.Minute)
		CheckDelivered(t, in, got, false)
	})
	// Kafka unreachable: the gateway holds every input unacknowledged, then
	// dies. Its successor must get all of them again from the source. For
	// MQTT this is the broker resending a whole in-flight window the moment
	// the session resumes, before the gateway has subscribed again.
	t.Run("KafkaOutageThenCrashLosesNothing", func(t *testing.T) {
		in := retagAll(Burst(500, 50), "outage")
		before := countRecords(t, tr.Brokers)
		gw := tr.StartGateway(t)
		gw.FailWrites(true)
		tr.Publish(t, in)
		deadline := time.Now().Add(30 * time.Second)
		for gw.Attempts() < 3 { // the gateway holds input and keeps failing to write it
			if time.Now().After(deadline) {
				t.Fatal("the gateway tried no Kafka write within 30s of the publish")
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond) // let the rest of the inputs reach it too
		if n := countRecords(t, tr.Brokers); n != before {
			t.Fatalf("%d records written while every write failed", n-before)
		}
		gw.Stop(true)
		restarted := tr.StartGateway(t)
		defer restarted.Stop(false)
		got := testenv.ReadTopic(t, tr.Brokers, string(event.TopicEvents), before+len(in), time.Minute)
		CheckDelivered(t, in, got, false)
	})
}

// retagAll gives the inputs shipments of their own, distinct from other
// subtests' by suffix.
func retagAll(in []Input, suffix string) []Input {
	for i := range in {
		in[i].Shipment += event.ShipmentID("-" + suffix)
		in[i].Body = retag(in[i].Body, in[i].Shipment)
	}
	return in
}

// retag rewrites the shipment of a compact body.
func retag(body []byte, ship event.ShipmentID) []byte {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	m["shipment"] = ship
	b, _ := json.Marshal(m)
	return b
}

func countRecords(t *testing.T, brokers []string) int {
	t.Helper()
	n := 0
	for _, end := range testenv.EndOffsets(t, brokers, string(event.TopicEvents)) {
		n += int(end)
	}
	return n
}

func waitForRecords(t *testing.T, brokers []string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for countRecords(t, brokers) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d records on %s after %s", n, event.TopicEvents, within)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// CheckDelivered asserts that every input is on inbond.events in the
// partition of its shipment, and that the first copies of each shipment's
// events are in publish order. With exact, no record may be duplicated or
// foreign to the inputs. Records of other shipments are ignored otherwise.
func CheckDelivered(t *testing.T, in []Input, got map[int][]kafka.Message, exact bool) {
	t.Helper()
	want := make(map[event.ShipmentID][]uint64)
	for _, x := range in {
		want[x.Shipment] = append(want[x.Shipment], x.Seq)
	}
	nparts := bus.DefaultPartitions
	seen := make(map[string]bool)
	order := make(map[event.ShipmentID][]uint64)
	total, dups := 0, 0
	for p, msgs := range got {
		for _, m := range msgs {
			e, err := event.Unmarshal(m.Value)
			if err != nil {
				t.Fatalf("partition %d offset %d: undecodable canonical event: %v", p, m.Offset, err)
			}
			if _, ours := want[e.Subject]; !ours {
				if exact {
					t.Errorf("unexpected record for shipment %q", e.Subject)
				}
				continue
			}
			total++
			if string(m.Key) != string(e.Subject) {
				t.Errorf("record key %q != subject %q", m.Key, e.Subject)
			}
			if wantP := bus.PartitionOf(m.Key, nparts); p != wantP {
				t.Errorf("shipment %s in partition %d, want %d", e.Subject, p, wantP)
			}
			if seen[e.ID] {
				dups++
				continue
			}
			seen[e.ID] = true
			order[e.Subject] = append(order[e.Subject], e.Sequence)
		}
	}
	if len(seen) != len(in) {
		t.Fatalf("found %d distinct events of %d published (%d records, %d duplicates)", len(seen), len(in), total, dups)
	}
	if exact && dups != 0 {
		t.Errorf("%d duplicate records on a run without restarts", dups)
	}
	for ship, seqs := range want {
		g := order[ship]
		for i := range seqs {
			if i >= len(g) || g[i] != seqs[i] {
				t.Fatalf("shipment %s: events out of publish order at index %d: got %v…, want %v…", ship, i, head(g, i), head(seqs, i))
			}
		}
	}
	t.Logf("verified %d events (%d records, %d redelivered duplicates) for %d shipments", len(seen), total, dups, len(want))
}

func head(s []uint64, i int) []uint64 {
	lo, hi := max(0, i-2), min(len(s), i+3)
	return s[lo:hi]
}
