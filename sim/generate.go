package sim

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"github.com/inbond/inbond/alerts"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/inbond/inbond/corridors"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/wire"
)

// Stream is what a simulation produces: the messages carriers publish, in
// simulated-time order, and the ground-truth labels.
type Stream struct {
	Messages []Message
	Labels   []Label
}

// Generate plays sc deterministically: the same scenario, seed and injected
// rules give byte-identical messages and labels. Each rule in inject is
// added to every shipment it applies to, on top of the scenario's own.
func Generate(sc *Scenario, seed uint64, inject []alerts.Rule) (*Stream, error) {
	known, err := corridors.Corridors()
	if err != nil {
		return nil, err
	}
	out := &Stream{}
	perShipment := make([][]Message, 0, len(sc.Shipments))
	for i := range sc.Shipments {
		sp := sc.Shipments[i]
		c := known[sp.Corridor]
		for _, r := range inject {
			if appliesTo(r, c.Mode) && !slices.Contains(sp.Deviations, r) {
				sp.Deviations = append(sp.Deviations, r)
			}
		}
		h := fnv.New64a()
		h.Write([]byte(sp.ID))
		g := &gen{
			sp: &sp, c: c, th: alerts.DefaultThresholds, start: sc.Start.Add(sp.StartAfter),
			rng:  rand.New(rand.NewPCG(seed, h.Sum64())),
			dev:  map[alerts.Rule]bool{},
			seqs: map[event.DeviceID]uint64{},
		}
		for _, r := range sp.Deviations {
			g.dev[r] = true
		}
		if err := g.run(); err != nil {
			return nil, fmt.Errorf("shipment %s: %w", sp.ID, err)
		}
		perShipment = append(perShipment, g.msgs)
		out.Labels = append(out.Labels, g.labels...)
	}
	out.Messages = mergeByTime(perShipment)
	return out, nil
}

