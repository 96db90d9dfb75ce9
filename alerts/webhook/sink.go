package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// Options are what the sink needs besides its configuration file.
type Options struct {
	// Brokers are the bootstrap brokers of the cluster holding inbond.alerts.
	Brokers []string
	// Log receives the sink's logs (default: none).
	Log *zap.Logger
	// Metrics receives the sink's metrics (default: NewMetrics(nil), which
	// nobody scrapes).
	Metrics *Metrics
	// SessionTimeout is the consumer group's: how long a dead instance
	// keeps its partitions (default 10 s).
	SessionTimeout time.Duration
	// HTTPClient sends the deliveries (default NewHTTPClient()). Its
	// Timeout should be zero: each target's timeout applies per attempt.
	HTTPClient *http.Client
	// Publisher receives the dead letters (default: a bus.NewWriter on
	// Brokers, which Run closes).
	Publisher Publisher
	// Now gives the webhook-timestamp (default time.Now).
	Now func() time.Time
}

// Sink delivers inbond.alerts to webhook targets. Build it with New and run
// it once with Run.
type Sink struct {
	cfg     Config
	opts    Options
	targets []*target
	log     *zap.Logger
	metrics *Metrics
	ran     atomic.Bool
}

// target is a configured target with its key and its queue.
type target struct {
	Target
	secret Secret
	// queue holds the records this target must settle, in fetch order. Its
	// capacity is Config.MaxInFlight, which bounds the records not yet
	// committable, so the fetch loop never blocks on it.
	queue chan *record
}

// New validates cfg (applying its defaults) and reads every target's secret.
// Its errors name the target and the setting at fault.
func New(cfg Config, opts Options) (*Sink, error) {
	cfg.Targets = slices.Clone(cfg.Targets) // SetDefaults must not write into the caller's
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("webhook sink: %w", err)
	}
	if len(opts.Brokers) == 0 {
		return nil, errors.New("webhook sink: no Kafka brokers configured")
	}
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.SessionTimeout == 0 {
		opts.SessionTimeout = 10 * time.Second
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = NewHTTPClient()
	}
	s := &Sink{cfg: cfg, opts: opts, log: opts.Log.With(zap.String("stage", "webhook")), metrics: opts.Metrics}
	for _, t := range cfg.Targets {
		secret, err := t.secret()
		if err != nil {
			return nil, fmt.Errorf("webhook sink: target %s: %w", t.Name, err)
		}
		s.targets = append(s.targets, &target{Target: t, secret: secret})
	}
	return s, nil
}

// Run consumes inbond.alerts as a member of the consumer group
// Config.GroupID and delivers each record to every target it matches, until
// ctx ends; then it returns nil, having committed what was settled. It
// returns an error when Kafka cannot be used (the topics cannot be
// ensured, a fetch fails) or Run was called before.
//
// It creates inbond.alerts and TopicDLQ when they are missing.
//
// What Run guarantees, and how (see also the package documentation):
//   - A record is committed only when every matching target settled it
//     (2xx, or dead letter acknowledged by Kafka) and so did every record
//     fetched before it from its partition: the tracker's per-partition
//     queue releases records in fetch order only.
//   - One delivery in flight per target: a target's one goroutine takes its
//     queue in order and finishes a record (all its attempts) before the
//     next.
//   - Stopping never settles: a delivery cut short by ctx is not dead-
//     lettered and not committed, so the group re-delivers it.
func (s *Sink) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("webhook sink: Run called twice")
	}
	brokers := s.opts.Brokers
	err := bus.EnsureTopics(ctx, brokers, []bus.TopicSpec{{Topic: event.TopicAlerts, Partitions: 3}, {Topic: TopicDLQ, Partitions: DLQPartitions}})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("webhook sink: %w", err)
	}
	pub := s.opts.Publisher
	if pub == nil {
		// Its own transport, whose first metadata request comes after
		// EnsureTopics: the shared kafka.DefaultTransport may hold, for up to
		// its metadata TTL (6 s), a view of the cluster from before TopicDLQ
		// existed, and refuse the first dead letters as for an unknown topic.
		tp := &kafka.Transport{Dial: (&net.Dialer{Timeout: 3 * time.Second}).DialContext}
		w := bus.NewWriter(brokers)
		w.Transport = tp
		defer func() {
			_ = w.Close()
			tp.CloseIdleConnections()
		}()
		pub = w
	}
	deliver := Chain(Post(s.opts.HTTPClient, s.opts.Now), DeadLetter(pub, s.log), Retry(s.cfg.Backoff), Instrument(s.metrics))

	session := s.opts.SessionTimeout
	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           brokers,
		GroupID:           s.cfg.GroupID,
		GroupTopics:       []string{string(event.TopicAlerts)},
		StartOffset:       kafka.FirstOffset,
		MinBytes:          1,
		MaxBytes:          bus.ReaderMaxBytes,
		MaxWait:           bus.ReaderMaxWait, // see bus.ReaderMaxWait: shorter can livelock
		SessionTimeout:    session,
		HeartbeatInterval: session / 10,
		RebalanceTimeout:  session,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			s.log.Warn(fmt.Sprintf(msg, args...))
		}),
	})
	defer func() {
		if err := reader.Close(); err != nil {
			s.log.Warn("webhook sink: close reader", zap.Error(err))
		}
	}()

	// work is ctx for the targets' goroutines, cancelled with a cause when
	// one of them cannot go on.
	work, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	tr := newTracker(s.cfg.MaxInFlight, s.metrics)
	var workers sync.WaitGroup
	for _, t := range s.targets {
		t.queue = make(chan *record, s.cfg.MaxInFlight)
		workers.Go(func() { s.work(work, fail, t, deliver, tr) })
	}
	committed := make(chan struct{})
	go s.commitLoop(reader, tr, committed)

	names := make([]string, len(s.targets))
	for i, t := range s.targets {
		names[i] = t.Name
	}
	s.log.Info("webhook sink reading", zap.String("topic", string(event.TopicAlerts)), zap.String("group", s.cfg.GroupID),
		zap.Strings("targets", names), zap.Strings("brokers", brokers))
	err = s.fetchLoop(work, reader, pub, tr)

	fail(nil)
	workers.Wait()
	tr.close()
	<-committed
	if cause := context.Cause(work); err == nil && ctx.Err() == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	return err
}

