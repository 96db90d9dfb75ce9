package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	gojson "github.com/goccy/go-json"
	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/retry"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// The stream's event names.
const (
	sseAlert    = "alert"    // data: the transition's CloudEvent as on inbond.alerts
	sseShipment = "shipment" // data: a ShipmentUpdate
)

// ShipmentUpdate is a stream message for an event applied to a shipment's
// log: what changed, and the canonical event itself.
type ShipmentUpdate struct {
	Shipment event.ShipmentID `json:"shipment"`
	Type     event.Type       `json:"type"`
	Time     time.Time        `json:"time"`
	Carrier  event.CarrierID  `json:"carrier,omitempty"`
	Event    json.RawMessage  `json:"event"`
}

// tail is one partition of a topic the stream carries, with its most recent
// records. A stream reads from the buffer while its position is in it, and
// reads older records from Kafka, so a resume is exact however long the
// client was away (as long as Kafka keeps the records).
type tail struct {
	topic string
	part  int
	mu    sync.Mutex
	lo    int64 // records at and after lo are in recs
	next  int64 // the offset after the last record read
	recs  []*record
	limit int
}

// record is a record of a tail with the stream message made of it. Every
// stream sends the same bytes for it (what differs between streams is only
// whether it is sent), so the first stream to reach it decodes and encodes
// it, once, and the others reuse that: serving N dashboards costs one
// decode a record, not N.
type record struct {
	kafka.Message
	once sync.Once
	msg  streamMessage
}

// streamMessage is what a stream sends for a record, with what decides
// whether a stream sends it.
type streamMessage struct {
	ok      bool   // false: not decodable, sent to nobody
	name    string // sseAlert or sseShipment
	data    []byte
	subject event.ShipmentID
	carrier event.CarrierID // a shipment update's event carrier
}

// message returns the record's stream message, made on first use. Safe
// for concurrent streams: sync.Once makes it once and publishes it to all.
func (r *record) message(topic string) *streamMessage {
	r.once.Do(func() { r.msg = makeMessage(topic, r.Message) })
	return &r.msg
}

// makeMessage decodes a record of topic into its stream message.
func makeMessage(topic string, m kafka.Message) streamMessage {
	// Only the fields the stream needs, with goccy: it makes a message of
	// every record at the logs' rate (10,000 a second), and decoding whole
	// records with encoding/json cost up to 22 µs each (BENCHMARKS.md).
	if topic == string(event.TopicAlerts) {
		var t struct {
			Subject event.ShipmentID `json:"subject"`
		}
		if err := gojson.Unmarshal(m.Value, &t); err != nil || t.Subject == "" {
			return streamMessage{}
		}
		return streamMessage{ok: true, name: sseAlert, data: compact(m.Value), subject: t.Subject}
	}
	var h struct {
		Type    event.Type       `json:"type"`
		Subject event.ShipmentID `json:"subject"`
		Time    time.Time        `json:"time"`
		Carrier event.CarrierID  `json:"carrier"`
	}
	if err := gojson.Unmarshal(m.Value, &h); err != nil || event.NewPayload(h.Type) == nil || h.Subject == "" {
		return streamMessage{}
	}
	b, err := gojson.Marshal(ShipmentUpdate{Shipment: h.Subject, Type: h.Type, Time: h.Time, Carrier: h.Carrier, Event: m.Value})
	if err != nil {
		return streamMessage{}
	}
	return streamMessage{ok: true, name: sseShipment, data: b, subject: h.Subject, carrier: h.Carrier}
}

func (t *tail) add(m kafka.Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.recs = append(t.recs, &record{Message: m})
	if len(t.recs) > t.limit {
		// Reslice, not shift: append reallocates (copying only the
		// limit kept) once the array is full, so an add is O(1)
		// amortized where shifting the buffer was O(limit).
		drop := len(t.recs) - t.limit
		t.lo = t.recs[drop].Offset
		clear(t.recs[:drop]) // let the dropped records' bytes go
		t.recs = t.recs[drop:]
	}
	t.next = m.Offset + 1
}

// since returns the buffered records at and after pos, or, when pos is
// before the buffer, the end of the gap to read from Kafka first.
func (t *tail) since(pos int64) (recs []*record, gapTo int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if pos < t.lo {
		return nil, t.lo
	}
	i, _ := slices.BinarySearchFunc(t.recs, pos, func(r *record, off int64) int { return int(r.Offset - off) })
	return slices.Clone(t.recs[i:]), 0
}

// hub tails inbond.alerts and inbond.events from where they ended when it
// started, for every stream.
type hub struct {
	brokers []string
	events  int
	limit   int
	log     *zap.Logger
	ready   chan struct{}
	tails   []*tail // inbond.alerts' partitions, then inbond.events'
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every record
}

func newHub(brokers []string, eventPartitions, limit int, log *zap.Logger) *hub {
	return &hub{brokers: brokers, events: eventPartitions, limit: limit, log: log, ready: make(chan struct{}), changed: make(chan struct{})}
}

