package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/ledger/audit"
	"github.com/inbond/inbond/pipeline"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/mod/sumdb/note"
)

// The ledger's routes answer from a whole running system (processor with
// the ledger on, the anchor, the API as the pipeline wires it): the signed
// checkpoint verifies with the served key, the tiles hash to its root, and
// a shipment's proof verifies, online and offline, while a carrier gets
// its own shipment's proof and a 404 for another's.
func TestLedgerRoutesProveAShipmentOnARunningSystem(t *testing.T) {
	r := testenv.NewRedis(t)
	dir := t.TempDir()
	cfg := pipeline.Embedded(0, "127.0.0.1:0")
	cfg.Redis = pipeline.Redis{Client: r.Client, Prefix: r.Prefix}
	cfg.Process = &processor.Config{Owner: "api-ledger-test", SessionTimeout: time.Second, Ledger: true, CheckpointInterval: 300 * time.Millisecond}
	cfg.Anchor = &anchor.Config{Dir: filepath.Join(dir, "log"), KeyFile: filepath.Join(dir, "ledger.key")}
	cfg.API = &api.Config{Tokens: []string{"cbp=" + cbpTok, "carrier:ENBR=" + enbrTok, "carrier:PRTK=" + prtkTok}, RateLimit: -1}
	cfg.Log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sys, err := pipeline.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop() })
	t.Logf("testenv: kafka=in-process kfake %v, mqtt=in-process mochi %s (pipeline.Embedded)", sys.Brokers, sys.MQTTURL)
	e := &env{t: t, http: httptest.NewServer(sys.API.Handler())}
	t.Cleanup(e.http.Close)
	e.loadDocument()

	if _, err := sim.PlayScenario(ctx, "clean", 1, sys.MQTTURL, "api-ledger-test", sys.Brokers, sim.Pace{}); err != nil {
		t.Fatal(err)
	}

	// A pipeline shipment of ENBR's, once every event of it is anchored:
	// polled on the cheap route until the receipt covers the state (a
	// proof rereads the whole history), then proven, again if the archive
	// still held events the state had not reached.
	const id = "CRUDE-NECHE-PTHURON"
	var detail struct {
		Shipment struct {
			EventCount uint64 `json:"event_count"`
		} `json:"shipment"`
		Receipt *struct {
			Leaf struct {
				Count uint64 `json:"count"`
			} `json:"leaf"`
		} `json:"receipt"`
	}
	var proof api.Proof
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no proof of %s covering its events within a minute: %+v, %+v", id, detail, proof)
		}
		e.do(http.MethodGet, "/v1/shipments/"+id, cbpTok, nil).json(t, &detail)
		if r := detail.Receipt; r == nil || r.Leaf.Count != detail.Shipment.EventCount {
			continue
		}
		res := e.do(http.MethodGet, "/v1/shipments/"+id+"/proof", cbpTok, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("proof: %d %s", res.Status, res.Body)
		}
		res.json(t, &proof)
		if proof.Unanchored == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	if !proof.Verified || proof.Shipment != id || proof.Origin == "" || len(proof.TreeRoot) != 32 {
		t.Fatalf("proof %+v", proof)
	}
	if proof.Events != detail.Shipment.EventCount || proof.Unanchored != 0 {
		t.Errorf("the proof covers %d events (%d unanchored), the shipment has %d", proof.Events, proof.Unanchored, detail.Shipment.EventCount)
	}

	// The key and the checkpoint: the note verifies with the served key.
	key := e.do(http.MethodGet, "/v1/ledger/key", enbrTok, nil)
	if key.Status != http.StatusOK || strings.TrimSpace(string(key.Body)) != sys.Anchor.VerifierKey() {
		t.Fatalf("key: %d %q, the anchor's is %q", key.Status, key.Body, sys.Anchor.VerifierKey())
	}
	verifier, err := note.NewVerifier(strings.TrimSpace(string(key.Body)))
	if err != nil {
		t.Fatal(err)
	}
	signed := e.do(http.MethodGet, "/v1/ledger/checkpoint", prtkTok, nil)
	cp, _, _, err := log.ParseCheckpoint(signed.Body, verifier.Name(), verifier)
	if err != nil {
		t.Fatalf("checkpoint %q: %v", signed.Body, err)
	}
	if cp.Size < proof.TreeSize {
		t.Errorf("checkpoint size %d below the proof's tree %d", cp.Size, proof.TreeSize)
	}

	// The tiles: the API is a tlog-tiles root an auditor's client reads, and
	// what it serves proves the same shipment again.
	tilePath := "/v1/ledger/tile/0/000"
	if cp.Size < 256 {
		tilePath += fmt.Sprintf(".p/%d", cp.Size)
	}
	tile := e.do(http.MethodGet, tilePath, cbpTok, nil)
	if tile.Status != http.StatusOK || len(tile.Body)%32 != 0 || len(tile.Body) == 0 {
		t.Fatalf("tile: %d, %d bytes", tile.Status, len(tile.Body))
	}
	if cp.Size < 256 { // the one tile holds every leaf hash: it hashes to the signed root
		rng := (&compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}).NewEmptyRange(0)
		for h := range slices.Chunk(tile.Body, 32) {
			if err := rng.Append(h, nil); err != nil {
				t.Fatal(err)
			}
		}
		if root, err := rng.GetRootHash(nil); err != nil || !bytes.Equal(root, cp.Hash) {
			t.Fatalf("the served tile hashes to %x (%v), the signed root is %x", root, err, cp.Hash)
		}
	}
	wantError(t, e.do(http.MethodGet, "/v1/ledger/tile/0/x1/zz", cbpTok, nil), http.StatusBadRequest, "index")
	wantError(t, e.do(http.MethodGet, "/v1/ledger/tile/0/999", cbpTok, nil), http.StatusNotFound, "")
	wantError(t, e.do(http.MethodGet, "/v1/ledger/tile/0/000", "", nil), http.StatusUnauthorized, "")
	lg, err := audit.OpenLog(e.http.URL + "/v1/ledger")
	if err == nil {
		_, err = lg.ReadCheckpoint(ctx)
	}
	if err == nil {
		t.Fatal("the log's root read without a token")
	}

	// Offline: the tlog-proof the route returns checks with the key alone.
	ev, err := ledger.UnmarshalProof([]byte(proof.TlogProof))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Verify(verifier); err != nil {
		t.Fatalf("the offline proof does not verify: %v", err)
	}

	// A carrier proves its own shipment, and cannot tell another's exists.
	if res := e.do(http.MethodGet, "/v1/shipments/"+id+"/proof", enbrTok, nil); res.Status != http.StatusOK {
		t.Errorf("ENBR's own proof: %d %s", res.Status, res.Body)
	}
	wantError(t, e.do(http.MethodGet, "/v1/shipments/"+id+"/proof", prtkTok, nil), http.StatusNotFound, "")
}
