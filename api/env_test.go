package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
)

var t0 = time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)

func ptr(v float64) *float64 { return &v }

// Tokens of the test roles.
const (
	cbpTok  = "tok-cbp"
	doeTok  = "tok-doe"
	enbrTok = "tok-enbr"
	prtkTok = "tok-prtk"
)

// env is an API over real Redis (a unique prefix) and in-process Kafka,
// with every response checked against the served OpenAPI document.
type env struct {
	t       *testing.T
	rdb     *testenv.Redis
	store   *state.Store
	brokers []string
	writer  *kafka.Writer
	srv     *api.Server
	http    *httptest.Server
	router  routers.Router
	cancel  context.CancelFunc
	done    chan struct{}

	mu      sync.Mutex
	ships   map[event.ShipmentID]*state.Shipment
	claims  map[int]*state.Claim
	seen    map[int]*state.Index
	idx     map[event.ShipmentID]*state.Index
	watches map[event.ShipmentID]*alerts.Watch // as the processor keeps them
}

func newEnv(t *testing.T, edit ...func(*api.Config)) *env {
	t.Helper()
	e := &env{t: t, rdb: testenv.NewRedis(t), brokers: testenv.Kafka(t, embedded.KafkaConfig{}),
		ships: map[event.ShipmentID]*state.Shipment{}, claims: map[int]*state.Claim{}, idx: map[event.ShipmentID]*state.Index{}, watches: map[event.ShipmentID]*alerts.Watch{}}
	var err error
	if e.store, err = state.NewStore(e.rdb.Client, e.rdb.Prefix); err != nil {
		t.Fatal(err)
	}
	e.writer = bus.NewWriter(e.brokers)
	t.Cleanup(func() { _ = e.writer.Close() })
	cfg := api.Config{Store: e.store, Redis: e.rdb.Client, Brokers: e.brokers, Heartbeat: 200 * time.Millisecond,
		Tokens: []string{"cbp=" + cbpTok, "doe=" + doeTok, "carrier:ENBR=" + enbrTok, "carrier:PRTK=" + prtkTok}, RateLimit: -1}
	for _, f := range edit {
		f(&cfg)
	}
	if e.srv, err = api.New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() { defer close(e.done); _ = e.srv.Run(ctx) }()
	e.http = httptest.NewServer(e.srv.Handler())
	t.Cleanup(func() { e.http.CloseClientConnections(); e.http.Close(); cancel(); <-e.done })
	select {
	case <-e.srv.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("stream never positioned")
	}
	e.loadDocument()
	return e
}

// loadDocument reads /v1/openapi.json as served and builds kin-openapi's
// router over it: every later response is validated against it.
func (e *env) loadDocument() {
	res, err := http.Get(e.http.URL + "/v1/openapi.json")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		e.t.Fatalf("load the served OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		e.t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		e.t.Fatalf("the served OpenAPI document is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: e.http.URL}}
	if e.router, err = legacy.NewRouter(doc); err != nil {
		e.t.Fatal(err)
	}
}

// response is an answer already checked against the document.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// do sends a request with token ("" for none) and validates the response
// (status, headers, body) against the served OpenAPI document.
func (e *env) do(method, path, token string, body []byte) response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.http.URL+path, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	e.validate(req, body, res, raw)
	return response{res.StatusCode, res.Header, raw}
}

