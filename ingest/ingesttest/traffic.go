package ingesttest

import (
	"fmt"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/sim"
)

// Decoded is one simulator message as the gateways see it: where it came
// from, and the canonical event it becomes or why it is refused.
type Decoded struct {
	Msg       sim.Message
	Origin    ingest.Origin
	Event     *event.Envelope   // nil when refused
	Rejection *ingest.Rejection // why, when refused
}

// DecodeTraffic passes every message through the gateways' decoder, each
// received a second after its publication, without any server: what
// inbond.events and inbond.dlq would hold, in publication order.
func DecodeTraffic(msgs []sim.Message) ([]Decoded, error) {
	out := make([]Decoded, len(msgs))
	for i, m := range msgs {
		o := ingest.KafkaOrigin(m.Topic, []byte(m.Key))
		if m.Via == sim.ViaMQTT {
			var err error
			if o, err = ingest.MQTTOrigin(m.Topic); err != nil {
				return nil, fmt.Errorf("message %d: the simulator used an invalid topic: %w", i, err)
			}
		}
		at := m.At
		dec := &ingest.Decoder{Now: func() time.Time { return at.Add(time.Second) }}
		e, rej := dec.Decode(o, m.Body)
		out[i] = Decoded{Msg: m, Origin: o, Event: e, Rejection: rej}
	}
	return out, nil
}

// Events returns the accepted events of d, in order.
func Events(d []Decoded) []*event.Envelope {
	var out []*event.Envelope
	for _, x := range d {
		if x.Event != nil {
			out = append(out, x.Event)
		}
	}
	return out
}
