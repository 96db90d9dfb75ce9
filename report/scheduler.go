package report

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/retry"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// StateDir is the directory under a scheduler's Dir where it keeps what it
// produced and delivered. It is hidden so that a listing of Dir (the API's,
// `inbond report verify DIR/*`) sees only report files.
const StateDir = ".inbond"

// SchedulerConfig is what a Scheduler reads, where it writes, and where it
// delivers.
type SchedulerConfig struct {
	// Source is the archive and ledger log the reports are computed from.
	Source Source
	// Dir receives each period's files (<form>-YYYY-MM.<ext>) and, under
	// StateDir, the record of what was produced and delivered.
	Dir string
	// Endpoint is an https URL each file is POSTed to ("" delivers to Dir
	// only). Plain http is refused: the reports name importers and volumes.
	Endpoint string
	// Grace is how long after a period's end (UTC) its reports wait, so
	// that late readings and the ledger's checkpoints covering them are in
	// (default 6h).
	Grace time.Duration
	// Formats are the files written per period (default csv, json, html;
	// see Formats: pdf and png need Chromium).
	Formats []string
	// Client posts to Endpoint (default: 60 s timeout, redirects refused,
	// so a report never goes to a URL nobody configured).
	Client *http.Client
	// Retry bounds the waits between delivery attempts (default 1 s growing
	// to 1 min); Attempts bounds the attempts per file in one pass
	// (default 8). A file not delivered is tried again at the next pass:
	// after Recheck (default 15 min) and at every start.
	Retry    retry.Policy
	Attempts int
	Recheck  time.Duration
	// MaxRetryAfter caps the wait a receiver asks for with Retry-After on
	// 429 and 503 (default 5 min).
	MaxRetryAfter time.Duration
	// Metrics (nil: NewSchedulerMetrics(nil), registered nowhere).
	Metrics *SchedulerMetrics
	Log     *zap.Logger
	// Now is the clock deciding which periods are closed (default
	// time.Now). MaxSleep is the longest real wait between passes (default
	// 1 h): a clock that runs faster than the wall's (the demo's simulated
	// one) needs a shorter one, since waits are computed on Now.
	Now      func() time.Time
	MaxSleep time.Duration
}

// SchedulerMetrics are a Scheduler's Prometheus metrics.
type SchedulerMetrics struct {
	// Periods counts periods produced (their files written to Dir).
	Periods prometheus.Counter
	// Deliveries counts settled deliveries of a file in one pass, by
	// outcome: delivered, or gave_up (the attempts of the pass used up;
	// the next pass tries again).
	Deliveries *prometheus.CounterVec
	// Attempts counts POSTs by result: ok, http_status, transport.
	Attempts *prometheus.CounterVec
	// Undelivered is the number of produced files not yet delivered.
	Undelivered prometheus.Gauge
	// PassErrors counts passes that failed before delivering (the archive
	// or the log unreadable, Dir not writable).
	PassErrors prometheus.Counter
}

// NewSchedulerMetrics returns a scheduler's metrics registered on reg (none
// when reg is nil). It panics if they are registered there already.
func NewSchedulerMetrics(reg prometheus.Registerer) *SchedulerMetrics {
	m := &SchedulerMetrics{
		Periods: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "report", Name: "periods_produced_total",
			Help: "Report periods produced (their files written to the report directory).",
		}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "report", Name: "deliveries_total",
			Help: "Report file deliveries settled in a pass, by outcome (delivered, or gave_up: tried again at the next pass).",
		}, []string{"outcome"}),
		Attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "report", Name: "delivery_attempts_total",
			Help: "POSTs of report files to the endpoint, by result (ok, http_status, transport).",
		}, []string{"result"}),
		Undelivered: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "inbond", Subsystem: "report", Name: "undelivered_files",
			Help: "Report files produced and not yet delivered to the endpoint.",
		}),
		PassErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "inbond", Subsystem: "report", Name: "pass_errors_total",
			Help: "Scheduler passes that failed (archive or log unreadable, directory not writable); retried after the recheck interval.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Periods, m.Deliveries, m.Attempts, m.Undelivered, m.PassErrors)
	}
	return m
}

