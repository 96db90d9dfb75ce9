package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ErrNoChromium is returned by Render when no Chromium or Chrome is
// installed (apt-get install -y chromium; or set INBOND_CHROMIUM).
var ErrNoChromium = errors.New("report: no headless Chromium found (install chromium, or set INBOND_CHROMIUM to its path)")

// Chromium finds the browser Render runs: $INBOND_CHROMIUM, else chromium,
// chromium-browser, google-chrome or headless-shell on the PATH.
func Chromium() (string, error) {
	if p := os.Getenv("INBOND_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoChromium
}

// Render prints an HTML page with headless Chromium (chromedp): format
// "pdf" gives A4 landscape pages as the page's print styles lay them out,
// "png" a full-page screenshot at 1280 px wide. The page is loaded from
// memory: it needs no file and no network (its chart is inline SVG).
func Render(ctx context.Context, html []byte, format string) ([]byte, error) {
	if format != "pdf" && format != "png" {
		return nil, fmt.Errorf("report: render to %q: want pdf or png", format)
	}
	bin, err := Chromium()
	if err != nil {
		return nil, err
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	load := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
		if err != nil {
			return err
		}
		_, err = chromedp.Call(ctx, page.SetDocumentContent, page.SetDocumentContentParams{FrameID: tree.FrameTree.Frame.ID, HTML: string(html)})
		return err
	})
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank"), chromedp.EmulateViewport(1280, 900), load); err != nil {
		return nil, fmt.Errorf("report: load the page in Chromium: %w", err)
	}
	var out []byte
	if format == "pdf" {
		out, err = chromedp.Run(bctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFLandscape(),
			chromedp.PDFPrintBackground(), chromedp.PDFPreferCSSPageSize()))
	} else {
		out, err = chromedp.Run(bctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		return nil, fmt.Errorf("report: Chromium %s: %w", format, err)
	}
	return out, nil
}
