package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/state"
)

type page struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

func ids(p page, field string) []string {
	var out []string
	for _, it := range p.Items {
		out = append(out, fmt.Sprint(it[field]))
	}
	return out
}

func (e *env) page(path, tok string) page {
	e.t.Helper()
	r := e.do(http.MethodGet, path, tok, nil)
	if r.Status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	var p page
	r.json(e.t, &p)
	return p
}

// walk follows next_cursor to the end and returns every item's field.
func (e *env) walk(path, tok, field string) []string {
	e.t.Helper()
	var out []string
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	p := e.page(path, tok)
	for {
		out = append(out, ids(p, field)...)
		if p.NextCursor == "" {
			return out
		}
		p = e.page(path+sep+"cursor="+p.NextCursor, tok)
	}
}

func wantError(t *testing.T, r response, status int, field string) {
	t.Helper()
	var body api.Error
	r.json(t, &body)
	if r.Status != status || body.Status != status || body.Message == "" {
		t.Fatalf("got %d %s, want %d", r.Status, r.Body, status)
	}
	if field != "" && body.Field != field {
		t.Fatalf("error names field %q (%s), want %q", body.Field, r.Body, field)
	}
}

func TestShipmentsListFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	e.seed()
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"", []string{"E1", "E2", "E3", "P1", "P2"}},
		{"?limit=2", []string{"E1", "E2", "E3", "P1", "P2"}},
		{"?status=in_transit", []string{"E2", "P1"}},
		{"?carrier=PRTK", []string{"P1", "P2"}},
		{"?port=3802&status=arrived", []string{"E3"}},
		{"?mode=truck", []string{"E3", "P1"}},
		{"?product=natural_gas", nil},
		{"?has_open_alert=true", []string{"P1"}},
		{"?has_open_alert=false&carrier=PRTK", []string{"P2"}},
		{"?mode=pipeline&limit=1", []string{"E1", "E2", "P2"}},
	} {
		if got := e.walk("/v1/shipments"+c.query, cbpTok, "id"); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}
	p := e.page("/v1/shipments?limit=2", cbpTok)
	if len(p.Items) != 2 || p.NextCursor == "" {
		t.Fatalf("first page %v", p)
	}
	p1 := e.page("/v1/shipments?has_open_alert=true", cbpTok)
	if p1.Items[0]["open_alerts"] != 1.0 || p1.Items[0]["highest_severity"] != "critical" || p1.Items[0]["mode"] != "truck" {
		t.Errorf("summary %v", p1.Items[0])
	}
	for q, field := range map[string]string{"status=lost": "status", "limit=0": "limit", "limit=x": "limit",
		"cursor=%21%21": "cursor", "has_open_alert=maybe": "has_open_alert", "port=38": "port"} {
		wantError(t, e.do(http.MethodGet, "/v1/shipments?"+q, cbpTok, nil), http.StatusBadRequest, field)
	}
}

// The list reuses the indexes' answer for a second, but shows nothing its
// filter no longer matches: P1 arrives, and at once it is off the
// in-transit list and on the arrived one, cached or not.
func TestListNeverShowsAShipmentItsFilterNoLongerMatches(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.ListCacheTTL = time.Hour })
	e.seed()
	if got := e.walk("/v1/shipments?status=in_transit", cbpTok, "id"); !slices.Equal(got, []string{"E2", "P1"}) {
		t.Fatalf("in transit: %v", got)
	}
	e.event("P1", "PRTK", 6*time.Hour, &event.Arrived{Port: "3802"})
	e.flush()
	if got := e.walk("/v1/shipments?status=in_transit", cbpTok, "id"); !slices.Equal(got, []string{"E2"}) {
		t.Errorf("in transit, from the cached answer: %v, want [E2]", got)
	}
	if got := e.walk("/v1/shipments?status=arrived", cbpTok, "id"); !slices.Equal(got, []string{"E3", "P1"}) {
		t.Errorf("arrived, a filter not cached yet: %v, want [E3 P1]", got)
	}
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t)
	e.seed()
	wantError(t, e.do(http.MethodGet, "/v1/shipments", "", nil), http.StatusUnauthorized, "")
	wantError(t, e.do(http.MethodGet, "/v1/shipments", "nope", nil), http.StatusUnauthorized, "")
	for _, path := range []string{"/v1/shipments", "/v1/shipments/E1", "/v1/alerts", "/v1/stream"} {
		wantError(t, e.do(http.MethodGet, path, doeTok, nil), http.StatusForbidden, "")
	}
	wantError(t, e.do(http.MethodPost, "/v1/alerts/x/ack", enbrTok, []byte(`{"note":"n"}`)), http.StatusForbidden, "")
	wantError(t, e.do(http.MethodGet, "/v1/aggregates", enbrTok, nil), http.StatusForbidden, "")
	if r := e.do(http.MethodGet, "/healthz", "", nil); r.Status != http.StatusOK {
		t.Errorf("healthz %d", r.Status)
	}
	req, _ := http.NewRequest(http.MethodGet, e.http.URL+"/metrics", nil)
	res, _ := http.DefaultClient.Do(req)
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("metrics without a token: %d", res.StatusCode)
	}
}

