package ingest

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Service runs the configured gateways over one shared forwarder.
//
// Shutdown order, when Run's context ends: (1) every gateway stops taking
// input; (2) the forwarder writes what it holds and runs the acks, for at most
// DrainTimeout; (3) the gateways commit and disconnect. Whatever was not acked
// by then is redelivered by its source, so a stop, clean or not, loses nothing.
type Service struct {
	Writer       Writer
	MQTT         *MQTTConfig  // nil: no MQTT gateway
	Kafka        *KafkaConfig // nil: no Kafka gateway
	Decoder      *Decoder
	Forwarder    ForwarderConfig
	DrainTimeout time.Duration // default 10 s
	Metrics      *Metrics
	Log          *zap.Logger

	readyOnce sync.Once
	ready     chan struct{}
}

// Ready is closed once every gateway is taking input: the MQTT subscription is
// acknowledged by the broker. (Kafka input waits in its topic, so the Kafka
// gateway is ready at once.) Until a gateway's persistent session has been
// created for the first time, the broker drops what is published.
func (s *Service) Ready() <-chan struct{} {
	s.readyOnce.Do(func() { s.ready = make(chan struct{}) })
	return s.ready
}

// source is one gateway as the Service drives it.
type source interface {
	// run takes input until ctx ends and returns once it submits no more.
	run(ctx context.Context) error
	// close releases the connection; called after the forwarder's last ack.
	close()
}

// Run runs the gateways until ctx ends or one of them fails.
func (s *Service) Run(ctx context.Context) error {
	if s.MQTT == nil && s.Kafka == nil {
		return errors.New("ingest: no gateway configured")
	}
	if s.MQTT != nil {
		if err := s.MQTT.Validate(); err != nil {
			return err
		}
	}
	if s.Kafka != nil {
		if err := s.Kafka.Validate(); err != nil {
			return err
		}
	}
	log := s.Log
	if log == nil {
		log = zap.NewNop()
	}
	drain := s.DrainTimeout
	if drain == 0 {
		drain = 10 * time.Second
	}
	fwd := NewForwarder(s.Writer, s.Forwarder, s.Metrics, log)
	r := &router{dec: s.Decoder, fwd: fwd, metrics: s.Metrics, log: log}
	var sources []source
	s.Ready()
	ready := s.ready
	var readyOnce sync.Once
	markReady := func() { readyOnce.Do(func() { close(ready) }) }
	if s.MQTT != nil {
		g := newMQTTGateway(*s.MQTT, r)
		g.onSubscribed = markReady
		sources = append(sources, g)
	} else {
		markReady()
	}
	if s.Kafka != nil {
		sources = append(sources, newKafkaGateway(*s.Kafka, r))
	}

	// The forwarder outlives ctx so it can drain; it is aborted only when
	// draining takes longer than DrainTimeout.
	fwdCtx, abort := context.WithCancel(context.Background())
	defer abort()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	fwdDone := make(chan error, 1)
	go func() {
		err := fwd.Run(fwdCtx)
		if err != nil && fwdCtx.Err() == nil {
			stop() // a write that can never succeed: stop taking input, whose sources keep it
		}
		fwdDone <- err
	}()

	var wg sync.WaitGroup
	errs := make([]error, len(sources))
	for i, src := range sources {
		wg.Go(func() {
			errs[i] = src.run(runCtx)
			if errs[i] != nil {
				stop() // one gateway failing stops the others cleanly
			}
		})
	}
	wg.Wait()

	fwd.Close()
	select {
	case err := <-fwdDone:
		if err != nil {
			errs = append(errs, err)
		}
	case <-time.After(drain):
		log.Warn("ingest: forwarder did not drain in time; unacked input will be redelivered", zap.Duration("timeout", drain))
		abort()
		<-fwdDone
	}
	for _, src := range sources {
		src.close()
	}
	return errors.Join(errs...)
}
