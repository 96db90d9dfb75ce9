package pipeline

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
)

// APIBenchConfig configures the API's load benchmark (`inbond bench api`).
type APIBenchConfig struct {
	Redis  *redis.Client // a real Redis; keys go under Prefix and are deleted afterwards
	Prefix string
	// Shipments in state before the API is measured (default 10,000).
	Shipments int
	// Rate is the events per second written to inbond.events while the API
	// is measured under ingest (default 10,000), for Duration (default 15 s).
	Rate     float64
	Duration time.Duration
	// Clients request the API concurrently, each one request after another
	// (default 4).
	Clients int
	// Streams are dashboards following /v1/stream while the API is
	// measured under ingest (default 2; -1 for none).
	Streams int
	Out     io.Writer // progress and results; nil for none
}

// APIRun is the API measured in one phase.
type APIRun struct {
	Requests  int
	PerSecond float64   // requests answered per second, all clients
	List      Latencies // GET /v1/shipments (a page of 50, a filter or a cursor)
	One       Latencies // GET /v1/shipments/{id}
	Ingested  float64   // events per second the processor stored meanwhile
}

func (r APIRun) String() string {
	return fmt.Sprintf("%6.0f req/s; list p50 %s p99 %s max %s; one shipment p50 %s p99 %s max %s; processor stored %.0f events/s meanwhile",
		r.PerSecond, r.List.P50.Round(10*time.Microsecond), r.List.P99.Round(10*time.Microsecond), r.List.Max.Round(10*time.Microsecond),
		r.One.P50.Round(10*time.Microsecond), r.One.P99.Round(10*time.Microsecond), r.One.Max.Round(10*time.Microsecond), r.Ingested)
}

// StreamRun is what the dashboards following /v1/stream received while
// the ingest phase's events were written.
type StreamRun struct {
	Streams int
	// Expected is the shipment updates each stream owes: one per event
	// written in the phase. Received is the fewest any stream got.
	Expected, Received int
	// PerSecond is the slowest stream's shipment updates per second, from
	// the first write to its last update.
	PerSecond float64
	// Behind is how long after the last event was written the slowest
	// stream had received its last update.
	Behind time.Duration
}

func (r StreamRun) String() string {
	return fmt.Sprintf("%d streams: the slowest received %d of %d shipment updates (%.0f/s), the last %s after the last write",
		r.Streams, r.Received, r.Expected, r.PerSecond, r.Behind.Round(time.Millisecond))
}

// APIBenchResult is the API idle (the baseline: same state, no ingest) and
// under ingest, with the dashboards' streams of the ingest phase.
type APIBenchResult struct {
	Idle, Ingesting APIRun
	Stream          StreamRun
}

