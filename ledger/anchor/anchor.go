// Package anchor is the ledger's anchor service: it reads every checkpoint
// the processors publish to inbond.checkpoints, appends each checkpoint's
// entry (ledger.Checkpoint.Entry) once to a C2SP tlog-tiles transparency log
// kept by Tessera's POSIX driver and signed with an Ed25519 note key, waits
// until a signed tree head covers it, and then writes every shipment's
// receipt (ledger.Receipt) to Redis beside its state.
//
// The log is the truth and Redis a cache of it. At start the anchor reads
// every entry of its log back to learn which checkpoints it holds, so a
// record delivered twice (or read again after a restart) is never appended
// twice: its receipts are re-derived from the index the log gave it. Its
// consumer position is stored in Redis and advanced only after the receipts
// it covers are written, so when Redis loses them (FLUSHALL, a restart
// without persistence) the anchor reads inbond.checkpoints again from the
// start and writes every receipt again, identical, without touching the log.
//
// It is a single instance per log directory (a lock in the directory's
// .state/ enforces it). It optionally serves the directory read-only over
// HTTP for standard tlog clients (Handler).
package anchor

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/retry"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"go.uber.org/zap"
)

// Config is what an anchor needs.
type Config struct {
	// Brokers are Kafka's bootstrap brokers; Topic the checkpoints' topic
	// (default inbond.checkpoints). Every partition is read; records' keys
	// are not needed (each checkpoint names its own partition).
	Brokers []string
	Topic   string
	// Dir is the log's directory (C2SP tlog-tiles: checkpoint, tile/...,
	// with Tessera's .state/), created when missing.
	Dir string
	// Origin names the log: the first line of its checkpoints and the name
	// of its key. Empty accepts an existing key's name, or DefaultOrigin for
	// a new key.
	Origin string
	// KeyFile holds the note signer key (PRIVATE+KEY+...); a missing file is
	// generated on first run, 0600 (default DefaultKeyFile()). It is never
	// generated for a directory that already holds a signed log.
	KeyFile string
	// Store names the receipts' keys (Store.RecordKey of the shipment's
	// partition and ledger.ReceiptSuffix) and, under its prefix, the anchor's
	// position (prefix + "anchor:offsets"); Redis is the client they are
	// written through.
	Store *state.Store
	Redis redis.UniversalClient
	// Listen is the HTTP address serving the log read-only ("" off; ":0"
	// picks a port, which Addr reports).
	Listen string
	Logger *zap.Logger
	// Registerer receives the inbond_anchor_* metrics (nil: not registered).
	Registerer prometheus.Registerer
	// CheckpointInterval is how often Tessera signs and publishes a new tree
	// head while the log grows (default and minimum 100ms, the POSIX
	// driver's floor): the main share of the anchor's latency.
	CheckpointInterval time.Duration
	// OnAnchored, when set, is called for each checkpoint appended (not for
	// duplicates), once a signed tree head covers it, before its receipts are
	// written, with the time the anchor saw that tree head: the benchmark
	// measures anchoring latency with it. It runs on the anchor's goroutine
	// and must not block.
	OnAnchored func(cp ledger.Checkpoint, index uint64, published time.Time)
}

// Batching limits: how many records one round takes from the queue before
// appending them and awaiting one tree head for all (Tessera's batch size),
// and how many bytes of records, which bounds the receipts one pipeline
// carries (about 1.5 KB of receipt per 130 bytes of leaf).
const (
	maxRoundRecords = 256
	maxRoundBytes   = 2 << 20
	recordQueue     = 1024
)

// maxEntrySize is the largest entry a tlog-tiles bundle holds.
const maxEntrySize = 1<<16 - 1

// Anchor is the anchor service. New prepares it (key, listener); Run runs it.
type Anchor struct {
	cfg     Config
	key     *signingKey
	m       *Metrics
	log     *zap.Logger
	ln      net.Listener
	posKey  string
	ready   atomic.Bool
	started atomic.Bool
}