func TestRateLimitPerToken(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.RateLimit, c.Burst = 0.5, 2 })
	for range 2 {
		if r := e.do(http.MethodGet, "/v1/aggregates", doeTok, nil); r.Status != http.StatusOK {
			t.Fatalf("within the burst: %d %s", r.Status, r.Body)
		}
	}
	r := e.do(http.MethodGet, "/v1/aggregates", doeTok, nil)
	wantError(t, r, http.StatusTooManyRequests, "")
	if ra := r.Header.Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2", ra)
	}
	if r := e.do(http.MethodGet, "/v1/aggregates", cbpTok, nil); r.Status != http.StatusOK {
		t.Errorf("another token is limited too: %d", r.Status)
	}
}

func TestTokenFileIsCreatedWithOneAdminHash(t *testing.T) {
	r := testenv.NewRedis(t)
	store, _ := state.NewStore(r.Client, r.Prefix)
	file := filepath.Join(t.TempDir(), "tokens")
	var out strings.Builder
	cfg := api.Config{Store: store, Redis: r.Client, Brokers: []string{"127.0.0.1:1"}, TokenFile: file, TokenOut: &out}
	if _, err := api.New(cfg); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file %v %v", fi, err)
	}
	var tok string
	for _, f := range strings.Fields(out.String()) {
		if strings.HasPrefix(f, "inb_") {
			tok = f
		}
	}
	text, _ := os.ReadFile(file)
	if tok == "" || strings.Contains(string(text), tok) || !strings.Contains(string(text), "cbp ") {
		t.Fatalf("printed %q; file %q", out.String(), text)
	}
	out.Reset()
	if _, err := api.New(cfg); err != nil || out.Len() != 0 {
		t.Fatalf("second start: %v, printed %q", err, out.String())
	}
}

func TestShipmentDetailAndTimeline(t *testing.T) {
	e := newEnv(t)
	f := e.seed()
	var d struct {
		Shipment state.Shipment `json:"shipment"`
		Alerts   []alerts.Alert `json:"alerts"`
	}
	e.do(http.MethodGet, "/v1/shipments/P1", cbpTok, nil).json(t, &d)
	if d.Shipment.ID != "P1" || d.Shipment.Status != state.StatusInTransit || len(d.Alerts) != 1 || d.Alerts[0].ID != f.seal.ID {
		t.Fatalf("detail %+v", d)
	}
	wantError(t, e.do(http.MethodGet, "/v1/shipments/NOPE", cbpTok, nil), http.StatusNotFound, "")
	wantError(t, e.do(http.MethodGet, "/v1/shipments/a%20b", cbpTok, nil), http.StatusBadRequest, "id")

	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for len(got) != 3 && time.Now().Before(deadline) {
		got = e.walk("/v1/shipments/E3/events?limit=2", cbpTok, "type")
	}
	want := []string{string(event.TypeArrived), string(event.TypeDeparted), string(event.TypeManifest)}
	if !slices.Equal(got, want) {
		t.Fatalf("timeline %v, want newest first %v", got, want)
	}
	wantError(t, e.do(http.MethodGet, "/v1/shipments/E3/events?cursor=abc", cbpTok, nil), http.StatusBadRequest, "cursor")
}

