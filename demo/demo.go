// Package demo runs the whole system on embedded servers with live simulated
// traffic: in-process Kafka (kfake) and MQTT (mochi-mqtt), Redis at the given
// address or in-process, the ingest gateways, the simulator and a tail that
// prints what flows on inbond.events and inbond.dlq.
package demo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/api"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/ledger"
	"github.com/inbond/inbond/ledger/anchor"
	"github.com/inbond/inbond/pipeline"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/report"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// Config configures the demo.
type Config struct {
	RedisAddr   string // used when reachable; otherwise an in-process Redis
	KeyPrefix   string // of the demo's keys in Redis (default DefaultPrefix), cleared at start
	MQTTAddr    string // listen address of the embedded MQTT broker
	KafkaPort   int    // port of the embedded Kafka broker (0: any free port)
	MetricsAddr string // Prometheus /metrics; empty disables
	LedgerAddr  string // where the transparency log is served (empty: any free port)
	APIAddr     string // where the API and the dashboard are served (empty: any free port)
	// OfficerAfter is how long an alert stays open before the demo's duty
	// officer acknowledges it (and twice that before resolving it); 0: no
	// duty officer, every alert waits for a person.
	OfficerAfter time.Duration
	Scenario     string  // scenario name or file played in rounds (default "default")
	Speed        float64 // simulated seconds per real second
	Seed         uint64
	Rounds       int       // rounds of the scenario; 0 runs until stopped
	RulesConfig  string    // the rules' YAML configuration; empty: the defaults
	Out          io.Writer // where the flowing events are printed
	Log          *zap.Logger
}

// DefaultPrefix is where the demo keeps shipment state in Redis.
const DefaultPrefix = "inbond-demo:"

// Run starts everything, plays the simulation, and stops cleanly when ctx ends.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	started := time.Now()
	sc, err := sim.LoadScenario(cmp.Or(cfg.Scenario, "default"))
	if err != nil {
		return err
	}
	sysCfg := pipeline.Embedded(cfg.KafkaPort, cfg.MQTTAddr)
	clock := &sim.Clock{}
	sysCfg.Ingest.Now = clock.Now
	prefix := cmp.Or(cfg.KeyPrefix, DefaultPrefix)
	release, err := holdPrefix(ctx, cfg.RedisAddr, prefix)
	if err != nil {
		return err
	}
	defer release()
	sysCfg.Redis = pipeline.Redis{Addr: cfg.RedisAddr, Prefix: prefix, InProcessFallback: true, Reset: true}
	env, err := alerts.LoadEnv(cfg.RulesConfig)
	if err != nil {
		return err
	}
	sysCfg.Process = &processor.Config{Owner: "embedded", SessionTimeout: 6 * time.Second, Alerts: env,
		Ledger: true, CheckpointInterval: 3 * time.Second}
	// The demo's ledger lives as long as its in-process Kafka: a fresh log
	// and key in a temporary directory, served over HTTP.
	ledgerDir, err := os.MkdirTemp("", "inbond-demo-ledger-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(ledgerDir)
	sysCfg.Anchor = &anchor.Config{Dir: filepath.Join(ledgerDir, "log"), KeyFile: filepath.Join(ledgerDir, "ledger.key"),
		Listen: freeOr(cfg.LedgerAddr, "ledger", log)}
	// The officer's token lives as long as the demo: made now, shown once in
	// the banner, never written anywhere.
	token, err := api.NewToken()
	if err != nil {
		return err
	}
	sysCfg.API = &api.Config{Listen: freeOr(cfg.APIAddr, "dashboard", log), Tokens: []string{"cbp=" + token}, EventClock: clock.Now}
	// The month's DOE reports, once simulated time has passed its end and
	// six simulated hours of grace (at 7200x, October's came 7.5 minutes in).
	sysCfg.Reports = &report.SchedulerConfig{Dir: filepath.Join(ledgerDir, "reports"), Now: clock.Now, MaxSleep: 5 * time.Second}
	sysCfg.MetricsAddr, sysCfg.MetricsBestEffort, sysCfg.Log = cfg.MetricsAddr, true, log
	sys, err := pipeline.Start(ctx, sysCfg)
	if err != nil {
		return err
	}
	defer sys.Stop() //nolint:errcheck // stopped and checked below; this covers the early returns
	brokers := strings.Join(sys.Brokers, ",")
	ledgerURL := "http://" + sys.Anchor.Addr()
	dashboard := "http://" + sys.API.Addr()
	fmt.Fprintf(cfg.Out, banner, dashboard, token, token, dashboard, token,
		time.Since(started).Round(time.Millisecond), sc.Name, len(sc.Shipments), cfg.Speed,
		brokers, sys.MQTTURL, sys.RedisAddr, sys.RedisKind, prefix, orNone(sys.MetricsAddr),
		ledgerURL, sys.Anchor.VerifierKey(),
		hostPort(sys.MQTTURL), brokers, brokers,
		brokers, sys.RedisAddr, prefix, ledgerURL, sys.Anchor.VerifierKey())

	var wg sync.WaitGroup
	tailCtx, stopTail := context.WithCancel(context.Background())
	defer stopTail()
	wg.Go(func() { tail(tailCtx, sys.Brokers, cfg.Out, log) })
	wg.Go(func() { summarize(tailCtx, sys.Store, cfg.Out, 5*time.Second) })
	if cfg.OfficerAfter > 0 {
		officerW := bus.NewWriter(sys.Brokers)
		defer officerW.Close()
		d := &desk.Desk{Store: sys.Store, Writer: officerW, Now: clock.Now}
		wg.Go(func() { dutyOfficer(tailCtx, d, cfg.OfficerAfter, log) })
	}

	pub, err := sim.NewNetPublisher(sys.MQTTURL, "inbond-demo-simulator", sys.Brokers)
	if err != nil {
		return err
	}
	// A stage that stops on its own (say, Kafka refusing writes) ends the
	// demo: playing on would show traffic going nowhere.
	playCtx, stopPlaying := context.WithCancel(ctx)
	defer stopPlaying()
	go func() {
		select {
		case <-sys.Ended():
			stopPlaying()
		case <-playCtx.Done():
		}
	}()
	simErr := play(playCtx, cfg, sc, pub, clock)
	_ = pub.Close()

	// Give the pipeline a moment to carry the last messages, then stop it
	// (processor flush, gateways drain) and the printers.
	time.Sleep(300 * time.Millisecond)
	stopErr := sys.Stop()
	stopTail()
	wg.Wait()
	if stopErr != nil {
		return stopErr
	}
	if simErr != nil && !errors.Is(simErr, context.Canceled) {
		return simErr
	}
	fmt.Fprintln(cfg.Out, "inbond demo stopped cleanly")
	return nil
}

