// Package pipeline assembles inbond. From one Config it connects to the
// servers a run needs, or starts them in-process, and starts the stages (the
// ingest gateways, the processor, and the stages still to come) in the order
// their data flows; Stop stops them in reverse. Every way of running inbond
// goes through Start: `inbond ingest`, `process` and `demo`, the simulator's
// embedded mode, the benchmark and the tests, so all of them run the same
// system, wired once.
//
// It is the top floor below cmd/: it imports the stages, which never import
// it.
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/alerts/webhook"
	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/obs"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/report"
	"github.com/inbond/inbond/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Config is the whole system: where its servers are and which stages run.
// A nil stage does not run.
type Config struct {
	Kafka Kafka
	MQTT  MQTT
	Redis Redis // used by the processor

	Ingest   *Ingest
	Process  *processor.Config // Brokers, Store, Metrics and Log are filled in by Start
	Webhooks *webhook.Config   // the webhook sink of inbond.alerts
	// Anchor logs the processor's checkpoints in the transparency log and
	// writes receipts (Brokers, Store, Redis, Logger and Registerer are
	// filled in by Start; it uses the system's Redis).
	Anchor *anchor.Config
	// API serves the HTTP API and the dashboard (Store, Redis, Brokers,
	// Partitions, Gatherer and Log are filled in by Start; so are the
	// ledger's log and key when the system's anchor runs, and the
	// processors' group for /readyz when its processor runs).
	API *api.Config
	// Reports runs the DOE report scheduler over the system's archive and
	// ledger (it needs Anchor unless Source is given; Source, Metrics and
	// Log are filled in by Start when zero). The API serves its Dir when
	// API.Reports is empty.
	Reports *report.SchedulerConfig

	// MetricsAddr is the listen address of /metrics ("" disables it).
	MetricsAddr string
	// MetricsBestEffort makes an address that cannot be listened on a
	// warning instead of an error (the demo).
	MetricsBestEffort bool
	// Registry receives every stage's metrics (default: a new one with the
	// Go runtime and process collectors).
	Registry *prometheus.Registry
	Log      *zap.Logger // default: no logging
}

// Kafka says which Kafka cluster the system uses.
type Kafka struct {
	// Brokers are the bootstrap brokers of a running cluster.
	Brokers []string
	// Embedded starts an in-process cluster (kfake) with inbond's topics
	// instead, on Port (0: any free port; a busy one falls back to any free
	// port with a warning).
	Embedded bool
	Port     int
	// CreateTopics creates inbond's topics on Brokers where missing, with
	// Partitions partitions for inbond.events (default bus.DefaultPartitions).
	CreateTopics bool
	Partitions   int
}

// MQTT says which MQTT broker the carriers' devices publish to.
type MQTT struct {
	// URL is the broker's, e.g. tcp://127.0.0.1:1883.
	URL string
	// Embedded starts an in-process broker (mochi-mqtt) on Listen instead
	// ("127.0.0.1:0" or empty: any free port; a busy one falls back to any
	// free port with a warning).
	Embedded bool
	Listen   string
}

// Redis says where the processor keeps shipment state.
type Redis struct {
	// Client, when set, is used as it is and not closed by Stop.
	Client redis.UniversalClient
	// Addr, DB and Password connect a client when Client is nil.
	Addr     string
	DB       int
	Password string
	// Prefix is put before every key (default "inbond:").
	Prefix string
	// InProcessFallback starts an in-process Redis (miniredis) when Addr is
	// unreachable, instead of failing; InProcess starts one whatever Addr.
	InProcessFallback bool
	InProcess         bool
	// Reset deletes every key under Prefix before the processor starts: for
	// runs whose Kafka is new, where stored offsets would point past its end.
	Reset bool
}

