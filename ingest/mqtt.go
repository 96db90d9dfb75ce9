package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/inbond/inbond/wire"
	"go.uber.org/zap"
)

// MQTTConfig configures the MQTT gateway.
type MQTTConfig struct {
	// Broker is the broker URL, e.g. tcp://127.0.0.1:1883.
	Broker string
	// ClientID must be stable across restarts: the broker keeps the gateway's
	// persistent session, its subscription and unacknowledged messages under it.
	ClientID string
	// SharedGroup, when set, subscribes as $share/{SharedGroup}/… so several
	// gateways split the load (`inbond ingest` sets "inbond-ingest"). One
	// gateway in the group keeps strict per-shipment order; with several, the
	// order holds only within each gateway. Empty subscribes plainly, and then
	// every gateway gets every message.
	SharedGroup string
	// Username and Password authenticate to the broker when set.
	Username, Password string
	// KeepAlive is the MQTT keep-alive interval (default 30 s).
	KeepAlive time.Duration
}

// SubscriptionFilter is the topic filter the gateway subscribes to.
func (c MQTTConfig) SubscriptionFilter() string {
	return wire.MQTTFilter(c.SharedGroup)
}

// Validate reports the first setting that cannot work.
func (c MQTTConfig) Validate() error {
	switch {
	case c.Broker == "":
		return errors.New("mqtt: broker URL is empty (e.g. tcp://127.0.0.1:1883)")
	case c.ClientID == "":
		return errors.New("mqtt: client ID is empty; it must be stable so the broker keeps the session")
	}
	return nil
}

// MQTTGateway (run by Service) subscribes to carriers' topics with QoS 1 on a persistent
// session and forwards each message to Kafka, acknowledging it (PUBACK) only
// after Kafka acknowledged the record. Messages it has not acknowledged when it
// stops or crashes stay in the broker's session and are redelivered.
type MQTTGateway struct {
	cfg      MQTTConfig
	r        *router
	client   mqtt.Client
	stopping atomic.Bool
	// onSubscribed runs after each acknowledged subscription.
	onSubscribed func()
}

func newMQTTGateway(cfg MQTTConfig, r *router) *MQTTGateway {
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 30 * time.Second
	}
	rr := *r
	rr.log = r.log.With(zap.String("gateway", "mqtt"))
	return &MQTTGateway{cfg: cfg, r: &rr}
}

// run connects, subscribes and forwards until ctx ends; then it stops taking
// messages and returns. Messages that arrive from then on are neither
// forwarded nor acknowledged, so the broker redelivers them next session.
func (g *MQTTGateway) run(ctx context.Context) error {
	log := g.r.log
	opts := mqtt.NewClientOptions().
		AddBroker(g.cfg.Broker).
		SetClientID(g.cfg.ClientID).
		SetCleanSession(false).   // the broker keeps our subscription and unacked messages
		SetAutoAckDisabled(true). // PUBACK only after Kafka acked (msg.Ack)
		SetOrderMatters(true).    // one goroutine delivers in broker order
		// No ResumeSubs: every connect subscribes again below. Paho's resume
		// would resend that same SUBSCRIBE from its store under a token of its
		// own, completing ours without the broker's answer, so a refusal
		// could go unseen.
		SetResumeSubs(false).
		SetKeepAlive(g.cfg.KeepAlive).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			log.Warn("mqtt connection lost; reconnecting", zap.Error(err))
		})
	if g.cfg.Username != "" {
		opts.SetUsername(g.cfg.Username).SetPassword(g.cfg.Password)
	}
	filter := g.cfg.SubscriptionFilter()
	handler := g.handle(ctx)
	// A resumed session's unacknowledged messages arrive right after CONNACK,
	// before the Subscribe below has registered its handler. Paho neither
	// delivers nor acknowledges a message without a handler, so without this
	// route they would sit in the broker's in-flight window until the next
	// reconnect: the messages a crash left unacked would go missing.
	opts.SetDefaultPublishHandler(handler)
	// Every connect subscribes again (idempotent, and it covers a broker that
	// lost its session store) and hands the pending SUBACK to run's loop below,
	// which judges it: the connect handler must not block paho. The buffer
	// outlasts any burst of reconnects; a token dropped when it is full is one
	// of several subscriptions of the same filter still in the buffer.
	subscriptions := make(chan mqtt.Token, 8)
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		select {
		case subscriptions <- c.Subscribe(filter, 1, handler):
		default:
		}
	})
	g.client = mqtt.NewClient(opts)
	tok := g.client.Connect() // with ConnectRetry it completes once connected
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return fmt.Errorf("mqtt connect %s: %w", g.cfg.Broker, err)
		}
	case <-ctx.Done():
	}
	defer g.stopping.Store(true)
	for {
		select {
		case <-ctx.Done():
			return nil
		case tok := <-subscriptions:
			if err := g.awaitSubscription(ctx, tok, filter); err != nil {
				return err
			}
		}
	}
}