// play plays the scenario round after round, each with fresh shipment IDs
// and in-bond numbers and the next seed, until ctx ends or cfg.Rounds are done.
func play(ctx context.Context, cfg Config, sc *sim.Scenario, pub sim.Publisher, clock *sim.Clock) error {
	for round := 0; cfg.Rounds == 0 || round < cfg.Rounds; round++ {
		r := *sc
		r.Shipments = slices.Clone(sc.Shipments)
		for i := range r.Shipments {
			r.Shipments[i].ID = event.ShipmentID(fmt.Sprintf("R%03d-%s", round, r.Shipments[i].ID))
			r.Shipments[i].InBondSerial += round * 1000
		}
		stream, err := sim.Generate(&r, cfg.Seed+uint64(round), nil)
		if err != nil {
			return err
		}
		clock.Start(stream.Messages[0].At, cfg.Speed)
		if _, err := sim.Play(ctx, stream.Messages, pub, sim.Pace{Speed: cfg.Speed}); err != nil {
			return err
		}
		sc.Start = stream.Messages[len(stream.Messages)-1].At.Add(time.Hour)
	}
	return nil
}

const banner = `
  dashboard  %s/#token=%s
  officer token (role cbp, valid while the demo runs): %s
  API        %s/v1 (OpenAPI 3.1 at /v1/openapi.json; curl -H 'Authorization: Bearer %s' ...)

inbond demo is up (%s), playing scenario %q (%d shipments) at %gx real time
  kafka   %s   (in-process)
  mqtt    %s   (in-process)
  redis   %s   (%s; shipment state under %s)
  metrics %s
  ledger  %s   (transparency log, C2SP tlog-tiles; verifier key %s)

Inject your own events while it runs:
  mosquitto_pub -h %s -q 1 -t inbond/v1/ENBR/MY-SHIPMENT/telemetry \
    -m '{"type":"position","device":"GPS-1","seq":1,"time":"2026-10-01T12:00:00Z","data":{"lat":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90}}'
  echo 'MY-SHIPMENT|{"type":"arrived","shipment":"MY-SHIPMENT","carrier":"ENBR","time":"2026-10-01T13:00:00Z","data":{"port":"3802"}}' \
    | kcat -P -b %s -t inbond.carrier-events -K '|'
  kcat -C -b %s -t inbond.events -o beginning -q
Prove a shipment's history against the signed log (a few seconds after its events):
  inbond verify --kafka-brokers %s --redis %s --key-prefix %s --log %s --key '%s' R000-CRUDE-NECHE-PTHURON

Events as they reach inbond.events, inbond.dlq and inbond.alerts, and checkpoints as they are anchored (Ctrl-C stops):
`

func orNone(s string) string {
	if s == "" {
		return "disabled"
	}
	return "http://" + s + "/metrics"
}

func hostPort(url string) string {
	hp := strings.TrimPrefix(url, "tcp://")
	host, port, _ := net.SplitHostPort(hp)
	return host + " -p " + port
}

// summarize prints the shipments by status, from the state indexes, every period.
func summarize(ctx context.Context, store *state.Store, out io.Writer, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		counts, err := store.CountByStatus(ctx, bus.DefaultPartitions)
		if err != nil {
			continue
		}
		var parts []string
		total := int64(0)
		for _, st := range state.Statuses {
			if n := counts[st]; n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", n, st))
				total += n
			}
		}
		fmt.Fprintf(out, "STATE  %d shipments in Redis: %s\n", total, strings.Join(parts, ", "))
	}
}

