package ingest_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/internal/embedded"
	"github.com/inbond/inbond/internal/testenv"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zaptest"
)

// denySubscriptions lets every client connect and publish but refuses every
// subscription, as a broker's ACL does to a client it does not know.
type denySubscriptions struct{ mochi.HookBase }

func (*denySubscriptions) ID() string { return "deny-subscriptions" }

func (*denySubscriptions) Provides(b byte) bool {
	return bytes.Contains([]byte{mochi.OnConnectAuthenticate, mochi.OnACLCheck}, []byte{b})
}

func (*denySubscriptions) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (*denySubscriptions) OnACLCheck(_ *mochi.Client, _ string, write bool) bool { return write }

// A broker that refuses the gateway's subscription leaves it connected but
// deaf: the service must stop and say so, not run on receiving nothing.
// (Mosquitto grants a subscription its ACL denies and just delivers nothing,
// so this runs on an in-process mochi broker, which answers SUBACK 0x80 as
// EMQX and HiveMQ do.)
func TestMQTTRefusedSubscriptionStopsTheService(t *testing.T) {
	brokers := testenv.Kafka(t, embedded.KafkaConfig{})
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(denySubscriptions), nil); err != nil {
		t.Fatal(err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	t.Logf("testenv: mqtt=in-process mochi %s refusing every subscription", tcp.Address())

	w := bus.NewWriter(brokers)
	defer w.Close()
	svc := &ingest.Service{
		Writer:  w,
		MQTT:    &ingest.MQTTConfig{Broker: "tcp://" + tcp.Address(), ClientID: "inbond-ingest-refused", SharedGroup: "inbond-ingest"},
		Decoder: &ingest.Decoder{},
		Metrics: ingest.NewMetrics(prometheus.NewRegistry()),
		Log:     zaptest.NewLogger(t),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "refused the subscription") {
			t.Fatalf("service stopped with %v; want the refused subscription named", err)
		}
		t.Logf("service stopped: %v", err)
	case <-svc.Ready():
		t.Fatal("service reported ready although the broker refused its subscription")
	case <-time.After(15 * time.Second):
		t.Fatal("service still running 15 s after the broker refused its subscription")
	}
}