// New checks cfg, loads (or on first run generates) the signing key, checks
// that an existing log's checkpoint is signed by it, and opens the HTTP
// listener when cfg.Listen is set.
func New(cfg Config) (*Anchor, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("anchor: no Kafka brokers")
	}
	if cfg.Dir == "" {
		return nil, errors.New("anchor: no log directory")
	}
	if cfg.Store == nil || cfg.Redis == nil {
		return nil, errors.New("anchor: a state store and its Redis client are required")
	}
	if cfg.Topic == "" {
		cfg.Topic = string(event.TopicCheckpoints)
	}
	if cfg.Logger != nil {
		routeKlog(cfg.Logger)
	}
	if cfg.CheckpointInterval == 0 {
		cfg.CheckpointInterval = 100 * time.Millisecond
	}
	if cfg.CheckpointInterval < 100*time.Millisecond {
		return nil, fmt.Errorf("anchor: checkpoint interval %v is under the POSIX log's minimum of 100ms", cfg.CheckpointInterval)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.KeyFile == "" {
		var err error
		if cfg.KeyFile, err = DefaultKeyFile(); err != nil {
			return nil, err
		}
	}
	signed, err := os.ReadFile(filepath.Join(cfg.Dir, "checkpoint"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("anchor: read the log's checkpoint: %w", err)
	}
	key, err := loadOrCreateKey(cfg.KeyFile, cfg.Origin, signed != nil)
	if err != nil {
		return nil, err
	}
	if signed != nil {
		if _, err := ledger.OpenCheckpoint(signed, key.verifier); err != nil {
			return nil, fmt.Errorf("anchor: the log in %s is not this key's (%s): %w", cfg.Dir, cfg.KeyFile, err)
		}
	}
	cfg.Origin = key.signer.Name()
	a := &Anchor{cfg: cfg, key: key, m: newMetrics(cfg.Registerer), log: cfg.Logger.Named("anchor"),
		posKey: cfg.Store.Prefix() + "anchor:offsets"}
	if key.created {
		a.log.Info("generated the log's signing key", zap.String("key_file", cfg.KeyFile), zap.String("origin", cfg.Origin))
	}
	if key.warning != "" {
		a.log.Warn(key.warning)
	}
	if cfg.Listen != "" {
		if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("anchor: listen %s: %w", cfg.Listen, err)
		}
	}
	return a, nil
}

// VerifierKey is the log's note verifier key (<origin>+<hash>+<key>): all an
// auditor needs to check the log's signed tree heads, and every receipt and
// offline proof through them.
func (a *Anchor) VerifierKey() string { return a.key.vkey }

// Origin is the log's origin, the name its tree heads are signed under.
func (a *Anchor) Origin() string { return a.cfg.Origin }

// Addr is the HTTP listener's address ("" when Listen is off).
func (a *Anchor) Addr() string {
	if a.ln == nil {
		return ""
	}
	return a.ln.Addr().String()
}

// Metrics are the anchor's instruments.
func (a *Anchor) Metrics() *Metrics { return a.m }

// WriteVerifierKey writes the verifier key to path with a newline, readable
// by all (it is public): e.g. DIR/log.vkey beside a replay's log.
func (a *Anchor) WriteVerifierKey(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("anchor: write verifier key: %w", err)
	}
	if err := os.WriteFile(path, []byte(a.key.vkey+"\n"), 0o644); err != nil {
		return fmt.Errorf("anchor: write verifier key: %w", err)
	}
	return nil
}

