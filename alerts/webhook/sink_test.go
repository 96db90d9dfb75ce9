package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/webhook"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// request is what a receiver got.
type request struct {
	id, timestamp, signature, contentType string
	body                                  []byte
	status                                int   // what the receiver answered
	verifyErr                             error // the official library's verdict, timestamp tolerance on
}

// receiver is a webhook endpoint on a real HTTP server that verifies every
// request with the official Standard Webhooks library.
type receiver struct {
	srv *httptest.Server
	lib *standardwebhooks.Webhook
	// respond returns the status to answer the n-th request (from 1) with
	// webhook-id id; nil answers 200.
	respond func(id string, n int) int
	delay   func() time.Duration // before answering; nil for none

	mu   sync.Mutex // guards the fields below
	reqs []request
	seen map[string]int // requests by webhook-id
}

func newReceiver(t *testing.T, secret string, respond func(id string, n int) int) *receiver {
	t.Helper()
	lib, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{lib: lib, respond: respond, seen: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	q := request{
		id: req.Header.Get("webhook-id"), timestamp: req.Header.Get("webhook-timestamp"),
		signature: req.Header.Get("webhook-signature"), contentType: req.Header.Get("Content-Type"),
		body: body, status: http.StatusOK, verifyErr: r.lib.Verify(body, req.Header),
	}
	r.mu.Lock()
	r.seen[q.id]++
	n := r.seen[q.id]
	r.mu.Unlock()
	if r.respond != nil {
		q.status = r.respond(q.id, n)
	}
	if r.delay != nil {
		select {
		case <-time.After(r.delay()):
		case <-req.Context().Done():
			return // the sink gave up on it: not an answer
		}
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, q)
	r.mu.Unlock()
	w.WriteHeader(q.status)
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reqs)
}

// delivered returns how many 2xx answers each webhook-id got.
func (r *receiver) delivered() map[string]int {
	out := map[string]int{}
	for _, q := range r.requests() {
		if q.status/100 == 2 {
			out[q.id]++
		}
	}
	return out
}

// published is a transition as it went to inbond.alerts.
type published struct {
	id       string
	shipment event.ShipmentID
	rule     alerts.Rule
	severity alerts.Severity
	body     []byte
}

var testRules = []alerts.Rule{alerts.RuleSeal, alerts.RuleRoute, alerts.RuleOverdue, alerts.RuleGap, alerts.RuleDiversion, alerts.RuleImbalance}

// transitions returns n alert transitions over a few shipments: each alert
// opened, and every other one then resolved, with the rules' default
// severities (and some info).
func transitions(t *testing.T, n int) []published {
	t.Helper()
	at := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	var out []published
	for i := 0; len(out) < n; i++ {
		rule := testRules[i%len(testRules)]
		sev := alerts.DefaultSeverity[rule]
		if i%5 == 4 {
			sev = alerts.SeverityInfo
		}
		ship := event.ShipmentID(fmt.Sprintf("S%02d", i%7))
		a := alerts.Open(ship, rule, sev, fmt.Sprintf("evt-%d", i), at.Add(time.Duration(i)*time.Minute), "test "+string(rule), alerts.Evidence{})
		changes := []alerts.Change{a.History[0]}
		if i%2 == 1 {
			c, err := a.Resolve(at.Add(time.Duration(i+1)*time.Minute), alerts.System, "cleared")
			if err != nil {
				t.Fatal(err)
			}
			changes = append(changes, c)
		}
		for _, c := range changes {
			if len(out) == n {
				break
			}
			tr := alerts.Transition{Alert: *a, Change: c}
			b, err := tr.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, published{id: tr.ID(), shipment: ship, rule: rule, severity: sev, body: b})
		}
	}
	return out
}