// wait returns a channel closed at the next record any tail reads.
func (h *hub) wait() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changed
}

func (h *hub) notify() {
	h.mu.Lock()
	close(h.changed)
	h.changed = make(chan struct{})
	h.mu.Unlock()
}

func (h *hub) run(ctx context.Context) error {
	var tails []*tail
	for _, topic := range []event.Topic{event.TopicAlerts, event.TopicEvents} {
		ends, err := retry.Forever(ctx, retry.Default, func() ([]int64, error) { return bus.EndOffsets(ctx, h.brokers, string(topic)) })
		if err != nil {
			return nil // stopped while Kafka was unreachable
		}
		for p, end := range ends {
			tails = append(tails, &tail{topic: string(topic), part: p, lo: end, next: end, limit: h.limit})
		}
	}
	h.tails = tails
	close(h.ready)
	var wg sync.WaitGroup
	for _, t := range tails {
		wg.Go(func() { h.follow(ctx, t) })
	}
	wg.Wait()
	return nil
}

func (h *hub) follow(ctx context.Context, t *tail) {
	r := bus.PartitionReader(h.brokers, t.topic, t.part, 256, func(f string, args ...any) {
		h.log.Debug("stream reader", zap.String("topic", t.topic), zap.String("error", fmt.Sprintf(f, args...)))
	})
	defer r.Close()
	if err := r.SetOffset(t.next); err != nil {
		h.log.Error("stream reader offset", zap.Error(err))
		return
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		t.add(m)
		h.notify()
	}
}

// positions is a stream's place in every tail: the next offset of each.
type positions []int64

// cursor is the SSE id after a message: every tail's position, so that a
// Last-Event-ID resumes each partition exactly where the client was.
func (p positions) cursor(alertParts int) string {
	var b strings.Builder
	b.WriteString("1")
	for i, o := range p {
		if i == 0 || i == alertParts {
			b.WriteByte('~')
		} else {
			b.WriteByte('.')
		}
		b.WriteString(strconv.FormatInt(o, 10))
	}
	return base64.RawURLEncoding.EncodeToString([]byte(b.String()))
}

// parsePositions reads a cursor for tails of alertParts + eventParts.
func parsePositions(c string, alertParts, eventParts int) (positions, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return nil, fmt.Errorf("not base64url")
	}
	groups := strings.Split(string(raw), "~")
	if len(groups) != 3 || groups[0] != "1" {
		return nil, fmt.Errorf("not a stream id")
	}
	var out positions
	for gi, want := range []int{alertParts, eventParts} {
		fs := strings.Split(groups[gi+1], ".")
		if len(fs) != want {
			return nil, fmt.Errorf("for %d partitions, the topics have %d", len(fs), want)
		}
		for _, f := range fs {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("offset %q", f)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

type streamInput struct {
	LastEventID string `header:"Last-Event-ID" doc:"the id of the last message received: the stream resumes right after it"`
	Resume      string `query:"last_event_id" doc:"the same, for clients that cannot set headers (EventSource's first connect)"`
	Kinds       string `query:"kinds" enum:"alert,shipment,alert|shipment" doc:"what to send: alert transitions, shipment updates, or both (default)"`
	Shipment    string `query:"shipment" doc:"only this shipment's messages"`
}

func (s *Server) registerStream() {
	o := op(http.MethodGet, "/v1/stream", "stream", "Server-Sent Events: alert transitions and shipment updates",
		roles(roleCBP, roleCarrier), http.StatusBadRequest)
	o.Description += " Each message's id is the stream's position in every partition of inbond.alerts and inbond.events; " +
		"reconnect with Last-Event-ID to receive every later message once. A comment line is sent as a heartbeat when idle. " +
		"Event alert: the transition's CloudEvent as published on inbond.alerts (deduplicate by its id: a processor crash may " +
		"republish one). Event shipment: a ShipmentUpdate."
	o.Responses = map[string]*huma.Response{"200": {Description: "text/event-stream of alert and shipment messages",
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Type: huma.TypeString}}}}}
	// The messages' data types, for clients' generators.
	reg := s.api.OpenAPI().Components.Schemas
	_ = reg.Schema(typeOf[ShipmentUpdate](), true, "ShipmentUpdate")
	_ = reg.Schema(typeOf[alerts.TransitionEvent](), true, "TransitionEvent")
	huma.Register(s.api, o, s.stream)
}

