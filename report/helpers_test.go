package report_test

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/ingest"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/report"
	"github.com/inbond/inbond/sim"
	"github.com/inbond/inbond/wire"
)

// partitions is the archive's partition count in these tests.
const partitions = 4

// doeFields are the DOE fields the test traffic's manifests declare (the
// simulator writes none): gas importers' authorizations and refineries.
var doeFields = map[event.ShipmentID]func(*event.Manifest){
	"CRUDE-NECHE-FIRST": func(m *event.Manifest) {
		m.Processing = event.Facility{Company: "Lakehead Refining LLC", Name: "Superior Refinery", State: "WI"}
	},
	"CRUDE-VESSEL-MX": func(m *event.Manifest) {
		m.Processing = event.Facility{Company: "Gulf Coast Refining Co", Name: "Pasadena Works", State: "TX"}
	},
	"GAS-SUMAS-IMPORT":    func(m *event.Manifest) { m.Authorization = "FE 25-101-NG" },
	"GAS-SHERWOOD-IMPORT": func(m *event.Manifest) { m.Authorization = "FE 25-101-NG" },
	"GAS-NOYES-TRANSIT":   func(m *event.Manifest) { m.Authorization = "FE 25-202-NG" },
}

// month generates the test month's traffic (testdata/month.yaml) with the
// DOE fields added to its manifests.
func month(t testing.TB) []sim.Message {
	t.Helper()
	sc, err := sim.LoadScenario("testdata/month.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sim.Generate(sc, 7, nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := slices.Clone(st.Messages)
	for i, m := range msgs {
		if m.Topic != string(event.TopicManifests) {
			continue
		}
		var man event.Manifest
		if err := json.Unmarshal(m.Body, &man); err != nil {
			t.Fatal(err)
		}
		if f := doeFields[event.ShipmentID(m.Key)]; f != nil {
			f(&man)
			b, err := json.Marshal(&man)
			if err != nil {
				t.Fatal(err)
			}
			msgs[i].Body = b
		}
	}
	return msgs
}

// archive is what the gateways would write to inbond.events for msgs: each
// decoded by ingest's own decoder, keyed and partitioned by shipment, in
// publication order.
func archive(t testing.TB, msgs []sim.Message) []report.Record {
	t.Helper()
	var at time.Time
	dec := &ingest.Decoder{Now: func() time.Time { return at }}
	next := make([]int64, partitions)
	var byPart [partitions][]report.Record
	for _, m := range msgs {
		at = m.At.Add(time.Second)
		var o ingest.Origin
		if m.Via == sim.ViaMQTT {
			var err error
			if o, err = ingest.MQTTOrigin(m.Topic); err != nil {
				t.Fatal(err)
			}
		} else {
			o = ingest.KafkaOrigin(m.Topic, []byte(m.Key))
		}
		e, rej := dec.Decode(o, m.Body)
		if rej != nil {
			t.Fatalf("the gateway refuses %s: %v", m.Body, rej)
		}
		v, err := event.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		p := bus.PartitionOf([]byte(e.Subject), partitions)
		byPart[p] = append(byPart[p], report.Record{Partition: p, Offset: next[p], Value: v})
		next[p]++
	}
	var out []report.Record
	for _, rs := range byPart {
		out = append(out, rs...)
	}
	return out
}

// truth is the test's own account of the traffic, computed from the
// simulator's messages without the report package: per shipment, every
// volume that crossed and when.
type truth struct {
	manifests map[event.ShipmentID]*event.Manifest
	crossings map[event.ShipmentID][]crossing
	ports     map[event.ShipmentID]event.PortCode
}

type crossing struct {
	at  time.Time
	vol float64
}

func groundTruth(t testing.TB, msgs []sim.Message) *truth {
	t.Helper()
	tr := &truth{manifests: map[event.ShipmentID]*event.Manifest{}, crossings: map[event.ShipmentID][]crossing{}, ports: map[event.ShipmentID]event.PortCode{}}
	readings := map[event.ShipmentID][]crossing{}
	crossedAt := map[event.ShipmentID]time.Time{}
	departedAt := map[event.ShipmentID]time.Time{}
	delivered := map[event.ShipmentID]float64{}
	for _, m := range msgs {
		if m.Topic == string(event.TopicManifests) {
			var man event.Manifest
			if err := json.Unmarshal(m.Body, &man); err != nil {
				t.Fatal(err)
			}
			tr.manifests[event.ShipmentID(m.Key)] = &man
			continue
		}
		var c wire.Compact[json.RawMessage]
		if err := json.Unmarshal(m.Body, &c); err != nil {
			t.Fatal(err)
		}
		id := c.Shipment
		if m.Via == sim.ViaMQTT {
			p, err := wire.ParseMQTTTopic(m.Topic)
			if err != nil {
				t.Fatal(err)
			}
			id = p.Shipment
		}
		var d struct {
			Meter      event.MeterID  `json:"meter"`
			Cumulative float64        `json:"cumulative"`
			Port       event.PortCode `json:"port"`
			Net        float64        `json:"net"`
		}
		if err := json.Unmarshal(c.Data, &d); err != nil {
			t.Fatal(err)
		}
		switch c.Type {
		case "meter":
			if man := tr.manifests[id]; man != nil && d.Meter == man.EntryMeter {
				readings[id] = append(readings[id], crossing{c.Time, d.Cumulative})
			}
		case "border_crossed":
			if _, ok := crossedAt[id]; !ok {
				crossedAt[id], tr.ports[id] = c.Time, d.Port
			}
		case "departed":
			departedAt[id] = c.Time
		case "delivered":
			delivered[id] += d.Net
		}
	}
	for id, man := range tr.manifests {
		if tr.ports[id] == "" {
			tr.ports[id] = man.OriginPort
		}
		if man.Mode == event.ModePipeline {
			rs := readings[id]
			slices.SortFunc(rs, func(a, b crossing) int { return a.at.Compare(b.at) })
			prev := 0.0
			for _, r := range rs {
				tr.crossings[id] = append(tr.crossings[id], crossing{r.at, r.vol - prev})
				prev = r.vol
			}
			continue
		}
		at := crossedAt[id]
		if at.IsZero() {
			at = departedAt[id]
		}
		vol, ok := delivered[id]
		if !ok {
			vol = man.DeclaredQuantity
		}
		tr.crossings[id] = []crossing{{at, vol}}
	}
	return tr
}

// volume sums the shipment's crossings in [from, to).
func (tr *truth) volume(id event.ShipmentID, from, to time.Time) float64 {
	sum := 0.0
	for _, c := range tr.crossings[id] {
		if !c.at.Before(from) && c.at.Before(to) {
			sum += c.vol
		}
	}
	return sum
}

func whole(v float64) int64 { return int64(math.Round(v)) }