func TestAlertsListAndCommands(t *testing.T) {
	e := newEnv(t)
	f := e.seed()
	for q, want := range map[string][]string{
		"":                  {f.seal.ID, f.stale.ID},
		"?status=active":    {f.seal.ID},
		"?status=resolved":  {f.stale.ID},
		"?rule=gap":         {f.stale.ID},
		"?severity=warning": nil,
		"?shipment=P1":      {f.seal.ID},
		"?limit=1":          {f.seal.ID, f.stale.ID},
	} {
		if got := e.walk("/v1/alerts"+q, cbpTok, "id"); !slices.Equal(got, want) {
			t.Errorf("alerts%s: %v, want %v", q, got, want)
		}
	}
	wantError(t, e.do(http.MethodGet, "/v1/alerts?rule=bogus", cbpTok, nil), http.StatusBadRequest, "rule")

	r := e.do(http.MethodPost, "/v1/alerts/"+f.seal.ID+"/ack", cbpTok, []byte(`{"note":"on it"}`))
	if r.Status != http.StatusAccepted {
		t.Fatalf("ack: %d %s", r.Status, r.Body)
	}
	var acc api.CommandAccepted
	r.json(t, &acc)
	wantError(t, e.do(http.MethodPost, "/v1/alerts/"+f.seal.ID+"/resolve", cbpTok, []byte(`{}`)), http.StatusBadRequest, "note")
	wantError(t, e.do(http.MethodPost, "/v1/alerts/"+f.seal.ID+"/resolve", cbpTok, []byte(`{"note":"x","by":"me"}`)), http.StatusBadRequest, "by")
	wantError(t, e.do(http.MethodPost, "/v1/alerts/nope/resolve", cbpTok, []byte(`{"note":"x"}`)), http.StatusNotFound, "")
	wantError(t, e.do(http.MethodPost, "/v1/alerts/"+f.stale.ID+"/resolve", cbpTok, []byte(`{"note":"x"}`)), http.StatusConflict, "")

	// The command is on the log, keyed by the shipment, by the token's name.
	recs := testenv.ReadTopic(t, e.brokers, string(event.TopicEvents), 12, 10*time.Second)
	found := false
	for _, ms := range recs {
		for _, m := range ms {
			ev, err := event.UnmarshalCanonical(m.Value)
			if err != nil || ev.ID != acc.Command {
				continue
			}
			c := ev.Data.(*event.AlertCommand)
			found = string(m.Key) == "P1" && c.Alert == f.seal.ID && c.Action == event.ActionAcknowledge && c.By == "cbp" && c.Note == "on it"
		}
	}
	if !found {
		t.Fatalf("command %s not on inbond.events as sent", acc.Command)
	}
}

func manifestBody(t *testing.T, m *event.Manifest) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestManifestsAreValidatedAndPublished(t *testing.T) {
	e := newEnv(t)
	e.seed()
	good := manifestBody(t, manifest("ENBR", 25770009, event.ModePipeline))
	r := e.do(http.MethodPost, "/v1/manifests?shipment=NEW-1", enbrTok, good)
	if r.Status != http.StatusAccepted {
		t.Fatalf("post: %d %s", r.Status, r.Body)
	}
	recs := testenv.ReadTopic(t, e.brokers, string(event.TopicManifests), 1, 10*time.Second)
	var n int
	for _, ms := range recs {
		for _, m := range ms {
			n++
			if string(m.Key) != "NEW-1" || string(m.Value) != string(good) {
				t.Errorf("published %s=%s", m.Key, m.Value)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d records on inbond.manifests", n)
	}
	gal := strings.Replace(string(good), `"unit":"bbl"`, `"unit":"gal"`, 1)
	for name, c := range map[string]struct {
		body, query, field, rule string
	}{
		"unit":           {gal, "", "unit", "unit"},
		"unknown field":  {strings.Replace(string(good), `"hts"`, `"HTS"`, 1), "", "HTS", "unknown_field"},
		"missing":        {regexp.MustCompile(`"inbond_number":"[0-9]+",`).ReplaceAllString(string(good), ""), "", "inbond_number", "required"},
		"malformed":      {`{"inbond_number":`, "", "body", "malformed_json"},
		"bad shipment":   {string(good), "?shipment=a%20b", "shipment", "format"},
		"duplicate name": {strings.Replace(string(good), `{`, `{"mode":"truck",`, 1), "", "mode", "duplicate"},
	} {
		r := e.do(http.MethodPost, "/v1/manifests"+c.query, enbrTok, []byte(c.body))
		var body api.Error
		r.json(t, &body)
		if r.Status != http.StatusBadRequest || body.Field != c.field || body.Rule != c.rule {
			t.Errorf("%s: %d %s, want 400 %s %s", name, r.Status, r.Body, c.field, c.rule)
		}
	}
	wantError(t, e.do(http.MethodPost, "/v1/manifests", prtkTok, good), http.StatusForbidden, "")
	wantError(t, e.do(http.MethodPost, "/v1/manifests?shipment=P1", enbrTok, good), http.StatusForbidden, "")
}

func TestAggregatesLedgerAndHealth(t *testing.T) {
	e := newEnv(t)
	e.seed()
	var a api.Aggregates
	e.do(http.MethodGet, "/v1/aggregates", doeTok, nil).json(t, &a)
	if a.Total != 5 || a.ByStatus["in_transit"] != 2 || a.ByStatus["declared"] != 2 {
		t.Errorf("aggregates %+v", a)
	}
	if r := e.do(http.MethodGet, "/readyz", "", nil); r.Status != http.StatusOK {
		t.Errorf("readyz %d %s", r.Status, r.Body)
	}
	wantError(t, e.do(http.MethodGet, "/v1/ledger/checkpoint", doeTok, nil), http.StatusServiceUnavailable, "")
	wantError(t, e.do(http.MethodGet, "/v1/shipments/E1/proof", cbpTok, nil), http.StatusNotFound, "")
}

// sseClient reads a stream's messages.
type sseMsg struct{ ID, Event, Data string }

func (e *env) stream(ctx context.Context, tok, query, last string) (<-chan sseMsg, *http.Response) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+"/v1/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.validate(req, nil, res, nil)
	out := make(chan sseMsg, 1000)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var m sseMsg
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m.Data != "" {
					out <- m
				}
				m = sseMsg{}
			case strings.HasPrefix(line, "id: "):
				m.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.Event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.Data = line[6:]
			case strings.HasPrefix(line, ": heartbeat"):
				out <- sseMsg{Event: "heartbeat"}
			}
		}
	}()
	return out, res
}

