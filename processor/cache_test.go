package processor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
)

// TestCacheBoundKeepsState streams 30,000 distinct shipments through one
// partition into a processor whose cache holds 300 and whose periodic
// flushes are off, so that it flushes only when unflushed shipments fill its
// cache. Its cache never holds more than 300, it evicts and reloads
// shipments again and again, and the state it leaves in Redis is byte for
// byte that of a run that never evicts (default flushing), and that of the
// reference computed from the input alone.
func TestCacheBoundKeepsState(t *testing.T) {
	const (
		singles   = 29_700 // shipments with one event
		returning = 300    // shipments with several events spread over the stream
		bound     = 300
	)
	brokers := testenv.Kafka(t, embedded.KafkaConfig{Partitions: 1})
	envs := cacheWorkload(singles, returning)
	// The two runs read the topic at once, as it is written, into key
	// prefixes of their own.
	bounded := startCacheRun(t, brokers, "bounded", bound, func(c *processor.Config) {
		c.FlushInterval, c.FlushEvents = time.Hour, 1<<30
	})
	unbounded := startCacheRun(t, brokers, "unbounded", 1<<30)
	begin := time.Now()
	produce(t, brokers, envs)
	t.Logf("%d events for %d shipments produced in %s", len(envs), singles+returning, time.Since(begin).Round(time.Millisecond))
	bounded.finish(t, brokers, len(envs))
	unbounded.finish(t, brokers, len(envs))

	bm, um := bounded.metrics, unbounded.metrics
	peak := testutil.ToFloat64(bm.CachePeak.WithLabelValues("0"))
	evictions := testutil.ToFloat64(bm.CacheEvictions)
	t.Logf("bounded run: peak %v shipments in memory, %v evictions", peak, evictions)
	if peak > bound {
		t.Errorf("the partition held %v shipments at once; the bound is %d", peak, bound)
	}
	if peak < bound {
		t.Errorf("the partition held at most %v shipments; with %d shipments the cache should have filled to its bound %d",
			peak, singles+returning, bound)
	}
	// Every shipment is loaded at least once and at most bound stay: more
	// evictions than shipments means some were reloaded after an eviction,
	// and evicted again.
	if evictions <= singles+returning {
		t.Errorf("%v evictions for %d shipments; the returning ones should have been evicted and reloaded repeatedly", evictions, singles+returning)
	}
	if n := testutil.ToFloat64(um.CacheEvictions); n != 0 {
		t.Errorf("the unbounded run evicted %v shipments", n)
	}
	if n := testutil.ToFloat64(um.CachePeak.WithLabelValues("0")); n <= bound {
		t.Errorf("the unbounded run held at most %v shipments: the workload does not need eviction at bound %d", n, bound)
	}

	sameState(t, bounded.snap, unbounded.snap, "bounded cache vs unbounded")
	matchesReference(t, bounded.snap, bounded.store, envs, 1)
}

// cacheRun is a processor whose cache holds bound shipments per partition,
// reading the whole topic into a key prefix of its own, with its other
// settings as the test harness has them unless tune changes them.
type cacheRun struct {
	name    string
	bound   int
	begin   time.Time
	r       *testenv.Redis
	store   *state.Store
	metrics *processor.Metrics
	done    <-chan error
	cancel  context.CancelFunc
	stop    chan struct{} // closed to end the polling of the gauge
	polled  chan struct{} // closed when the polling ended
	snap    map[string]string
}