// fetchLoop fetches records and hands each to its matching targets, until
// ctx ends (nil) or a fetch fails (its error). It holds one of the
// tracker's slots per record fetched and not yet committable, so at most
// Config.MaxInFlight are.
func (s *Sink) fetchLoop(ctx context.Context, reader *kafka.Reader, pub Publisher, tr *tracker) error {
	for {
		select {
		case tr.slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		m, err := reader.FetchMessage(ctx)
		if err != nil {
			<-tr.slots
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("webhook sink: fetch %s: %w", event.TopicAlerts, err)
		}
		rec := &record{msg: m, fetchedAt: time.Now()}
		ev, derr := DecodeEvent(m)
		rec.ev = ev
		var matched []*target
		if derr == nil {
			for _, t := range s.targets {
				if t.Matches(ev.Rule, ev.Severity) {
					matched = append(matched, t)
				}
			}
		}
		rec.remaining = len(matched)
		tr.add(rec)
		switch {
		case derr != nil:
			dl := newDeadLetter("", ev, &AttemptError{Reason: ReasonInvalidEvent, Err: derr}, 0, time.Time{})
			if err := writeDeadLetter(ctx, pub, s.log, m.Key, dl); err != nil {
				return nil // ctx ended: not settled, read again by the next member
			}
			s.metrics.DeadLetters.WithLabelValues("", string(ReasonInvalidEvent)).Inc()
			s.log.Warn("webhook sink: not an alert transition; dead-lettered", zap.Int("partition", m.Partition),
				zap.Int64("offset", m.Offset), zap.Error(derr))
			tr.settle(rec, 0)
		case len(matched) == 0:
			tr.settle(rec, 0)
		default:
			for _, t := range matched {
				t.queue <- rec // never blocks: see target.queue
			}
		}
	}
}

// work delivers t's queue, one record at a time, until ctx ends. A delivery
// the chain did not settle although ctx is live cannot be skipped (its
// record would be committed unsent) nor retried for ever here, so it stops
// the sink with fail.
func (s *Sink) work(ctx context.Context, fail context.CancelCauseFunc, t *target, deliver Handler, tr *tracker) {
	for {
		var rec *record
		select {
		case <-ctx.Done():
			return
		case rec = <-t.queue:
		}
		d := &Delivery{Target: t.Target, Secret: t.secret, Event: rec.ev}
		if err := deliver(ctx, d); err != nil {
			if ctx.Err() == nil {
				fail(fmt.Errorf("webhook sink: target %s: event %s not settled: %w", t.Name, rec.ev.ID, err))
			}
			return
		}
		s.metrics.Deliveries.WithLabelValues(t.Name, string(d.Outcome)).Inc()
		if d.DeadLetter != nil {
			s.metrics.DeadLetters.WithLabelValues(t.Name, string(d.DeadLetter.Reason)).Inc()
		}
		s.metrics.DeliverySeconds.WithLabelValues(t.Name).Observe(time.Since(rec.fetchedAt).Seconds())
		if d.Outcome == OutcomeDelivered {
			s.log.Debug("webhook delivered", zap.String("target", t.Name), zap.String("event_id", rec.ev.ID), zap.Int("attempts", d.Attempt))
		}
		tr.settle(rec, 1)
	}
}

// commitRetry is how long the committer waits before retrying a failed
// commit when no new record became committable meanwhile.
const commitRetry = time.Second

// commitLoop commits what the tracker makes committable, as one request for
// all partitions waiting, until the tracker is closed; then it commits what
// is left once and closes done. A failed commit is put back and retried:
// the records stay uncommitted, which re-delivers at worst.
func (s *Sink) commitLoop(reader *kafka.Reader, tr *tracker, done chan<- struct{}) {
	defer close(done)
	var retryC <-chan time.Time
	for {
		final := false
		select {
		case <-tr.notify:
		case <-retryC:
		case <-tr.closed:
			final = true
		}
		retryC = nil
		if msgs := tr.take(); len(msgs) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := reader.CommitMessages(ctx, msgs...)
			cancel()
			if err != nil {
				s.metrics.CommitErrors.Inc()
				s.log.Warn("webhook sink: commit failed; retrying", zap.Int("partitions", len(msgs)), zap.Error(err))
				tr.restore(msgs)
				retryC = time.After(commitRetry)
			}
		}
		if final {
			return
		}
	}
}