// next returns the stream's next message of one of the kinds, skipping
// the others.
func next(t *testing.T, ch <-chan sseMsg, kinds ...string) sseMsg {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if slices.Contains(kinds, m.Event) {
				return m
			}
		case <-timeout:
			t.Fatalf("no %s message", strings.Join(kinds, " or "))
		}
	}
}

func TestStreamResumesWithLastEventIDExactlyOnce(t *testing.T) {
	e := newEnv(t)
	e.seed()
	ctx, cancel := context.WithCancel(context.Background())
	ch, res := e.stream(ctx, cbpTok, "?kinds=alert", "")
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	next(t, ch, "heartbeat")
	var tr []alerts.Transition
	for i := range 3 {
		_, t1 := open(event.ShipmentID(fmt.Sprintf("S%d", i)), alerts.RuleGap, alerts.SeverityInfo, time.Duration(i)*time.Minute)
		tr = append(tr, t1)
	}
	e.flush(tr...)
	var last string
	for range 3 {
		last = next(t, ch, "alert").ID
	}
	cancel() // the client goes away; transitions happen meanwhile
	var missed []string
	tr = nil
	for i := range 5 {
		a, t1 := open(event.ShipmentID(fmt.Sprintf("M%d", i)), alerts.RuleSeal, alerts.SeverityCritical, time.Duration(i)*time.Minute)
		tr = append(tr, t1)
		missed = append(missed, a.ID+"-1")
	}
	e.flush(tr...)
	time.Sleep(time.Second) // let the hub read them: the resume comes from its buffer or from Kafka alike
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ch, _ = e.stream(ctx2, cbpTok, "?kinds=alert", last)
	var got []string
	for range len(missed) {
		var ce alerts.TransitionEvent
		if err := json.Unmarshal([]byte(next(t, ch, "alert").Data), &ce); err != nil {
			t.Fatal(err)
		}
		got = append(got, ce.ID)
	}
	slices.Sort(got)
	slices.Sort(missed)
	if !slices.Equal(got, missed) {
		t.Fatalf("resumed with %v, want %v", got, missed)
	}
	// Nothing else: the next thing is a heartbeat, not a repeat.
	if m := next(t, ch, "heartbeat"); m.Event != "heartbeat" {
		t.Fatal(m)
	}
	select {
	case m := <-ch:
		if m.Event != "heartbeat" {
			t.Fatalf("after the missed ones: %+v", m)
		}
	default:
	}
	wantError(t, e.do(http.MethodGet, "/v1/stream?last_event_id=zzz", cbpTok, nil), http.StatusBadRequest, "last_event_id")
}