// Scheduler produces each closed period's reports once and delivers them.
type Scheduler struct {
	cfg SchedulerConfig
	log *zap.Logger
	m   *SchedulerMetrics
}

// NewScheduler checks cfg and fills its defaults.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if cfg.Dir == "" {
		return nil, errors.New("report: scheduler: no directory")
	}
	if cfg.Source.Log == nil || cfg.Source.Key == nil || len(cfg.Source.Brokers) == 0 {
		return nil, errors.New("report: scheduler: the source needs the archive's brokers, the log and its verifier key")
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("report: scheduler: endpoint %q: want an https URL", cfg.Endpoint)
		}
	}
	if cfg.Grace == 0 {
		cfg.Grace = 6 * time.Hour
	}
	if cfg.Grace < 0 {
		return nil, fmt.Errorf("report: scheduler: grace %s is negative", cfg.Grace)
	}
	if len(cfg.Formats) == 0 {
		cfg.Formats = []string{"csv", "json", "html"}
	}
	for _, f := range cfg.Formats {
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("report: scheduler: format %q: want one of %v", f, Formats)
		}
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.Retry == (retry.Policy{}) {
		cfg.Retry = retry.Policy{Initial: time.Second, Max: time.Minute}
	}
	cfg.Attempts = cmp.Or(cfg.Attempts, 8)
	cfg.Recheck = cmp.Or(cfg.Recheck, 15*time.Minute)
	cfg.MaxSleep = cmp.Or(cfg.MaxSleep, time.Hour)
	cfg.MaxRetryAfter = cmp.Or(cfg.MaxRetryAfter, 5*time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Scheduler{cfg: cfg, log: cfg.Log, m: cfg.Metrics}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.m == nil {
		s.m = NewSchedulerMetrics(nil)
	}
	return s, nil
}

// Produced is the record of one period's files, written to
// Dir/StateDir/produced-YYYY-MM.json after every file of the period is in
// Dir: a period with this record is never computed again, so its files (and
// the keys they are delivered under) do not change after a restart.
type Produced struct {
	Period     string         `json:"period"`
	Checkpoint Checkpoint     `json:"checkpoint"`
	ProducedAt time.Time      `json:"produced_at"`
	Files      []ProducedFile `json:"files"`
}

// ProducedFile is one file of a period.
type ProducedFile struct {
	Name string `json:"name"`
	// SHA256 is the file's content hash (hex).
	SHA256 string `json:"sha256"`
	// IdempotencyKey is what the file is delivered under (IdempotencyKey).
	IdempotencyKey string `json:"idempotency_key"`
}

// IdempotencyKey is the Idempotency-Key a file is POSTed with: the hex
// SHA-256 of "form|period|format|tree_size|root". A re-delivery of the same
// file (after a lost answer, a restart) carries the same key, so a receiver
// keeps one copy; the format is in it because a form's CSV and JSON are two
// files a receiver must both keep.
func IdempotencyKey(f Form, p Period, format string, cp Checkpoint) string {
	h := sha256.Sum256([]byte(string(f) + "|" + p.String() + "|" + format + "|" + strconv.FormatUint(cp.TreeSize, 10) + "|" + cp.Root))
	return hex.EncodeToString(h[:])
}

// ContentType is the media type a report file of format ext is delivered
// and served as.
func ContentType(ext string) string {
	switch ext {
	case "csv":
		return "text/csv; charset=utf-8"
	case "json":
		return "application/json"
	case "html":
		return "text/html; charset=utf-8"
	case "pdf":
		return "application/pdf"
	case "png":
		return "image/png"
	}
	return "application/octet-stream"
}

// Pass is what one pass of the scheduler did.
type Pass struct {
	// Produced lists the periods whose files were written in this pass.
	Produced []string
	// Delivered and Failed list the files POSTed (2xx) and given up on.
	Delivered, Failed []string
	// Undelivered is the count of produced files still not delivered.
	Undelivered int
}

