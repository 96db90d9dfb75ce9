package pipeline_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/internal/testenv"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/pipeline"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// The dashboard in headless Chromium against the whole system (in-process
// Kafka and MQTT, both gateways, the processor with the rules and the
// ledger, the anchor, the API) while the simulator plays the demo's
// scenario: the page loads on a token in its fragment, conveyances' markers
// appear on the map and move, an alert raised after the page loaded arrives
// in the feed without a reload, the officer acknowledges it with a note and
// the feed shows the transition the processor applied, and a pipeline
// shipment's page draws its meter chart and verifies on the ledger; a
// carrier, in another tab, sees only its own shipment and no commands; a
// DOE analyst gets the reports page.
// Screenshots of each step are the test's artifacts.
func TestDashboardInABrowser(t *testing.T) {
	chrome := chromium(t)
	shots := screenshotDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	const token, carrierToken, doeToken = "tok-dashboard-officer", "tok-dashboard-prtk", "tok-dashboard-doe"
	sys, apiURL := startDashboardSystem(ctx, t, "cbp="+token, "carrier:PRTK="+carrierToken, "doe="+doeToken)
	defer sys.Stop() //nolint:errcheck // the test is about the page
	// The browser talks to the API through a proxy that records what each
	// stream request resumes from.
	base, resumes := recordingProxy(t, apiURL)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox,
		chromedp.WindowSize(1600, 1000), chromedp.Flag("disable-gpu", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelBrowser()
	var pageErrs []string
	var errMu sync.Mutex
	console := chromedp.Console(bctx)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				errMu.Lock()
				pageErrs = append(pageErrs, m.String())
				errMu.Unlock()
			}
		}
	}()
	shot := func(name string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 10*time.Second)
		defer cancel()
		b, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		p := filepath.Join(shots, name+".png")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("screenshot: %s", p)
	}
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			shot("failed")
			errMu.Lock()
			defer errMu.Unlock()
			t.Fatalf("%s: %v (page errors: %q)", what, err, pageErrs)
		}
	}
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, 20*time.Second)
		defer cancel()
		must(what, chromedp.Do(sctx, actions...))
	}
	poll := func(what, expr string, within time.Duration) json.RawMessage {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Poll[json.RawMessage](expr, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(within)))
		must(what, err)
		return v
	}

	// The page, on a quiet system: the token comes in the fragment and
	// leaves the address bar; the stream is live before any traffic.
	must("open the dashboard", chromedp.Do(bctx, chromedp.Navigate(base+"/#token="+token)))
	poll("the stream goes live", `document.querySelector('#conn')?.dataset.state === 'live'`, 20*time.Second)
	poll("the basemap and the corridors are drawn", `document.querySelectorAll('#layer-land path').length > 0 && document.querySelectorAll('#layer-pipelines path').length === 4 && document.querySelectorAll('#layer-ports .port.used').length > 5`, 10*time.Second)
	url, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + ' ' + (sessionStorage.getItem('inbond.token') ? 'stored' : 'lost')`))
	must("read the location", err)
	if strings.Contains(url, token) || !strings.HasSuffix(url, " stored") {
		t.Errorf("after load: %s (the token must leave the URL and stay in sessionStorage)", url)
	}
	must("mark the page", chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`window.loadedOnce = true; document.querySelectorAll('#alerts li.alert').length`)))
	if n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('#alerts li.alert').length`)); n != 0 {
		t.Fatalf("%d alerts before any traffic", n)
	}

	// Now the carriers: the demo's scenario, paced.
	stopPlay := play(ctx, t, sys, 3600)
	defer stopPlay()

	// Markers appear and move.
	first := poll("conveyance markers appear", `(() => {
		const ms = [...document.querySelectorAll('#layer-markers .marker')];
		return ms.length >= 2 && Object.fromEntries(ms.map(g => [g.dataset.shipment, g.dataset.x + ',' + g.dataset.y]));
	})()`, 60*time.Second)
	var at map[string]string
	must("decode markers", json.Unmarshal(first, &at))
	shot("1-markers")
	moved := poll("a marker moves", fmt.Sprintf(`(() => {
		const before = %s;
		for (const g of document.querySelectorAll('#layer-markers .marker')) {
			const was = before[g.dataset.shipment];
			if (was && was !== g.dataset.x + ',' + g.dataset.y) return g.dataset.shipment + ' ' + was + ' -> ' + g.dataset.x + ',' + g.dataset.y;
		}
		return false;
	})()`, first), 30*time.Second)
	t.Logf("moved: %s", moved)

	// A live alert arrives in the feed, without a reload.
	var alertID string
	raw := poll("a live alert arrives in the feed", `(() => {
		const li = [...document.querySelectorAll('#alerts li.alert[data-status="open"]')];
		const pick = li.find(x => x.querySelector('strong').textContent === 'Seal / tamper') || li.find(x => x.querySelector('strong').textContent === 'Misclassification');
		return pick && window.loadedOnce && pick.dataset.alert;
	})()`, 60*time.Second)
	must("decode alert", json.Unmarshal(raw, &alertID))
	shot("2-live-alert")

	// The officer acknowledges it with a note: the command goes onto the log
	// and the feed changes when the processor's transition comes back.
	sel := fmt.Sprintf(`#alerts li.alert[data-alert=%q]`, alertID)
	do("acknowledge",
		chromedp.Click(chromedp.CSS(sel+` button.ack`)),
		chromedp.WaitVisible(chromedp.CSS(`#cmd-dialog textarea`)),
		chromedp.SendKeys(chromedp.CSS(`#cmd-dialog textarea`), "checked with the carrier by phone"),
		chromedp.Click(chromedp.CSS(`#cmd-dialog button[value="send"]`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#cmd-dialog`)))
	do("show resolved alerts too", chromedp.Click(chromedp.CSS(`#show-resolved`)))
	poll("the alert changes state", fmt.Sprintf(`(() => {
		const li = document.querySelector(%q);
		return li && li.dataset.status !== 'open' && li.textContent.includes('checked with the carrier') && li.dataset.status;
	})()`, sel), 30*time.Second)
	shot("3-acknowledged")

	// The stream drops, as a network would drop it: the page reconnects
	// with Last-Event-ID while the carriers keep publishing.
	do("drop the stream", chromedp.Evaluate[chromedp.Void](`inbondDebug.drop()`))
	poll("the stream reconnects", `inbondDebug.connects >= 2 && document.querySelector('#conn').dataset.state === 'live'`, 20*time.Second)
	if r := resumes(); len(r) < 2 || r[0] != "" || r[len(r)-1] == "" {
		t.Errorf("the stream's requests resumed from %q: want the first from now, the reconnect from a Last-Event-ID", r)
	}

	// A pipeline shipment's page: its meter chart and its ledger badge.
	must("open a pipeline shipment", chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/shipments/CRUDE-NECHE-PTHURON'`)))
	poll("the meter chart is drawn", `document.querySelectorAll('#view-shipment svg.chart path.series').length >= 2 && +document.querySelector('#view-shipment svg.chart').dataset.points > 4`, 30*time.Second)
	poll("the shipment verifies on the ledger", `document.querySelector('#badge')?.dataset.state === 'verified' || (document.querySelector('#badge')?.dataset.state === 'failed' && 'failed: ' + document.querySelector('#badge').textContent)`, 60*time.Second)
	state, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector('#badge').dataset.state + ': ' + document.querySelector('#badge').textContent`))
	must("read the badge", err)
	if !strings.HasPrefix(state, "verified: ✓ Verified on the ledger") {
		t.Errorf("badge %q", state)
	}
	shot("4-shipment")

	// Back to the map with the alert on it, for the README.
	must("back to the map", chromedp.Do(bctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/'`), chromedp.Sleep(1500*time.Millisecond)))
	shot("5-map")
	if still, _ := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.loadedOnce === true`)); !still {
		t.Error("the page reloaded")
	}

	// Every alert transition reached the page through the stream, the
	// dropped connection's gap included: once the carriers stop and the
	// processor is idle, the feed holds each alert as the API lists it.
	stopPlay()
	feedMatchesAPI(ctx, t, bctx, base, token)
	// A carrier's view, in another tab (sessionStorage is per tab): its own
	// shipment and alerts only, and no officer's commands.
	cctx, cancelCarrier := chromedp.NewContext(bctx)
	defer cancelCarrier()
	tctx, cancelT := context.WithTimeout(cctx, time.Minute)
	defer cancelT()
	must("open the carrier's view", chromedp.Do(tctx, chromedp.Navigate(base+"/#token="+carrierToken)))
	view, err := chromedp.Run(tctx, chromedp.Poll[json.RawMessage](`(() => {
		if (document.querySelector('#conn')?.dataset.state !== 'live' || !document.querySelector('#alerts li.alert')) return false;
		return { role: document.querySelector('#who').textContent,
			alerts: [...document.querySelectorAll('#alerts li.alert')].map(li => li.dataset.shipment),
			markers: [...document.querySelectorAll('#layer-markers .marker')].map(g => g.dataset.shipment),
			buttons: document.querySelectorAll('#alerts button').length };
	})()`, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	must("the carrier's view", err)
	var cv struct {
		Role            string
		Alerts, Markers []string
		Buttons         int
	}
	must("decode the carrier's view", json.Unmarshal(view, &cv))
	for _, id := range append(cv.Alerts, cv.Markers...) {
		if id != "TRUCK-WILDHORSE" {
			t.Errorf("carrier PRTK sees %s (view %+v)", id, cv)
		}
	}
	if cv.Role != "carrier" || cv.Buttons != 0 {
		t.Errorf("carrier view %+v: want role carrier and no commands", cv)
	}
	must("open another carrier's shipment", chromedp.Do(tctx, chromedp.Evaluate[chromedp.Void](`location.hash = '#/shipments/RAIL-PORTAL'`)))
	if _, err := chromedp.Run(tctx, chromedp.Poll[bool](`document.querySelector('#view-shipment .error')?.textContent === 'No shipment RAIL-PORTAL.'`,
		chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		t.Errorf("another carrier's shipment page: %v", err)
	}

	// A DOE analyst's view: the reports page and the aggregates, no map.
	dctx, cancelDOE := chromedp.NewContext(bctx)
	defer cancelDOE()
	dtctx, cancelDT := context.WithTimeout(dctx, time.Minute)
	defer cancelDT()
	must("open the analyst's view", chromedp.Do(dtctx, chromedp.Navigate(base+"/#token="+doeToken)))
	if _, err := chromedp.Run(dtctx, chromedp.Poll[bool](`!document.querySelector('#view-reports').hidden && document.querySelector('#view-map').hidden &&
		document.querySelector('#who').textContent === 'doe' && /Shipments by status \(8\)/.test(document.querySelector('#view-reports').textContent)`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Errorf("the analyst's reports page: %v", err)
	}

	errMu.Lock()
	defer errMu.Unlock()
	if len(pageErrs) > 0 {
		t.Errorf("the page logged errors: %q", pageErrs)
	}
}

// recordingProxy serves target through a reverse proxy, and returns its
// URL and the Last-Event-ID of every stream request so far, in order.
func recordingProxy(t *testing.T, target string) (string, func() []string) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []string
	proxy := &httputil.ReverseProxy{FlushInterval: -1, Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		if r.In.URL.Path == "/v1/stream" {
			mu.Lock()
			ids = append(ids, r.In.Header.Get("Last-Event-ID"))
			mu.Unlock()
		}
	}}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv.URL, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ids)
	}
}

// feedMatchesAPI waits until the page's alerts (ID, status, number of
// changes) are the API's.
func feedMatchesAPI(ctx context.Context, t *testing.T, bctx context.Context, base, token string) {
	t.Helper()
	var feed, want []string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/alerts?limit=500", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Items []alerts.Alert `json:"items"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want = want[:0]
		for _, a := range page.Items {
			want = append(want, fmt.Sprintf("%s %s %d", a.ID, a.Status, len(a.History)))
		}
		rows, err := chromedp.Run(bctx, chromedp.Evaluate[[][]any](`inbondDebug.alerts()`))
		if err != nil {
			t.Fatal(err)
		}
		feed = feed[:0]
		for _, r := range rows {
			feed = append(feed, fmt.Sprintf("%v %v %v", r...))
		}
		slices.Sort(want)
		slices.Sort(feed)
		if len(want) > 0 && slices.Equal(feed, want) {
			t.Logf("the feed holds the API's %d alerts", len(want))
			return
		}
	}
	t.Errorf("the feed's alerts\n%s\nthe API's\n%s", strings.Join(feed, "\n"), strings.Join(want, "\n"))
}