// TestCarrierSeesOnlyItsOwn walks every route with ENBR's token: no PRTK
// shipment, alert or device appears anywhere, the stream included.
func TestCarrierSeesOnlyItsOwn(t *testing.T) {
	e := newEnv(t)
	f := e.seed()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, _ := e.stream(ctx, enbrTok, "", "")
	next(t, ch, "heartbeat")
	// Live traffic of both carriers after the stream started.
	e.event("P1", "PRTK", 4*time.Hour, &event.Position{Lat: 48.2, Lon: -104.1})
	e.event("E2", "ENBR", 4*time.Hour, &event.Position{Lat: 48.95, Lon: -97.4})
	e.event("E2", "TCPL", 5*time.Hour, &event.Position{Lat: 48.95, Lon: -97.4})
	_, pa := open("P1", alerts.RuleRoute, alerts.SeverityWarning, 4*time.Hour)
	_, ea := open("E2", alerts.RuleRoute, alerts.SeverityWarning, 4*time.Hour)
	e.flush(pa, ea)

	foreign := []string{"P1", "P2", "PRTK", "TCPL", f.seal.ID, f.stale.ID}
	clean := func(where string, body []byte) {
		t.Helper()
		for _, s := range foreign {
			if strings.Contains(string(body), s) {
				t.Errorf("%s shows %s: %s", where, s, truncate(body))
			}
		}
	}
	walked := []string{"/v1/shipments", "/v1/shipments?carrier=PRTK", "/v1/shipments?has_open_alert=true",
		"/v1/shipments/E1", "/v1/shipments/E2", "/v1/shipments/E2/events", "/v1/shipments/E3",
		"/v1/alerts", "/v1/alerts?shipment=P1", "/v1/alerts?status=resolved",
		"/v1/shipments/P1", "/v1/shipments/P1/events", "/v1/shipments/P1/proof", "/v1/shipments/P2",
		"/v1/ledger/checkpoint", "/v1/ledger/key", "/v1/ledger/tile/0/000", "/v1/aggregates", "/v1/map",
		"/v1/reports", "/v1/reports/eia-814/2026-10"}
	everyRouteWalked(t, e, append(walked, "/v1/stream"))
	for _, path := range walked {
		r := e.do(http.MethodGet, path, enbrTok, nil)
		if strings.HasPrefix(path, "/v1/shipments/P") {
			// Exactly what a shipment that does not exist answers.
			none := e.do(http.MethodGet, strings.Replace(path, "/P", "/NONE", 1), enbrTok, nil)
			if r.Status != http.StatusNotFound || strings.ReplaceAll(string(none.Body), "NONE", "P") != string(r.Body) {
				t.Errorf("%s: %d %s, unlike a missing shipment's %s", path, r.Status, r.Body, none.Body)
			}
			continue
		}
		clean(path, r.Body)
	}
	for _, path := range []string{"/v1/alerts/" + f.seal.ID + "/ack", "/v1/alerts/" + f.seal.ID + "/resolve"} {
		r := e.do(http.MethodPost, path, enbrTok, []byte(`{"note":"x"}`))
		wantError(t, r, http.StatusForbidden, "")
	}
	if got := e.walk("/v1/shipments", enbrTok, "id"); !slices.Equal(got, []string{"E1", "E2", "E3"}) {
		t.Errorf("ENBR sees %v", got)
	}
	var d struct {
		Shipment state.Shipment `json:"shipment"`
	}
	e.do(http.MethodGet, "/v1/shipments/E2", enbrTok, nil).json(t, &d)
	for k := range d.Shipment.DeviceSeq {
		if !strings.HasPrefix(k, "ENBR/") {
			t.Errorf("E2 shows another carrier's device %s", k)
		}
	}
	// The stream: ENBR's own alert and position, nothing of PRTK's or TCPL's.
	var alertsSeen, updates int
	timeout := time.After(5 * time.Second)
	for alertsSeen < 1 || updates < 1 {
		select {
		case m := <-ch:
			clean("stream", []byte(m.Data))
			switch m.Event {
			case "alert":
				alertsSeen++
			case "shipment":
				updates++
			}
		case <-timeout:
			t.Fatalf("stream: %d alerts, %d updates of ENBR's", alertsSeen, updates)
		}
	}
	drain := time.After(time.Second)
	for {
		select {
		case m := <-ch:
			clean("stream", []byte(m.Data))
		case <-drain:
			return
		}
	}
}

