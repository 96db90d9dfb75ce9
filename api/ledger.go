package api

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/inbond/inbond/state"
	"github.com/transparency-dev/tessera/api/layout"
)

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }

// Proof is a shipment's history proven against the signed log, and the
// offline proof anyone holding the verifier key can check again.
type Proof struct {
	Shipment   event.ShipmentID `json:"shipment"`
	Verified   bool             `json:"verified"`
	Events     uint64           `json:"events" doc:"events the proven chain covers"`
	Head       string           `json:"head" doc:"the chain head, hex"`
	Checkpoint string           `json:"checkpoint"`
	CutAt      time.Time        `json:"cut_at"`
	LogIndex   uint64           `json:"log_index"`
	TreeSize   uint64           `json:"tree_size"`
	TreeRoot   []byte           `json:"tree_root"`
	Origin     string           `json:"origin"`
	// Unanchored counts later events not yet in an anchored checkpoint.
	Unanchored int `json:"unanchored"`
	// TlogProof is the C2SP tlog-proof (`inbond verify --offline` checks it).
	TlogProof string `json:"tlog_proof"`
}

type proofOutput struct{ Body Proof }

type textOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

func textResponse(desc string) map[string]*huma.Response {
	return map[string]*huma.Response{"200": {Description: desc,
		Content: map[string]*huma.MediaType{"text/plain; charset=utf-8": {Schema: &huma.Schema{Type: huma.TypeString}}}}}
}

func (s *Server) registerLedger() {
	everyone := roles(roleCBP, roleDOE, roleCarrier)
	o := op(http.MethodGet, "/v1/ledger/checkpoint", "ledger-checkpoint", "The transparency log's latest signed checkpoint (C2SP tlog-checkpoint)", everyone)
	o.Responses = textResponse("the signed note")
	huma.Register(s.api, o, s.checkpoint)
	o = op(http.MethodGet, "/v1/ledger/key", "ledger-key", "The log's note verifier key", everyone)
	o.Responses = textResponse("the verifier key")
	huma.Register(s.api, o, s.verifierKey)
	huma.Register(s.api, op(http.MethodGet, "/v1/shipments/{id}/proof", "shipment-proof", "Prove a shipment's history against the signed log",
		roles(roleCBP, roleCarrier), http.StatusBadRequest, http.StatusNotFound, http.StatusConflict), s.proof)

	// The tiles, under /v1/ledger/ as C2SP tlog-tiles lays them out, so that
	// /v1/ledger/ is a log root any tlog client can read (with a token).
	// The index spans path segments (x001/234.p/5), which huma's routes do
	// not take: the handler is the mux's, the document's entry added here.
	o = op(http.MethodGet, "/v1/ledger/tile/{level}/{index}", "ledger-tile",
		"A tile of the log (C2SP tlog-tiles): level, then the index path, e.g. tile/0/x001/234 or tile/1/000.p/17", everyone, http.StatusBadRequest, http.StatusNotFound)
	o.Parameters = []*huma.Param{
		{Name: "level", In: "path", Required: true, Schema: &huma.Schema{Type: huma.TypeString, Pattern: "^[0-9]{1,2}$"}},
		{Name: "index", In: "path", Required: true, Description: "the tile's index path; it may span segments", Schema: &huma.Schema{Type: huma.TypeString}},
	}
	o.Responses = map[string]*huma.Response{"200": {Description: "the tile's hashes",
		Content: map[string]*huma.MediaType{"application/octet-stream": {Schema: &huma.Schema{Type: huma.TypeString, Format: "binary"}}}}}
	for _, code := range o.Errors {
		o.Responses[strconv.Itoa(code)] = &huma.Response{Description: http.StatusText(code),
			Content: map[string]*huma.MediaType{"application/json": {Schema: &huma.Schema{Ref: "#/components/schemas/Error"}}}}
	}
	s.api.OpenAPI().AddOperation(&o)
	s.mux.Handle("GET /v1/ledger/tile/{level}/{index...}", s.guard(strings.Join(everyone, ","), http.HandlerFunc(s.tile)))
}

