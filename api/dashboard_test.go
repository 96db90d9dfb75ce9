package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The map's layers are the shipped corridors and ports, for every role but
// nobody without a token; the response matches the OpenAPI document.
func TestMapLayers(t *testing.T) {
	e := newEnv(t)
	var m struct {
		Corridors []struct {
			ID         string       `json:"id"`
			Mode       string       `json:"mode"`
			Line       [][2]float64 `json:"line"`
			EntryMeter *struct {
				ID string `json:"id"`
			} `json:"entry_meter"`
		} `json:"corridors"`
		Ports []struct {
			Code string `json:"code"`
			Used bool   `json:"used"`
		} `json:"ports"`
	}
	for _, tok := range []string{cbpTok, doeTok, enbrTok} {
		r := e.do(http.MethodGet, "/v1/map", tok, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: %d %s", tok, r.Status, r.Body)
		}
		r.json(t, &m)
	}
	wantError(t, e.do(http.MethodGet, "/v1/map", "", nil), http.StatusUnauthorized, "")
	pipelines, used := 0, map[string]bool{}
	for _, c := range m.Corridors {
		if len(c.Line) < 2 {
			t.Errorf("corridor %s: %d points", c.ID, len(c.Line))
		}
		if c.Mode == "pipeline" {
			pipelines++
			if c.EntryMeter == nil {
				t.Errorf("pipeline %s without its entry meter", c.ID)
			}
		}
	}
	for _, p := range m.Ports {
		used[p.Code] = p.Used
	}
	if pipelines != 4 || len(m.Corridors) != 8 || !used["3404"] || !used["5301"] || used["0104"] {
		t.Errorf("%d corridors, %d pipelines; used ports %v", len(m.Corridors), pipelines, used)
	}
}

// The dashboard's files are served without a token, with a content
// security policy that allows no other origin and no inline script; no
// directory is listed.
func TestDashboardFiles(t *testing.T) {
	e := newEnv(t)
	for path, want := range map[string]string{
		"/":                    "<script type=\"module\" src=\"/assets/js/main.js\"></script>",
		"/assets/js/main.js":   "import",
		"/assets/js/stream.js": "Last-Event-ID",
		"/assets/style.css":    "--critical",
		"/assets/basemap.json": "Natural Earth",
	} {
		res, err := http.Get(e.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d, %d bytes without %q", path, res.StatusCode, len(b), want)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
	}
	for _, path := range []string{"/assets/", "/assets/js/", "/nope", "/assets/nope.js"} {
		res, err := http.Get(e.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, res.StatusCode)
		}
	}
}
