package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/report"
)

func init() {
	// kin-openapi decodes no text/html body by itself; the document says
	// the page is a string, which is what this checks it against.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// reportDir writes two periods' files as the scheduler does (report.Compute
// at a checkpoint, then the csv, json and html files), with a stray file
// and the scheduler's hidden state beside them, and returns the directory
// and the files by name.
func reportDir(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{}
	for i, period := range []string{"2026-09", "2026-10"} {
		maps.Copy(files, writePeriod(t, dir, period, uint64(7+i), strings.Repeat("ab", 31)+"0"+string(rune('1'+i))))
	}
	for name, b := range map[string]string{"notes.txt": "not a report", filepath.Join(report.StateDir, "produced-2026-10.json"): "{}"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

// writePeriod writes period's csv, json and html files into dir as the
// scheduler does, at a checkpoint of treeSize and root (a month without
// traffic: the no-activity reports), and returns them by name.
func writePeriod(t *testing.T, dir, period string, treeSize uint64, root string) map[string][]byte {
	t.Helper()
	p, err := report.ParsePeriod(period)
	if err != nil {
		t.Fatal(err)
	}
	cp := report.Checkpoint{Origin: "inbond.test/ledger", TreeSize: treeSize, Root: root, Topic: "inbond.events", Ends: []int64{0, 0}}
	d, err := report.Compute(p, cp, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	written, err := report.WriteFiles(context.Background(), d, dir, []string{"csv", "json", "html"})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range written {
		files[f.Name] = f.Data
	}
	return files
}

func TestReportsListAndFiles(t *testing.T) {
	dir, files := reportDir(t)
	e := newEnv(t, func(c *api.Config) { c.Reports = dir })

	var list api.ReportList
	r := e.do(http.MethodGet, "/v1/reports", doeTok, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	r.json(t, &list)
	if len(list.Periods) != 2 || list.Periods[0].Period != "2026-10" || list.Periods[1].Period != "2026-09" {
		t.Fatalf("periods %+v, want 2026-10 then 2026-09", list.Periods)
	}
	perPeriod := len(report.Forms)*2 + 1
	served := 0
	for i, p := range list.Periods {
		if len(p.Files) != perPeriod {
			t.Fatalf("%s lists %d files, want %d", p.Period, len(p.Files), perPeriod)
		}
		for _, f := range p.Files {
			want, ok := files[f.Name]
			if !ok {
				t.Fatalf("%s listed, not written", f.Name)
			}
			if !strings.Contains(f.Name, "-"+p.Period+".") || f.Checkpoint.TreeSize != uint64(8-i) || f.Checkpoint.Origin != "inbond.test/ledger" || f.Bytes != len(want) {
				t.Errorf("%s listed as %+v", f.Name, f)
			}
			// Every listed file is served at its href, byte for byte,
			// as its format's type.
			g := e.do(http.MethodGet, f.Href, doeTok, nil)
			if g.Status != http.StatusOK || !bytes.Equal(g.Body, want) {
				t.Fatalf("%s: %d, %d bytes, want the file's %d", f.Href, g.Status, len(g.Body), len(want))
			}
			if ct := g.Header.Get("Content-Type"); ct != report.ContentType(f.Format) {
				t.Errorf("%s served as %q", f.Href, ct)
			}
			if et := g.Header.Get("ETag"); et != `"`+f.SHA256+`"` {
				t.Errorf("%s: ETag %s, listed sha256 %s", f.Href, et, f.SHA256)
			}
			served++
		}
	}
	if served != 2*perPeriod {
		t.Fatalf("served %d files", served)
	}

	// Default formats: json for a form, html for the page; cbp sees them too.
	for path, name := range map[string]string{
		"/v1/reports/fe-746r/2026-10": "fe-746r-2026-10.json",
		"/v1/reports/doe/2026-09":     "doe-2026-09.html",
	} {
		g := e.do(http.MethodGet, path, cbpTok, nil)
		if g.Status != http.StatusOK || !bytes.Equal(g.Body, files[name]) {
			t.Errorf("%s: %d, want %s", path, g.Status, name)
		}
	}
	g := e.do(http.MethodGet, "/v1/reports/eia-814/2026-10?format=csv", doeTok, nil)
	if g.Status != http.StatusOK || !strings.HasPrefix(g.Header.Get("Content-Type"), "text/csv") || !bytes.Contains(g.Body, []byte("log_origin,tree_size,root")) {
		t.Errorf("the EIA-814 CSV: %d %s", g.Status, truncate(g.Body))
	}

	// Unknown period, form, or a form's missing format: 404.
	for _, path := range []string{"/v1/reports/eia-814/2026-08?format=csv", "/v1/reports/eia-999/2026-10", "/v1/reports/doe/2026-10?format=csv", "/v1/reports/metering/2026-10?format=html"} {
		wantError(t, e.do(http.MethodGet, path, doeTok, nil), http.StatusNotFound, "")
	}
	// A bad period or format: 400 naming the field.
	wantError(t, e.do(http.MethodGet, "/v1/reports/eia-814/2026-13", doeTok, nil), http.StatusBadRequest, "period")
	wantError(t, e.do(http.MethodGet, "/v1/reports/eia-814/10-2026", doeTok, nil), http.StatusBadRequest, "period")
	wantError(t, e.do(http.MethodGet, "/v1/reports/eia-814/2026-10?format=xml", doeTok, nil), http.StatusBadRequest, "format")

	// No token: 401; a carrier's: 403, on both routes.
	for _, path := range []string{"/v1/reports", "/v1/reports/eia-814/2026-10"} {
		wantError(t, e.do(http.MethodGet, path, "", nil), http.StatusUnauthorized, "")
		wantError(t, e.do(http.MethodGet, path, enbrTok, nil), http.StatusForbidden, "")
		wantError(t, e.do(http.MethodGet, path, "not-a-token", nil), http.StatusUnauthorized, "")
	}
}

func TestReportsNotConfigured(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/v1/reports", "/v1/reports/eia-814/2026-10?format=csv"} {
		r := e.do(http.MethodGet, path, doeTok, nil)
		wantError(t, r, http.StatusServiceUnavailable, "")
		if !strings.Contains(string(r.Body), "no reports configured") {
			t.Errorf("%s: %s", path, r.Body)
		}
	}
	// A directory configured but missing says so, and is not an empty list.
	e = newEnv(t, func(c *api.Config) { c.Reports = filepath.Join(t.TempDir(), "absent") })
	wantError(t, e.do(http.MethodGet, "/v1/reports", doeTok, nil), http.StatusServiceUnavailable, "")
}

// TestReportsListSeesRewrittenFiles lists, then writes October's files
// again at a later checkpoint and November's for the first time, as the
// scheduler would: the next listing names the new checkpoint and hashes
// for October and lists November, although the listing remembers what it
// read of each file.
func TestReportsListSeesRewrittenFiles(t *testing.T) {
	dir, _ := reportDir(t)
	e := newEnv(t, func(c *api.Config) { c.Reports = dir })
	list := func() map[string]api.ReportFile {
		t.Helper()
		var l api.ReportList
		r := e.do(http.MethodGet, "/v1/reports", doeTok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("list: %d %s", r.Status, r.Body)
		}
		r.json(t, &l)
		out := map[string]api.ReportFile{}
		for _, p := range l.Periods {
			for _, f := range p.Files {
				out[f.Name] = f
			}
		}
		return out
	}
	before := list()
	if _, ok := before["eia-814-2026-10.csv"]; !ok || len(before) != 2*(len(report.Forms)*2+1) {
		t.Fatalf("first listing: %d files", len(before))
	}
	rewritten := writePeriod(t, dir, "2026-10", 42, strings.Repeat("cd", 32))
	maps.Copy(rewritten, writePeriod(t, dir, "2026-11", 42, strings.Repeat("cd", 32)))
	after := list()
	if len(after) != 3*(len(report.Forms)*2+1) {
		t.Fatalf("second listing: %d files, want three periods'", len(after))
	}
	for name, b := range rewritten {
		f, ok := after[name]
		sum := sha256.Sum256(b)
		if !ok || f.Checkpoint.TreeSize != 42 || f.SHA256 != hex.EncodeToString(sum[:]) || f.Bytes != len(b) {
			t.Errorf("%s listed as %+v after it was written at tree 42", name, f)
		}
	}
	if f := after["eia-814-2026-09.csv"]; f != before["eia-814-2026-09.csv"] {
		t.Errorf("September's file changed in the listing: %+v, was %+v", f, before["eia-814-2026-09.csv"])
	}
}