// tile serves one tile of the log, read through the same Log the proofs use
// (the anchor's directory or its HTTP root).
func (s *Server) tile(w http.ResponseWriter, r *http.Request) {
	level, index, partial, err := layout.ParseTileLevelIndexPartial(r.PathValue("level"), r.PathValue("index"))
	if err != nil {
		writeError(w, badField("index", r.PathValue("level")+"/"+r.PathValue("index"), event.RuleFormat, "not a C2SP tile path: "+err.Error()))
		return
	}
	l, e := s.openLog()
	if e != nil {
		writeError(w, e)
		return
	}
	b, err := l.ReadTile(r.Context(), level, index, partial)
	if errors.Is(err, fs.ErrNotExist) {
		writeError(w, fail(http.StatusNotFound, "no tile %s", layout.TilePath(level, index, partial)))
		return
	}
	if err != nil {
		writeError(w, fail(http.StatusServiceUnavailable, "read tile: %v", err))
		return
	}
	// A full tile never changes; a partial one is replaced as the log grows.
	cache := "no-cache"
	if partial == 0 {
		cache = "public, max-age=31536000, immutable"
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", cache)
	_, _ = w.Write(b)
}

func (s *Server) openLog() (audit.Log, *Error) {
	if s.cfg.LedgerLog == "" {
		return nil, fail(http.StatusServiceUnavailable, "no ledger log configured")
	}
	l, err := audit.OpenLog(s.cfg.LedgerLog)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "the ledger log: %v", err)
	}
	return l, nil
}

func (s *Server) checkpoint(ctx context.Context, _ *struct{}) (*textOutput, error) {
	l, e := s.openLog()
	if e != nil {
		return nil, e
	}
	b, err := l.ReadCheckpoint(ctx)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "read the log's checkpoint: %v", err)
	}
	return &textOutput{ContentType: "text/plain; charset=utf-8", CacheControl: "no-cache", Body: b}, nil
}

// key is the verifier key as configured: the key itself or a file of it.
func (s *Server) key() (string, *Error) {
	k := strings.TrimSpace(s.cfg.VerifierKey)
	if k == "" {
		return "", fail(http.StatusServiceUnavailable, "no ledger verifier key configured")
	}
	if b, err := os.ReadFile(k); err == nil {
		k = strings.TrimSpace(string(b))
	}
	return k, nil
}

func (s *Server) verifierKey(context.Context, *struct{}) (*textOutput, error) {
	k, e := s.key()
	if e != nil {
		return nil, e
	}
	return &textOutput{ContentType: "text/plain; charset=utf-8", Body: []byte(k + "\n")}, nil
}

func (s *Server) proof(ctx context.Context, in *shipmentInput) (*proofOutput, error) {
	sh, recs, e := s.loadOwned(ctx, in.ID, ledger.ReceiptSuffix)
	if e != nil {
		return nil, e
	}
	if recs[0][0] == nil {
		return nil, fail(http.StatusNotFound, "shipment %s has no receipt yet: none of its checkpoints is anchored", sh.ID)
	}
	l, e := s.openLog()
	if e != nil {
		return nil, e
	}
	k, e := s.key()
	if e != nil {
		return nil, e
	}
	v, err := audit.Verifier(k)
	if err != nil {
		return nil, fail(http.StatusServiceUnavailable, "%v", err)
	}
	rep, ev, err := audit.Verify(ctx, audit.Config{Brokers: s.cfg.Brokers, Store: s.cfg.Store, Log: l, Key: v}, sh.ID)
	if err != nil {
		// The history does not verify against the signed log: tampering,
		// or a log that is not this store's. Say what does not hold.
		return nil, fail(http.StatusConflict, "shipment %s does not verify: %v", sh.ID, err)
	}
	raw, err := ev.MarshalProof()
	if err != nil {
		return nil, err
	}
	vd := rep.Verdict
	return &proofOutput{Proof{Shipment: sh.ID, Verified: true, Events: vd.Events, Head: vd.Head.String(), Checkpoint: vd.Checkpoint.ID(),
		CutAt: vd.Checkpoint.Time, LogIndex: vd.LogIndex, TreeSize: vd.TreeSize, TreeRoot: vd.TreeRoot, Origin: vd.Origin,
		Unanchored: rep.Unanchored, TlogProof: string(raw)}}, nil
}