// tail prints every record of inbond.events and inbond.dlq as it arrives.
func tail(ctx context.Context, brokers []string, out io.Writer, log *zap.Logger) {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, GroupID: "inbond-demo-tail", GroupTopics: []string{string(event.TopicEvents), string(event.TopicDLQ), string(event.TopicAlerts), string(event.TopicCheckpoints)},
		StartOffset: kafka.FirstOffset, MinBytes: 1, MaxBytes: bus.ReaderMaxBytes, MaxWait: bus.ReaderMaxWait,
		SessionTimeout: 6 * time.Second, CommitInterval: time.Second,
	})
	defer r.Close()
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("demo tail", zap.Error(err))
			}
			return
		}
		fmt.Fprintln(out, Describe(m))
	}
}

// Describe renders one record of inbond.events or inbond.dlq in a line.
func Describe(m kafka.Message) string {
	where := fmt.Sprintf("p%02d@%-5d", m.Partition, m.Offset)
	if m.Topic == string(event.TopicAlerts) {
		var ce alerts.TransitionEvent
		if err := json.Unmarshal(m.Value, &ce); err != nil {
			return "ALERT  " + where + " (undecodable) " + err.Error()
		}
		a := ce.Data
		return fmt.Sprintf("ALERT  %s %-22s %-9s %-17s %-8s %s", where, a.Shipment, ce.Change.Status, a.Rule, a.Severity, cmp.Or(ce.Change.Message, ce.Change.Note, a.Message))
	}
	if m.Topic == string(event.TopicCheckpoints) {
		b, err := ledger.UnmarshalBatch(m.Value)
		if err != nil {
			return "LEDGER " + where + " (undecodable) " + err.Error()
		}
		c := b.Checkpoint
		return fmt.Sprintf("LEDGER %s checkpoint of inbond.events partition %d, offsets %d-%d: %d shipments, root %x", where, c.Partition, c.From, c.To, c.Leaves, c.Root)
	}
	if m.Topic == string(event.TopicDLQ) {
		var dl ingest.DeadLetter
		if err := json.Unmarshal(m.Value, &dl); err != nil {
			return "DLQ    " + where + " (undecodable) " + err.Error()
		}
		return fmt.Sprintf("DLQ    %s %-14s %s: %s", where, dl.Reason, dl.Origin, dl.Message)
	}
	e, err := event.Unmarshal(m.Value)
	if err != nil {
		return "EVENT  " + where + " (undecodable) " + err.Error()
	}
	return fmt.Sprintf("EVENT  %s %-22s %-15s %s", where, e.Subject, e.Type.Short(), summary(e))
}

func summary(e *event.Envelope) string {
	switch d := e.Data.(type) {
	case *event.Manifest:
		return fmt.Sprintf("in-bond %s type %s %s %s %.0f %s %s→%s", d.InBondNumber, d.EntryType, d.Mode, d.Product, d.DeclaredQuantity, d.Unit, d.OriginPort, d.DestinationPort)
	case *event.MeterReading:
		return fmt.Sprintf("%s cum %.2f %s, %.1f %s/h, %.0f psig, %.1f °F (seq %d)", d.Meter, d.Cumulative, d.Unit, d.FlowRate, d.Unit, d.Pressure, d.Temperature, e.Sequence)
	case *event.Position:
		return fmt.Sprintf("%.5f,%.5f %.0f km/h (seq %d)", d.Lat, d.Lon, d.SpeedKmh, e.Sequence)
	case *event.SealState:
		return fmt.Sprintf("seal %s %s", d.Seal, d.State)
	case *event.Departed:
		return "from port " + string(d.Port)
	case *event.Arrived:
		return "at port " + string(d.Port)
	case *event.BorderCrossed:
		return "at port " + string(d.Port)
	case *event.Exported:
		return "from port " + string(d.Port)
	case *event.QualityReading:
		switch {
		case d.APIGravity != nil:
			return fmt.Sprintf("%.2f° API, %.3f%% S (seq %d)", *d.APIGravity, deref(d.SulfurPct), e.Sequence)
		case d.HeatingValue != nil:
			return fmt.Sprintf("%.1f Btu/scf (seq %d)", *d.HeatingValue, e.Sequence)
		}
	case *event.Delivered:
		return fmt.Sprintf("ticket %s: %.2f %s net", d.Ticket, d.Net, d.Unit)
	case *event.DiversionRequested:
		return fmt.Sprintf("to port %s (%s)", d.To, d.Reason)
	}
	return strconv.Quote(string(e.Type))
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// freeOr is addr when it can be listened on, else any free loopback port.
func freeOr(addr, what string, log *zap.Logger) string {
	if addr == "" {
		return "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Warn(what+" address busy; serving it on a free port", zap.String("addr", addr), zap.Error(err))
		return "127.0.0.1:0"
	}
	_ = ln.Close()
	return addr
}