// Ingest configures the gateways stage.
type Ingest struct {
	// MQTT runs the MQTT gateway; an empty Broker is the system's MQTT URL.
	MQTT *ingest.MQTTConfig
	// Kafka runs the Kafka gateway; empty Brokers are the system's.
	Kafka *ingest.KafkaConfig
	// MaxMessageBytes bounds an input (default ingest.DefaultMaxBytes).
	MaxMessageBytes int
	Forwarder       ingest.ForwarderConfig
	DrainTimeout    time.Duration // default 10 s
	// ReadyTimeout bounds how long Start waits for the gateways to take
	// input (0: as long as it takes; Start returns early anyway when ctx
	// ends or a stage stops).
	ReadyTimeout time.Duration
	// Now stamps each input's receipt (default: the wall clock). The demo
	// and replay, whose carriers live in simulated time, pass its clock, so
	// receipt and observation times stay comparable.
	Now func() time.Time
}

// Embedded is the configuration of the whole system on in-process servers:
// Kafka, an MQTT broker and both gateways, as the demo and the simulator's
// embedded mode run it. Add Process and Redis for the processor.
func Embedded(kafkaPort int, mqttListen string) Config {
	return Config{
		Kafka: Kafka{Embedded: true, Port: kafkaPort},
		MQTT:  MQTT{Embedded: true, Listen: mqttListen},
		Ingest: &Ingest{
			MQTT:         &ingest.MQTTConfig{ClientID: "inbond-embedded-ingest", SharedGroup: "inbond-ingest"},
			Kafka:        &ingest.KafkaConfig{GroupID: "inbond-ingest", SessionTimeout: 6 * time.Second},
			ReadyTimeout: 30 * time.Second,
		},
	}
}

// System is a running inbond. Its exported fields say where its parts are;
// they do not change after Start.
type System struct {
	Brokers     []string             // Kafka bootstrap brokers
	MQTTURL     string               // the MQTT broker ("" without the MQTT gateway or an embedded broker)
	RedisAddr   string               // where state is ("" without the processor)
	RedisKind   string               // "real", "in-process" or "client" (given by the caller)
	Store       *state.Store         // the processor's store (nil without it)
	Processor   *processor.Processor // nil without it
	Anchor      *anchor.Anchor       // nil without it
	API         *api.Server          // nil without it
	anchorDir   string               // the anchor's log directory
	MetricsAddr string               // "" when disabled
	Registry    *prometheus.Registry

	log   *zap.Logger
	rdb   redis.UniversalClient // the store's client
	stops []func()              // run in reverse order by Stop

	// ended is closed when the first stage returns without being asked to:
	// a failure, or a stage that found nothing to do.
	ended     chan struct{}
	endedOnce sync.Once

	mu   sync.Mutex // guards errs
	errs []error
}

// Start starts what cfg asks for and returns once the gateways take input
// (see Ingest.ReadyTimeout). On an error everything started is stopped
// again. The caller must call Stop.
func Start(ctx context.Context, cfg Config) (s *System, err error) {
	s = &System{Registry: cfg.Registry, log: cfg.Log, ended: make(chan struct{})}
	if s.Registry == nil {
		s.Registry = obs.NewRegistry()
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	defer func() {
		if err != nil {
			_ = s.Stop()
		}
	}()
	if err := s.startKafka(ctx, cfg.Kafka); err != nil {
		return s, err
	}
	if err := s.startMQTT(cfg.MQTT); err != nil {
		return s, err
	}
	if err := s.serveMetrics(cfg); err != nil {
		return s, err
	}
	if cfg.Ingest != nil {
		if err := s.startIngest(ctx, *cfg.Ingest); err != nil {
			return s, err
		}
	}
	if cfg.Process != nil {
		if err := s.startProcessor(ctx, cfg.Redis, *cfg.Process); err != nil {
			return s, err
		}
	}
	if cfg.Anchor != nil {
		if err := s.startAnchor(ctx, cfg.Redis, *cfg.Anchor); err != nil {
			return s, err
		}
	}
	if cfg.Reports != nil {
		if err := s.startReports(ctx, cfg, *cfg.Reports); err != nil {
			return s, err
		}
	}
	if cfg.API != nil {
		if err := s.startAPI(ctx, cfg, *cfg.API); err != nil {
			return s, err
		}
	}
	if cfg.Webhooks != nil {
		sink, err := webhook.New(*cfg.Webhooks, webhook.Options{Brokers: s.Brokers, Log: s.log, Metrics: webhook.NewMetrics(s.Registry)})
		if err != nil {
			return s, err
		}
		s.run("webhooks", sink.Run)
	}
	return s, nil
}

// Run starts the system, runs it until ctx ends or a stage stops, then stops
// it and returns what went wrong, if anything: what `inbond ingest` and
// `inbond process` do.
func Run(ctx context.Context, cfg Config) error {
	s, err := Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil // stopped (Ctrl-C) while waiting for a server: a clean stop
		}
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.Ended():
	}
	return s.Stop()
}