// Run runs passes until ctx ends: one at once, then one when the next
// period's grace has elapsed, and while files are undelivered, one every
// Recheck. A pass that fails (the archive or the log unreadable) is logged,
// counted and retried after Recheck; Run returns nil when ctx ends.
func (s *Scheduler) Run(ctx context.Context) error {
	for {
		p, err := s.Once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		now := s.cfg.Now()
		wait := s.NextDue(now).Sub(now)
		if err != nil {
			s.m.PassErrors.Inc()
			s.log.Error("report scheduler: pass failed; retrying", zap.Duration("after", s.cfg.Recheck), zap.Error(err))
			wait = min(wait, s.cfg.Recheck)
		} else if p.Undelivered > 0 {
			wait = min(wait, s.cfg.Recheck)
		}
		// Woken at least hourly: a wall clock stepped or a machine
		// suspended does not push a period's report back by a month.
		wait = max(min(wait, s.cfg.MaxSleep), time.Second)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// LastClosed is the latest period whose grace has elapsed at now.
func (s *Scheduler) LastClosed(now time.Time) Period {
	return Month(Month(now.Add(-s.cfg.Grace)).Start.AddDate(0, -1, 0))
}

// NextDue is when the next period closes after now: its end plus the grace.
func (s *Scheduler) NextDue(now time.Time) time.Time {
	return Month(now.Add(-s.cfg.Grace)).End.Add(s.cfg.Grace)
}

// Once produces every closed period not yet produced, from the month of
// the archive's first event to LastClosed, at the log's current
// checkpoint, then delivers every produced file not yet delivered. Another
// scheduler holding Dir's lock makes it a no-op (a standby replica).
func (s *Scheduler) Once(ctx context.Context) (Pass, error) {
	var pass Pass
	state := filepath.Join(s.cfg.Dir, StateDir)
	if err := os.MkdirAll(state, 0o755); err != nil {
		return pass, fmt.Errorf("report: scheduler: %w", err)
	}
	unlock, held, err := lockDir(state)
	if err != nil {
		return pass, err
	}
	if !held {
		s.log.Info("report scheduler: another scheduler holds the directory; this one waits", zap.String("dir", s.cfg.Dir))
		return pass, nil
	}
	defer unlock()
	done, err := s.readProduced()
	if err != nil {
		return pass, err
	}
	if err := s.produce(ctx, done, &pass); err != nil {
		return pass, err
	}
	if done, err = s.readProduced(); err != nil {
		return pass, err
	}
	s.deliverAll(ctx, done, &pass)
	return pass, ctx.Err()
}

// produce writes the missing closed periods.
func (s *Scheduler) produce(ctx context.Context, done map[string]*Produced, pass *Pass) error {
	last := s.LastClosed(s.cfg.Now())
	var missing []Period
	if len(done) > 0 {
		first := last
		for name := range done {
			p, err := ParsePeriod(name)
			if err != nil {
				return err
			}
			if p.Start.Before(first.Start) {
				first = p
			}
		}
		for _, p := range Covering(first.Start, last.Start) {
			if !s.complete(done[p.String()]) {
				missing = append(missing, p)
			}
		}
		if len(missing) == 0 {
			return nil
		}
	}
	// A period whose record is there but a file is not (deleted by hand) is
	// written again at the checkpoint it names, so its files and keys are
	// the ones already delivered; new periods at the log's current tree.
	var snap *Snapshot
	at := func(size uint64) (*Snapshot, error) {
		if size != 0 {
			return Open(ctx, s.cfg.Source, size)
		}
		if snap == nil {
			var err error
			if snap, err = Open(ctx, s.cfg.Source, 0); err != nil {
				return nil, err
			}
		}
		return snap, nil
	}
	if len(done) == 0 {
		cur, err := at(0)
		if err != nil {
			return err
		}
		first, ok := firstEvent(cur.Records)
		if !ok {
			return nil // nothing archived yet
		}
		missing = Covering(Month(first).Start, last.Start) // none when the first event is after the last closed period

	}
	for _, p := range missing {
		var size uint64
		if r := done[p.String()]; r != nil {
			size = r.Checkpoint.TreeSize
		}
		sn, err := at(size)
		if err != nil {
			return err
		}
		if err := s.write(ctx, p, sn); err != nil {
			return err
		}
		s.m.Periods.Inc()
		pass.Produced = append(pass.Produced, p.String())
		s.log.Info("report scheduler: period produced", zap.String("period", p.String()),
			zap.Uint64("tree_size", sn.Checkpoint.TreeSize), zap.String("root", sn.Checkpoint.Root))
	}
	return nil
}

// firstEvent is the earliest observation time of the archive's records.
func firstEvent(records []Record) (time.Time, bool) {
	var first time.Time
	for _, r := range records {
		e, err := event.UnmarshalCanonical(r.Value)
		if err != nil || e.Time.IsZero() {
			continue // the processor skips it; so does the accounting
		}
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
	}
	return first.UTC(), !first.IsZero()
}

// complete reports whether a period's record is there with every file of
// the configured formats in Dir.
func (s *Scheduler) complete(r *Produced) bool {
	if r == nil {
		return false
	}
	for _, f := range r.Files {
		if _, err := os.Stat(filepath.Join(s.cfg.Dir, f.Name)); err != nil {
			return false
		}
	}
	return true
}

// write computes period p at snap, writes its files atomically, then the
// period's record.
func (s *Scheduler) write(ctx context.Context, p Period, snap *Snapshot) error {
	d, err := ComputeAt(p, snap)
	if err != nil {
		return err
	}
	files, err := Files(ctx, d, s.cfg.Formats)
	if err != nil {
		return err
	}
	rec := Produced{Period: p.String(), Checkpoint: snap.Checkpoint, ProducedAt: s.cfg.Now().UTC()}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(s.cfg.Dir, f.Name), f.Data); err != nil {
			return err
		}
		form, ext := splitName(f.Name)
		sum := sha256.Sum256(f.Data)
		rec.Files = append(rec.Files, ProducedFile{Name: f.Name, SHA256: hex.EncodeToString(sum[:]),
			IdempotencyKey: IdempotencyKey(form, p, ext, snap.Checkpoint)})
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(s.producedPath(p.String()), append(b, '\n'))
}

// splitName reads form and format from <form>-YYYY-MM.<ext>.
func splitName(name string) (Form, string) {
	ext := strings.TrimPrefix(filepath.Ext(name), ".")
	base := strings.TrimSuffix(name, "."+ext)
	return Form(base[:len(base)-len("-YYYY-MM")]), ext
}

func (s *Scheduler) producedPath(period string) string {
	return filepath.Join(s.cfg.Dir, StateDir, "produced-"+period+".json")
}

func (s *Scheduler) deliveredPath(name string) string {
	return filepath.Join(s.cfg.Dir, StateDir, "delivered", name)
}

// readProduced reads the periods' records, by period.
func (s *Scheduler) readProduced() (map[string]*Produced, error) {
	paths, err := filepath.Glob(filepath.Join(s.cfg.Dir, StateDir, "produced-*.json"))
	if err != nil {
		return nil, err
	}
	out := map[string]*Produced{}
	for _, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var r Produced
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("report: scheduler: %s: %w", path, err)
		}
		if _, err := ParsePeriod(r.Period); err != nil {
			return nil, fmt.Errorf("report: scheduler: %s: %w", path, err)
		}
		out[r.Period] = &r
	}
	return out, nil
}

