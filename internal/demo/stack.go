package demo

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/processor"
	"github.com/inbond/inbond/state"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// StackConfig shapes an embedded stack.
type StackConfig struct {
	MQTTAddr  string // listen address of the MQTT broker ("127.0.0.1:0": any port)
	KafkaPort int    // port of the Kafka broker (0: any port)
	// RedisAddr, when set, adds a processor writing state there (or to an
	// in-process Redis when it is unreachable) under Prefix, which is cleared first.
	RedisAddr string
	Prefix    string
	Registry  *prometheus.Registry
	Log       *zap.Logger
}

// Stack is inbond on embedded servers: in-process Kafka and MQTT, the ingest
// gateways and optionally a processor. Stop shuts it down in pipeline order.
type Stack struct {
	Brokers   []string
	MQTTURL   string
	RedisAddr string
	RedisKind string // "real" or "in-process"
	Store     *state.Store

	wg    sync.WaitGroup
	stops []func() // run in reverse order by Stop
}

// StartStack starts the servers and components and returns once the gateways
// take input.
func StartStack(ctx context.Context, cfg StackConfig) (s *Stack, err error) {
	log := cfg.Log
	s = &Stack{}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	brokers, stopKafka, err := embedded.Kafka(embedded.KafkaConfig{Port: cfg.KafkaPort})
	if err != nil && cfg.KafkaPort != 0 {
		log.Warn("kafka port busy; using a free port", zap.Int("port", cfg.KafkaPort), zap.Error(err))
		brokers, stopKafka, err = embedded.Kafka(embedded.KafkaConfig{})
	}
	if err != nil {
		return s, err
	}
	s.Brokers, s.stops = brokers, append(s.stops, stopKafka)

	url, stopMQTT, err := embedded.MQTT(cfg.MQTTAddr)
	if err != nil {
		log.Warn("mqtt address busy; using a free port", zap.String("addr", cfg.MQTTAddr), zap.Error(err))
		if url, stopMQTT, err = embedded.MQTT("127.0.0.1:0"); err != nil {
			return s, err
		}
	}
	s.MQTTURL, s.stops = url, append(s.stops, stopMQTT)

	writer := bus.NewWriter(brokers)
	s.stops = append(s.stops, func() { _ = writer.Close() })
	svc := &ingest.Service{
		Writer:  writer,
		MQTT:    &ingest.MQTTConfig{Broker: url, ClientID: "inbond-embedded-ingest", SharedGroup: "inbond-ingest"},
		Kafka:   &ingest.KafkaConfig{Brokers: brokers, GroupID: "inbond-ingest", SessionTimeout: 6 * time.Second},
		Decoder: &ingest.Decoder{},
		Metrics: ingest.NewMetrics(cfg.Registry),
		Log:     log,
	}
	if err := s.run(svc.Run, "ingest", log); err != nil {
		return s, err
	}
	select {
	case <-svc.Ready():
	case <-ctx.Done():
		return s, ctx.Err()
	case <-time.After(30 * time.Second):
		return s, fmt.Errorf("ingest gateways not ready after 30 s")
	}
	if cfg.RedisAddr == "" {
		return s, nil
	}

	s.RedisAddr, s.RedisKind = cfg.RedisAddr, "real"
	if c, err := net.DialTimeout("tcp", cfg.RedisAddr, time.Second); err == nil {
		_ = c.Close()
	} else {
		addr, stopRedis, err := embedded.Redis()
		if err != nil {
			return s, err
		}
		s.RedisAddr, s.RedisKind, s.stops = addr, "in-process", append(s.stops, stopRedis)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.RedisAddr})
	s.stops = append(s.stops, func() { _ = rdb.Close() })
	s.Store = state.NewStore(rdb, cfg.Prefix)
	// Kafka is new on every run, so offsets stored by an earlier run would
	// point past its end: start from a clean slate under the prefix.
	if err := s.Store.DeletePrefix(ctx); err != nil {
		return s, fmt.Errorf("redis %s: %w", s.RedisAddr, err)
	}
	proc, err := processor.New(processor.Config{
		Brokers: brokers, Owner: "embedded", SessionTimeout: 6 * time.Second,
		Store: s.Store, Metrics: processor.NewMetrics(cfg.Registry), Log: log,
	})
	if err != nil {
		return s, err
	}
	return s, s.run(proc.Run, "processor", log)
}

// run starts a component with its own context; Stop cancels it and waits.
func (s *Stack) run(fn func(context.Context) error, name string, log *zap.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.wg.Go(func() {
		defer close(done)
		if err := fn(ctx); err != nil {
			log.Error(name+" stopped with an error", zap.Error(err))
		}
	})
	s.stops = append(s.stops, func() { cancel(); <-done })
	return nil
}

// Stop stops the components and servers in the reverse order of their start:
// the processor flushes, the gateways drain and ack, then the servers close.
func (s *Stack) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
	s.wg.Wait()
}

// Forwarded counts the records on inbond.events and inbond.dlq.
func Forwarded(ctx context.Context, brokers []string) (events, deadLetters int64, err error) {
	for topic, n := range map[event.Topic]*int64{event.TopicEvents: &events, event.TopicDLQ: &deadLetters} {
		ends, err := bus.EndOffsets(ctx, brokers, string(topic))
		if err != nil {
			return 0, 0, err
		}
		for _, e := range ends {
			*n += e
		}
	}
	return events, deadLetters, nil
}
