package sim

import (
	"encoding/json"
	"github.com/inbond/inbond/alerts"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/wire"
)

// adversarial injects the deviations that are about who speaks and how:
// an unregistered device and a carrier other than the bonded one
// (alerts.RuleIdentity), a reused sequence number and a clock far ahead
// (alerts.RuleReplay), and a message the gateways must dead-letter (RuleMalformed).
// They happen at the middle of the shipment's telemetry.
func (g *gen) adversarial() {
	if !g.dev[alerts.RuleIdentity] && !g.dev[alerts.RuleReplay] && !g.dev[RuleMalformed] {
		return
	}
	var mid *Message
	var telemetry []int
	for i := range g.msgs {
		if g.msgs[i].Via == ViaMQTT {
			telemetry = append(telemetry, i)
		}
	}
	if len(telemetry) == 0 {
		return
	}
	mid = &g.msgs[telemetry[len(telemetry)/2]]
	var sample wire.Compact[json.RawMessage]
	if err := json.Unmarshal(mid.Body, &sample); err != nil {
		panic("sim: own telemetry undecodable: " + err.Error())
	}
	at := mid.At.Add(30 * time.Second)
	var data any = sample.Data

	if g.dev[alerts.RuleIdentity] {
		rogue := event.DeviceID("ROGUE-" + string(g.sp.ID))
		g.rawTelemetry(at, rogue, 1, at, sample.Type, data, g.sp.Carrier.SCAC)
		wrong := event.CarrierID("XXXX")
		if g.sp.Carrier.SCAC == wrong {
			wrong = "YYYY"
		}
		body := g.mustJSON(wire.Compact[any]{Type: "diversion_requested", Time: at.UTC(),
			Data: event.DiversionRequested{To: alternatePort(g.m.DestinationPort), Reason: "customer request"}})
		g.msgs = append(g.msgs, Message{At: at, Via: ViaMQTT, Topic: wire.MQTTTopic(wrong, g.sp.ID, wire.ChannelEvents), Body: body})
		g.label(alerts.RuleIdentity, at, map[string]any{"unregistered_device": rogue, "wrong_carrier": wrong, "bonded_carrier": g.sp.Carrier.SCAC})
	}
	if g.dev[alerts.RuleReplay] {
		// The device's reading at sample.Seq is sent again later with other
		// content, and its next reading claims a time two hours ahead.
		g.rawTelemetry(at.Add(time.Minute), sample.Device, sample.Seq, sample.Time.Add(time.Second), sample.Type, data, g.sp.Carrier.SCAC)
		values := map[string]any{"device": sample.Device, "replayed_seq": sample.Seq, "threshold_future_minutes": g.th.FutureClock.Minutes()}
		if next := g.nextReading(telemetry, mid, sample.Device); next != nil {
			var body wire.Compact[json.RawMessage]
			if err := json.Unmarshal(next.Body, &body); err != nil {
				panic("sim: own telemetry undecodable: " + err.Error())
			}
			body.Time = next.At.Add(2 * time.Hour).UTC()
			next.Body = g.mustJSON(body)
			values["future_seq"], values["future_by_minutes"] = body.Seq, 120.0
		}
		g.label(alerts.RuleReplay, at.Add(time.Minute), values)
	}
	if g.dev[RuleMalformed] {
		body := g.mustJSON(wire.Compact[any]{Type: "meter", Device: "LEGACY-FC", Seq: 1, Time: at.UTC(),
			Data: map[string]any{"meter": "LEGACY-1", "flow_rate": 100, "cumulative": 42, "unit": "gal",
				"pressure": 850, "pressure_unit": "psig", "temperature": 60, "temperature_unit": "F"}})
		g.msgs = append(g.msgs, Message{At: at, Via: ViaMQTT, Topic: wire.MQTTTopic(g.sp.Carrier.SCAC, g.sp.ID, wire.ChannelTelemetry), Body: body})
		g.label(RuleMalformed, at, map[string]any{"expected_dlq_reason": string(wire.ReasonBadUnit), "device": "LEGACY-FC"})
	}
}

// nextReading returns the device's first telemetry message after mid.
func (g *gen) nextReading(telemetry []int, mid *Message, device event.DeviceID) *Message {
	for _, i := range telemetry {
		m := &g.msgs[i]
		if !m.At.After(mid.At) {
			continue
		}
		var hdr struct {
			Device event.DeviceID `json:"device"`
		}
		if json.Unmarshal(m.Body, &hdr) == nil && hdr.Device == device {
			return m
		}
	}
	return nil
}