func (s *Server) stream(ctx context.Context, in *streamInput) (*huma.StreamResponse, error) {
	who := identity(ctx)
	select {
	case <-s.hub.ready:
	default:
		return nil, fail(http.StatusServiceUnavailable, "the stream is starting: Kafka not reached yet")
	}
	alertParts := 0
	for _, t := range s.hub.tails {
		if t.topic == string(event.TopicAlerts) {
			alertParts++
		}
	}
	var pos positions
	resume, field := in.LastEventID, "Last-Event-ID"
	if resume == "" {
		resume, field = in.Resume, "last_event_id"
	}
	if resume != "" {
		p, err := parsePositions(resume, alertParts, len(s.hub.tails)-alertParts)
		if err != nil {
			return nil, badField(field, resume, event.RuleFormat, "not an id this stream sent: "+err.Error())
		}
		pos = p
	} else {
		for _, t := range s.hub.tails {
			t.mu.Lock()
			pos = append(pos, t.next)
			t.mu.Unlock()
		}
	}
	if in.Shipment != "" {
		if err := event.ShipmentID(in.Shipment).Validate("shipment"); err != nil {
			return nil, invalid(err)
		}
	}
	wantAlerts := in.Kinds == "" || strings.Contains(in.Kinds, sseAlert)
	wantShipments := in.Kinds == "" || strings.Contains(in.Kinds, sseShipment)
	owner := newOwnership(s, who)
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		_, w := humago.Unwrap(hctx)
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
		hctx.SetHeader("Content-Type", "text/event-stream")
		hctx.SetHeader("Cache-Control", "no-cache")
		hctx.SetHeader("X-Accel-Buffering", "no")
		hctx.SetStatus(http.StatusOK)
		fmt.Fprintf(w, ": inbond stream for %s\nretry: 2000\n\n", who.Role())
		_ = rc.Flush()
		sctx := hctx.Context()
		beat := time.NewTicker(s.cfg.Heartbeat)
		defer beat.Stop()
		deliver := func(i int, r *record) error {
			pos[i] = r.Offset + 1
			name, data, ok := s.message(sctx, s.hub.tails[i].topic, r, who, owner, in.Shipment, wantAlerts, wantShipments)
			if !ok {
				return nil
			}
			_, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", pos.cursor(alertParts), name, data)
			return err
		}
		for {
			changed := s.hub.wait()
			sent := false
			for i, t := range s.hub.tails {
				recs, gapTo := t.since(pos[i])
				if gapTo > 0 {
					err := bus.ReadRange(sctx, s.cfg.Brokers, t.topic, t.part, pos[i], gapTo, func(m kafka.Message) error {
						sent = true
						return deliver(i, &record{Message: m}) // read once, for this stream only
					})
					if err != nil {
						if sctx.Err() == nil {
							s.log.Warn("stream: read the gap", zap.String("topic", t.topic), zap.Int("partition", t.part), zap.Error(err))
							fmt.Fprintf(w, "event: error\ndata: %q\n\n", "cannot resume: "+err.Error())
						}
						return
					}
					recs, _ = t.since(pos[i])
				}
				for _, m := range recs {
					sent = true
					if err := deliver(i, m); err != nil {
						return
					}
				}
			}
			if sent {
				if rc.Flush() != nil {
					return
				}
				continue
			}
			select {
			case <-sctx.Done():
				return
			case <-changed:
			case <-beat.C:
				if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			}
		}
	}}, nil
}

// message returns a record's stream message for who, or says to skip it.
func (s *Server) message(ctx context.Context, topic string, r *record, who Identity, own *ownership, shipment string, wantAlerts, wantShipments bool) (string, []byte, bool) {
	if shipment != "" && string(r.Key) != shipment {
		return "", nil, false
	}
	if alert := topic == string(event.TopicAlerts); alert && !wantAlerts || !alert && !wantShipments {
		return "", nil, false
	}
	m := r.message(topic)
	if !m.ok || m.name == sseShipment && who.Kind == roleCarrier && m.carrier != who.SCAC || !own.owns(ctx, m.subject) {
		return "", nil, false
	}
	return m.name, m.data, true
}

// compact keeps a data line one line: SSE ends a field at a newline.
func compact(b []byte) []byte {
	if !slices.Contains(b, '\n') {
		return b
	}
	var out strings.Builder
	for _, c := range b {
		if c != '\n' && c != '\r' {
			out.WriteByte(c)
		}
	}
	return []byte(out.String())
}

// ownership answers, for one stream, whether its carrier owns a shipment,
// remembering each answer briefly (a manifest may change it).
type ownership struct {
	s    *Server
	who  Identity
	seen map[event.ShipmentID]ownedAt
}

type ownedAt struct {
	ok bool
	at time.Time
}

func newOwnership(s *Server, who Identity) *ownership {
	return &ownership{s: s, who: who, seen: map[event.ShipmentID]ownedAt{}}
}

func (o *ownership) owns(ctx context.Context, id event.ShipmentID) bool {
	if o.who.Kind != roleCarrier {
		return true
	}
	if c, ok := o.seen[id]; ok && time.Since(c.at) < 5*time.Second {
		return c.ok
	}
	shs, err := o.s.cfg.Store.Load(ctx, o.s.partitionOf(id), []event.ShipmentID{id})
	ok := err == nil && shs[id] != nil && owns(o.who, shs[id])
	o.seen[id] = ownedAt{ok, time.Now()}
	return ok
}