// publish writes the transitions to inbond.alerts keyed by shipment, as the
// processor does, and raw records after them.
func publish(t *testing.T, brokers []string, ps []published, raw ...kafka.Message) {
	t.Helper()
	w := bus.NewWriter(brokers)
	defer w.Close()
	msgs := make([]kafka.Message, 0, len(ps)+len(raw))
	for _, p := range ps {
		msgs = append(msgs, kafka.Message{Topic: string(event.TopicAlerts), Key: []byte(p.shipment), Value: p.body})
	}
	for _, m := range raw {
		m.Topic = string(event.TopicAlerts)
		msgs = append(msgs, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// sinkRun is a running sink.
type sinkRun struct {
	cancel  context.CancelFunc
	done    chan error
	stopped sync.Once
}

// start runs a sink with cfg on brokers until stop or the test's end.
func start(t *testing.T, brokers []string, cfg webhook.Config, m *webhook.Metrics) *sinkRun {
	t.Helper()
	s, err := webhook.New(cfg, webhook.Options{Brokers: brokers, Metrics: m, SessionTimeout: 2 * time.Second, Log: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &sinkRun{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the sink and waits for Run, which must return nil.
func (r *sinkRun) stop(t *testing.T) {
	t.Helper()
	r.stopped.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30 s of its context's end")
		}
	})
}

func config(group string, targets ...webhook.Target) webhook.Config {
	return webhook.Config{GroupID: group, Backoff: fastBackoff, Timeout: 2 * time.Second, Targets: targets}
}

// eventually polls cond until it holds or within passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// committed returns the group's committed offset of each partition of
// inbond.alerts (-1 where none).
func committed(t *testing.T, brokers []string, group string) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: kafka.TCP(brokers...)}
	parts := []int{0, 1, 2}
	resp, err := c.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{string(event.TopicAlerts): parts}})
	if err != nil {
		t.Fatal(err)
	}
	out := []int64{-1, -1, -1}
	for _, p := range resp.Topics[string(event.TopicAlerts)] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// waitCommitted waits until the group has committed every record of
// inbond.alerts.
func waitCommitted(t *testing.T, brokers []string, group string) {
	t.Helper()
	ends := testenv.EndOffsets(t, brokers, string(event.TopicAlerts))
	var got []int64
	eventually(t, 15*time.Second, "offsets committed up to the end", func() bool {
		got = committed(t, brokers, group)
		for p, end := range ends {
			if end > 0 && got[p] != end {
				return false
			}
		}
		return true
	})
	t.Logf("committed %v = end offsets %v", got, ends)
}

func TestSinkDeliversSignedAndFiltered(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	sAll, sCrit, sSeal := newSecret(t), newSecret(t), newSecret(t)
	all, crit, seal := newReceiver(t, sAll, nil), newReceiver(t, sCrit, nil), newReceiver(t, sSeal, nil)
	ps := transitions(t, 60)
	want := map[*receiver][]string{}
	for _, p := range ps {
		want[all] = append(want[all], p.id)
		if p.severity == alerts.SeverityCritical {
			want[crit] = append(want[crit], p.id)
		}
		if p.rule == alerts.RuleSeal && p.severity != alerts.SeverityInfo {
			want[seal] = append(want[seal], p.id)
		}
	}
	reg := prometheus.NewRegistry()
	m := webhook.NewMetrics(reg)
	start(t, brokers, config("g-filters",
		webhook.Target{Name: "all", URL: all.srv.URL, Secret: sAll},
		webhook.Target{Name: "critical", URL: crit.srv.URL + "/critical", Secret: sCrit, MinSeverity: alerts.SeverityCritical},
		webhook.Target{Name: "seal", URL: seal.srv.URL, Secret: sSeal, MinSeverity: alerts.SeverityWarning, Rules: []alerts.Rule{alerts.RuleSeal}},
	), m)
	t0 := time.Now()
	publish(t, brokers, ps)
	for r, ids := range want {
		eventually(t, 20*time.Second, "every matching transition delivered", func() bool { return len(r.delivered()) >= len(ids) })
	}
	t.Logf("%d transitions delivered to 3 targets (%d, %d, %d) in %s", len(ps), len(want[all]), len(want[crit]), len(want[seal]), time.Since(t0).Round(time.Millisecond))
	waitCommitted(t, brokers, "g-filters")

	bodies := map[string][]byte{}
	for _, p := range ps {
		bodies[p.id] = p.body
	}
	for r, ids := range want {
		got := r.delivered()
		if len(got) != len(ids) {
			t.Errorf("%s: %d distinct ids delivered, want %d", r.srv.URL, len(got), len(ids))
		}
		for _, id := range ids {
			if got[id] != 1 {
				t.Errorf("%s: %s delivered %d times", r.srv.URL, id, got[id])
			}
		}
		for _, q := range r.requests() {
			if q.verifyErr != nil || q.contentType != "application/cloudevents+json" || string(q.body) != string(bodies[q.id]) {
				t.Errorf("request %s: verify %v, content type %q, body as published: %v", q.id, q.verifyErr, q.contentType, string(q.body) == string(bodies[q.id]))
			}
			var ce alerts.TransitionEvent
			if err := json.Unmarshal(q.body, &ce); err != nil || ce.ID != q.id {
				t.Errorf("webhook-id %s, CloudEvents id %s (%v)", q.id, ce.ID, err)
			}
		}
	}
	// Per-target order: each shipment's transitions arrive as published.
	order := map[event.ShipmentID][]string{}
	for _, p := range ps {
		order[p.shipment] = append(order[p.shipment], p.id)
	}
	arrived := map[event.ShipmentID][]string{}
	for _, q := range all.requests() {
		var ce alerts.TransitionEvent
		_ = json.Unmarshal(q.body, &ce)
		arrived[ce.Subject] = append(arrived[ce.Subject], q.id)
	}
	for ship, ids := range order {
		if !slices.Equal(arrived[ship], ids) {
			t.Errorf("shipment %s: arrived in order %v, published %v", ship, arrived[ship], ids)
		}
	}
	for name, r := range map[string]*receiver{"all": all, "critical": crit, "seal": seal} {
		if v := testutil.ToFloat64(m.Deliveries.WithLabelValues(name, "delivered")); int(v) != len(want[r]) {
			t.Errorf("inbond_webhook_deliveries_total{target=%q,outcome=delivered} = %v, want %d", name, v, len(want[r]))
		}
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n == 0 {
		t.Errorf("registry: %d metrics, %v", n, err)
	}
}

func TestSinkRetriesThenDeliversOnce(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	secret := newSecret(t)
	flaky := newReceiver(t, secret, func(_ string, n int) int {
		if n <= 3 {
			return []int{http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusTooManyRequests}[n-1]
		}
		return http.StatusAccepted
	})
	ps := transitions(t, 5)
	m := webhook.NewMetrics(prometheus.NewRegistry())
	start(t, brokers, config("g-retry", webhook.Target{Name: "flaky", URL: flaky.srv.URL, Secret: secret}), m)
	t0 := time.Now()
	publish(t, brokers, ps)
	eventually(t, 20*time.Second, "every transition delivered", func() bool { return len(flaky.delivered()) == len(ps) })
	t.Logf("%d transitions delivered, each on its 4th attempt, in %s", len(ps), time.Since(t0).Round(time.Millisecond))
	waitCommitted(t, brokers, "g-retry")

	byID := map[string][]request{}
	for _, q := range flaky.requests() {
		byID[q.id] = append(byID[q.id], q)
	}
	for _, p := range ps {
		qs := byID[p.id]
		if len(qs) != 4 {
			t.Errorf("%s: %d requests, want 3 failures and 1 delivery", p.id, len(qs))
			continue
		}
		for i, q := range qs {
			if q.id != p.id || q.verifyErr != nil || string(q.body) != string(p.body) {
				t.Errorf("%s attempt %d: webhook-id %s, verify %v, body as published %v", p.id, i+1, q.id, q.verifyErr, string(q.body) == string(p.body))
			}
		}
		if qs[3].status != http.StatusAccepted {
			t.Errorf("%s: last answer %d", p.id, qs[3].status)
		}
	}
	for result, want := range map[string]int{"ok": len(ps), "http_status": 3 * len(ps)} {
		if v := testutil.ToFloat64(m.Attempts.WithLabelValues("flaky", result)); int(v) != want {
			t.Errorf("attempts_total{result=%s} = %v, want %d", result, v, want)
		}
	}
	if v := testutil.ToFloat64(m.Deliveries.WithLabelValues("flaky", "delivered")); int(v) != len(ps) {
		t.Errorf("deliveries_total{delivered} = %v", v)
	}
	if n := testutil.CollectAndCount(m.DeadLetters); n != 0 {
		t.Errorf("%d dead letters", n)
	}
}

func TestSinkDeadLettersAfterAttemptsAndCommits(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	sDown, sUp := newSecret(t), newSecret(t)
	down := newReceiver(t, sDown, func(string, int) int { return http.StatusInternalServerError })
	up := newReceiver(t, sUp, nil)
	ps := transitions(t, 6)
	garbage := kafka.Message{Key: []byte("S99"), Value: []byte("not a CloudEvent \xff")}
	m := webhook.NewMetrics(prometheus.NewRegistry())
	const attempts = 4
	start(t, brokers, config("g-dlq",
		webhook.Target{Name: "down", URL: down.srv.URL, Secret: sDown, Attempts: attempts},
		webhook.Target{Name: "up", URL: up.srv.URL, Secret: sUp},
	), m)
	t0 := time.Now()
	publish(t, brokers, ps, garbage)

	dlq := testenv.ReadTopic(t, brokers, string(webhook.TopicDLQ), len(ps)+1, 30*time.Second)
	t.Logf("%d dead letters in %s", len(ps)+1, time.Since(t0).Round(time.Millisecond))
	var recs []webhook.DeadLetterRecord
	for _, msgs := range dlq {
		for _, msg := range msgs {
			var rec webhook.DeadLetterRecord
			if err := json.Unmarshal(msg.Value, &rec); err != nil {
				t.Fatalf("dead letter %s: %v", msg.Value, err)
			}
			recs = append(recs, rec)
		}
	}
	if len(recs) != len(ps)+1 {
		t.Fatalf("%d dead letters, want %d", len(recs), len(ps)+1)
	}
	bodies := map[string]string{}
	for _, p := range ps {
		bodies[p.id] = string(p.body)
	}
	invalid := 0
	for _, rec := range recs {
		if rec.Reason == webhook.ReasonInvalidEvent {
			invalid++
			if rec.Target != "" || string(rec.EventBase64) != string(garbage.Value) || !strings.Contains(rec.Error, "not an alert transition") {
				t.Errorf("invalid record's dead letter: %+v", rec)
			}
			continue
		}
		if rec.Target != "down" || rec.Reason != webhook.ReasonStatus || rec.StatusCode != 500 || rec.Attempts != attempts ||
			string(rec.Event) != bodies[rec.EventID] || rec.Source.Topic != "inbond.alerts" || !strings.Contains(rec.Error, "500") {
			t.Errorf("dead letter: %+v", rec)
		}
		delete(bodies, rec.EventID)
	}
	if invalid != 1 || len(bodies) != 0 {
		t.Errorf("%d invalid-event dead letters, transitions never dead-lettered: %v", invalid, bodies)
	}
	waitCommitted(t, brokers, "g-dlq")

	perID := map[string]int{}
	for _, q := range down.requests() {
		perID[q.id]++
	}
	for _, p := range ps {
		if perID[p.id] != attempts {
			t.Errorf("down got %s %d times, want %d", p.id, perID[p.id], attempts)
		}
	}
	if got := up.delivered(); len(got) != len(ps) {
		t.Errorf("the healthy target got %d of %d", len(got), len(ps))
	}
	for labels, want := range map[[2]string]int{{"down", "http_status"}: len(ps), {"", "invalid_event"}: 1} {
		if v := testutil.ToFloat64(m.DeadLetters.WithLabelValues(labels[0], labels[1])); int(v) != want {
			t.Errorf("dead_letters_total%v = %v, want %d", labels, v, want)
		}
	}
	if v := testutil.ToFloat64(m.Deliveries.WithLabelValues("down", "dead_lettered")); int(v) != len(ps) {
		t.Errorf("deliveries_total{down,dead_lettered} = %v", v)
	}
}

// TestSinkRestartDeliversEverything ends a sink mid-stream and starts
// another in the same group: deduplicated by webhook-id, each receiver has
// every transition. Two targets: "slow" answers after up to 8 ms and fails
// a third of the transitions once; "fast" answers at once and so runs ahead
// of the commits, which wait for slow. "stopped" ends the first sink's
// context (it commits what it settled and leaves the group); "killed"
// SIGKILLs a sink running in a child process, which commits nothing more and
// leaves its partitions to the session timeout.
func TestSinkRestartDeliversEverything(t *testing.T) {
	for _, kill := range []bool{false, true} {
		t.Run(map[bool]string{false: "stopped", true: "killed"}[kill], func(t *testing.T) {
			brokers := testenv.Kafka(t, embedded.KafkaConfig{})
			sSlow, sFast := newSecret(t), newSecret(t)
			slow := newReceiver(t, sSlow, func(id string, n int) int {
				if n == 1 && id[0]%3 == 0 {
					return http.StatusBadGateway
				}
				return http.StatusOK
			})
			slow.delay = func() time.Duration { return time.Duration(rand.IntN(8)) * time.Millisecond }
			fast := newReceiver(t, sFast, nil)
			ps := transitions(t, 240)
			const group = "g-restart"
			targets := []webhook.Target{
				{Name: "slow", URL: slow.srv.URL, Secret: sSlow},
				{Name: "fast", URL: fast.srv.URL, Secret: sFast},
			}
			publish(t, brokers, ps)

			t0 := time.Now()
			var end func()
			if kill {
				end = startChild(t, child{Brokers: brokers, Group: group, Targets: targets})
			} else {
				first := start(t, brokers, config(group, targets...), nil)
				end = func() { first.stop(t) }
			}
			eventually(t, 30*time.Second, "a third delivered to slow by the first sink", func() bool { return len(slow.delivered()) >= len(ps)/3 })
			end()
			t.Logf("first sink ended after %d (slow) and %d (fast) distinct deliveries in %s; committed %v",
				len(slow.delivered()), len(fast.delivered()), time.Since(t0).Round(time.Millisecond), committed(t, brokers, group))
			if len(slow.delivered()) == len(ps) {
				t.Fatal("the first sink delivered everything before it ended: nothing was mid-stream")
			}

			start(t, brokers, config(group, targets...), nil)
			for _, r := range []*receiver{slow, fast} {
				eventually(t, 30*time.Second, "every transition delivered", func() bool { return len(r.delivered()) == len(ps) })
			}
			waitCommitted(t, brokers, group)
			for name, r := range map[string]*receiver{"slow": slow, "fast": fast} {
				got := r.delivered()
				dups := 0
				for _, p := range ps {
					switch n := got[p.id]; {
					case n == 0:
						t.Errorf("%s: %s never delivered", name, p.id)
					case n > 1:
						dups += n - 1
					}
				}
				for _, q := range r.requests() {
					if q.verifyErr != nil {
						t.Errorf("%s: %s: %v", name, q.id, q.verifyErr)
					}
				}
				t.Logf("%s: %d transitions, none missing, %d delivered again after the restart (receivers dedupe by webhook-id)", name, len(ps), dups)
			}
			t.Logf("%s in all", time.Since(t0).Round(time.Millisecond))
		})
	}
}

// child is the configuration of a sink run in a child process (the test
// binary again, see TestMain), passed in childEnv as JSON.
type child struct {
	Brokers []string
	Group   string
	Targets []webhook.Target
}

const childEnv = "INBOND_WEBHOOK_TEST_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// runChild runs the sink the spec describes until the process is killed.
func runChild(spec string) int {
	var c child
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 2
	}
	s, err := webhook.New(config(c.Group, c.Targets...),
		webhook.Options{Brokers: c.Brokers, SessionTimeout: 2 * time.Second})
	if err == nil {
		err = s.Run(context.Background())
	}
	fmt.Fprintln(os.Stderr, "child:", err)
	return 1
}

// startChild starts a sink in a child process and returns the function that
// SIGKILLs it.
func startChild(t *testing.T, c child) (kill func()) {
	t.Helper()
	spec, _ := json.Marshal(c)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(kill)
	return kill
}
