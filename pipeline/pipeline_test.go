package pipeline_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/pipeline"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// The whole system as the demo assembles it (in-process Kafka and MQTT, both
// gateways, the processor on this machine's Redis) carries the clean
// scenario from the carriers' protocols to Redis: every message reaches
// inbond.events, and every shipment ends where the simulator's ground truth
// says, its state equal to the input applied once.
func TestEmbeddedSystemCarriesAScenarioIntoState(t *testing.T) {
	r := testenv.NewRedis(t)
	cfg := pipeline.Embedded(0, "127.0.0.1:0")
	cfg.Redis = pipeline.Redis{Client: r.Client, Prefix: r.Prefix}
	cfg.Process = &processor.Config{Owner: "pipeline-test", SessionTimeout: time.Second}
	const officer = "pipeline-test-officer-token"
	cfg.API = &api.Config{Listen: "127.0.0.1:0", Tokens: []string{"cbp=" + officer}}
	cfg.Log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := pipeline.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Stop() //nolint:errcheck // checked below on the happy path
	t.Logf("testenv: kafka=in-process kfake %v, mqtt=in-process mochi %s (pipeline.Embedded)", sys.Brokers, sys.MQTTURL)

	stream, err := sim.PlayScenario(ctx, "clean", 1, sys.MQTTURL, "pipeline-test-carriers", sys.Brokers, sim.Pace{})
	if err != nil {
		t.Fatal(err)
	}
	n := len(stream.Messages)
	for {
		events, dlq, err := sys.Forwarded(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if dlq != 0 {
			t.Fatalf("%d dead letters from a clean scenario", dlq)
		}
		if events == int64(n) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("only %d of %d messages reached inbond.events", events, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ends, err := bus.EndOffsets(ctx, sys.Brokers, string(event.TopicEvents))
	if err != nil {
		t.Fatal(err)
	}
	waitStored(ctx, t, r.Client, sys.Store, ends)

	records := testenv.ReadTopic(t, sys.Brokers, string(event.TopicEvents), n, time.Minute)
	reference := map[event.ShipmentID]*state.Shipment{}
	for _, part := range records {
		for _, m := range part {
			e, err := event.Unmarshal(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			sh := reference[e.Subject]
			if sh == nil {
				sh = state.New(e.Subject)
				reference[e.Subject] = sh
			}
			if _, err := state.Apply(sh, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	expected := 0
	for _, l := range stream.Labels {
		if l.Kind != "expected" {
			continue
		}
		expected++
		p := bus.PartitionOf([]byte(l.Shipment), len(ends))
		got, err := sys.Store.Load(ctx, p, []event.ShipmentID{l.Shipment})
		if err != nil {
			t.Fatal(err)
		}
		sh := got[l.Shipment]
		if sh == nil {
			t.Fatalf("shipment %s is not in Redis", l.Shipment)
		}
		if string(sh.Status) != l.Values["status"] {
			t.Errorf("shipment %s: status %s, the ground truth says %v", l.Shipment, sh.Status, l.Values["status"])
		}
		stored, _ := state.Encode(sh)
		want, _ := state.Encode(reference[l.Shipment])
		if string(stored) != string(want) {
			t.Errorf("shipment %s differs from the input applied once:\n got  %.300s\n want %.300s", l.Shipment, stored, want)
		}
	}
	sc, err := sim.LoadScenario("clean")
	if err != nil {
		t.Fatal(err)
	}
	if expected != len(sc.Shipments) || expected != len(reference) {
		t.Fatalf("%d labels, %d shipments in the scenario, %d on inbond.events", expected, len(sc.Shipments), len(reference))
	}
	// The API stage serves the same state, and is ready: Redis and Kafka
	// reachable, the processor's group holding every partition.
	base := "http://" + sys.API.Addr()
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	getJSON(t, base+"/readyz", "", &ready)
	if ready.Status != "ok" || ready.Checks["partitions"] != "ok" {
		t.Errorf("readyz: %+v, want ok with the partitions checked", ready)
	}
	var list struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	getJSON(t, base+"/v1/shipments?limit=500", officer, &list)
	if len(list.Items) != expected {
		t.Errorf("the API lists %d shipments, want %d", len(list.Items), expected)
	}
	if err := sys.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	t.Logf("%d messages, %d shipments: every one in Redis as the ground truth says", n, expected)
}

// getJSON GETs url (with a bearer token unless empty), wants 200 and decodes
// the body into v.
func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, body)
	}
}

// waitStored waits until Redis holds every partition's position at its end.
func waitStored(ctx context.Context, t *testing.T, rdb *redis.Client, store *state.Store, ends []int64) {
	t.Helper()
	for p, end := range ends {
		for {
			off, err := rdb.HGet(ctx, store.OffsetKey(p), "offset").Int64()
			if err != nil && err != redis.Nil {
				t.Fatal(err)
			}
			if end == 0 || off >= end {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("partition %d: stored offset %d, end %d", p, off, end)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// A stage that cannot start fails Start with what to fix, and leaves nothing running.
func TestStartRefusesWhatCannotRun(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		cfg  pipeline.Config
		want string
	}{
		"no brokers": {pipeline.Config{}, "no Kafka brokers"},
		"no gateway": {pipeline.Config{Kafka: pipeline.Kafka{Embedded: true}, Ingest: &pipeline.Ingest{}}, "no gateway configured"},
		"redis unreachable": {pipeline.Config{Kafka: pipeline.Kafka{Embedded: true}, Redis: pipeline.Redis{Addr: "127.0.0.1:1"},
			Process: &processor.Config{}}, "redis 127.0.0.1:1"},
		"hash tag in the key prefix": {pipeline.Config{Kafka: pipeline.Kafka{Embedded: true}, Redis: pipeline.Redis{Client: testenv.NewRedis(t).Client, Prefix: "{p1}"},
			Process: &processor.Config{}}, "prefix"},
	} {
		sys, err := pipeline.Start(ctx, c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Start returned %v; want an error saying %q", name, err, c.want)
		}
		if sys != nil {
			_ = sys.Stop()
		}
	}
}