// deliverAll POSTs every produced file whose delivery record is missing
// (or names another key), oldest period first.
func (s *Scheduler) deliverAll(ctx context.Context, done map[string]*Produced, pass *Pass) {
	if s.cfg.Endpoint == "" {
		return
	}
	periods := make([]string, 0, len(done))
	for p := range done {
		periods = append(periods, p)
	}
	slices.Sort(periods)
	var todo []ProducedFile
	for _, p := range periods {
		for _, f := range done[p].Files {
			if b, err := os.ReadFile(s.deliveredPath(f.Name)); err == nil && strings.TrimSpace(string(b)) == f.IdempotencyKey {
				continue
			}
			todo = append(todo, f)
		}
	}
	pass.Undelivered = len(todo)
	s.m.Undelivered.Set(float64(len(todo)))
	for i, f := range todo {
		if ctx.Err() != nil {
			return
		}
		err := s.deliver(ctx, f)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.m.Deliveries.WithLabelValues("gave_up").Inc()
			pass.Failed = append(pass.Failed, f.Name)
			s.log.Error("report scheduler: delivery given up for this pass; tried again at the next", zap.String("file", f.Name),
				zap.String("endpoint", s.cfg.Endpoint), zap.Int("attempts", s.cfg.Attempts), zap.Duration("recheck", s.cfg.Recheck), zap.Error(err))
			continue
		}
		// The record comes after the 2xx: a crash between them re-POSTs
		// the file under the same key, which the receiver takes as the
		// same delivery.
		if err := writeAtomic(s.deliveredPath(f.Name), []byte(f.IdempotencyKey+"\n")); err != nil {
			s.log.Error("report scheduler: delivery record not written; the file will be re-delivered under the same key", zap.String("file", f.Name), zap.Error(err))
		}
		s.m.Deliveries.WithLabelValues("delivered").Inc()
		pass.Delivered = append(pass.Delivered, f.Name)
		s.m.Undelivered.Set(float64(len(todo) - i - 1 + len(pass.Failed)))
		s.log.Info("report scheduler: delivered", zap.String("file", f.Name), zap.String("idempotency_key", f.IdempotencyKey))
	}
	pass.Undelivered = len(pass.Failed)
	s.m.Undelivered.Set(float64(len(pass.Failed)))
}