// Run opens the log, reads it back, serves it over HTTP if asked and anchors
// inbond.checkpoints until ctx ends (nil) or the log fails. On the way out
// it lets Tessera publish a tree head covering what it appended, and closes
// the HTTP listener. Run may be called once.
func (a *Anchor) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("anchor: Run called twice")
	}
	if a.ln != nil {
		srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second}
		served := make(chan struct{})
		go func() {
			defer close(served)
			if err := srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("log HTTP server stopped", zap.Error(err))
			}
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			<-served
		}()
	}
	unlock, err := lockDir(a.cfg.Dir)
	if err != nil {
		return err
	}
	defer unlock()

	// Tessera's background work outlives ctx until its shutdown has
	// published what was appended: shutdown first, then cancel.
	appCtx, cancelApp := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelApp()
	drv, err := posix.New(appCtx, posix.Config{Path: a.cfg.Dir})
	if err != nil {
		return fmt.Errorf("anchor: open log %s: %w", a.cfg.Dir, err)
	}
	opts := tessera.NewAppendOptions().WithCheckpointSigner(a.key.signer).
		WithBatching(maxRoundRecords, 10*time.Millisecond).WithCheckpointInterval(a.cfg.CheckpointInterval)
	app, shutdown, reader, err := tessera.NewAppender(appCtx, drv, opts)
	if err != nil {
		return fmt.Errorf("anchor: open log %s: %w", a.cfg.Dir, err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			a.log.Warn("log shutdown: a tree head covering every appended entry was not seen", zap.Error(err))
		}
	}()
	l := &loop{a: a, add: app.Add, reader: reader,
		awaiter: tessera.NewPublicationAwaiter(appCtx, reader.ReadCheckpoint, 20*time.Millisecond),
		entries: map[[sha256.Size]byte]uint64{}, highest: map[stream]int64{}}
	if err := l.readLog(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	a.ready.Store(true)
	defer a.ready.Store(false)
	a.log.Info("anchor up", zap.String("origin", a.cfg.Origin), zap.String("verifier_key", a.key.vkey),
		zap.String("dir", a.cfg.Dir), zap.Int("entries", len(l.entries)), zap.String("topic", a.cfg.Topic), zap.String("http", a.Addr()))
	for {
		err := l.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if !errors.Is(err, errPositionLost) {
			return err
		}
		a.m.PositionsLost.Inc()
		a.log.Warn("Redis no longer holds the anchor's position (flushed or restarted without persistence): reading " +
			a.cfg.Topic + " again from its start to write every receipt again; nothing is appended twice")
	}
}

