// Package api is inbond's HTTP API: shipments, their timelines, alerts and
// ledger proofs read from the state store and the archive; manifests and
// officers' alert commands written to the log; a Server-Sent Events stream of
// alert transitions and shipment updates; health, readiness and metrics.
//
// The routes are huma/v2 operations on a plain net/http ServeMux (humago), so
// the OpenAPI 3.1 document at /v1/openapi.json is generated from the same Go
// types the handlers return: it cannot drift from what is served.
//
// Nothing here writes state. What people do goes onto Kafka (manifests to
// inbond.manifests, through the Kafka gateway's validation; alert commands to
// inbond.events through alerts/desk), so the log stays the one writer's input
// and the audit trail.
package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"reflect"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Config is what the API reads and writes through, and how it is guarded.
type Config struct {
	// Store is the state store; Redis its client (for readiness).
	Store *state.Store
	Redis redis.UniversalClient
	// Brokers are Kafka's bootstrap brokers: the archive, inbond.alerts for
	// the stream, and where manifests and commands are written.
	Brokers []string
	// Writer publishes manifests and alert commands (default
	// bus.NewWriter(Brokers), closed by Close).
	Writer desk.Writer
	// Partitions of inbond.events (default bus.DefaultPartitions).
	Partitions int

	// Listen is the HTTP address ("" serves nothing: use Handler; ":0" picks
	// a free port, which Addr reports).
	Listen string

	// TokenFile holds the accepted tokens' hashes, one "role sha256hex [name]"
	// per line. When it does not exist it is created (0600) with one new
	// cbp token, printed once to TokenOut. Empty: no file.
	TokenFile string
	// Tokens are more tokens, in plain text, as "role=token" (the
	// INBOND_API_TOKENS form); they are hashed at start and never kept.
	Tokens []string
	// TokenOut receives the generated admin token (default os.Stderr).
	TokenOut io.Writer

	// RateLimit is each token's sustained requests per second (default
	// 50), Burst its bucket (default 100). A negative RateLimit disables it.
	RateLimit float64
	Burst     int

	// LedgerLog is the transparency log: the anchor's directory or its
	// HTTP root. VerifierKey is its note verifier key (or a file holding
	// it). Either empty: the ledger endpoints answer 503.
	LedgerLog   string
	VerifierKey string

	// Reports is the report scheduler's directory (report.SchedulerConfig's
	// Dir, or an `inbond replay --out` run's DIR/reports): /v1/reports
	// serves the files written there, so every report served names its
	// ledger checkpoint and verifies; nothing is computed on request.
	// Empty: the report routes answer 503.
	Reports string

	// Heartbeat is how often an idle stream sends a comment line (default
	// 15 s). StreamBuffer bounds the records kept per partition for
	// resuming streams (default 1024); older gaps are read from Kafka.
	Heartbeat    time.Duration
	StreamBuffer int

	// ListCacheTTL is how long the shipment list reuses the indexes' answer
	// for one filter (default 1 s; negative: never): every shown shipment
	// is still checked against its current state, so a list is never wrong,
	// only up to this late to show a shipment that just started to match.
	ListCacheTTL time.Duration

	// ProcessorGroup is the processors' consumer group: /readyz answers 503
	// until its members hold every partition of inbond.events. Empty: not
	// checked (an API with no processor behind it).
	ProcessorGroup string

	// Gatherer serves /metrics (nil: 404): the system's registry.
	Gatherer prometheus.Gatherer

	Log *zap.Logger
	// Now is the wall clock: rate limits, caches. EventClock stamps what
	// the API writes to the log, commands and manifests, as received
	// (default Now): the demo and replay, whose carriers live in simulated
	// time, pass theirs, as they do to the gateways.
	Now        func() time.Time
	EventClock func() time.Time
}

// Server is a configured API. Handler serves it; Run also listens on
// Config.Listen and runs the stream's readers.
type Server struct {
	cfg      Config
	log      *zap.Logger
	desk     *desk.Desk
	tokens   *tokens
	limits   *limiter
	lists    listCache
	hub      *hub
	reports  reportIndex
	mux      *http.ServeMux
	api      huma.API
	listener net.Listener
	closeW   func() error
}

