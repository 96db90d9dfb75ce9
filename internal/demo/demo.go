// Package demo runs the whole system on embedded servers with live simulated
// traffic: in-process Kafka (kfake) and MQTT (mochi-mqtt), Redis at the given
// address or in-process, the ingest gateways, the simulator and a tail that
// prints what flows on inbond.events and inbond.dlq.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/obs"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// Config configures the demo.
type Config struct {
	RedisAddr   string  // used when reachable; otherwise an in-process Redis
	MQTTAddr    string  // listen address of the embedded MQTT broker
	KafkaPort   int     // port of the embedded Kafka broker (0: any free port)
	MetricsAddr string  // Prometheus /metrics; empty disables
	Speed       float64 // simulated seconds per real second
	Seed        uint64
	Rounds      int       // rounds of simulated shipments; 0 runs until stopped
	Out         io.Writer // where the flowing events are printed
	Log         *zap.Logger
}

// Run starts everything, plays the simulation, and stops cleanly when ctx ends.
func Run(ctx context.Context, cfg Config) error {
	log := cfg.Log
	started := time.Now()

	brokers, stopKafka, err := embedded.Kafka(embedded.KafkaConfig{Port: cfg.KafkaPort})
	if err != nil && cfg.KafkaPort != 0 {
		log.Warn("kafka port busy; using a free port", zap.Int("port", cfg.KafkaPort), zap.Error(err))
		brokers, stopKafka, err = embedded.Kafka(embedded.KafkaConfig{})
	}
	if err != nil {
		return err
	}
	defer stopKafka()

	mqttURL, stopMQTT, err := embedded.MQTT(cfg.MQTTAddr)
	if err != nil {
		log.Warn("mqtt address busy; using a free port", zap.String("addr", cfg.MQTTAddr), zap.Error(err))
		if mqttURL, stopMQTT, err = embedded.MQTT("127.0.0.1:0"); err != nil {
			return err
		}
	}
	defer stopMQTT()

	redisAddr, redisKind := cfg.RedisAddr, "real"
	if c, err := net.DialTimeout("tcp", cfg.RedisAddr, time.Second); err == nil {
		_ = c.Close()
	} else {
		addr, stopRedis, err := embedded.Redis()
		if err != nil {
			return err
		}
		defer stopRedis()
		redisAddr, redisKind = addr, "in-process"
	}

	reg := obs.NewRegistry()
	metricsAddr, err := obs.ServeMetrics(ctx, cfg.MetricsAddr, reg, log)
	if err != nil {
		log.Warn("metrics disabled", zap.Error(err))
	}

	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rdb.Close()
	store := state.NewStore(rdb, demoPrefix)
	// Kafka is new on every run, so offsets stored by an earlier demo would
	// point past its end: start the demo's keys from a clean slate.
	if err := store.DeletePrefix(ctx); err != nil {
		return fmt.Errorf("redis %s: %w", redisAddr, err)
	}

	writer := bus.NewWriter(brokers)
	defer writer.Close()
	svc := &ingest.Service{
		Writer:  writer,
		MQTT:    &ingest.MQTTConfig{Broker: mqttURL, ClientID: "inbond-demo-ingest", SharedGroup: "inbond-ingest"},
		Kafka:   &ingest.KafkaConfig{Brokers: brokers, GroupID: "inbond-ingest", SessionTimeout: 6 * time.Second},
		Decoder: &ingest.Decoder{},
		Metrics: ingest.NewMetrics(reg),
		Log:     log,
	}
	var wg sync.WaitGroup
	ingestCtx, stopIngest := context.WithCancel(context.Background())
	defer stopIngest()
	ingestErr := make(chan error, 1)
	wg.Go(func() { ingestErr <- svc.Run(ingestCtx) })
	select {
	case <-svc.Ready():
	case err := <-ingestErr:
		return fmt.Errorf("ingest: %w", err)
	case <-ctx.Done():
		return nil
	}

	proc, err := processor.New(processor.Config{
		Brokers: brokers, Owner: "demo", SessionTimeout: 6 * time.Second,
		Store: store, Metrics: processor.NewMetrics(reg), Log: log,
	})
	if err != nil {
		return err
	}
	procCtx, stopProc := context.WithCancel(context.Background())
	defer stopProc()
	procErr := make(chan error, 1)
	wg.Go(func() { procErr <- proc.Run(procCtx) })

	fmt.Fprintf(cfg.Out, banner, time.Since(started).Round(time.Millisecond),
		strings.Join(brokers, ","), mqttURL, redisAddr, redisKind, demoPrefix, orNone(metricsAddr),
		hostPort(mqttURL), strings.Join(brokers, ","), strings.Join(brokers, ","))

	tailCtx, stopTail := context.WithCancel(context.Background())
	defer stopTail()
	wg.Go(func() { tail(tailCtx, brokers, cfg.Out, log) })
	wg.Go(func() { summarize(tailCtx, store, cfg.Out, 5*time.Second) })

	pub, err := sim.NewNetPublisher(mqttURL, "inbond-demo-simulator", brokers)
	if err != nil {
		return err
	}
	simErr := play(ctx, cfg, pub)
	_ = pub.Close()

	// Shutdown in pipeline order: ingest drains and acks, the processor
	// flushes what it applied, the tail prints what is left.
	stopIngest()
	if err := <-ingestErr; err != nil {
		log.Error("ingest stopped with an error", zap.Error(err))
	}
	time.Sleep(300 * time.Millisecond)
	stopProc()
	if err := <-procErr; err != nil {
		log.Error("processor stopped with an error", zap.Error(err))
	}
	stopTail()
	wg.Wait()
	if simErr != nil && !errors.Is(simErr, context.Canceled) {
		return simErr
	}
	fmt.Fprintln(cfg.Out, "inbond demo stopped cleanly")
	return nil
}