// Ended is closed as soon as a stage returns without Stop having asked it
// to (for example the processor refusing a changed partition count).
func (s *System) Ended() <-chan struct{} { return s.ended }

// Stop stops the stages and servers in the reverse order of their start (the
// processor flushes, the gateways drain and ack, the servers close) and
// returns the errors the stages stopped with. It is idempotent.
func (s *System) Stop() error {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
	return s.stageErrors()
}

// stageErrors joins the errors the stages stopped with so far.
func (s *System) stageErrors() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

func (s *System) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *System) onStop(f func()) { s.stops = append(s.stops, f) }

// run runs a stage on its own context; Stop cancels that context and waits
// for the stage to return. A stage returning on its own closes Ended.
func (s *System) run(name string, stage func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := stage(ctx)
		if err != nil {
			s.log.Error(name+" stopped with an error", zap.Error(err))
			s.fail(fmt.Errorf("%s: %w", name, err))
		}
		if ctx.Err() == nil {
			s.endedOnce.Do(func() { close(s.ended) })
		}
	}()
	s.onStop(func() { cancel(); <-done })
}

func (s *System) startKafka(ctx context.Context, k Kafka) error {
	if !k.Embedded {
		if len(k.Brokers) == 0 {
			return errors.New("pipeline: no Kafka brokers configured")
		}
		s.Brokers = k.Brokers
		if k.CreateTopics {
			return bus.EnsureTopics(ctx, k.Brokers, bus.Topics(k.Partitions))
		}
		return nil
	}
	cfg := embedded.KafkaConfig{Port: k.Port, Partitions: k.Partitions, Log: s.log}
	brokers, stop, err := embedded.Kafka(cfg)
	if err != nil && k.Port != 0 {
		s.log.Warn("kafka port busy; using a free port", zap.Int("port", k.Port), zap.Error(err))
		cfg.Port = 0
		brokers, stop, err = embedded.Kafka(cfg)
	}
	if err != nil {
		return err
	}
	s.Brokers = brokers
	s.onStop(stop)
	return nil
}

func (s *System) startMQTT(m MQTT) error {
	s.MQTTURL = m.URL
	if !m.Embedded {
		return nil
	}
	listen := m.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	url, stop, err := embedded.MQTT(listen)
	if err != nil && listen != "127.0.0.1:0" {
		s.log.Warn("mqtt address busy; using a free port", zap.String("addr", listen), zap.Error(err))
		url, stop, err = embedded.MQTT("127.0.0.1:0")
	}
	if err != nil {
		return err
	}
	s.MQTTURL = url
	s.onStop(stop)
	return nil
}

func (s *System) serveMetrics(cfg Config) error {
	m, err := obs.ServeMetrics(cfg.MetricsAddr, s.Registry)
	if err != nil {
		if !cfg.MetricsBestEffort {
			return err
		}
		s.log.Warn("metrics disabled", zap.Error(err))
		return nil
	}
	s.MetricsAddr = m.Addr()
	s.onStop(func() {
		if err := m.Close(); err != nil {
			s.log.Warn("metrics server", zap.Error(err))
		}
	})
	return nil
}