// chromium finds Debian's chromium (installed by .ci/run). A missing
// browser fails the test, in CI and outside it, unless INBOND_SKIP_BROWSER=1
// outside CI: never a silent skip.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if !testenv.RequireReal() && os.Getenv("INBOND_SKIP_BROWSER") == "1" {
		t.Skip("INBOND_SKIP_BROWSER=1 and no chromium on PATH: the dashboard's browser test did not run")
	}
	t.Fatal("no chromium on PATH for the dashboard's browser test: apt-get install -y chromium " +
		"(.ci/run installs it); outside CI, INBOND_SKIP_BROWSER=1 skips this test")
	return ""
}

// screenshotDir is the test's artifact directory with -artifacts (Go 1.26),
// else testdata/screenshots (gitignored), kept after the run.
func screenshotDir(t *testing.T) string {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir()
	}
	dir := filepath.Join("testdata", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startDashboardSystem starts the system as the demo assembles it, with
// its API stage serving the dashboard on a free port, and returns the
// dashboard's URL.
func startDashboardSystem(ctx context.Context, t *testing.T, tokens ...string) (*pipeline.System, string) {
	t.Helper()
	r := testenv.NewRedis(t)
	cfg := pipeline.Embedded(0, "127.0.0.1:0")
	cfg.Ingest.Now = dashClock.Now
	cfg.Redis = pipeline.Redis{Client: r.Client, Prefix: r.Prefix}
	env, err := alerts.LoadEnv("")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Process = &processor.Config{Owner: "dashboard-test", SessionTimeout: time.Second, Alerts: env,
		Ledger: true, CheckpointInterval: time.Second}
	dir := t.TempDir()
	cfg.Anchor = &anchor.Config{Dir: filepath.Join(dir, "log"), KeyFile: filepath.Join(dir, "ledger.key")}
	cfg.API = &api.Config{Listen: "127.0.0.1:0", Tokens: tokens, RateLimit: -1}
	cfg.Log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	sys, err := pipeline.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-sys.API.Ready():
	case <-time.After(30 * time.Second):
		_ = sys.Stop()
		t.Fatal("the API's stream never positioned")
	}
	url := "http://" + sys.API.Addr()
	t.Logf("testenv: kafka=in-process kfake %v, mqtt=in-process mochi %s; dashboard %s", sys.Brokers, sys.MQTTURL, url)
	return sys, url
}

// play publishes the demo's scenario at speed times real time, in the
// background, until it is played or the returned func stops it.
func play(ctx context.Context, t *testing.T, sys *pipeline.System, speed float64) (stop func()) {
	t.Helper()
	sc, err := sim.LoadScenario("default")
	if err != nil {
		t.Fatal(err)
	}
	stream, err := sim.Generate(sc, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sim.NewNetPublisher(sys.MQTTURL, "dashboard-test-carriers", sys.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	dashClock.Start(stream.Messages[0].At, speed)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer pub.Close()
		if _, err := sim.Play(ctx, stream.Messages, pub, sim.Pace{Speed: speed}); err != nil && ctx.Err() == nil {
			t.Errorf("simulator: %v", err)
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// dashClock is the simulated carriers' time, stamped as receipt time by the
// gateways, as the demo does: the scenario lives in its own October 2026.
var dashClock = &sim.Clock{}