// mergeByTime merges the shipments' messages into one slice in publication
// time order. Equal times keep shipment order, then each shipment's own order:
// exactly the order of a stable sort of the concatenation, but each message
// moves once instead of O(log n) times (a million messages sorted whole took
// a third of pre-generation's time).
func mergeByTime(lists [][]Message) []Message {
	byTime := func(a, b Message) int { return a.At.Compare(b.At) }
	n := 0
	for _, l := range lists {
		slices.SortStableFunc(l, byTime)
		n += len(l)
	}
	out := make([]Message, 0, n)
	h := make(cursorHeap, 0, len(lists))
	for i, l := range lists {
		if len(l) > 0 {
			h = append(h, cursor{list: i, rest: l})
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		c := &h[0]
		out = append(out, c.rest[0])
		if c.rest = c.rest[1:]; len(c.rest) == 0 {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return out
}

// cursor is the unmerged rest of one shipment's messages.
type cursor struct {
	list int // the shipment's index, which breaks ties
	rest []Message
}

// cursorHeap orders cursors by their next message's time, then shipment index.
type cursorHeap []cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	if c := h[i].rest[0].At.Compare(h[j].rest[0].At); c != 0 {
		return c < 0
	}
	return h[i].list < h[j].list
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// gen generates one shipment. It is used by one goroutine.
type gen struct {
	sp     *ShipmentSpec
	c      *corridors.Corridor
	th     alerts.Thresholds
	start  time.Time
	rng    *rand.Rand
	dev    map[alerts.Rule]bool
	seqs   map[event.DeviceID]uint64
	m      *event.Manifest
	msgs   []Message
	labels []Label
	// gapFrom and gapTo bound a telemetry blackout (alerts.RuleGap).
	gapFrom, gapTo time.Time
	// physArrival is when the published telemetry first shows the goods at
	// their destination, as the rules find it (alerts.AtDestination for a
	// conveyance's fixes; for a pipeline the exit meter's last reading that
	// grew): what the late-report rule counts from.
	physArrival time.Time
	// Outcome volumes, for the labels.
	entryTotal, exitTotal, delivered float64
}

func (g *gen) run() error {
	g.m = g.manifest()
	g.kafka(event.TopicManifests, g.start, g.mustJSON(g.m))
	var arrived time.Time
	var err error
	if g.c.Mode == event.ModePipeline {
		arrived, err = g.pipeline()
	} else {
		arrived, err = g.conveyance()
	}
	if err != nil {
		return err
	}
	g.finish(arrived)
	g.adversarial()
	return nil
}

// manifest builds the declaration from the spec and corridor.
func (g *gen) manifest() *event.Manifest {
	sp, c := g.sp, g.c
	m := &event.Manifest{
		InBondNumber: event.InBondNumber(sp.InBondSerial), EntryType: sp.EntryType, Mode: c.Mode,
		Product: sp.Product, HTS: sp.HTS, DeclaredQuantity: sp.Quantity,
		Importer:        event.Party{Name: sp.Importer.Name, ID: sp.Importer.ID},
		Carrier:         event.BondedCarrier{SCAC: sp.Carrier.SCAC, IRSNumber: sp.Carrier.IRSNumber},
		CountryOfOrigin: sp.Country, OriginPort: c.OriginPort, DestinationPort: c.DestinationPort,
		CreatedAt: g.start,
	}
	if m.CountryOfOrigin == "" {
		m.CountryOfOrigin = "CA"
	}
	if m.EntryType == "" {
		m.EntryType = event.EntryTE
	}
	if sp.Product == event.ProductGas {
		m.Unit = event.VolumeMcf
		m.DeclaredQuality.HeatingValue = f(sp.HeatingValue)
		if m.HTS == "" {
			m.HTS = "2711.21.00"
		}
	} else {
		m.Unit = event.VolumeBarrels
		m.DeclaredQuality.APIGravity, m.DeclaredQuality.SulfurPct = f(sp.APIGravity), f(sp.SulfurPct)
		if m.HTS == "" {
			m.HTS = "2709.00.20"
			if sp.APIGravity < event.HeavyCrudeAPILimit {
				m.HTS = "2709.00.10"
			}
		}
	}
	if c.Mode == event.ModePipeline {
		m.EntryMeter, m.ExitMeter = c.EntryMeter.ID, c.ExitMeter.ID
		m.Devices = []event.DeviceID{g.fc(m.EntryMeter), g.fc(m.ExitMeter), g.analyzer()}
	} else {
		m.Corridor = c.ID
		m.Devices = []event.DeviceID{g.gps(), g.sealDevice(), g.lab()}
	}
	days := g.sp.DeadlineDays
	if days == 0 {
		days = event.MaxInBondDays(c.Mode)
	}
	m.Deadline = g.start.AddDate(0, 0, days)
	return m
}

func (g *gen) fc(meter event.MeterID) event.DeviceID { return event.DeviceID(string(meter) + "-FC") }
func (g *gen) analyzer() event.DeviceID              { return event.DeviceID(string(g.c.EntryMeter.ID) + "-QA") }
func (g *gen) gps() event.DeviceID                   { return event.DeviceID(string(g.sp.ID) + "-GPS") }
func (g *gen) sealDevice() event.DeviceID            { return event.DeviceID(string(g.sp.ID) + "-SEAL") }
func (g *gen) lab() event.DeviceID                   { return event.DeviceID(string(g.sp.ID) + "-LAB") }
func (g *gen) sealID() string                        { return string(g.sp.ID) + "-S1" }

// --- emitting ---

func (g *gen) mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sim: marshal %T: %v", v, err))
	}
	return b
}

func (g *gen) kafka(topic event.Topic, at time.Time, body []byte) {
	g.msgs = append(g.msgs, Message{At: at, Via: ViaKafka, Topic: string(topic), Key: string(g.sp.ID), Body: body})
}

// carrierEvent publishes a milestone from the carrier's system on Kafka.
func (g *gen) carrierEvent(at time.Time, typ string, data any) {
	g.kafka(event.TopicCarrierEvents, at, g.mustJSON(wire.Compact[any]{
		Type: typ, Shipment: g.sp.ID, Carrier: g.sp.Carrier.SCAC, Time: at.UTC(), Data: data,
	}))
}

// telemetry publishes a device reading on MQTT in the compact form,
// numbering it in the device's sequence. Readings inside a gap are dropped.
func (g *gen) telemetry(at time.Time, device event.DeviceID, typ string, data any) {
	if g.inGap(at) {
		return
	}
	g.seqs[device]++
	g.rawTelemetry(at, device, g.seqs[device], at, typ, data, g.sp.Carrier.SCAC)
}

// inGap reports whether telemetry at at falls in the gap and is dropped.
func (g *gen) inGap(at time.Time) bool {
	return !g.gapFrom.IsZero() && !at.Before(g.gapFrom) && at.Before(g.gapTo)
}

func (g *gen) rawTelemetry(at time.Time, device event.DeviceID, seq uint64, observed time.Time, typ string, data any, carrier event.CarrierID) {
	body := g.mustJSON(wire.Compact[any]{Type: typ, Device: device, Seq: seq, Time: observed.UTC(), Data: data})
	topic := wire.MQTTTopic(carrier, g.sp.ID, wire.ChannelTelemetry)
	g.msgs = append(g.msgs, Message{At: at, Via: ViaMQTT, Topic: topic, Body: body})
}

func (g *gen) label(rule alerts.Rule, begins time.Time, values map[string]any) {
	g.labels = append(g.labels, Label{Kind: "deviation", Shipment: g.sp.ID, Rule: rule, Begins: begins.UTC(), Values: values})
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func f(v float64) *float64 { return &v }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// finish reports arrival and the end of the movement, with the overdue and
// late-report deviations, and labels a clean shipment's expected outcome.
func (g *gen) finish(arrived time.Time) {
	m := g.m
	reported := arrived
	if g.dev[alerts.RuleLateReport] {
		// Due as the rule counts it (business days, less federal
		// holidays) from the physical arrival the telemetry shows: the
		// label begins when the rule can first know the report is late.
		phys := g.physArrival
		if phys.IsZero() {
			phys = arrived
		}
		due := alerts.ReportDue(phys, g.th.ReportBusinessDays)
		reported = due.Add(48 * time.Hour)
		g.label(alerts.RuleLateReport, due, map[string]any{
			"arrived_at": stamp(phys), "reported_at": stamp(reported), "due_by": stamp(due),
			"threshold_business_days": g.th.ReportBusinessDays,
		})
	}
	port := m.DestinationPort
	if g.dev[alerts.RuleDiversion] {
		port = alternatePort(m.DestinationPort)
		g.label(alerts.RuleDiversion, reported, map[string]any{
			"arrived_port": port, "declared_destination": m.DestinationPort, "approved_diversion": false,
		})
	}
	if g.dev[alerts.RuleOverdue] {
		// The deadline was declared too short for the journey: it passes in transit.
		m.Deadline = g.start.Add(arrived.Sub(g.start) * 6 / 10).Truncate(time.Minute)
		g.msgs[0].Body = g.mustJSON(m)
		g.label(alerts.RuleOverdue, m.Deadline, map[string]any{"deadline": stamp(m.Deadline), "arrived_at": stamp(arrived)})
	}
	g.carrierEvent(reported, "arrived", event.Arrived{Port: port})
	status := "exported"
	if m.EntryType == event.EntryIT {
		status = "concluded"
		net := g.delivered
		if g.dev[alerts.RuleImbalance] && m.Mode.Conveyance() {
			net = round(m.DeclaredQuantity*0.97, 2)
			g.label(alerts.RuleImbalance, reported.Add(30*time.Minute), map[string]any{
				"loaded": m.DeclaredQuantity, "delivered_net": net, "shortfall_pct": 3.0, "threshold_pct": g.th.ImbalancePct,
			})
		}
		g.carrierEvent(reported.Add(30*time.Minute), "delivered", event.Delivered{
			Ticket: "T-" + string(g.sp.ID), Gross: round(net*1.002, 2), Net: net, Unit: m.Unit,
		})
	} else {
		g.carrierEvent(reported.Add(20*time.Minute), "exported", event.Exported{Port: port})
	}
	if len(g.sp.Deviations) == 0 {
		v := map[string]any{"status": status, "arrival_port": port, "declared_quantity": m.DeclaredQuantity, "unit": m.Unit}
		if m.Mode == event.ModePipeline {
			v["entry_volume"], v["exit_volume"] = round(g.entryTotal, 2), round(g.exitTotal, 2)
		}
		if status == "concluded" {
			v["delivered_net"] = g.delivered
		}
		g.labels = append(g.labels, Label{Kind: "expected", Shipment: g.sp.ID, Values: v})
	}
}