// BenchAPI fills the state with Shipments shipments through the processor
// (rules and ledger on, as `inbond process` runs), then measures the API's
// shipment list and one-shipment reads twice with the same clients: first
// with nothing else running, then while Rate events per second of simulated
// carriers are written to inbond.events and processed. Kafka is in-process;
// Redis is cfg.Redis.
func BenchAPI(ctx context.Context, cfg APIBenchConfig) (APIBenchResult, error) {
	cfg.Shipments = cmp.Or(cfg.Shipments, 10_000)
	cfg.Rate = cmp.Or(cfg.Rate, 10_000)
	cfg.Duration = cmp.Or(cfg.Duration, 15*time.Second)
	cfg.Clients = cmp.Or(cfg.Clients, 4)
	cfg.Streams = max(cmp.Or(cfg.Streams, 2), 0)
	rules, err := alerts.DefaultEnv()
	if err != nil {
		return APIBenchResult{}, err
	}
	say := func(format string, args ...any) {
		if cfg.Out != nil {
			fmt.Fprintf(cfg.Out, format+"\n", args...)
		}
	}
	defer func() { _ = cleanup(cfg.Redis, cfg.Prefix) }()

	// The state: Shipments synthetic movements, each with its manifest and
	// a few events (sim.Workload: cheap to make, and its undeclared
	// corridors leave open alerts on most of them, so the list's alert
	// filters and summaries have work). The traffic ingested meanwhile:
	// simulated carriers on the shipped corridors (1,000 more movements),
	// where the rules do what they do in production.
	envs := sim.Workload(sim.WorkloadConfig{Shipments: cfg.Shipments, Events: cfg.Shipments * 6, Seed: 1})
	ids := make([]event.ShipmentID, 0, cfg.Shipments)
	seen := map[event.ShipmentID]bool{}
	for _, e := range envs {
		if !seen[e.Subject] {
			seen[e.Subject] = true
			ids = append(ids, e.Subject)
		}
	}
	ingest := int(cfg.Rate * cfg.Duration.Seconds())
	traffic, err := benchEvents(1000, ingest)
	if err != nil {
		return APIBenchResult{}, err
	}
	if len(traffic) < ingest {
		return APIBenchResult{}, fmt.Errorf("api bench: %d events of traffic, %d needed", len(traffic), ingest)
	}

	const token = "api-bench-token"
	sys, err := Start(ctx, Config{
		Kafka:   Kafka{Embedded: true},
		Redis:   Redis{Client: cfg.Redis, Prefix: cfg.Prefix},
		Process: &processor.Config{Owner: "api-bench", SessionTimeout: 6 * time.Second, Alerts: rules, Ledger: true},
		API:     &api.Config{Listen: "127.0.0.1:0", Tokens: []string{"cbp=" + token}, RateLimit: -1},
	})
	if err != nil {
		return APIBenchResult{}, err
	}
	defer sys.Stop() //nolint:errcheck // the benchmark's errors are reported first

	start := time.Now()
	if err := load(ctx, sys.Brokers, envs); err != nil {
		return APIBenchResult{}, err
	}
	if err := caughtUp(ctx, sys, cfg.Redis); err != nil {
		return APIBenchResult{}, err
	}
	say("filled: %d shipments (%d events) in state in %s", len(ids), len(envs), time.Since(start).Round(time.Millisecond))

	client := &apiClient{base: "http://" + sys.API.Addr(), token: token, ids: ids,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients}}}
	var res APIBenchResult
	if res.Idle, err = client.measure(ctx, cfg.Clients, cfg.Duration, nil); err != nil {
		return res, err
	}
	say("idle:      %s", res.Idle)
	before, err := storedEvents(ctx, sys, cfg.Redis)
	if err != nil {
		return res, err
	}
	streamCtx, endStreams := context.WithCancel(ctx)
	defer endStreams()
	streams := make([]*streamFollower, cfg.Streams)
	for i := range streams {
		if streams[i], err = client.follow(streamCtx); err != nil {
			return res, err
		}
	}
	began := time.Now()
	var written time.Time
	res.Ingesting, err = client.measure(ctx, cfg.Clients, cfg.Duration, func(ctx context.Context) error {
		err := paced(ctx, sys.Brokers, traffic, cfg.Rate)
		written = time.Now()
		return err
	})
	if err != nil {
		return res, err
	}
	after, err := storedEvents(ctx, sys, cfg.Redis)
	if err != nil {
		return res, err
	}
	res.Ingesting.Ingested = float64(after-before) / time.Since(began).Seconds()
	say("ingesting: %s", res.Ingesting)
	if len(streams) > 0 {
		res.Stream = streamResult(streams, len(traffic), written.Sub(began), written)
		say("streams:   %s", res.Stream)
		if res.Stream.Received != res.Stream.Expected {
			return res, fmt.Errorf("api bench: a stream received %d of the %d shipment updates", res.Stream.Received, res.Stream.Expected)
		}
	}
	return res, nil
}

// streamFollower is a dashboard following /v1/stream: it counts the
// shipment updates it receives and notes when the last one came.
type streamFollower struct {
	mu      sync.Mutex // guards the fields below, written by the reading goroutine
	updates int
	last    time.Time
	err     error
}

// follow connects a stream as the dashboard does and returns once the
// server has answered.
func (c *apiClient) follow(ctx context.Context) (*streamFollower, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/stream", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET /v1/stream: %s", resp.Status)
	}
	f := &streamFollower{}
	go func() { // ends when ctx does (the benchmark's end) or the server closes
		defer resp.Body.Close()
		lines := bufio.NewScanner(resp.Body)
		lines.Buffer(make([]byte, 64<<10), 4<<20)
		for lines.Scan() {
			if lines.Text() == "event: shipment" {
				f.mu.Lock()
				f.updates++
				f.last = time.Now()
				f.mu.Unlock()
			}
		}
		if ctx.Err() == nil {
			f.mu.Lock()
			f.err = cmp.Or(lines.Err(), io.ErrUnexpectedEOF)
			f.mu.Unlock()
		}
	}()
	return f, nil
}