// deliver POSTs one file, retrying as the config says.
func (s *Scheduler) deliver(ctx context.Context, f ProducedFile) error {
	body, err := os.ReadFile(filepath.Join(s.cfg.Dir, f.Name))
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(body); hex.EncodeToString(sum[:]) != f.SHA256 {
		return fmt.Errorf("report: %s in %s is not the file produced (sha256 %x, produced %s): not delivered", f.Name, s.cfg.Dir, sum, f.SHA256)
	}
	_, ext := splitName(f.Name)
	attempt := 0
	_, err = retry.Forever(ctx, s.cfg.Retry, func() (struct{}, error) {
		attempt++
		err := s.post(ctx, f, ext, body)
		if err == nil {
			return struct{}{}, nil
		}
		if attempt >= s.cfg.Attempts {
			return struct{}{}, retry.Permanent(fmt.Errorf("%d attempts: %w", attempt, err))
		}
		s.log.Warn("report scheduler: delivery attempt failed", zap.String("file", f.Name), zap.Int("attempt", attempt), zap.Error(err))
		var ra *retryAfter
		if errors.As(err, &ra) {
			// The receiver's wait replaces the backoff's (capped: a
			// receiver cannot park the scheduler for a day).
			return struct{}{}, errors.Join(err, &backoff.RetryAfterError{Duration: min(ra.wait, s.cfg.MaxRetryAfter)})
		}
		return struct{}{}, err
	})
	return err
}

// retryAfter is a 429 or 503 answer that said how long to wait.
type retryAfter struct {
	status string
	wait   time.Duration
}

func (e *retryAfter) Error() string {
	return fmt.Sprintf("the endpoint answered %s, Retry-After %s", e.status, e.wait)
}

// post is one attempt.
func (s *Scheduler) post(ctx context.Context, f ProducedFile, ext string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return retry.Permanent(err)
	}
	sum := sha256.Sum256(body)
	req.Header.Set("Content-Type", ContentType(ext))
	req.Header.Set("Idempotency-Key", f.IdempotencyKey)
	req.Header.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	req.Header.Set("User-Agent", "inbond-report/1")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			s.m.Attempts.WithLabelValues("transport").Inc()
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		s.m.Attempts.WithLabelValues("ok").Inc()
		return nil
	}
	s.m.Attempts.WithLabelValues("http_status").Inc()
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if n, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && n > 0 {
			return &retryAfter{status: resp.Status, wait: time.Duration(n) * time.Second}
		}
	}
	return fmt.Errorf("the endpoint answered %s", resp.Status)
}

// writeAtomic writes path whole: a temporary file in the same directory,
// synced, renamed over path, the directory synced. A reader (the API, a
// restart) sees the old file or the new one, never a part.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lockDir takes an exclusive flock on dir/lock without waiting: held is
// false when another process (or scheduler) has it.
func lockDir(dir string) (unlock func(), held bool, err error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, &fs.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, true, nil
}
