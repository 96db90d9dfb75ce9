package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/wire"
	"github.com/segmentio/kafka-go"
	"go.uber.org/zap"
)

// KafkaConfig configures the Kafka gateway, which reads carriers' raw topics.
type KafkaConfig struct {
	// Brokers are the bootstrap brokers of the carriers' cluster.
	Brokers []string
	// GroupID is the consumer group; gateways sharing it split the partitions.
	GroupID string
	// SessionTimeout bounds how long a dead gateway keeps its partitions (default 10 s).
	SessionTimeout time.Duration
}

// Validate reports the first setting that cannot work.
func (c KafkaConfig) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("kafka gateway: no brokers configured")
	case c.GroupID == "":
		return errors.New("kafka gateway: group ID is empty")
	}
	return nil
}

// carrierTopics are the topics carriers publish on, which the gateway reads.
var carrierTopics = []string{string(event.TopicCarrierEvents), string(event.TopicManifests)}

// KafkaOrigin is how the Kafka gateway sees a record of a carriers' topic:
// the channel the topic carries and the shipment its key names (if any).
func KafkaOrigin(topic string, key []byte) Origin {
	return Origin{Transport: "kafka", Name: topic, Channel: wire.KafkaChannel(event.Topic(topic)), Shipment: event.ShipmentID(key)}
}

// kafkaGateway reads inbond.carrier-events and inbond.manifests in a consumer
// group and commits an input's offset only after the record it produced was
// durably written. A crash between the two re-reads and re-forwards the input;
// its deterministic event ID makes the copy harmless.
type kafkaGateway struct {
	cfg     KafkaConfig
	r       *router
	reader  *kafka.Reader
	commits chan kafka.Message // acked inputs, in order, waiting for their offset commit
	done    chan struct{}      // closed when the committer has committed everything
}

func newKafkaGateway(cfg KafkaConfig, r *router) *kafkaGateway {
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	rr := *r
	rr.log = r.log.With(zap.String("gateway", "kafka"))
	return &kafkaGateway{
		cfg: cfg,
		r:   &rr,
		reader: kafka.NewReader(kafka.ReaderConfig{
			Brokers:           cfg.Brokers,
			GroupID:           cfg.GroupID,
			GroupTopics:       carrierTopics,
			StartOffset:       kafka.FirstOffset,
			MinBytes:          1,
			MaxBytes:          bus.ReaderMaxBytes,
			MaxWait:           bus.ReaderMaxWait, // see bus.ReaderMaxWait: shorter can livelock
			SessionTimeout:    cfg.SessionTimeout,
			HeartbeatInterval: cfg.SessionTimeout / 10,
			RebalanceTimeout:  cfg.SessionTimeout,
			ReadBackoffMin:    50 * time.Millisecond,
			ReadBackoffMax:    time.Second,
			ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
				rr.log.Warn(fmt.Sprintf(msg, args...))
			}),
		}),
		commits: make(chan kafka.Message, 16<<10),
		done:    make(chan struct{}),
	}
}

// run fetches and routes inputs until ctx ends.
func (g *kafkaGateway) run(ctx context.Context) error {
	go g.commitLoop()
	g.r.log.Info("kafka gateway reading", zap.Strings("brokers", g.cfg.Brokers), zap.String("group", g.cfg.GroupID))
	for {
		m, err := g.reader.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("kafka gateway fetch: %w", err)
		}
		o := KafkaOrigin(m.Topic, m.Key)
		where := m.Topic + "/" + strconv.Itoa(m.Partition) + "@" + strconv.FormatInt(m.Offset, 10)
		if err := g.r.route(ctx, o, where, m.Value, nil, func() { g.commits <- m }); err != nil {
			return nil // ctx ended: the input stays uncommitted and is read again
		}
	}
}

// commitLoop commits acked inputs' offsets, as many per request as are waiting.
func (g *kafkaGateway) commitLoop() {
	defer close(g.done)
	for m := range g.commits {
		batch := []kafka.Message{m}
	drain:
		for {
			select {
			case next, ok := <-g.commits:
				if !ok {
					break drain
				}
				batch = append(batch, next)
			default:
				break drain
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := g.reader.CommitMessages(ctx, batch...); err != nil {
			// Not fatal: the inputs are forwarded; a later commit covers these
			// offsets, or a restart re-reads them and the processor dedups.
			g.r.log.Warn("kafka gateway commit failed", zap.Int("messages", len(batch)), zap.Error(err))
		}
		cancel()
	}
}

// close commits what was acked and leaves the group; called once the forwarder
// will ack no more.
func (g *kafkaGateway) close() {
	close(g.commits)
	<-g.done
	if err := g.reader.Close(); err != nil {
		g.r.log.Warn("kafka gateway close", zap.Error(err))
	}
}