// streamResult waits, up to a minute after the last write, for every
// stream to have received expected shipment updates, and reports the
// slowest one.
func streamResult(streams []*streamFollower, expected int, writing time.Duration, written time.Time) StreamRun {
	r := StreamRun{Streams: len(streams), Expected: expected, Received: expected}
	deadline := written.Add(time.Minute)
	for _, f := range streams {
		for {
			f.mu.Lock()
			n, last, err := f.updates, f.last, f.err
			f.mu.Unlock()
			if n >= expected || err != nil || time.Now().After(deadline) {
				r.Received = min(r.Received, n)
				r.Behind = max(r.Behind, last.Sub(written), 0)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	r.PerSecond = float64(r.Received) / (writing + r.Behind).Seconds()
	return r
}

// caughtUp waits until the processor's stored offsets reach every
// partition's end.
func caughtUp(ctx context.Context, sys *System, rdb *redis.Client) error {
	ends, err := bus.EndOffsets(ctx, sys.Brokers, string(event.TopicEvents))
	if err != nil {
		return err
	}
	for {
		done := true
		for p, end := range ends {
			off, err := rdb.HGet(ctx, sys.Store.OffsetKey(p), "offset").Int64()
			if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			done = done && off >= end
		}
		if done {
			return nil
		}
		select {
		case <-sys.Ended():
			return fmt.Errorf("a stage stopped: %v", sys.stageErrors())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// storedEvents is the sum of the processor's stored offsets: the events it
// has applied and flushed.
func storedEvents(ctx context.Context, sys *System, rdb *redis.Client) (int64, error) {
	var n int64
	for p := range bus.DefaultPartitions {
		off, err := rdb.HGet(ctx, sys.Store.OffsetKey(p), "offset").Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return 0, err
		}
		n += off
	}
	return n, nil
}

// paced writes envs to inbond.events at rate events per second, in a batch
// every 10 ms, as carriers' traffic arrives: not as fast as Kafka takes it.
func paced(ctx context.Context, brokers []string, envs []*event.Envelope, rate float64) error {
	w := bus.NewWriter(brokers)
	defer w.Close()
	const tick = 10 * time.Millisecond
	start := time.Now()
	sent := 0
	for sent < len(envs) {
		due := min(len(envs), int(rate*time.Since(start).Seconds())+1)
		batch := make([]kafka.Message, 0, due-sent)
		for _, e := range envs[sent:due] {
			b, err := event.Marshal(e)
			if err != nil {
				return err
			}
			batch = append(batch, kafka.Message{Topic: string(event.TopicEvents), Key: []byte(e.Subject), Value: b})
		}
		if err := w.WriteMessages(ctx, batch...); err != nil {
			return fmt.Errorf("paced write: %w", err)
		}
		sent = due
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tick):
		}
	}
	return nil
}

// apiClient requests the shipment routes as a dashboard and scripts do.
type apiClient struct {
	base, token string
	ids         []event.ShipmentID
	http        *http.Client
}

// measure runs clients request loops for d (while background runs, if
// given, and at least until it ends) and returns their latencies.
func (c *apiClient) measure(ctx context.Context, clients int, d time.Duration, background func(context.Context) error) (APIRun, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bgErr := make(chan error, 1)
	if background != nil {
		go func() { bgErr <- background(ctx) }()
	} else {
		bgErr <- nil
	}
	var mu sync.Mutex
	var list, one []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for w := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var myList, myOne []time.Duration
			for i := 0; time.Since(start) < d; i++ {
				path := "/v1/shipments/" + url.PathEscape(string(c.ids[rng.IntN(len(c.ids))]))
				if i%2 == 0 {
					path = []string{"/v1/shipments?limit=50", "/v1/shipments?limit=50&status=in_transit",
						"/v1/shipments?limit=50&carrier=PRTK", "/v1/shipments?limit=50&has_open_alert=true"}[rng.IntN(4)]
				}
				t := time.Now()
				if err := c.get(ctx, path); err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					return
				}
				if i%2 == 0 {
					myList = append(myList, time.Since(t))
				} else {
					myOne = append(myOne, time.Since(t))
				}
			}
			mu.Lock()
			list, one = append(list, myList...), append(one, myOne...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := <-bgErr; err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return APIRun{}, firstErr
	}
	n := len(list) + len(one)
	return APIRun{Requests: n, PerSecond: float64(n) / elapsed.Seconds(), List: summarize(list), One: summarize(one)}, nil
}

func (c *apiClient) get(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}
