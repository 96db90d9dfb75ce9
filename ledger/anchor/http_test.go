package anchor_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

// (f) The log is served read-only for standard tlog clients: Tessera's
// HTTP client proves a receipt from the checkpoint, tiles and entry bundle
// it fetches; only GET and HEAD are answered, and nothing under .state (or
// any dotfile, or a directory) is.
func TestServesTheLogReadOnly(t *testing.T) {
	e := newEnv(t)
	a := e.start(func(c *anchor.Config) { c.Listen = "127.0.0.1:0" })
	h := &history{part: 6}
	h.add(30, ids("S", 3)...)
	cps := []*ledger.Batch{h.cut(t, 0, 10, time.Now()), h.cut(t, 10, 20, time.Now()), h.cut(t, 20, 30, time.Now())}
	e.produce(cps...)
	m := a.Metrics()
	eventually(t, "3 records done", func() bool { return count(m.Records) == 3 })
	base := "http://" + a.Addr()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	file := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(e.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	resp, body := do("GET", "/checkpoint")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("GET /checkpoint: %d %v", resp.StatusCode, resp.Header)
	}
	if string(body) != string(file("checkpoint")) {
		t.Fatalf("GET /checkpoint served %q, the file holds %q", body, file("checkpoint"))
	}
	resp, head := do("HEAD", "/checkpoint")
	if resp.StatusCode != 200 || len(head) != 0 || resp.ContentLength != int64(len(body)) {
		t.Fatalf("HEAD /checkpoint: %d, %d bytes, length %d", resp.StatusCode, len(head), resp.ContentLength)
	}
	resp, vkey := do("GET", "/log.vkey")
	if resp.StatusCode != 200 || string(vkey) != a.VerifierKey()+"\n" {
		t.Fatalf("GET /log.vkey: %d %q, want %q", resp.StatusCode, vkey, a.VerifierKey())
	}
	for _, p := range []string{"/tile/0/000.p/3", "/tile/entries/000.p/3"} {
		resp, body := do("GET", p)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" || string(body) != string(file(p[1:])) {
			t.Fatalf("GET %s: %d %v (%d bytes)", p, resp.StatusCode, resp.Header, len(body))
		}
		if resp.Header.Get("Cache-Control") != "" {
			t.Fatalf("GET %s: a partial tile served as %q", p, resp.Header.Get("Cache-Control"))
		}
	}
	if resp, body := do("GET", "/healthz"); resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("GET /healthz: %d %q", resp.StatusCode, body)
	}

	// A standard client over HTTP alone, with the key from /log.vkey.
	ctx := context.Background()
	u, _ := url.Parse(base + "/")
	f, err := client.NewHTTPFetcher(u, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	tree, signed, _, err := client.FetchCheckpoint(ctx, f.ReadCheckpoint, v, v.Name())
	if err != nil || tree.Size != 3 {
		t.Fatalf("fetch checkpoint over HTTP: %v (size %d)", err, tree.Size)
	}
	bundle, err := client.GetEntryBundle(ctx, f.ReadEntryBundle, 0, tree.Size)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{cps[0].Checkpoint.Entry(), cps[1].Checkpoint.Entry(), cps[2].Checkpoint.Entry()}
	if !slices.EqualFunc(bundle.Entries, want, slices.Equal) {
		t.Fatalf("entries over HTTP %q, want %q", bundle.Entries, want)
	}
	pb, err := client.NewProofBuilder(ctx, tree.Size, f.ReadTile)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ledger.UnmarshalReceipt(e.receipt(6, "S-001"))
	if err != nil {
		t.Fatal(err)
	}
	incl, err := pb.InclusionProof(ctx, r.LogIndex)
	if err != nil {
		t.Fatal(err)
	}
	ev := ledger.Evidence{Receipt: r, Events: h.of("S-001"), SignedCheckpoint: signed, LogProof: incl}
	if verdict, err := ev.Verify(v); err != nil || verdict.LogIndex != 2 {
		t.Fatalf("receipt proven over HTTP: %v (%+v)", err, verdict)
	}

	// Read-only.
	for _, method := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		for _, p := range []string{"/checkpoint", "/tile/0/000.p/3", "/.state/treeState", "/nowhere"} {
			resp, _ := do(method, p)
			if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
				t.Fatalf("%s %s: %d (Allow %q), want 405", method, p, resp.StatusCode, resp.Header.Get("Allow"))
			}
		}
	}
	// Never the private state, a dotfile or a directory.
	state := string(file(".state/treeState"))
	for _, p := range []string{"/.state/treeState", "/.state/", "/tile/../.state/treeState", "/tile/%2e%2e/.state/treeState",
		"/tile/0/../../.state/treeState", "/tile/.state", "/tile/0/.p", "/tile/0/", "/tile/0", "/tile/entries", "/tile/", "/", "/.state/anchor.lock"} {
		resp, body := do("GET", p)
		if resp.StatusCode == 200 || (state != "" && strings.Contains(string(body), state)) {
			t.Fatalf("GET %s: %d %q", p, resp.StatusCode, body)
		}
	}
}
