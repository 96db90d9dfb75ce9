package report_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/retry"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/inbond/inbond/pipeline"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/report"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"
	"golang.org/x/mod/sumdb/note"
)

func TestSchedulerPeriods(t *testing.T) {
	if _, err := report.NewScheduler(report.SchedulerConfig{Dir: t.TempDir(),
		Source: report.Source{Brokers: []string{"x"}, Log: fakeLog{}}}); err == nil {
		t.Fatal("a scheduler without a verifier key was accepted")
	}
	for _, bad := range []string{"http://example.com/in", "ftp://x", "https://"} {
		if _, err := report.NewScheduler(report.SchedulerConfig{Dir: t.TempDir(), Endpoint: bad, Source: validSource(t)}); err == nil {
			t.Errorf("endpoint %q accepted", bad)
		}
	}
	s, err := report.NewScheduler(report.SchedulerConfig{Dir: t.TempDir(), Grace: 6 * time.Hour, Source: validSource(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ now, closed, due string }{
		{"2026-11-01T05:59:59Z", "2026-09", "2026-11-01T06:00:00Z"},
		{"2026-11-01T06:00:00Z", "2026-10", "2026-12-01T06:00:00Z"},
		{"2026-11-30T23:00:00Z", "2026-10", "2026-12-01T06:00:00Z"},
		{"2027-01-01T06:00:00Z", "2026-12", "2027-02-01T06:00:00Z"},
	} {
		now, _ := time.Parse(time.RFC3339, c.now)
		if got := s.LastClosed(now).String(); got != c.closed {
			t.Errorf("at %s the last closed period is %s, want %s", c.now, got, c.closed)
		}
		if got := s.NextDue(now).Format(time.RFC3339); got != c.due {
			t.Errorf("at %s the next period is due at %s, want %s", c.now, got, c.due)
		}
	}
}

// fakeLog only fills a Source for the config checks: nothing reads it.
type fakeLog struct{}

func (fakeLog) ReadCheckpoint(context.Context) ([]byte, error) { return nil, io.EOF }
func (fakeLog) ReadEntryBundle(context.Context, uint64, uint8) ([]byte, error) {
	return nil, io.EOF
}

func validSource(t *testing.T) report.Source {
	t.Helper()
	_, vkey, err := note.GenerateKey(rand.Reader, "example.com/log")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return report.Source{Brokers: []string{"127.0.0.1:1"}, Log: fakeLog{}, Key: v}
}

// receiver is an HTTPS endpoint that keeps what it accepted by
// Idempotency-Key and fails requests as its plan says.
type receiver struct {
	t    *testing.T
	mu   sync.Mutex
	plan func(n int) string // for the n-th request (0-based): ok, 503, drop, 500
	n    int
	// byKey is the body accepted under each key; names the file name it
	// came as; dups counts accepted re-deliveries of a key.
	byKey         map[string][]byte
	names         map[string]string
	dups, refused int
}

func newReceiver(t *testing.T, plan func(int) string) (*receiver, *httptest.Server) {
	r := &receiver{t: t, plan: plan, byKey: map[string][]byte{}, names: map[string]string{}}
	srv := httptest.NewTLSServer(r)
	t.Cleanup(srv.Close)
	return r, srv
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		r.t.Errorf("read a delivery: %v", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	action := r.plan(r.n)
	r.n++
	switch action {
	case "503":
		r.refused++
		// A fresh connection for the next attempt: the drop that follows
		// must reach the scheduler, not be re-sent by Go's transport
		// (which it does on a reused connection for a request with an
		// Idempotency-Key).
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case "500":
		r.refused++
		w.WriteHeader(http.StatusInternalServerError)
		return
	case "drop":
		r.refused++
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			r.t.Errorf("hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	key := req.Header.Get("Idempotency-Key")
	_, params, err := mime.ParseMediaType(req.Header.Get("Content-Disposition"))
	name := params["filename"]
	if key == "" || err != nil || name == "" {
		r.t.Errorf("a delivery without Idempotency-Key or file name: %v", req.Header)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if want := report.ContentType(strings.TrimPrefix(filepath.Ext(name), ".")); req.Header.Get("Content-Type") != want {
		r.t.Errorf("%s came as %q, want %q", name, req.Header.Get("Content-Type"), want)
	}
	if prev, ok := r.byKey[key]; ok {
		// A re-delivery: harmless only when it is the same file.
		if !bytes.Equal(prev, body) || r.names[key] != name {
			r.t.Errorf("key %s delivered twice with different content (%s, then %s)", key, r.names[key], name)
		}
		r.dups++
		w.WriteHeader(http.StatusOK)
		return
	}
	r.byKey[key], r.names[key] = body, name
	w.WriteHeader(http.StatusCreated)
}

func (r *receiver) snapshot() (requests, keys, dups, refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, len(r.byKey), r.dups, r.refused
}

// anchoredMonth runs the report tests' month through the processor (ledger
// on) and a real Tessera log, waits until every record is anchored, and
// returns the source a report is computed and verified from.
func anchoredMonth(t *testing.T, ctx context.Context) report.Source {
	t.Helper()
	out := t.TempDir()
	cfg := pipeline.Embedded(0, "127.0.0.1:0")
	cfg.Redis = pipeline.Redis{InProcess: true, Prefix: "inbond-report-sched-test:"}
	cfg.Process = &processor.Config{Owner: "report-sched-test", SessionTimeout: 6 * time.Second, FrozenClock: true, StallAfter: -1,
		Ledger: true, CheckpointInterval: 200 * time.Millisecond}
	cfg.Anchor = &anchor.Config{Dir: filepath.Join(out, "log"), KeyFile: filepath.Join(out, "ledger.key")}
	sys, err := pipeline.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop() })
	w := bus.NewWriter(sys.Brokers)
	w.Topic = string(event.TopicEvents)
	var msgs []kafka.Message
	for _, r := range archive(t, month(t)) {
		e, err := event.UnmarshalCanonical(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(e.Subject), Value: r.Value})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	for {
		ends, err := bus.EndOffsets(ctx, sys.Brokers, string(event.TopicEvents))
		if err != nil {
			t.Fatal(err)
		}
		stored, err := sys.Store.Offsets(ctx, len(ends))
		if err != nil {
			t.Fatal(err)
		}
		behind, err := audit.Unanchored(ctx, sys.Store, len(ends))
		if err != nil {
			t.Fatal(err)
		}
		caught := true
		for p, end := range ends {
			caught = caught && max(stored[p], 0) >= end
		}
		if caught && behind == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the pipeline did not anchor every history: %d behind", behind)
		case <-time.After(100 * time.Millisecond):
		}
	}
	lr, err := report.OpenLog(cfg.Anchor.Dir)
	if err != nil {
		t.Fatal(err)
	}
	key, err := audit.Verifier(sys.Anchor.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := bus.PartitionCount(ctx, sys.Brokers, string(event.TopicEvents))
	if err != nil {
		t.Fatal(err)
	}
	return report.Source{Brokers: sys.Brokers, Log: lr, Key: key, Alerts: (&desk.Desk{Store: sys.Store, Partitions: n}).All}
}

func at(s string) func() time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}

// reportFiles lists Dir's report files (not the scheduler's state).
func reportFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}

// The scheduler on the month's archive: a period whose grace has not
// elapsed is not produced; a receiver down makes it give up and count it;
// the next start delivers every file exactly once by key through a 503
// with Retry-After and a dropped connection, without producing a closed
// period again; a third start delivers nothing; a re-POST is the same
// delivery; the files are those `inbond report doe --tree-size N` writes
// for the checkpoint they name, and verify.
func TestSchedulerProducesOnceAndDeliversExactlyOnceByKey(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	src := anchoredMonth(t, ctx)
	dir := t.TempDir()
	formats := []string{"csv", "json", "html"}
	perPeriod := len(report.Forms)*2 + 1
	fast := retry.Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}

	// 1. Five seconds before October's grace ends: September only (the
	// archive's first event is at 2026-09-30T23:55:01Z). The receiver is
	// down: each file is given up after its two attempts.
	_, down := newReceiver(t, func(int) string { return "500" })
	m1 := report.NewSchedulerMetrics(nil)
	s1, err := report.NewScheduler(report.SchedulerConfig{Source: src, Dir: dir, Endpoint: down.URL, Client: down.Client(),
		Grace: 6 * time.Hour, Formats: formats, Retry: fast, Attempts: 2, Metrics: m1, Now: at("2026-11-01T05:59:55Z")})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := s1.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p1.Produced, []string{"2026-09"}) || len(p1.Delivered) != 0 || len(p1.Failed) != perPeriod || p1.Undelivered != perPeriod {
		t.Fatalf("first pass: %+v; want 2026-09 produced and its %d files given up", p1, perPeriod)
	}
	for _, name := range reportFiles(t, dir) {
		if !strings.Contains(name, "-2026-09.") {
			t.Errorf("%s written before its period's grace elapsed", name)
		}
	}
	if n := len(reportFiles(t, dir)); n != perPeriod {
		t.Fatalf("%d files in the directory, want %d", n, perPeriod)
	}
	if got := testutil.ToFloat64(m1.Deliveries.WithLabelValues("gave_up")); got != float64(perPeriod) {
		t.Errorf("gave_up %v, want %d", got, perPeriod)
	}
	if got := testutil.ToFloat64(m1.Attempts.WithLabelValues("http_status")); got != float64(2*perPeriod) {
		t.Errorf("%v failed attempts counted, want %d", got, 2*perPeriod)
	}
	if got := testutil.ToFloat64(m1.Undelivered); got != float64(perPeriod) {
		t.Errorf("undelivered gauge %v, want %d", got, perPeriod)
	}
	septRecord, err := os.ReadFile(filepath.Join(dir, report.StateDir, "produced-2026-09.json"))
	if err != nil {
		t.Fatal(err)
	}
	septFiles := readAll(t, dir)

	// 2. A restart once October's grace has elapsed, through Run: the
	// receiver answers 503 Retry-After 1, then drops the connection, then
	// takes everything.
	rcv, srv := newReceiver(t, func(n int) string {
		switch n {
		case 0:
			return "503"
		case 1:
			return "drop"
		}
		return "ok"
	})
	m2 := report.NewSchedulerMetrics(nil)
	s2, err := report.NewScheduler(report.SchedulerConfig{Source: src, Dir: dir, Endpoint: srv.URL, Client: srv.Client(),
		Grace: 6 * time.Hour, Formats: formats, Retry: fast, Attempts: 5, Metrics: m2, Now: at("2026-11-01T06:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	start := time.Now()
	go func() { runErr <- s2.Run(runCtx) }()
	for {
		if _, keys, _, _ := rcv.snapshot(); keys == 2*perPeriod && testutil.ToFloat64(m2.Deliveries.WithLabelValues("delivered")) == float64(2*perPeriod) {
			break
		}
		select {
		case <-ctx.Done():
			_, keys, _, _ := rcv.snapshot()
			t.Fatalf("the receiver has %d of %d files", keys, 2*perPeriod)
		case <-time.After(20 * time.Millisecond):
		}
	}
	elapsed := time.Since(start)
	stop()
	if err := <-runErr; err != nil {
		t.Fatalf("Run: %v", err)
	}
	requests, keys, dups, refused := rcv.snapshot()
	if requests != 2*perPeriod+2 || keys != 2*perPeriod || dups != 0 || refused != 2 {
		t.Fatalf("the receiver got %d requests, %d keys, %d re-deliveries, %d refused; want %d, %d, 0, 2", requests, keys, dups, refused, 2*perPeriod+2, 2*perPeriod)
	}
	if elapsed < time.Second {
		t.Errorf("all delivered in %s: the Retry-After of 1 s was not honoured", elapsed)
	}
	for _, c := range []struct {
		name string
		got  float64
		want int
	}{
		{"periods produced", testutil.ToFloat64(m2.Periods), 1},
		{"delivered", testutil.ToFloat64(m2.Deliveries.WithLabelValues("delivered")), 2 * perPeriod},
		{"gave_up", testutil.ToFloat64(m2.Deliveries.WithLabelValues("gave_up")), 0},
		{"attempts ok", testutil.ToFloat64(m2.Attempts.WithLabelValues("ok")), 2 * perPeriod},
		{"attempts http_status", testutil.ToFloat64(m2.Attempts.WithLabelValues("http_status")), 1},
		{"attempts transport", testutil.ToFloat64(m2.Attempts.WithLabelValues("transport")), 1},
		{"undelivered", testutil.ToFloat64(m2.Undelivered), 0},
	} {
		if c.got != float64(c.want) {
			t.Errorf("%s: %v, want %d", c.name, c.got, c.want)
		}
	}
	// September was not redone: its record and files are as written in 1.
	if b, _ := os.ReadFile(filepath.Join(dir, report.StateDir, "produced-2026-09.json")); !bytes.Equal(b, septRecord) {
		t.Error("the restart produced 2026-09 again")
	}
	for name, b := range septFiles {
		if now, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(now, b) {
			t.Errorf("%s changed at the restart", name)
		}
	}
	files := readAll(t, dir)
	if len(files) != 2*perPeriod {
		t.Fatalf("%d report files, want %d: %v", len(files), 2*perPeriod, reportFiles(t, dir))
	}
	// Every file arrived, byte for byte, under the key its checkpoint
	// gives (computed here from the file's own provenance).
	byName := map[string]string{}
	for k, name := range rcv.names {
		byName[name] = k
		if !bytes.Equal(rcv.byKey[k], files[name]) {
			t.Errorf("%s arrived different from the file in the directory", name)
		}
	}
	for name, b := range files {
		form, period, ext, err := report.Identify(name)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := report.Provenance(ext, b)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte(string(form) + "|" + period.String() + "|" + ext + "|" + strconv.FormatUint(cp.TreeSize, 10) + "|" + cp.Root))
		if byName[name] != hex.EncodeToString(h[:]) {
			t.Errorf("%s arrived under key %q, want %x", name, byName[name], h)
		}
	}

	// 3. Another restart: nothing produced, nothing POSTed.
	s3, err := report.NewScheduler(report.SchedulerConfig{Source: src, Dir: dir, Endpoint: srv.URL, Client: srv.Client(),
		Grace: 6 * time.Hour, Formats: formats, Retry: fast, Now: at("2026-11-01T07:00:00Z")})
	if err != nil {
		t.Fatal(err)
	}
	p3, err := s3.Once(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(p3.Produced)+len(p3.Delivered)+len(p3.Failed)+p3.Undelivered != 0 {
		t.Fatalf("a restart did %+v", p3)
	}
	if n, _, _, _ := rcv.snapshot(); n != requests {
		t.Fatalf("a restart sent %d requests", n-requests)
	}

	// 4. A delivery record lost (a crash between the 2xx and the record):
	// the file goes again under the same key, and the receiver keeps one.
	lost := report.FileName(report.FormEIA814, mustPeriod(t, "2026-10"), "csv")
	if err := os.Remove(filepath.Join(dir, report.StateDir, "delivered", lost)); err != nil {
		t.Fatal(err)
	}
	p4, err := s3.Once(ctx)
	if err != nil || !slices.Equal(p4.Delivered, []string{lost}) {
		t.Fatalf("after losing %s's record: %+v, %v", lost, p4, err)
	}
	if _, keys, dups, _ := rcv.snapshot(); keys != 2*perPeriod || dups != 1 {
		t.Fatalf("the re-POST gave %d keys and %d re-deliveries; want %d and 1", keys, dups, 2*perPeriod)
	}

	// 5. The files are what `inbond report doe --period P --tree-size N
	// --format csv,json,html` writes (report.Open at N, ComputeAt,
	// WriteFiles), and each verifies.
	for _, period := range []string{"2026-09", "2026-10"} {
		p := mustPeriod(t, period)
		cp, err := report.Provenance("json", files[report.FileName(report.FormEIA814, p, "json")])
		if err != nil {
			t.Fatal(err)
		}
		snap, err := report.Open(ctx, src, cp.TreeSize)
		if err != nil {
			t.Fatal(err)
		}
		d, err := report.ComputeAt(p, snap)
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		written, err := report.WriteFiles(ctx, d, out, formats)
		if err != nil {
			t.Fatal(err)
		}
		if len(written) != perPeriod {
			t.Fatalf("report doe wrote %d files", len(written))
		}
		for _, f := range written {
			if !bytes.Equal(f.Data, files[f.Name]) {
				t.Errorf("%s differs from report doe's at tree size %d", f.Name, cp.TreeSize)
			}
			msg, err := report.Verify(ctx, src, f.Name, files[f.Name])
			if err != nil {
				t.Errorf("%s does not verify: %v", f.Name, err)
			} else if f.Name == report.FileName(report.FormEIA814, p, "csv") {
				t.Log(msg)
			}
		}
	}
}

func mustPeriod(t *testing.T, s string) report.Period {
	p, err := report.ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readAll(t *testing.T, dir string) map[string][]byte {
	out := map[string][]byte{}
	for _, name := range reportFiles(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}