// lockDir takes the log directory's anchor lock (flock, so it holds between
// two anchors of one process too): two anchors on one log would each append
// what the other had.
func lockDir(dir string) (func(), error) {
	if err := os.MkdirAll(filepath.Join(dir, ".state"), 0o755); err != nil {
		return nil, fmt.Errorf("anchor: log directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, ".state", "anchor.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("anchor: lock log directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("anchor: log directory %s is in use by another anchor (%w): run one anchor per log", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}

// stream is the event partition a checkpoint covers.
type stream struct {
	topic     string
	partition int
}

// loop is Run's state, confined to its goroutine.
type loop struct {
	a       *Anchor
	add     tessera.AddFn
	reader  tessera.LogReader
	awaiter *tessera.PublicationAwaiter
	// entries maps each entry of the log (its SHA-256) to its index;
	// highest is the largest To the log holds per event partition.
	entries map[[sha256.Size]byte]uint64
	highest map[stream]int64
}

// readLog reads every entry of the log into entries and highest.
func (l *loop) readLog(ctx context.Context) error {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return fmt.Errorf("anchor: read the log's size: %w", err)
	}
	l.entries = make(map[[sha256.Size]byte]uint64, size)
	bundles := client.EntryBundles(ctx, 2, func(context.Context) (uint64, error) { return size, nil }, l.reader.ReadEntryBundle, 0, size)
	unbundle := func(b []byte) ([][]byte, error) {
		var eb api.EntryBundle
		err := eb.UnmarshalText(b)
		return eb.Entries, err
	}
	for e, err := range client.Entries(bundles, unbundle) {
		if err != nil {
			return fmt.Errorf("anchor: read the log's entries: %w", err)
		}
		l.entries[sha256.Sum256(e.Entry)] = e.Index
		cp, err := ledger.ParseEntry(e.Entry)
		if err != nil {
			l.a.log.Warn("log entry is not a checkpoint", zap.Uint64("index", e.Index), zap.Error(err))
			continue
		}
		s := stream{cp.Topic, cp.Partition}
		if to, ok := l.highest[s]; !ok || cp.To > to {
			l.highest[s] = cp.To
		}
	}
	if uint64(len(l.entries)) != size {
		// Equal entries would be one key; the anchor never appends one twice.
		l.a.log.Warn("the log holds the same entry more than once", zap.Uint64("size", size), zap.Int("distinct", len(l.entries)))
	}
	if raw, err := l.reader.ReadCheckpoint(ctx); err == nil {
		if cp, err := ledger.OpenCheckpoint(raw, l.a.key.verifier); err == nil {
			l.a.m.TreeSize.Set(float64(cp.Size))
		}
	}
	return nil
}

// session reads every partition of the topic from the position Redis holds
// and anchors what it reads, until ctx ends or Redis loses the position
// (errPositionLost).
func (l *loop) session(ctx context.Context) error {
	a := l.a
	pos, err := retry.Forever(ctx, retry.Default, func() (*position, error) {
		p, err := openPosition(ctx, a.cfg.Redis, a.posKey)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("reading the position; retrying", zap.Error(err))
		}
		return p, err
	})
	if err != nil {
		return err
	}
	parts, err := retry.Forever(ctx, retry.Default, func() (int, error) {
		n, err := bus.PartitionCount(ctx, a.cfg.Brokers, a.cfg.Topic)
		if err != nil && ctx.Err() == nil {
			a.log.Warn("reading the topic's partitions; retrying", zap.String("topic", a.cfg.Topic), zap.Error(err))
		}
		return n, err
	})
	if err != nil {
		return err
	}
	readCtx, stopReading := context.WithCancel(ctx)
	var wg sync.WaitGroup
	// Every reader's goroutine has returned, and closed its reader, before
	// the session returns, so the next session's readers start alone.
	defer func() {
		stopReading()
		wg.Wait()
	}()
	recs := make(chan kafka.Message, recordQueue)
	for p := range parts {
		start := kafka.FirstOffset
		if off, ok := pos.next[p]; ok {
			start = off
		}
		plog := a.log.With(zap.Int("partition", p))
		r := bus.PartitionReader(a.cfg.Brokers, a.cfg.Topic, p, recordQueue, func(msg string, args ...any) {
			plog.Warn("kafka reader: " + fmt.Sprintf(msg, args...))
		})
		if err := r.SetOffset(start); err != nil {
			_ = r.Close()
			return fmt.Errorf("anchor: seek %s/%d to %d: %w", a.cfg.Topic, p, start, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			fetch(readCtx, r, recs, plog)
		}()
	}
	a.log.Info("reading checkpoints", zap.String("topic", a.cfg.Topic), zap.Int("partitions", parts), zap.Any("from", pos.next))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var first kafka.Message
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := pos.check(ctx, a.cfg.Redis, a.posKey); err != nil {
				if errors.Is(err, errPositionLost) {
					return err
				}
				a.log.Warn("checking the position", zap.Error(err))
			}
			continue
		case first = <-recs:
		}
		round, size := []kafka.Message{first}, len(first.Value)
	drain:
		for len(round) < maxRoundRecords && size < maxRoundBytes {
			select {
			case m := <-recs:
				round = append(round, m)
				size += len(m.Value)
			default:
				break drain
			}
		}
		if err := l.round(ctx, pos, round); err != nil {
			return err
		}
	}
}

// fetch reads r into recs until ctx ends.
func fetch(ctx context.Context, r *kafka.Reader, recs chan<- kafka.Message, log *zap.Logger) {
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// kafka-go retries behind a failure it reports: read on.
			log.Warn("read failed; reading on", zap.Error(err))
			select {
			case <-time.After(time.Second):
				continue
			case <-ctx.Done():
				return
			}
		}
		select {
		case recs <- m:
		case <-ctx.Done():
			return
		}
	}
}