func (e *env) validate(req *http.Request, body []byte, res *http.Response, raw []byte) {
	e.t.Helper()
	route, params, err := e.router.FindRoute(documented(req))
	if err != nil {
		e.t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status: res.StatusCode, Header: res.Header, Body: io.NopCloser(bytes.NewReader(raw)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream")},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		e.t.Errorf("%s %s → %d %s: does not match the OpenAPI document: %v", req.Method, req.URL, res.StatusCode, truncate(raw), err)
	}
}

// documented is req as the document names its route: a tile's index path
// spans segments, which an OpenAPI path parameter cannot, so the document
// has one {index} parameter that the request's segments are matched to.
func documented(req *http.Request) *http.Request {
	const tiles = "/v1/ledger/tile/"
	rest, ok := strings.CutPrefix(req.URL.Path, tiles)
	if !ok {
		return req
	}
	level, index, _ := strings.Cut(rest, "/")
	r := req.Clone(req.Context())
	r.URL.Path = tiles + level + "/" + strings.ReplaceAll(index, "/", "~")
	return r
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

func manifest(scac event.CarrierID, serial int, mode event.Mode) *event.Manifest {
	m := &event.Manifest{
		InBondNumber: event.InBondNumber(serial), EntryType: event.EntryTE, Mode: mode, Product: event.ProductCrude,
		HTS: "2709.00.20", DeclaredQuality: event.Quality{APIGravity: ptr(32), SulfurPct: ptr(1)}, DeclaredQuantity: 1000,
		Unit: event.VolumeBarrels, Importer: event.Party{Name: "Lakehead Refining LLC", ID: "12-3456789AB"},
		Carrier: event.BondedCarrier{SCAC: scac, IRSNumber: "54-3210987FF"}, CountryOfOrigin: "CA",
		OriginPort: "3404", DestinationPort: "3802", CreatedAt: t0, Deadline: t0.AddDate(0, 0, 30),
	}
	if mode == event.ModePipeline {
		m.EntryMeter, m.ExitMeter = "IN", "OUT"
	} else {
		m.Corridor = "TRUCK-WILDHORSE-SWEETGRASS"
	}
	return m
}

// apply publishes e to inbond.events, as a gateway does, and applies it
// to the shipment's state, as the processor does; flush writes the states.
func (e *env) apply(ev *event.Envelope) {
	e.t.Helper()
	ev.SpecVersion, ev.DataContentType, ev.PartitionKey = event.SpecVersion, event.ContentTypeJSON, ev.Subject
	if ev.ReceivedTime.IsZero() {
		ev.ReceivedTime = ev.Time
	}
	if ev.Source == "" {
		ev.Source = "urn:inbond:carrier:" + string(ev.Carrier)
	}
	b, err := event.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.writer.WriteMessages(context.Background(), kafka.Message{Topic: string(event.TopicEvents), Key: []byte(ev.Subject), Value: b}); err != nil {
		e.t.Fatal(err)
	}
	sh := e.ships[ev.Subject]
	if sh == nil {
		sh = state.New(ev.Subject)
		e.ships[ev.Subject] = sh
	}
	if _, err := state.Apply(sh, ev); err != nil {
		e.t.Fatal(err)
	}
}

var seq int

func (e *env) event(ship event.ShipmentID, carrier event.CarrierID, at time.Duration, p event.Payload) *event.Envelope {
	seq++
	ev := &event.Envelope{ID: "ev-" + string(ship) + "-" + time.Duration(seq).String(), Type: p.EventType(), Subject: ship, Carrier: carrier, Time: t0.Add(at), Data: p}
	if ev.Kind() == event.KindTelemetry {
		ev.Device, ev.Sequence = "GPS-1", uint64(seq)
	}
	e.apply(ev)
	return ev
}

// flush writes every applied shipment, and the given alert transitions,
// as the processor's flush does (records, active and all sets), then
// publishes the transitions to inbond.alerts as its outbox does.
func (e *env) flush(ts ...alerts.Transition) {
	e.t.Helper()
	ctx := context.Background()
	byPart := map[int][]state.Change{}
	for id, sh := range e.ships {
		p := bus.PartitionOf([]byte(id), bus.DefaultPartitions)
		byPart[p] = append(byPart[p], state.Change{Shipment: sh, Before: e.idx[id]})
		ix := state.IndexOf(sh)
		e.idx[id] = &ix
	}
	extra := map[int]*state.Extra{}
	var msgs []kafka.Message
	for _, tr := range ts {
		p := bus.PartitionOf([]byte(tr.Alert.Shipment), bus.DefaultPartitions)
		x := extra[p]
		if x == nil {
			x = &state.Extra{}
			extra[p] = x
		}
		rec, _ := json.Marshal(tr.Alert)
		x.Records = append(x.Records, state.Record{Suffix: alerts.RecordSuffix(tr.Alert.ID), Value: rec})
		x.Members = append(x.Members, alerts.IndexMembers(tr)...)
		// The watch, as the processor keeps it: the shipment's alerts not
		// resolved, by rule.
		w := e.watches[tr.Alert.Shipment]
		if w == nil {
			w = alerts.NewWatch(tr.Alert.Shipment)
			w.Active = map[alerts.Rule]*alerts.Alert{}
			e.watches[tr.Alert.Shipment] = w
		}
		if a := tr.Alert; a.Active() {
			w.Active[a.Rule] = &a
		} else {
			delete(w.Active, a.Rule)
		}
		wb, _ := json.Marshal(w)
		x.Records = append(x.Records, state.Record{Suffix: alerts.WatchSuffix(w.Shipment), Value: wb})
		x.Members = append(x.Members, alerts.OpenMember(w))
		out, err := tr.Marshal()
		if err != nil {
			e.t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: string(event.TopicAlerts), Key: []byte(tr.Alert.Shipment), Value: out})
		if _, ok := byPart[p]; !ok {
			byPart[p] = nil
		}
	}
	for p, changes := range byPart {
		c := e.claims[p]
		if c == nil {
			cl, err := e.store.Claim(ctx, p, "api-test", 0)
			if err != nil {
				e.t.Fatal(err)
			}
			c = &cl
			e.claims[p] = c
		}
		if err := e.store.FlushWith(ctx, c, c.Offset+1, changes, extra[p]); err != nil {
			e.t.Fatal(err)
		}
	}
	if len(msgs) > 0 {
		if err := e.writer.WriteMessages(ctx, msgs...); err != nil {
			e.t.Fatal(err)
		}
	}
}

// open opens an alert on a shipment, as a rule would.
func open(ship event.ShipmentID, rule alerts.Rule, sev alerts.Severity, at time.Duration) (*alerts.Alert, alerts.Transition) {
	a := alerts.Open(ship, rule, sev, "trigger-"+string(rule), t0.Add(at), string(rule)+" on "+string(ship), alerts.Evidence{})
	return a, alerts.Transition{Alert: *a, Change: a.History[0]}
}

// fixture is the shipments every test starts with:
//
//	E1 ENBR pipeline declared          E2 ENBR pipeline in transit, an impostor's device (TCPL) on it
//	E3 ENBR truck arrived              P1 PRTK truck in transit, an open critical seal alert
//	P2 PRTK pipeline declared, a resolved alert
type fixture struct {
	seal, stale *alerts.Alert
}

func (e *env) seed() fixture {
	e.t.Helper()
	e.event("E1", "ENBR", 0, manifest("ENBR", 25770001, event.ModePipeline))
	e.event("E2", "ENBR", 0, manifest("ENBR", 25770002, event.ModePipeline))
	e.event("E2", "ENBR", time.Hour, &event.Departed{Port: "3404"})
	e.event("E2", "TCPL", 2*time.Hour, &event.Position{Lat: 48.9, Lon: -97.5})
	e.event("E3", "ENBR", 0, manifest("ENBR", 25770003, event.ModeTruck))
	e.event("E3", "ENBR", time.Hour, &event.Departed{Port: "3404"})
	e.event("E3", "ENBR", 5*time.Hour, &event.Arrived{Port: "3802"})
	e.event("P1", "PRTK", 0, manifest("PRTK", 25770004, event.ModeTruck))
	e.event("P1", "PRTK", time.Hour, &event.Departed{Port: "3404"})
	e.event("P1", "PRTK", 2*time.Hour, &event.Position{Lat: 48.1, Lon: -104.0})
	e.event("P2", "PRTK", 0, manifest("PRTK", 25770005, event.ModePipeline))
	seal, t1 := open("P1", alerts.RuleSeal, alerts.SeverityCritical, 3*time.Hour)
	stale, t2 := open("P2", alerts.RuleGap, alerts.SeverityInfo, time.Hour)
	ch, err := stale.Resolve(t0.Add(2*time.Hour), alerts.System, "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.flush(t1, t2, alerts.Transition{Alert: *stale, Change: ch})
	return fixture{seal: seal, stale: stale}
}