func (s *System) startIngest(ctx context.Context, in Ingest) error {
	writer := bus.NewWriter(s.Brokers)
	s.onStop(func() { _ = writer.Close() })
	svc := &ingest.Service{
		Writer:       writer,
		Decoder:      &ingest.Decoder{MaxBytes: in.MaxMessageBytes, Now: in.Now},
		Forwarder:    in.Forwarder,
		DrainTimeout: in.DrainTimeout,
		Metrics:      ingest.NewMetrics(s.Registry),
		Log:          s.log,
	}
	if in.MQTT != nil {
		c := *in.MQTT
		if c.Broker == "" {
			c.Broker = s.MQTTURL
		}
		svc.MQTT = &c
	}
	if in.Kafka != nil {
		c := *in.Kafka
		if len(c.Brokers) == 0 {
			c.Brokers = s.Brokers
		}
		svc.Kafka = &c
	}
	s.log.Info("ingest starting", zap.Strings("kafka", s.Brokers), zap.Bool("mqtt", svc.MQTT != nil), zap.Bool("kafka_gateway", svc.Kafka != nil))
	s.run("ingest", svc.Run)
	var timeout <-chan time.Time
	if in.ReadyTimeout > 0 {
		timeout = time.After(in.ReadyTimeout)
	}
	select {
	case <-svc.Ready():
		return nil
	case <-s.ended:
		return fmt.Errorf("pipeline: the ingest gateways stopped before taking input: %w", s.stageErrors())
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		return fmt.Errorf("pipeline: ingest gateways not taking input after %s", in.ReadyTimeout)
	}
}

// openStore connects the system's Redis and its store, once for the stages
// that share it (the processor, the anchor).
func (s *System) openStore(ctx context.Context, r Redis) error {
	if s.Store != nil {
		return nil
	}
	rdb, err := s.connectRedis(ctx, r)
	if err != nil {
		return err
	}
	prefix := r.Prefix
	if prefix == "" {
		prefix = "inbond:"
	}
	if s.Store, err = state.NewStore(rdb, prefix); err != nil {
		return err
	}
	s.rdb = rdb
	if r.Reset {
		if err := s.Store.DeletePrefix(ctx); err != nil {
			return fmt.Errorf("redis %s: clear %s*: %w", s.RedisAddr, prefix, err)
		}
	}
	return nil
}

func (s *System) startAnchor(ctx context.Context, r Redis, ac anchor.Config) error {
	if err := s.openStore(ctx, r); err != nil {
		return err
	}
	ac.Brokers, ac.Store, ac.Redis, ac.Logger, ac.Registerer = s.Brokers, s.Store, s.rdb, s.log, s.Registry
	a, err := anchor.New(ac)
	if err != nil {
		return err
	}
	s.Anchor, s.anchorDir = a, ac.Dir
	s.log.Info("anchor starting", zap.String("log", ac.Dir), zap.String("verifier_key", a.VerifierKey()), zap.String("http", a.Addr()))
	s.run("anchor", a.Run)
	return nil
}

func (s *System) startAPI(ctx context.Context, cfg Config, ac api.Config) error {
	if err := s.openStore(ctx, cfg.Redis); err != nil {
		return err
	}
	ac.Store, ac.Redis, ac.Brokers, ac.Gatherer, ac.Log = s.Store, s.rdb, s.Brokers, s.Registry, s.log
	ac.Partitions = cmp.Or(ac.Partitions, cfg.Kafka.Partitions)
	if cfg.Reports != nil && ac.Reports == "" {
		ac.Reports = cfg.Reports.Dir
	}
	if s.Anchor != nil && ac.LedgerLog == "" {
		ac.LedgerLog, ac.VerifierKey = s.anchorDir, s.Anchor.VerifierKey()
	}
	if cfg.Process != nil && ac.ProcessorGroup == "" {
		ac.ProcessorGroup = cmp.Or(cfg.Process.Group, processor.DefaultGroup)
	}
	srv, err := api.New(ac)
	if err != nil {
		return err
	}
	s.API = srv
	s.log.Info("api starting", zap.String("http", srv.Addr()), zap.String("ledger", ac.LedgerLog))
	s.run("api", srv.Run)
	return nil
}

// anchorFirstCheckpoint bounds the wait for a new log's first checkpoint.
const anchorFirstCheckpoint = 30 * time.Second