// Outcomes of a record.
const (
	kindBad = iota
	kindNew
	kindDuplicate
	kindStale
)

// item is one record of a round.
type item struct {
	kind  int
	batch *ledger.Batch
	sum   [sha256.Size]byte
	fut   tessera.IndexFuture // kindNew
	dupOf *item               // kindDuplicate of a record appended this round
	index uint64
}

// round anchors records: it appends every new checkpoint, awaits one signed
// tree head covering them all, writes every receipt, then advances the
// position past the records.
func (l *loop) round(ctx context.Context, pos *position, msgs []kafka.Message) error {
	a := l.a
	items := make([]*item, 0, len(msgs))
	appended := map[[sha256.Size]byte]*item{}
	next := map[int]int64{}
	for _, m := range msgs {
		if m.Offset+1 > next[m.Partition] {
			next[m.Partition] = m.Offset + 1
		}
		it := l.classify(ctx, m, appended)
		items = append(items, it)
	}

	// Sequenced: each new entry has its index in the log.
	var last uint64
	waiting := false
	for _, it := range items {
		switch it.kind {
		case kindNew:
			idx, err := it.fut()
			if err != nil {
				return fmt.Errorf("anchor: append %s: %w", it.batch.Checkpoint.ID(), err)
			}
			it.index = idx.Index
			l.entries[it.sum] = it.index
			a.m.Appended.Inc()
		case kindDuplicate:
			if it.dupOf != nil {
				it.index = it.dupOf.index
			}
		default:
			continue
		}
		last, waiting = max(last, it.index), true
	}
	if waiting {
		tree, err := l.published(ctx, last)
		if err != nil {
			return err
		}
		now := time.Now()
		a.m.TreeSize.Set(float64(tree.Size))
		for _, it := range items {
			if it.kind != kindNew {
				continue
			}
			cp := it.batch.Checkpoint
			a.m.Latency.Observe(now.Sub(cp.Time).Seconds())
			if a.cfg.OnAnchored != nil {
				a.cfg.OnAnchored(cp, it.index, now)
			}
			a.log.Debug("checkpoint anchored", zap.String("checkpoint", cp.ID()), zap.Uint64("index", it.index),
				zap.Uint64("leaves", cp.Leaves), zap.Uint64("tree_size", tree.Size))
		}
	}

	var ws []receiptWrite
	for _, it := range items {
		if it.kind != kindNew && it.kind != kindDuplicate {
			continue
		}
		w, err := receiptsOf(it.batch, it.index, a.cfg.Store.RecordKey)
		if err != nil {
			return fmt.Errorf("anchor: receipts of %s: %w", it.batch.Checkpoint.ID(), err)
		}
		ws = append(ws, w)
	}
	if len(ws) > 0 {
		n, err := retry.Forever(ctx, retry.Default, func() (int, error) {
			n, err := writeReceipts(ctx, a.cfg.Redis, ws)
			if err != nil && ctx.Err() == nil {
				a.log.Warn("writing receipts; retrying", zap.Error(err))
			}
			return n, err
		})
		if err != nil {
			return err
		}
		a.m.Receipts.Add(float64(n))
	}
	_, err := retry.Forever(ctx, retry.Default, func() (struct{}, error) {
		err := pos.advance(ctx, a.cfg.Redis, a.posKey, next)
		if errors.Is(err, errPositionLost) {
			return struct{}{}, retry.Permanent(err)
		}
		if err != nil && ctx.Err() == nil {
			a.log.Warn("advancing the position; retrying", zap.Error(err))
		}
		return struct{}{}, err
	})
	if err == nil {
		a.m.Records.Add(float64(len(msgs)))
	}
	return err
}

