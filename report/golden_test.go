package report_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/report"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// The CSV and JSON layouts of every form, for October and for November
// (no gas: the no-activity report), are the golden files byte for byte.
// After a deliberate change of layout: go test ./report -run Golden -update.
func TestGoldenFiles(t *testing.T) {
	recs := archive(t, month(t))
	for _, period := range []string{"2026-10", "2026-11"} {
		d := compute(t, period, recs)
		p, _ := report.ParsePeriod(period)
		for _, f := range report.Forms {
			for ext, enc := range map[string]func(*report.DOE, report.Form) ([]byte, error){"csv": (*report.DOE).CSV, "json": (*report.DOE).JSON} {
				got, err := enc(d, f)
				if err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", "golden", report.FileName(f, p, ext)), got)
			}
		}
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from its golden file at line %d:\n got: %s\nwant: %s\n(run with -update after a deliberate change)", path, i+1, g, w)
			}
		}
	}
}

// The HTML page renders in headless Chromium to a PNG and a PDF, saved as
// the test's artifacts (t.ArtifactDir, kept with go test -artifacts) and
// under testdata/artifacts (gitignored) for a person to look at. Without
// Chromium the test skips outside CI and fails in CI.
func TestHTMLRendersInChromium(t *testing.T) {
	d := compute(t, "2026-10", archive(t, month(t)))
	html, err := d.HTML()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := d.HTML()
	if !bytes.Equal(html, again) {
		t.Fatal("the HTML differs between two renderings")
	}
	for _, want := range []string{"<svg", "3404 Neche, ND", "FE 25-202-NG", "in_transit", testCheckpoint.Root, `name="inbond-checkpoint"`} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("the HTML lacks %q", want)
		}
	}
	if _, err := report.Chromium(); errors.Is(err, report.ErrNoChromium) {
		if testenv.RequireReal() {
			t.Fatal("CI must render the report in Chromium (apt-get install -y chromium; .ci/run installs it): ", err)
		}
		t.Skipf("the report's Chromium rendering did not run: %v (apt-get install -y chromium)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	shot, err := report.Render(ctx, html, "png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("Chromium's screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 1000 || b.Dy() < 800 {
		t.Errorf("screenshot of %v: the page did not lay out", b)
	}
	pdf, err := report.Render(ctx, html, "pdf")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("Chromium's PDF starts %q", pdf[:min(8, len(pdf))])
	}
	local := filepath.Join("testdata", "artifacts")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{t.ArtifactDir(), local} {
		for name, b := range map[string][]byte{"doe-2026-10.png": shot, "doe-2026-10.pdf": pdf, "doe-2026-10.html": html} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("rendered %d KB of PNG (%v) and %d KB of PDF to %s and %s", len(shot)>>10, img.Bounds().Size(), len(pdf)>>10, t.ArtifactDir(), local)
}
