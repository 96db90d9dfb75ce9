package sim

import (
	"encoding/json"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
)

// adversarial injects the deviations that are about who speaks and how:
// an unregistered device and a carrier other than the bonded one
// (RuleIdentity), a reused sequence number and a clock far ahead
// (RuleReplay), and a message the gateways must dead-letter (RuleMalformed).
// They happen at the middle of the shipment's telemetry.
func (g *gen) adversarial() {
	if !g.dev[RuleIdentity] && !g.dev[RuleReplay] && !g.dev[RuleMalformed] {
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
	var sample struct {
		Type   string          `json:"type"`
		Device event.DeviceID  `json:"device"`
		Seq    uint64          `json:"seq"`
		Time   time.Time       `json:"time"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(mid.Body, &sample); err != nil {
		panic("sim: own telemetry undecodable: " + err.Error())
	}
	at := mid.At.Add(30 * time.Second)
	var data any = sample.Data

	if g.dev[RuleIdentity] {
		rogue := event.DeviceID("ROGUE-" + string(g.sp.ID))
		g.rawTelemetry(at, rogue, 1, at, sample.Type, data, g.sp.Carrier.SCAC)
		wrong := event.CarrierID("XXXX")
		if g.sp.Carrier.SCAC == wrong {
			wrong = "YYYY"
		}
		body := g.mustJSON(map[string]any{"type": "diversion_requested", "time": stamp(at),
			"data": event.DiversionRequested{To: alternatePort(g.m.DestinationPort), Reason: "customer request"}})
		g.msgs = append(g.msgs, Message{At: at, Via: ViaMQTT, Topic: ingest.MQTTTopic(wrong, g.sp.ID, ingest.ChannelEvents), Body: body})
		g.label(RuleIdentity, at, map[string]any{"unregistered_device": rogue, "wrong_carrier": wrong, "bonded_carrier": g.sp.Carrier.SCAC})
	}
	if g.dev[RuleReplay] {
		// The device's reading at sample.Seq is sent again later with other
		// content, and its next reading claims a time two hours ahead.
		g.rawTelemetry(at.Add(time.Minute), sample.Device, sample.Seq, sample.Time.Add(time.Second), sample.Type, data, g.sp.Carrier.SCAC)
		values := map[string]any{"device": sample.Device, "replayed_seq": sample.Seq, "threshold_future_minutes": g.th.FutureClock.Minutes()}
		if next := g.nextReading(telemetry, mid, sample.Device); next != nil {
			var body map[string]any
			_ = json.Unmarshal(next.Body, &body)
			ahead := next.At.Add(2 * time.Hour)
			body["time"] = stamp(ahead)
			next.Body = g.mustJSON(body)
			values["future_seq"], values["future_by_minutes"] = body["seq"], 120.0
		}
		g.label(RuleReplay, at.Add(time.Minute), values)
	}
	if g.dev[RuleMalformed] {
		body := g.mustJSON(map[string]any{"type": "meter", "device": "LEGACY-FC", "seq": 1, "time": stamp(at),
			"data": map[string]any{"meter": "LEGACY-1", "flow_rate": 100, "cumulative": 42, "unit": "gal",
				"pressure": 850, "pressure_unit": "psig", "temperature": 60, "temperature_unit": "F"}})
		g.msgs = append(g.msgs, Message{At: at, Via: ViaMQTT, Topic: ingest.MQTTTopic(g.sp.Carrier.SCAC, g.sp.ID, ingest.ChannelTelemetry), Body: body})
		g.label(RuleMalformed, at, map[string]any{"expected_dlq_reason": string(ingest.ReasonBadUnit), "device": "LEGACY-FC"})
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