// classify decodes a record and decides what it is: bad, a duplicate of an
// entry the log holds (or that this round appends), stale, or new, in which
// case it is handed to the log here.
func (l *loop) classify(ctx context.Context, m kafka.Message, appended map[[sha256.Size]byte]*item) *item {
	a := l.a
	it := &item{}
	b, err := ledger.UnmarshalBatch(m.Value)
	reason := ReasonUndecodable
	if err == nil {
		reason, err = ReasonInvalid, invalid(b)
	}
	if err != nil {
		a.m.BadRecords.WithLabelValues(reason).Inc()
		a.log.Error("bad checkpoint record skipped", zap.String("reason", reason), zap.Int("partition", m.Partition),
			zap.Int64("offset", m.Offset), zap.ByteString("key", m.Key), zap.Error(err))
		return it
	}
	it.batch = b
	entry := b.Checkpoint.Entry()
	it.sum = sha256.Sum256(entry)
	if idx, ok := l.entries[it.sum]; ok {
		it.kind, it.index = kindDuplicate, idx
		a.m.Duplicates.Inc()
		return it
	}
	if first, ok := appended[it.sum]; ok {
		it.kind, it.dupOf = kindDuplicate, first
		a.m.Duplicates.Inc()
		return it
	}
	cp := b.Checkpoint
	s := stream{cp.Topic, cp.Partition}
	if to, ok := l.highest[s]; ok && cp.To <= to {
		it.kind = kindStale
		a.m.Stale.Inc()
		a.log.Info("stale checkpoint skipped: the log already holds its partition up to a later offset (a processor restating what it had cut)",
			zap.String("checkpoint", cp.ID()), zap.Int64("anchored_to", to), zap.Int("record_partition", m.Partition), zap.Int64("record_offset", m.Offset))
		return it
	}
	l.highest[s] = cp.To
	it.kind = kindNew
	it.fut = l.add(ctx, tessera.NewEntry(entry))
	appended[it.sum] = it
	return it
}

// invalid says why a batch that decodes is none a processor cuts.
func invalid(b *ledger.Batch) error {
	cp := b.Checkpoint
	switch {
	case len(b.Leaves) == 0:
		return fmt.Errorf("checkpoint %s has no leaf", cp.ID())
	case cp.Partition < 0:
		return fmt.Errorf("checkpoint %s has a negative partition", cp.ID())
	case cp.To <= cp.From || cp.From < 0:
		return fmt.Errorf("checkpoint %s covers no offset", cp.ID())
	case len(cp.Entry()) > maxEntrySize:
		return fmt.Errorf("checkpoint %s: its entry is %d bytes, over the log's %d", cp.ID(), len(cp.Entry()), maxEntrySize)
	}
	return nil
}

// published returns a signed tree head covering entry index: the current one
// when it does, else the first that does.
func (l *loop) published(ctx context.Context, index uint64) (*log.Checkpoint, error) {
	if raw, err := l.reader.ReadCheckpoint(ctx); err == nil {
		if cp, err := ledger.OpenCheckpoint(raw, l.a.key.verifier); err == nil && cp.Size > index {
			return cp, nil
		}
	}
	raw, err := retry.Forever(ctx, retry.Default, func() ([]byte, error) {
		_, raw, err := l.awaiter.Await(ctx, func() (tessera.Index, error) { return tessera.Index{Index: index}, nil })
		if err != nil && ctx.Err() == nil {
			l.a.log.Warn("awaiting a signed tree head; retrying", zap.Error(err))
		}
		return raw, err
	})
	if err != nil {
		return nil, err
	}
	cp, err := ledger.OpenCheckpoint(raw, l.a.key.verifier)
	if err != nil {
		return nil, fmt.Errorf("anchor: the log's own checkpoint: %w", err)
	}
	if cp.Size <= index {
		return nil, fmt.Errorf("anchor: the signed tree head of size %d does not cover entry %d", cp.Size, index)
	}
	return cp, nil
}