func (s *System) startReports(ctx context.Context, cfg Config, rc report.SchedulerConfig) error {
	if err := s.openStore(ctx, cfg.Redis); err != nil {
		return err
	}
	if rc.Source.Log == nil {
		if s.Anchor == nil {
			return errors.New("pipeline: the report scheduler reads the ledger's log: run the anchor too, or give the scheduler a Source")
		}
		// Tessera writes the new log's first checkpoint shortly after
		// the anchor starts; a pass before it would only fail and retry.
		lr, err := report.OpenLog(s.anchorDir)
		for wait := time.Now().Add(anchorFirstCheckpoint); err != nil && time.Now().Before(wait); {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.ended:
				return fmt.Errorf("pipeline: a stage stopped before the log's first checkpoint: %w", s.stageErrors())
			case <-time.After(50 * time.Millisecond):
			}
			lr, err = report.OpenLog(s.anchorDir)
		}
		if err != nil {
			return err
		}
		key, err := audit.Verifier(s.Anchor.VerifierKey())
		if err != nil {
			return err
		}
		rc.Source = report.Source{Brokers: s.Brokers, Log: lr, Key: key,
			Alerts: (&desk.Desk{Store: s.Store, Partitions: cfg.Kafka.Partitions}).All}
	}
	if rc.Metrics == nil {
		rc.Metrics = report.NewSchedulerMetrics(s.Registry)
	}
	if rc.Log == nil {
		rc.Log = s.log.Named("report")
	}
	sched, err := report.NewScheduler(rc)
	if err != nil {
		return err
	}
	s.log.Info("report scheduler starting", zap.String("dir", rc.Dir), zap.String("endpoint", rc.Endpoint))
	s.run("reports", sched.Run)
	return nil
}

// Audit is how to verify histories against this system's ledger: its
// archive, its store's receipts, and its anchor's log and key, the way an
// auditor with the key would (the system's own anchor is trusted for
// nothing but the key's name).
func (s *System) Audit() (audit.Config, error) {
	if s.Anchor == nil {
		return audit.Config{}, errors.New("pipeline: no anchor runs, so there is no ledger to verify against")
	}
	key, err := audit.Verifier(s.Anchor.VerifierKey())
	if err != nil {
		return audit.Config{}, err
	}
	lg, err := audit.OpenLog(s.anchorDir)
	if err != nil {
		return audit.Config{}, err
	}
	return audit.Config{Brokers: s.Brokers, Store: s.Store, Log: lg, Key: key}, nil
}

func (s *System) startProcessor(ctx context.Context, r Redis, pc processor.Config) error {
	if err := s.openStore(ctx, r); err != nil {
		return err
	}
	prefix := s.Store.Prefix()
	pc.Brokers, pc.Store, pc.Log = s.Brokers, s.Store, s.log
	pc.Metrics = processor.NewMetrics(s.Registry)
	p, err := processor.New(pc)
	if err != nil {
		return err
	}
	s.Processor = p
	s.log.Info("processor starting", zap.String("redis", s.RedisAddr), zap.String("prefix", prefix))
	s.run("processor", p.Run)
	return nil
}

// connectRedis returns the client state is kept with: the caller's, or one
// connected to r.Addr (or to an in-process Redis, when allowed and r.Addr is
// unreachable), checked with a PING.
func (s *System) connectRedis(ctx context.Context, r Redis) (redis.UniversalClient, error) {
	if r.Client != nil {
		s.RedisKind = "client"
		return r.Client, nil
	}
	s.RedisAddr, s.RedisKind = r.Addr, "real"
	if r.InProcess || r.InProcessFallback {
		if c, err := net.DialTimeout("tcp", r.Addr, time.Second); err == nil && !r.InProcess {
			_ = c.Close()
		} else {
			addr, stop, err := embedded.Redis()
			if err != nil {
				return nil, err
			}
			s.onStop(stop)
			s.RedisAddr, s.RedisKind = addr, "in-process"
		}
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.RedisAddr, DB: r.DB, Password: r.Password})
	s.onStop(func() { _ = rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("redis %s: %w", s.RedisAddr, err)
	}
	return rdb, nil
}

// Forwarded counts the records on inbond.events and inbond.dlq: what the
// gateways have written so far.
func (s *System) Forwarded(ctx context.Context) (events, deadLetters int64, err error) {
	for topic, n := range map[event.Topic]*int64{event.TopicEvents: &events, event.TopicDLQ: &deadLetters} {
		ends, err := bus.EndOffsets(ctx, s.Brokers, string(topic))
		if err != nil {
			return 0, 0, err
		}
		for _, e := range ends {
			*n += e
		}
	}
	return events, deadLetters, nil
}