// Aggregates are counts over every shipment, which every role but a
// carrier may see: they name no shipment.
type Aggregates struct {
	ByStatus map[string]int64 `json:"by_status"`
	Total    int64            `json:"total"`
}

type aggregatesOutput struct{ Body Aggregates }

// Health is a probe's answer.
type Health struct {
	Status string            `json:"status" enum:"ok,unavailable"`
	Checks map[string]string `json:"checks,omitempty"`
}

type healthOutput struct {
	Status int
	Body   Health
}

func (s *Server) registerHealth() {
	huma.Register(s.api, op(http.MethodGet, "/v1/aggregates", "aggregates", "Shipment counts by status", roles(roleCBP, roleDOE)),
		func(ctx context.Context, _ *struct{}) (*aggregatesOutput, error) {
			c, err := s.cfg.Store.CountByStatus(ctx, s.cfg.Partitions)
			if err != nil {
				return nil, fail(http.StatusServiceUnavailable, "%v", err)
			}
			out := Aggregates{ByStatus: map[string]int64{}}
			for _, st := range state.Statuses {
				out.ByStatus[string(st)] = c[st]
				out.Total += c[st]
			}
			return &aggregatesOutput{out}, nil
		})
	o := op(http.MethodGet, "/healthz", "healthz", "Liveness: the process serves", roles(""))
	huma.Register(s.api, o, func(context.Context, *struct{}) (*healthOutput, error) {
		return &healthOutput{Status: http.StatusOK, Body: Health{Status: "ok"}}, nil
	})
	o = op(http.MethodGet, "/readyz", "readyz", "Readiness: Redis and Kafka reachable, the stream positioned, the processors holding every partition", roles(""))
	o.Responses = map[string]*huma.Response{"503": {Description: "not ready: the checks say why",
		Content: map[string]*huma.MediaType{"application/json": {Schema: s.api.OpenAPI().Components.Schemas.Schema(typeOf[Health](), true, "Health")}}}}
	huma.Register(s.api, o, s.readyz)
}

func (s *Server) readyz(ctx context.Context, _ *struct{}) (*healthOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	h := Health{Status: "ok", Checks: map[string]string{"redis": "ok", "kafka": "ok", "stream": "ok"}}
	if s.cfg.Redis == nil {
		h.Checks["redis"] = "no client"
	} else if err := s.cfg.Redis.Ping(ctx).Err(); err != nil {
		h.Checks["redis"] = err.Error()
	}
	if _, err := s.cfg.Store.Offsets(ctx, 1); err != nil {
		h.Checks["redis"] = err.Error()
	}
	n, err := bus.PartitionCount(ctx, s.cfg.Brokers, string(event.TopicEvents))
	if err != nil {
		h.Checks["kafka"] = err.Error()
	}
	if s.cfg.ProcessorGroup != "" {
		h.Checks["partitions"] = "ok"
		held, err := bus.AssignedPartitions(ctx, s.cfg.Brokers, s.cfg.ProcessorGroup, string(event.TopicEvents))
		switch {
		case err != nil:
			h.Checks["partitions"] = err.Error()
		case len(held) < n:
			h.Checks["partitions"] = fmt.Sprintf("group %s holds %d of %d partitions", s.cfg.ProcessorGroup, len(held), n)
		}
	}
	select {
	case <-s.hub.ready:
	default:
		h.Checks["stream"] = "positioning"
	}
	for _, v := range h.Checks {
		if v != "ok" {
			h.Status = "unavailable"
			return &healthOutput{Status: http.StatusServiceUnavailable, Body: h}, nil
		}
	}
	return &healthOutput{Status: http.StatusOK, Body: h}, nil
}