// subscriptionRefused is the SUBACK code of a refused subscription in MQTT
// 3.1.1 (MQTT 5 codes of refusals are all above it); paho reports it in the
// token's result, not as its error.
const subscriptionRefused = 0x80

// awaitSubscription waits for a subscription's SUBACK. A broker that refuses
// it (an ACL, no shared subscriptions) would leave the gateway connected,
// healthy-looking and deaf, so that is an error that stops the service. A
// SUBACK lost with its connection is not: the next connect subscribes again.
func (g *MQTTGateway) awaitSubscription(ctx context.Context, tok mqtt.Token, filter string) error {
	log := g.r.log
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return nil
	}
	if err := tok.Error(); err != nil {
		log.Warn("mqtt subscribe failed; subscribing again at the next connect", zap.String("filter", filter), zap.Error(err))
		return nil
	}
	if st, ok := tok.(*mqtt.SubscribeToken); ok {
		// One filter, so one code, keyed by the filter without its
		// $share/{group}/ prefix.
		codes := st.Result()
		if len(codes) == 0 {
			return fmt.Errorf("mqtt broker %s: the subscription to %s completed without the broker's answer", g.cfg.Broker, filter)
		}
		for _, code := range codes {
			if code >= subscriptionRefused {
				return fmt.Errorf("mqtt broker %s refused the subscription to %s (SUBACK code %#x): "+
					"allow client %q to subscribe to it (ACL, shared subscriptions)", g.cfg.Broker, filter, code, g.cfg.ClientID)
			}
		}
	}
	if g.onSubscribed != nil {
		g.onSubscribed()
	}
	log.Info("mqtt subscribed", zap.String("broker", g.cfg.Broker), zap.String("filter", filter), zap.String("client_id", g.cfg.ClientID))
	return nil
}

// close disconnects; called once the forwarder has acked what it will ack.
func (g *MQTTGateway) close() {
	if g.client != nil {
		g.client.Disconnect(250)
	}
}

// handle is the gateway's message handler. Paho calls it on one goroutine,
// in arrival order (SetOrderMatters). It blocks while the forwarder's queue is
// full: paho then stops reading from the broker, which is the backpressure
// the broker's in-flight window relies on. A block longer than the keep-alive
// makes paho reconnect; the acks of the lost connection are dropped and the
// broker resends those messages, so a long Kafka stall costs duplicates,
// never loss.
func (g *MQTTGateway) handle(ctx context.Context) mqtt.MessageHandler {
	return func(_ mqtt.Client, msg mqtt.Message) {
		if g.stopping.Load() {
			return
		}
		topic := msg.Topic()
		o, err := MQTTOrigin(topic)
		var refused *Rejection
		if err != nil {
			refused = reject(wire.ReasonBadTopic, err)
		}
		// A submit fails only when ctx ended; the message stays unacked and
		// the broker redelivers it to the next session.
		_ = g.r.route(ctx, o, topic, msg.Payload(), refused, msg.Ack)
	}
}
