package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	gojson "github.com/goccy/go-json"
	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/singleflight"
)

// op is an operation with the API's conventions: the bearer scheme, who
// may call it, and the errors every guarded route can answer.
func op(method, path, id, summary string, roles []string, errs ...int) huma.Operation {
	o := huma.Operation{Method: method, Path: path, OperationID: id, Summary: summary,
		Metadata: map[string]any{"roles": roles}, Errors: errs}
	if !slices.Contains(roles, "") {
		o.Security = []map[string][]string{{"bearer": {}}}
		o.Errors = append(o.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
		o.Description = "Roles: " + strings.Join(roles, ", ") + "."
	}
	o.Errors = append(o.Errors, http.StatusInternalServerError, http.StatusServiceUnavailable)
	return o
}

// roles lists who may call a route.
func roles(r ...string) []string { return r }

// ShipmentSummary is one shipment in a list: what a map or a table shows.
type ShipmentSummary struct {
	ID              event.ShipmentID `json:"id"`
	Carrier         event.CarrierID  `json:"carrier,omitempty"`
	Status          state.Status     `json:"status"`
	InBondNumber    string           `json:"inbond_number,omitempty"`
	Mode            event.Mode       `json:"mode,omitempty"`
	Product         event.Product    `json:"product,omitempty"`
	OriginPort      event.PortCode   `json:"origin_port,omitempty"`
	Destination     event.PortCode   `json:"destination,omitempty"`
	Corridor        string           `json:"corridor,omitempty"`
	Position        *state.Position  `json:"position,omitempty"`
	Deadline        time.Time        `json:"deadline,omitzero"`
	LastEventAt     time.Time        `json:"last_event_at,omitzero"`
	EventCount      uint64           `json:"event_count"`
	OpenAlerts      int              `json:"open_alerts"`
	HighestSeverity alerts.Severity  `json:"highest_severity,omitempty" enum:"info,warning,critical"`
}

// ShipmentPage is a page of shipments, by ID; NextCursor fetches the next
// one ("" on the last page).
type ShipmentPage struct {
	Items      []ShipmentSummary `json:"items" nullable:"false"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

type listShipmentsInput struct {
	Status       string `query:"status" enum:"undeclared,declared,in_transit,diverted,arrived,exported,concluded" doc:"only shipments with this status"`
	Carrier      string `query:"carrier" doc:"only shipments of this bonded carrier (SCAC)"`
	Port         string `query:"port" doc:"only shipments whose origin, destination or arrival port is this Schedule D code"`
	Mode         string `query:"mode" enum:"pipeline,truck,rail,vessel,barge" doc:"the manifest's mode of transport"`
	Product      string `query:"product" enum:"crude_oil,natural_gas" doc:"the manifest's product"`
	HasOpenAlert string `query:"has_open_alert" enum:"true,false" doc:"only shipments with (true) or without (false) an alert not resolved"`
	Cursor       string `query:"cursor" doc:"next_cursor of the previous page"`
	Limit        int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type shipmentPageOutput struct{ Body ShipmentPage }

// ShipmentDetail is one shipment: its state, its alerts (newest first) and
// its latest ledger receipt (absent until a checkpoint of it is anchored).
type ShipmentDetail struct {
	Shipment *state.Shipment `json:"shipment"`
	Alerts   []alerts.Alert  `json:"alerts" nullable:"false"`
	Receipt  *ledger.Receipt `json:"receipt,omitempty"`
}

type shipmentInput struct {
	ID string `path:"id" doc:"shipment ID"`
}

type shipmentOutput struct{ Body ShipmentDetail }

// TimelineEvent is one record of a shipment's history in the archive.
type TimelineEvent struct {
	Offset  int64           `json:"offset"`
	Type    event.Type      `json:"type"`
	Time    time.Time       `json:"time"`
	Carrier event.CarrierID `json:"carrier,omitempty"`
	// Event is the canonical CloudEvent, byte for byte as archived.
	Event json.RawMessage `json:"event"`
}

// TimelinePage is a page of a shipment's events, newest first.
type TimelinePage struct {
	Shipment   event.ShipmentID `json:"shipment"`
	Partition  int              `json:"partition"`
	Items      []TimelineEvent  `json:"items" nullable:"false"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

type timelineInput struct {
	ID     string `path:"id"`
	Cursor string `query:"cursor" doc:"next_cursor of the previous page"`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type timelineOutput struct{ Body TimelinePage }

func (s *Server) registerShipments() {
	huma.Register(s.api, op(http.MethodGet, "/v1/shipments", "list-shipments", "List shipments",
		roles(roleCBP, roleCarrier), http.StatusBadRequest), s.listShipments)
	huma.Register(s.api, op(http.MethodGet, "/v1/shipments/{id}", "get-shipment", "A shipment with its alerts and receipt",
		roles(roleCBP, roleCarrier), http.StatusBadRequest, http.StatusNotFound), s.getShipment)
	huma.Register(s.api, op(http.MethodGet, "/v1/shipments/{id}/events", "shipment-events", "A shipment's timeline from the archive, newest first",
		roles(roleCBP, roleCarrier), http.StatusBadRequest, http.StatusNotFound), s.shipmentEvents)
}

// cursor encodes a position opaquely: clients pass it back, never build it.
func encodeCursor(kind, v string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + v))
}

func decodeCursor(kind, c string) (string, *Error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	v, ok := strings.CutPrefix(string(b), kind+":")
	if err != nil || !ok || v == "" {
		return "", badField("cursor", c, event.RuleFormat, "not a cursor this list returned")
	}
	return v, nil
}

// owns reports whether a carrier's role sees sh: its bonded carrier now, or
// the carrier its manifest names.
func owns(id Identity, sh *state.Shipment) bool {
	if id.Kind != roleCarrier {
		return true
	}
	return sh.Carrier == id.SCAC || sh.Manifest != nil && sh.Manifest.Carrier.SCAC == id.SCAC
}

// redact is what a carrier may see of its shipment: not other carriers'
// devices (after a transfer, or an impostor's events).
func redact(id Identity, sh *state.Shipment) *state.Shipment {
	if id.Kind != roleCarrier || len(sh.DeviceSeq) == 0 {
		return sh
	}
	c := *sh
	c.DeviceSeq = map[string]uint64{}
	for k, v := range sh.DeviceSeq {
		if strings.HasPrefix(k, string(id.SCAC)+"/") {
			c.DeviceSeq[k] = v
		}
	}
	return &c
}

func (s *Server) partitionOf(id event.ShipmentID) int {
	return bus.PartitionOf([]byte(id), s.cfg.Partitions)
}

// openAlerts are the active alerts of each shipment, from the watches the
// processor keeps beside their states: a page's summaries read its own
// shipments' watches, never the partition's alerts.
func openAlerts(raw []byte) ([]alerts.Alert, error) {
	if raw == nil {
		return nil, nil
	}
	var w struct {
		Active map[alerts.Rule]*alerts.Alert `json:"active"`
	}
	if err := gojson.Unmarshal(raw, &w); err != nil {
		return nil, err
	}
	out := make([]alerts.Alert, 0, len(w.Active))
	for _, a := range w.Active {
		out = append(out, *a)
	}
	return out, nil
}

// alertsIn loads the alerts of set (ActiveSet, AllSet or a shipment's) of the given
// partitions (nil: all), in two round trips.
func (s *Server) alertsIn(ctx context.Context, set string, parts []int) ([]alerts.Alert, error) {
	if parts == nil {
		for p := range s.cfg.Partitions {
			parts = append(parts, p)
		}
	}
	pipe := s.cfg.Redis.Pipeline()
	members := make([]*redis.StringSliceCmd, len(parts))
	for i, p := range parts {
		members[i] = pipe.SMembers(ctx, s.cfg.Store.RecordKey(p, set))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var gets []*redis.StringCmd
	for i, p := range parts {
		for _, id := range members[i].Val() {
			gets = append(gets, pipe.Get(ctx, s.cfg.Store.RecordKey(p, alerts.RecordSuffix(id))))
		}
	}
	if len(gets) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]alerts.Alert, 0, len(gets))
	for _, g := range gets {
		b, err := g.Bytes()
		if err != nil {
			continue // gone since the set was read
		}
		var a alerts.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func severityRank(s alerts.Severity) int {
	switch s {
	case alerts.SeverityCritical:
		return 3
	case alerts.SeverityWarning:
		return 2
	case alerts.SeverityInfo:
		return 1
	}
	return 0
}

func summarize(sh *state.Shipment, open []alerts.Alert) ShipmentSummary {
	out := ShipmentSummary{ID: sh.ID, Carrier: sh.Carrier, Status: sh.Status, Destination: sh.Destination,
		Position: sh.Position, LastEventAt: sh.LastEventAt, EventCount: sh.EventCount, OpenAlerts: len(open)}
	if m := sh.Manifest; m != nil {
		out.InBondNumber, out.Mode, out.Product, out.OriginPort, out.Corridor, out.Deadline = m.InBondNumber, m.Mode, m.Product, m.OriginPort, m.Corridor, m.Deadline
	}
	for _, a := range open {
		if severityRank(a.Severity) > severityRank(out.HighestSeverity) {
			out.HighestSeverity = a.Severity
		}
	}
	return out
}

// candidate is a shipment a list may show, and its partition.
type candidate struct {
	id event.ShipmentID
	p  int
}

// listFilter is what of a list's filters the Redis indexes answer.
type listFilter struct {
	status, carrier, port, openAlert string
}

// candidates are the shipments the indexes give for f, sorted by ID. The
// answer is shared for up to Config.ListCacheTTL: with ten thousand
// shipments each SINTER moved them all out of Redis, whose one thread was
// then the list's bottleneck (325 µs a call, twelve calls a page). A cached
// answer can be behind by the TTL, so the caller checks every shown
// shipment against its state as loaded: a page holds no shipment that does
// not match, and one that just started to match appears within the TTL.
func (s *Server) candidates(ctx context.Context, f listFilter) ([]candidate, error) {
	key := f.status + "\x00" + f.carrier + "\x00" + f.port + "\x00" + f.openAlert
	if cs, ok := s.lists.get(key, s.cfg.Now()); ok {
		return cs, nil
	}
	v, err, _ := s.lists.flight.Do(key, func() (any, error) {
		cs, err := s.queryCandidates(ctx, f)
		if err == nil {
			s.lists.put(key, cs, s.cfg.Now())
		}
		return cs, err
	})
	if err != nil {
		return nil, err
	}
	return v.([]candidate), nil
}

// queryCandidates intersects the index sets of f in every partition's slot,
// in one pipeline.
func (s *Server) queryCandidates(ctx context.Context, f listFilter) ([]candidate, error) {
	pipe := s.cfg.Redis.Pipeline()
	cmds := make([]*redis.StringSliceCmd, s.cfg.Partitions)
	for p := range s.cfg.Partitions {
		var keys []string
		if f.status != "" {
			keys = append(keys, s.cfg.Store.StatusKey(p, state.Status(f.status)))
		}
		if f.carrier != "" {
			keys = append(keys, s.cfg.Store.CarrierKey(p, event.CarrierID(f.carrier)))
		}
		if f.port != "" {
			keys = append(keys, s.cfg.Store.PortKey(p, event.PortCode(f.port)))
		}
		if len(keys) == 0 {
			keys = append(keys, s.cfg.Store.ShipmentsKey(p))
		}
		switch {
		case f.openAlert == "true":
			cmds[p] = pipe.SInter(ctx, append(keys, s.cfg.Store.RecordKey(p, alerts.OpenShipmentsSet))...)
		case f.openAlert == "false" && len(keys) == 1:
			cmds[p] = pipe.SDiff(ctx, keys[0], s.cfg.Store.RecordKey(p, alerts.OpenShipmentsSet))
		default:
			// SDIFF takes keys, not an intersection: with several filters,
			// "no open alert" is judged on the page's watches alone.
			cmds[p] = pipe.SInter(ctx, keys...)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	var cands []candidate
	for p, c := range cmds {
		for _, id := range c.Val() {
			cands = append(cands, candidate{event.ShipmentID(id), p})
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int { return strings.Compare(string(a.id), string(b.id)) })
	return cands, nil
}

// listCache holds candidates per filter for a short while; flight makes
// concurrent misses of one filter one query.
type listCache struct {
	ttl    time.Duration
	flight singleflight.Group

	mu      sync.Mutex // guards entries
	entries map[string]cachedList
}

type cachedList struct {
	at    time.Time
	cands []candidate // shared: never changed once stored
}

// maxCachedLists bounds the filters remembered: combinations of status,
// carrier and port are many, and each entry holds a list of IDs.
const maxCachedLists = 256

func (c *listCache) get(key string, now time.Time) ([]candidate, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || now.Sub(e.at) >= c.ttl {
		return nil, false
	}
	return e.cands, true
}

func (c *listCache) put(key string, cands []candidate, now time.Time) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCachedLists {
		c.entries = map[string]cachedList{}
	}
	c.entries[key] = cachedList{at: now, cands: cands}
}

// matches says whether sh, as loaded, passes every filter of in: the
// indexes' answer may be up to the cache's TTL old.
func matches(in *listShipmentsInput, sh *state.Shipment, open []alerts.Alert) bool {
	ix := state.IndexOf(sh)
	m := sh.Manifest
	switch {
	case in.Status != "" && string(ix.Status) != in.Status,
		in.Carrier != "" && string(ix.Carrier) != in.Carrier,
		in.Port != "" && !slices.Contains(ix.Ports, event.PortCode(in.Port)),
		in.Mode != "" && (m == nil || string(m.Mode) != in.Mode),
		in.Product != "" && (m == nil || string(m.Product) != in.Product),
		in.HasOpenAlert == "true" && len(open) == 0,
		in.HasOpenAlert == "false" && len(open) > 0:
		return false
	}
	return true
}

// listShipments pages through the shipments by ID. The index filters
// (status, carrier, port, open alerts) are set operations in each
// partition's slot (see candidates); every filter is checked again on the
// loaded states, a page at a time.
func (s *Server) listShipments(ctx context.Context, in *listShipmentsInput) (*shipmentPageOutput, error) {
	who := identity(ctx)
	after, e := decodeCursor("s", in.Cursor)
	if e != nil {
		return nil, e
	}
	if in.Carrier != "" {
		if err := event.CarrierID(in.Carrier).Validate("carrier"); err != nil {
			return nil, invalid(err)
		}
	}
	if in.Port != "" {
		if err := event.PortCode(in.Port).Validate("port"); err != nil {
			return nil, invalid(err)
		}
	}
	all, err := s.candidates(ctx, listFilter{in.Status, in.Carrier, in.Port, in.HasOpenAlert})
	if err != nil {
		return nil, err
	}
	cands := all[sort.Search(len(all), func(i int) bool { return string(all[i].id) > after }):]
	pipe := s.cfg.Redis.Pipeline()
	page := ShipmentPage{Items: []ShipmentSummary{}}
	for len(cands) > 0 {
		batch := cands[:min(len(cands), in.Limit+1)]
		cands = cands[len(batch):]
		gets := make([]*redis.StringCmd, len(batch))
		watches := make([]*redis.StringCmd, len(batch))
		for i, c := range batch {
			gets[i] = pipe.Get(ctx, s.cfg.Store.ShipmentKey(c.p, c.id))
			watches[i] = pipe.Get(ctx, s.cfg.Store.RecordKey(c.p, alerts.WatchSuffix(c.id)))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err
		}
		for i, g := range gets {
			b, err := g.Bytes()
			if err != nil {
				continue
			}
			// goccy: a page decodes up to 2 x 501 documents, and
			// encoding/json took most of a list's time.
			sh := &state.Shipment{}
			if err := gojson.Unmarshal(b, sh); err != nil {
				return nil, fmt.Errorf("decode shipment state: %w", err)
			}
			w, _ := watches[i].Bytes()
			open, err := openAlerts(w)
			if err != nil {
				return nil, fmt.Errorf("watch of %s: %w", sh.ID, err)
			}
			if !owns(who, sh) || !matches(in, sh, open) {
				continue
			}
			if len(page.Items) == in.Limit {
				page.NextCursor = encodeCursor("s", string(page.Items[len(page.Items)-1].ID))
				return &shipmentPageOutput{page}, nil
			}
			page.Items = append(page.Items, summarize(sh, open))
		}
	}
	return &shipmentPageOutput{page}, nil
}

// loadOwned reads a shipment the caller may see; 404 otherwise, so a
// carrier cannot tell another carrier's shipment from none.
func (s *Server) loadOwned(ctx context.Context, raw string, suffixes ...func(event.ShipmentID) string) (*state.Shipment, [][][]byte, *Error) {
	id := event.ShipmentID(raw)
	if err := id.Validate("id"); err != nil {
		return nil, nil, invalid(err)
	}
	shs, recs, err := s.cfg.Store.LoadWith(ctx, s.partitionOf(id), []event.ShipmentID{id}, suffixes...)
	if err != nil {
		return nil, nil, fail(http.StatusInternalServerError, "load shipment: %v", err)
	}
	sh := shs[id]
	if sh == nil || !owns(identity(ctx), sh) {
		return nil, nil, fail(http.StatusNotFound, "no shipment %q", raw)
	}
	return sh, recs, nil
}

func (s *Server) getShipment(ctx context.Context, in *shipmentInput) (*shipmentOutput, error) {
	sh, recs, e := s.loadOwned(ctx, in.ID, ledger.ReceiptSuffix)
	if e != nil {
		return nil, e
	}
	out := ShipmentDetail{Shipment: redact(identity(ctx), sh), Alerts: []alerts.Alert{}}
	if b := recs[0][0]; b != nil {
		r, err := ledger.UnmarshalReceipt(b)
		if err != nil {
			return nil, err
		}
		out.Receipt = &r
	}
	all, err := s.alertsIn(ctx, alerts.ShipmentSetSuffix(sh.ID), []int{s.partitionOf(sh.ID)})
	if err != nil {
		return nil, err
	}
	out.Alerts = append(out.Alerts, all...)
	sortAlerts(out.Alerts)
	return &shipmentOutput{out}, nil
}

// timelineChunk is how many offsets of the partition one backward read
// covers: the newest events of a shipment are found without reading the
// partition from its start.
const timelineChunk = 4096

func (s *Server) shipmentEvents(ctx context.Context, in *timelineInput) (*timelineOutput, error) {
	sh, _, e := s.loadOwned(ctx, in.ID)
	if e != nil {
		return nil, e
	}
	who := identity(ctx)
	p := s.partitionOf(sh.ID)
	ends, err := bus.EndOffsets(ctx, s.cfg.Brokers, string(event.TopicEvents))
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "the archive is not reachable: %v", err)
	}
	before := ends[p]
	if c, e := decodeCursor("o", in.Cursor); e != nil {
		return nil, e
	} else if c != "" {
		var n int64
		if err := json.Unmarshal([]byte(c), &n); err != nil || n < 0 || n > before {
			return nil, badField("cursor", in.Cursor, event.RuleFormat, "not a cursor this timeline returned")
		}
		before = n
	}
	page := TimelinePage{Shipment: sh.ID, Partition: p, Items: []TimelineEvent{}}
	var found []TimelineEvent // newest first
	for before > 0 && len(found) <= in.Limit {
		from := max(0, before-timelineChunk)
		var chunk []TimelineEvent
		err := bus.ReadRange(ctx, s.cfg.Brokers, string(event.TopicEvents), p, from, before, func(m kafka.Message) error {
			if string(m.Key) != string(sh.ID) {
				return nil
			}
			ev, err := event.UnmarshalCanonical(m.Value)
			if err != nil || ev.Subject != sh.ID || who.Kind == roleCarrier && ev.Carrier != who.SCAC {
				return nil
			}
			chunk = append(chunk, TimelineEvent{Offset: m.Offset, Type: ev.Type, Time: ev.Time, Carrier: ev.Carrier, Event: json.RawMessage(m.Value)})
			return nil
		})
		if err != nil {
			return nil, fail(http.StatusServiceUnavailable, "read the archive: %v", err)
		}
		slices.Reverse(chunk)
		found = append(found, chunk...)
		before = from
	}
	if len(found) > in.Limit {
		found = found[:in.Limit]
		page.NextCursor = encodeCursor("o", jsonInt(found[len(found)-1].Offset))
	}
	page.Items = append(page.Items, found...)
	return &timelineOutput{page}, nil
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// sortAlerts orders alerts newest first, then by ID: as alerts/desk lists.
func sortAlerts(as []alerts.Alert) {
	slices.SortFunc(as, func(a, b alerts.Alert) int {
		if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}