// record is one fetched record on its way to its targets.
type record struct {
	msg       kafka.Message
	ev        Event
	fetchedAt time.Time
	remaining int  // matching targets that have not settled it; guarded by tracker.mu
	settled   bool // every matching target has; guarded by tracker.mu
}

// tracker turns settled records into committable offsets, in each
// partition's fetch order.
type tracker struct {
	slots   chan struct{} // one per record fetched and not yet committable
	notify  chan struct{} // capacity 1: something became committable
	closed  chan struct{} // closed by close: nothing more will be settled
	metrics *Metrics

	mu sync.Mutex // guards the fields below, and every record's remaining and settled
	// parts holds, per partition, the records fetched and not yet
	// committable, in fetch order. After a rebalance that gives a partition
	// back, offsets may repeat in it (a re-fetch from the committed offset):
	// fetch order, not offset order, is what releases them.
	parts map[int][]*record
	// commit holds, per partition, the last record made committable and not
	// yet handed to the committer.
	commit map[int]kafka.Message
}

func newTracker(maxInFlight int, m *Metrics) *tracker {
	return &tracker{
		slots: make(chan struct{}, maxInFlight), notify: make(chan struct{}, 1), closed: make(chan struct{}),
		metrics: m, parts: map[int][]*record{}, commit: map[int]kafka.Message{},
	}
}

// add registers a fetched record, before any target may settle it.
func (tr *tracker) add(r *record) {
	tr.mu.Lock()
	tr.parts[r.msg.Partition] = append(tr.parts[r.msg.Partition], r)
	tr.mu.Unlock()
	tr.metrics.Uncommitted.Inc()
}

// settle records that n more matching targets settled r. When none is left,
// r is settled, and the settled records at the head of r's partition become
// committable: the last of them goes to the committer, and their slots are
// released.
func (tr *tracker) settle(r *record, n int) {
	tr.mu.Lock()
	r.remaining -= n
	if r.remaining > 0 {
		tr.mu.Unlock()
		return
	}
	r.settled = true
	p := r.msg.Partition
	q := tr.parts[p]
	released := 0
	for released < len(q) && q[released].settled {
		released++
	}
	if released > 0 {
		tr.commit[p] = q[released-1].msg
		clear(q[:released]) // let the records go
		tr.parts[p] = q[released:]
	}
	tr.mu.Unlock()
	if released == 0 {
		return
	}
	for range released {
		<-tr.slots
	}
	tr.metrics.Uncommitted.Sub(float64(released))
	select {
	case tr.notify <- struct{}{}:
	default:
	}
}

// take returns the committable records, the last of each partition, and
// forgets them.
func (tr *tracker) take() []kafka.Message {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	msgs := make([]kafka.Message, 0, len(tr.commit))
	for p, m := range tr.commit {
		msgs = append(msgs, m)
		delete(tr.commit, p)
	}
	return msgs
}

// restore puts back records whose commit failed, unless a later one of the
// same partition became committable meanwhile.
func (tr *tracker) restore(msgs []kafka.Message) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, m := range msgs {
		if _, later := tr.commit[m.Partition]; !later {
			tr.commit[m.Partition] = m
		}
	}
}

// close tells the committer that nothing more will be settled.
func (tr *tracker) close() { close(tr.closed) }