// play publishes rounds of demo shipments until ctx ends or cfg.Rounds are done.
func play(ctx context.Context, cfg Config, pub sim.Publisher) error {
	start := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	for round := 0; cfg.Rounds == 0 || round < cfg.Rounds; round++ {
		plans := sim.DemoPlans(round, start)
		msgs := sim.Generate(plans, cfg.Seed+uint64(round))
		msgs = append(msgs, sim.MisconfiguredDevice(plans[0], msgs[len(msgs)/2].At))
		sort.SliceStable(msgs, func(a, b int) bool { return msgs[a].At.Before(msgs[b].At) })
		if _, err := sim.Play(ctx, msgs, pub, cfg.Speed); err != nil {
			return err
		}
		start = msgs[len(msgs)-1].At.Add(time.Hour)
	}
	return nil
}

const banner = `
inbond demo is up (%s)
  kafka   %s   (in-process)
  mqtt    %s   (in-process)
  redis   %s   (%s; shipment state under %s)
  metrics %s

Inject your own events while it runs:
  mosquitto_pub -h %s -q 1 -t inbond/v1/ENBR/MY-SHIPMENT/telemetry \
    -m '{"type":"position","device":"GPS-1","seq":1,"time":"2026-10-01T12:00:00Z","data":{"lat":48.9,"lon":-97.5,"speed_kmh":60,"heading_deg":90}}'
  echo 'MY-SHIPMENT|{"type":"arrived","shipment":"MY-SHIPMENT","carrier":"ENBR","time":"2026-10-01T13:00:00Z","data":{"port":"3802"}}' \
    | kcat -P -b %s -t inbond.carrier-events -K '|'
  kcat -C -b %s -t inbond.events -o beginning -q

Events as they reach inbond.events and inbond.dlq (Ctrl-C stops):
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

// demoPrefix is where the demo keeps shipment state in Redis.
const demoPrefix = "inbond-demo:"

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
		Brokers: brokers, GroupID: "inbond-demo-tail", GroupTopics: []string{string(event.TopicEvents), string(event.TopicDLQ)},
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
	}
	return strconv.Quote(string(e.Type))
}