// startCacheRun launches the processor and polls, until finish, the gauge of
// shipments in memory: it must stay within the bound.
func startCacheRun(t *testing.T, brokers []string, name string, bound int, tune ...func(*processor.Config)) *cacheRun {
	t.Helper()
	c := &cacheRun{name: name, bound: bound, begin: time.Now(), r: testenv.NewRedis(t),
		metrics: processor.NewMetrics(prometheus.NewRegistry()), stop: make(chan struct{}), polled: make(chan struct{})}
	var err error
	if c.store, err = state.NewStore(c.r.Client, c.r.Prefix); err != nil {
		t.Fatal(err)
	}
	c.done, c.cancel = launchProcessor(t, brokers, c.store, "g-cache-"+name, name, c.metrics,
		append([]func(*processor.Config){func(cfg *processor.Config) { cfg.CacheShipments = bound }}, tune...)...)
	go func() {
		defer close(c.polled)
		for {
			if n := testutil.ToFloat64(c.metrics.Shipments); n > float64(bound) {
				t.Errorf("%s: %v shipments in memory; the bound is %d", name, n, bound)
				return
			}
			select {
			case <-c.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { // when the test stops before finish
		c.cancel()
		c.endPolling()
	})
	return c
}

func (c *cacheRun) endPolling() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.polled
}

// finish waits until the processor has read all events events, stops it,
// checks that its state reached the end of the topic (the stop's final flush
// writes what periodic flushes did not) and that the gauge of shipments in
// memory is back to zero, and takes the snapshot.
func (c *cacheRun) finish(t *testing.T, brokers []string, events int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for read := 0.0; read < float64(events); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v of %d events read after 2 minutes", c.name, read, events)
		}
		read = testutil.ToFloat64(c.metrics.Events.WithLabelValues(processor.OutcomeApplied)) +
			testutil.ToFloat64(c.metrics.Events.WithLabelValues(processor.OutcomeDuplicate))
	}
	c.endPolling()
	c.cancel()
	if err := <-c.done; err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	waitCaughtUp(t, brokers, c.r.Client, c.store, time.Second)
	if n := testutil.ToFloat64(c.metrics.Shipments); n != 0 {
		t.Errorf("%s: %v shipments in memory after the processor stopped", c.name, n)
	}
	t.Logf("%s run (cache %d): caught up and stopped %s after its start", c.name, c.bound, time.Since(c.begin).Round(time.Millisecond))
	begin := time.Now()
	var err error
	if c.snap, err = pipelinedSnapshot(c.r.Client, c.r.Prefix); err != nil {
		t.Fatalf("%s: snapshot: %v", c.name, err)
	}
	t.Logf("%s: snapshot of %d keys in %s", c.name, len(c.snap), time.Since(begin).Round(time.Millisecond))
}

// cacheWorkload returns singles shipments of one event each, a position or a
// departure, with the events of returning more shipments (sim.Workload: a
// manifest, a departure, telemetry, and for most an arrival and an export)
// spread evenly among them, so that a small cache has evicted each returning
// shipment between two of its events. Every 50th returning event is
// delivered a second time, about 5,000 events later: deduplicating it needs
// the sequence numbers and event IDs of the state reloaded from Redis.
func cacheWorkload(singles, returning int) []*event.Envelope {
	long := sim.Workload(sim.WorkloadConfig{Shipments: returning, Events: 8 * returning, Seed: 43})
	every := singles / len(long) // singles between two returning events
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	out := make([]*event.Envelope, 0, singles+len(long)+len(long)/50)
	next := 0
	for i := range singles {
		id := event.ShipmentID(fmt.Sprintf("ONE-%06d", i))
		carrier := []event.CarrierID{"ENBR", "PRTK", "GLGT"}[i%3]
		at := start.Add(time.Duration(i) * time.Second)
		e := &event.Envelope{
			SpecVersion: event.SpecVersion, Subject: id, PartitionKey: id, Time: at, ReceivedTime: at.Add(time.Second),
			DataContentType: event.ContentTypeJSON, Carrier: carrier,
		}
		if i%5 == 0 {
			e.Type, e.Data = event.TypeDeparted, &event.Departed{Port: "3404"}
			e.Source = "urn:inbond:carrier:" + string(carrier)
			e.ID = event.DeriveID(carrier, id, "", 0, "events", []byte(id))
		} else {
			e.Type, e.Data = event.TypePosition, &event.Position{Lat: 49 - float64(i%100)/100, Lon: -110.2, SpeedKmh: 60, HeadingDeg: 180}
			e.Device, e.Sequence = "GPS-1", 1
			e.Source = "urn:inbond:carrier:" + string(carrier) + ":device:GPS-1"
			e.ID = event.DeriveID(carrier, id, e.Device, e.Sequence, "", nil)
		}
		out = append(out, e)
		if i%every == every-1 && next < len(long) {
			out = append(out, long[next])
			if next%50 == 0 && next >= 400 {
				out = append(out, long[next-400]) // a redelivery
			}
			next++
		}
	}
	return append(out, long[next:]...)
}