// everyRouteWalked fails t unless paths reach every GET route of the served
// OpenAPI document that takes a token: a route added later must join the
// carrier's walk.
func everyRouteWalked(t *testing.T, e *env, paths []string) {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]struct {
			Security []map[string][]string `json:"security"`
		} `json:"paths"`
	}
	res, err := http.Get(e.http.URL + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for route, ops := range doc.Paths {
		get, ok := ops["get"]
		if !ok || len(get.Security) == 0 {
			continue
		}
		// A tile's index spans segments: its parameter matches them all.
		marked := param.ReplaceAllStringFunc(route, func(p string) string {
			if p == "{index}" {
				return "\x00"
			}
			return "\x01"
		})
		pattern := strings.NewReplacer("\x00", ".+", "\x01", "[^/]+").Replace(regexp.QuoteMeta(marked))
		re := regexp.MustCompile("^" + pattern + "$")
		if !slices.ContainsFunc(paths, func(p string) bool { return re.MatchString(strings.SplitN(p, "?", 2)[0]) }) {
			t.Errorf("GET %s is not in the carrier's walk", route)
		}
	}
}

// TestStreamsShareTheirMessages follows three streams at once (an officer's,
// a carrier's and an officer's of one shipment): each gets exactly the
// shipment updates it may see, in the log's order, and a record reaching
// several streams is the same bytes in each (they share one decoding).
func TestStreamsShareTheirMessages(t *testing.T) {
	e := newEnv(t)
	e.seed()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	officer, _ := e.stream(ctx, cbpTok, "?kinds=shipment", "")
	carrier, _ := e.stream(ctx, enbrTok, "?kinds=shipment", "")
	one, _ := e.stream(ctx, cbpTok, "?kinds=shipment&shipment=E2", "")
	for _, ch := range []<-chan sseMsg{officer, carrier, one} {
		next(t, ch, "heartbeat")
	}
	published := []*event.Envelope{
		e.event("P1", "PRTK", 4*time.Hour, &event.Position{Lat: 48.2, Lon: -104.1}),
		e.event("E2", "ENBR", 4*time.Hour, &event.Position{Lat: 48.95, Lon: -97.4}),
		e.event("E2", "TCPL", 5*time.Hour, &event.Position{Lat: 48.95, Lon: -97.4}),
		e.event("E1", "ENBR", 5*time.Hour, &event.Position{Lat: 48.9, Lon: -97.3}),
	}
	// Each stream's updates until a heartbeat says nothing more is coming.
	updates := func(ch <-chan sseMsg) (got []seenUpdate) {
		t.Helper()
		for {
			m := next(t, ch, "shipment", "heartbeat")
			if m.Event == "heartbeat" {
				if len(got) > 0 {
					return got
				}
				continue
			}
			var u api.ShipmentUpdate
			if err := json.Unmarshal([]byte(m.Data), &u); err != nil {
				t.Fatal(err)
			}
			got = append(got, seenUpdate{ID: u.Shipment, Carrier: u.Carrier, Data: m.Data})
		}
	}
	all, own, e2 := updates(officer), updates(carrier), updates(one)
	var want []seenUpdate
	for _, ev := range published {
		want = append(want, seenUpdate{ID: ev.Subject, Carrier: ev.Carrier})
	}
	if !slices.EqualFunc(all, want, sameUpdate) {
		t.Errorf("the officer's stream: %v, want %v", all, want)
	}
	if !slices.EqualFunc(own, []seenUpdate{want[1], want[3]}, sameUpdate) {
		t.Errorf("ENBR's stream: %v, want its own E2 and E1 updates", own)
	}
	if !slices.EqualFunc(e2, want[1:3], sameUpdate) {
		t.Errorf("the E2 stream: %v, want E2's two updates", e2)
	}
	if len(all) == len(want) && len(own) == 2 && len(e2) == 2 &&
		(own[0].Data != all[1].Data || own[1].Data != all[3].Data || e2[0].Data != all[1].Data || e2[1].Data != all[2].Data) {
		t.Errorf("one record, different messages on different streams:\n%v\n%v\n%v", all, own, e2)
	}
}

// seenUpdate is a shipment update as a test's stream received it.
type seenUpdate struct {
	ID      event.ShipmentID
	Carrier event.CarrierID
	Data    string
}

func sameUpdate(a, b seenUpdate) bool { return a.ID == b.ID && a.Carrier == b.Carrier }
