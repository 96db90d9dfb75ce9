// Package embedded starts in-process servers that speak the real protocols:
// a Kafka cluster (kfake), an MQTT broker (mochi-mqtt) and a Redis server
// (miniredis). `inbond demo` runs on them, and tests use them where no real
// server is reachable. Each Start function returns a stop function that
// releases everything it started.
package embedded

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/obs"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/zap"
)

// KafkaConfig shapes an in-process Kafka cluster.
type KafkaConfig struct {
	Brokers int // default 1
	// Partitions of inbond.events and inbond.carrier-events (default bus.DefaultPartitions).
	Partitions int
	// MinSessionTimeout lowers kfake's 6 s floor on consumer-group session
	// timeouts so tests can exercise rebalances quickly (default 500 ms).
	MinSessionTimeout time.Duration
	// Port, when non-zero, is the first broker's port (the others follow).
	Port int
	// OnStart, when set, is called with the running cluster before Kafka
	// returns; tests inject faults through its Control functions.
	OnStart func(*kfake.Cluster)
	// KeepDeadMembers turns off the guard that evicts consumer-group
	// members kfake never times out (a member killed while its JoinGroup
	// waited keeps its partitions for ever; see members.go). Only for
	// showing that bug.
	KeepDeadMembers bool
	// Log receives what the cluster's guards do (default: console on stderr).
	Log *zap.Logger
}

// Kafka starts a kfake cluster with inbond's topics created and returns its
// bootstrap addresses.
func Kafka(cfg KafkaConfig) (brokers []string, stop func(), err error) {
	if cfg.Brokers <= 0 {
		cfg.Brokers = 1
	}
	if cfg.MinSessionTimeout == 0 {
		cfg.MinSessionTimeout = 500 * time.Millisecond
	}
	opts := []kfake.Opt{kfake.NumBrokers(cfg.Brokers), kfake.GroupMinSessionTimeout(cfg.MinSessionTimeout)}
	if cfg.Port != 0 {
		ports := make([]int, cfg.Brokers)
		for i := range ports {
			ports[i] = cfg.Port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("start in-process kafka: %w", err)
	}
	brokers = c.ListenAddrs()
	stop = c.Close
	if !cfg.KeepDeadMembers {
		if stop, err = guardDeadMembers(c, brokers, cfg.Log); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	if cfg.OnStart != nil {
		cfg.OnStart(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bus.EnsureTopics(ctx, brokers, bus.Topics(cfg.Partitions)); err != nil {
		stop()
		return nil, nil, err
	}
	return brokers, stop, nil
}

// guardDeadMembers starts the dead-member guard on c (before any other
// control function, so it sees every request) and returns the stop
// function of both.
func guardDeadMembers(c *kfake.Cluster, brokers []string, log *zap.Logger) (stop func(), err error) {
	if log == nil {
		if log, err = obs.NewLogger("console", "info"); err != nil {
			return nil, err
		}
	}
	d, err := watchDeadMembers(c, brokers, log.Named("kafka"))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.run(ctx)
	}()
	return func() {
		cancel()
		<-done // before Close: a sweep waits for the cluster's loop
		d.close()
		c.Close()
	}, nil
}

// MQTT starts a mochi-mqtt broker on addr ("127.0.0.1:0" picks a free port),
// accepting anonymous clients, with limits raised so a burst to a subscriber
// that acks slowly is queued rather than dropped (mochi's defaults drop past
// 8192 in-flight messages per client). It returns the broker URL.
func MQTT(addr string) (url string, stop func(), err error) {
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumInflight = 65535
	caps.MaximumClientWritesPending = 65536
	caps.MaximumMessageExpiryInterval = 0
	s := mochi.New(&mochi.Options{
		Capabilities: caps,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		return "", nil, fmt.Errorf("in-process mqtt: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr})
	if err := s.AddListener(tcp); err != nil {
		return "", nil, fmt.Errorf("in-process mqtt listen %s: %w", addr, err)
	}
	if err := s.Serve(); err != nil {
		return "", nil, fmt.Errorf("in-process mqtt: %w", err)
	}
	return "tcp://" + tcp.Address(), func() { _ = s.Close() }, nil
}

// Redis starts a miniredis server on a free port and returns its address.
// miniredis implements the commands and Lua scripting inbond uses, with no
// persistence.
func Redis() (addr string, stop func(), err error) {
	m, err := miniredis.Run()
	if err != nil {
		return "", nil, fmt.Errorf("start in-process redis: %w", err)
	}
	return m.Addr(), m.Close, nil
}