// New checks cfg, loads (or creates) the tokens and builds the routes. It
// listens on cfg.Listen when set; the stream's Kafka readers start with Run.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: no state store")
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("api: no Kafka brokers")
	}
	cfg.Partitions = cmp.Or(cfg.Partitions, bus.DefaultPartitions)
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, 15*time.Second)
	cfg.StreamBuffer = cmp.Or(cfg.StreamBuffer, 1024)
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 50
	}
	cfg.Burst = cmp.Or(cfg.Burst, 100)
	cfg.ListCacheTTL = cmp.Or(cfg.ListCacheTTL, time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.EventClock == nil {
		cfg.EventClock = cfg.Now
	}
	if cfg.TokenOut == nil {
		cfg.TokenOut = os.Stderr
	}
	s := &Server{cfg: cfg, log: cfg.Log, closeW: func() error { return nil }, lists: listCache{ttl: cfg.ListCacheTTL}}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if cfg.Writer == nil {
		w := bus.NewWriter(cfg.Brokers)
		s.cfg.Writer, s.closeW = w, w.Close
	}
	var err error
	if s.tokens, err = loadTokens(cfg.TokenFile, cfg.Tokens, cfg.TokenOut); err != nil {
		return nil, err
	}
	s.limits = newLimiter(rate.Limit(cfg.RateLimit), cfg.Burst)
	s.desk = &desk.Desk{Store: cfg.Store, Writer: s.cfg.Writer, Partitions: cfg.Partitions, Now: cfg.EventClock}
	s.hub = newHub(cfg.Brokers, cfg.Partitions, cfg.StreamBuffer, s.log)
	s.routes()
	if cfg.Listen != "" {
		if s.listener, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("api: listen %s: %w", cfg.Listen, err)
		}
	}
	return s, nil
}

// Handler serves every route: /v1/..., /healthz, /readyz, /metrics.
func (s *Server) Handler() http.Handler { return s.mux }

// Addr is the address listened on ("" when Config.Listen was empty).
func (s *Server) Addr() string {
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// OpenAPI is the generated document, as served at /v1/openapi.json.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Run tails inbond.alerts and inbond.events for the stream and serves HTTP
// on the listener (if any) until ctx ends; then it shuts the server down,
// ending open streams, and closes the writer it made.
func (s *Server) Run(ctx context.Context) error {
	defer func() { _ = s.closeW() }()
	hubErr := make(chan error, 1)
	go func() { hubErr <- s.hub.run(ctx) }()
	if s.listener == nil {
		<-ctx.Done()
		return <-hubErr
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	srvErr := make(chan error, 1)
	go func() { srvErr <- srv.Serve(s.listener) }()
	select {
	case <-ctx.Done():
	case err := <-srvErr:
		return fmt.Errorf("api: serve: %w", err)
	case err := <-hubErr:
		if ctx.Err() == nil {
			return err
		}
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shut)
	return nil
}

// Ready reports whether the stream's readers are positioned: a resume or a
// new stream is exact from then on.
func (s *Server) Ready() <-chan struct{} { return s.hub.ready }

// routes builds the mux: the huma operations, then what is not JSON.
func (s *Server) routes() {
	useErrorModel()
	s.mux = http.NewServeMux()
	config := huma.DefaultConfig("inbond API", "1.0.0")
	config.OpenAPIPath = "/v1/openapi"
	config.Components.Schemas = huma.NewMapRegistry("#/components/schemas/", schemaName)
	// No docs UI (it loads scripts from a CDN) and no $schema links.
	config.DocsPath, config.SchemasPath, config.CreateHooks = "", "", nil
	config.Info.Description = "Shipments, alerts, manifests, the live stream and ledger proofs of inbond. " +
		"Every route but /healthz, /readyz and /v1/openapi.json takes a bearer token; roles: cbp, doe, carrier:SCAC."
	config.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "a token of role cbp, doe or carrier:SCAC"},
	}
	s.api = humago.New(s.mux, config)
	s.api.UseMiddleware(s.authenticate)
	s.registerShipments()
	s.registerAlerts()
	s.registerManifests()
	s.registerStream()
	s.registerLedger()
	s.registerReports()
	s.registerHealth()
	s.registerDashboard()
	s.mux.Handle("GET /metrics", s.guard(roleCBP, s.metricsHandler()))
}

// schemaName names a type's schema by its package too: state.Quality and
// event.Quality are different types, and huma's default namer would clash.
func schemaName(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	pkg := path.Base(t.PkgPath())
	if t.Name() == "" || pkg == "api" || pkg == "." || !strings.Contains(t.PkgPath(), "/") {
		return name
	}
	return strings.ToUpper(pkg[:1]) + pkg[1:] + name
}

func (s *Server) metricsHandler() http.Handler {
	if s.cfg.Gatherer == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{})
}
