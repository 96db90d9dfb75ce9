package report

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
)

// Record is one record of the archive (inbond.events), as the log holds it.
type Record struct {
	Partition int
	Offset    int64
	Value     []byte
}

// Basis says where a movement's volume comes from.
type Basis string

// The bases of a volume, in the order a report trusts them.
const (
	// BasisMeter is a pipeline's entry (border) meter: the deltas of its
	// standard-condition totalizer.
	BasisMeter Basis = "entry_meter"
	// BasisTicket is a conveyance's delivery ticket: the net quantity the
	// receiver accepted.
	BasisTicket Basis = "delivery_ticket"
	// BasisDeclared is the manifest's declared quantity: used only for a
	// conveyance that has no ticket (T&E and IE goods are exported, never
	// delivered; an IT conveyance's ticket may not be in yet), and said so
	// in every row it reaches.
	BasisDeclared Basis = "declared"
)

// Flow is a volume that crossed into the United States at a time, with the
// quality measured for it. Volumes are in the product's canonical unit
// (bbl for crude, Mcf for gas), at standard conditions.
type Flow struct {
	At     time.Time
	Volume float64
	// Quality of this volume: API gravity and sulfur (crude) or heating
	// value (gas), from the sample that stands for it (see Movement).
	APIGravity, SulfurPct, HeatingValue float64
	// Measured is false when no sample covered the volume and the declared
	// quality stands in.
	Measured bool
}

// Movement is one shipment's accounting, derived from its records alone:
// what crossed, when, and what the manifest attributes it to.
//
// Time attribution (UTC): a pipeline's volume between two readings of its
// entry meter is attributed to the later reading's observation time (the
// totalizer at that time is the first measurement showing it crossed); the
// meter's cadence is the resolution, nothing is prorated. A conveyance's
// whole quantity is attributed to its border crossing, or, with none
// reported (a vessel's in-bond starts at its port of arrival), to its
// departure, or to the manifest's creation.
//
// Quality attribution: a quality sample stands for the volume its meter
// measured since the previous sample (as state.Quality weighs it), so a
// pipeline flow takes the first sample of the entry meter at or after it,
// or the last sample when none follows. A conveyance takes its delivery
// ticket's gravity and sulfur, else the mean of its lab samples, else the
// declared quality.
type Movement struct {
	Shipment event.ShipmentID
	Manifest *event.Manifest // the latest by event time, as state keeps it; nil: never declared
	// PortOfEntry is where the product entered: the earliest border
	// crossing's port, else the manifest's origin port (the port of
	// arrival). ExitPort is where in-transit goods left: the export
	// report's port, else the manifest's destination.
	PortOfEntry, ExitPort event.PortCode
	Basis                 Basis
	Flows                 []Flow // by time
	// ExitFlows are a pipeline's exit (delivery or export) meter deltas,
	// attributed as Flows are: for in-transit gas, the volume that left.
	ExitFlows []Flow
	// Milestones, from the earliest report of each (zero: not reported).
	CreatedAt, Deadline, DepartedAt, CrossedAt, ArrivedAt, ExportedAt, DeliveredAt time.Time
	Records                                                                        int // records of the shipment read, duplicates included
}

// InTransit reports whether the movement is T&E (62) or IE (63): goods
// crossing the United States to be exported, counted as in-transit and
// never as imports.
func (m *Movement) InTransit() bool {
	return m.Manifest != nil && (m.Manifest.EntryType == event.EntryTE || m.Manifest.EntryType == event.EntryIE)
}

// Product is the manifest's product ("" when undeclared).
func (m *Movement) Product() event.Product {
	if m.Manifest == nil {
		return ""
	}
	return m.Manifest.Product
}

// sample is one quality reading of a shipment.
type sample struct {
	at                   time.Time
	meter                event.MeterID
	api, sulfur, hv      *float64
	fromTicket           bool
	ticketNet, ticketAPI float64
}

type reading struct {
	at  time.Time
	cum float64
}

// Movements folds the archive's records into one Movement per shipment,
// sorted by shipment. Records are applied in the order given (partition
// order, as the processor applies them) through state.Apply, so a
// duplicate the processor ignores (a redelivered reading, a replayed
// sequence number) is ignored here too. Records that do not decode are
// skipped, as the processor skips them.
func Movements(records []Record) ([]*Movement, error) {
	type acc struct {
		sh       *state.Shipment
		readings map[event.MeterID][]reading
		samples  []sample
		tickets  []sample
		records  int
		// the earliest border crossing (state keeps its time, not its port)
		crossAt   time.Time
		crossPort event.PortCode
	}
	by := map[event.ShipmentID]*acc{}
	for _, r := range records {
		e, err := event.UnmarshalCanonical(r.Value)
		if err != nil {
			continue
		}
		a := by[e.Subject]
		if a == nil {
			a = &acc{sh: state.New(e.Subject), readings: map[event.MeterID][]reading{}}
			by[e.Subject] = a
		}
		a.records++
		out, err := state.Apply(a.sh, e)
		if err != nil {
			return nil, fmt.Errorf("report: record %d/%d: %w", r.Partition, r.Offset, err)
		}
		if out == state.Duplicate {
			continue
		}
		switch d := e.Data.(type) {
		case *event.MeterReading:
			a.readings[d.Meter] = append(a.readings[d.Meter], reading{e.Time, d.Cumulative})
		case *event.QualityReading:
			a.samples = append(a.samples, sample{at: e.Time, meter: d.Meter, api: d.APIGravity, sulfur: d.SulfurPct, hv: d.HeatingValue})
		case *event.BorderCrossed:
			if a.crossPort == "" || e.Time.Before(a.crossAt) || e.Time.Equal(a.crossAt) && d.Port < a.crossPort {
				a.crossAt, a.crossPort = e.Time, d.Port
			}
		case *event.Delivered:
			a.tickets = append(a.tickets, sample{at: e.Time, api: d.APIGravity, sulfur: d.SulfurPct, fromTicket: true, ticketNet: d.Net})
		}
	}
	out := make([]*Movement, 0, len(by))
	for id, a := range by {
		sh := a.sh
		m := &Movement{Shipment: id, Manifest: sh.Manifest, Records: a.records,
			DepartedAt: sh.DepartedAt, CrossedAt: sh.CrossedAt, ArrivedAt: sh.ArrivedAt}
		if sh.Export != nil {
			m.ExportedAt, m.ExitPort = sh.Export.At, sh.Export.Port
		}
		if len(a.tickets) > 0 {
			m.DeliveredAt = slices.MinFunc(a.tickets, func(x, y sample) int { return x.at.Compare(y.at) }).at
		}
		out = append(out, m)
		if sh.Manifest == nil {
			continue // nothing to attribute a volume to: counted as undeclared in the summary
		}
		man := sh.Manifest
		m.CreatedAt, m.Deadline = man.CreatedAt, man.Deadline
		m.PortOfEntry = man.OriginPort
		if m.ExitPort == "" {
			m.ExitPort = man.DestinationPort
		}
		if a.crossPort != "" {
			m.PortOfEntry = a.crossPort
		}
		if man.Mode == event.ModePipeline {
			m.Basis = BasisMeter
			m.Flows = meterFlows(a.readings[man.EntryMeter], a.samples, man.EntryMeter, man)
			m.ExitFlows = meterFlows(a.readings[man.ExitMeter], nil, man.ExitMeter, man)
			continue
		}
		f := Flow{At: firstSet(sh.CrossedAt, sh.DepartedAt, man.CreatedAt)}
		if len(sh.Delivery) > 0 {
			m.Basis = BasisTicket
			for _, d := range sh.Delivery { // distinct tickets, as state keeps them
				f.Volume += d.Net
			}
		} else {
			m.Basis = BasisDeclared
			f.Volume = man.DeclaredQuantity
		}
		conveyanceQuality(&f, a.tickets, a.samples, man)
		m.Flows = []Flow{f}
	}
	slices.SortFunc(out, func(a, b *Movement) int { return cmp.Compare(a.Shipment, b.Shipment) })
	return out, nil
}

// firstSet is the first of ts that is set.
func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// meterFlows turns a meter's readings into flows: the totalizer counts from
// the start of the movement, so the first delta is from 0. Readings are
// sorted by time, then totalizer (a totalizer never runs backwards, so at
// equal times the larger is the later); a smaller totalizer after a larger
// one adds nothing.
func meterFlows(rs []reading, samples []sample, meter event.MeterID, man *event.Manifest) []Flow {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b reading) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.cum, b.cum)) })
	var own []sample
	for _, s := range samples {
		if s.meter == meter {
			own = append(own, s)
		}
	}
	slices.SortStableFunc(own, func(a, b sample) int { return a.at.Compare(b.at) })
	var flows []Flow
	prev := 0.0
	for _, r := range rs {
		if r.cum <= prev {
			continue
		}
		f := Flow{At: r.at, Volume: r.cum - prev}
		prev = r.cum
		i, _ := slices.BinarySearchFunc(own, r.at, func(s sample, t time.Time) int { return s.at.Compare(t) })
		if i == len(own) {
			i--
		}
		setQuality(&f, own, i, man)
		flows = append(flows, f)
	}
	return flows
}

// setQuality gives f the quality of own[i] (the latest sample holding each
// value at or before i, then after it), or the declared quality.
func setQuality(f *Flow, own []sample, i int, man *event.Manifest) {
	pick := func(get func(sample) *float64) (float64, bool) {
		for j := i; j >= 0 && j < len(own); j-- {
			if v := get(own[j]); v != nil {
				return *v, true
			}
		}
		for j := i + 1; j < len(own); j++ {
			if v := get(own[j]); v != nil {
				return *v, true
			}
		}
		return 0, false
	}
	declared(f, man)
	if man.Product == event.ProductGas {
		if v, ok := pick(func(s sample) *float64 { return s.hv }); ok {
			f.HeatingValue, f.Measured = v, true
		}
		return
	}
	api, ok1 := pick(func(s sample) *float64 { return s.api })
	sul, ok2 := pick(func(s sample) *float64 { return s.sulfur })
	if ok1 {
		f.APIGravity = api
	}
	if ok2 {
		f.SulfurPct = sul
	}
	f.Measured = ok1 && ok2
}

func declared(f *Flow, man *event.Manifest) {
	q := man.DeclaredQuality
	if q.APIGravity != nil {
		f.APIGravity = *q.APIGravity
	}
	if q.SulfurPct != nil {
		f.SulfurPct = *q.SulfurPct
	}
	if q.HeatingValue != nil {
		f.HeatingValue = *q.HeatingValue
	}
}

// conveyanceQuality: the ticket's values, else the mean of the samples,
// else what was declared.
func conveyanceQuality(f *Flow, tickets, samples []sample, man *event.Manifest) {
	declared(f, man)
	mean := func(from []sample, get func(sample) *float64) (float64, bool) {
		sum, n := 0.0, 0
		for _, s := range from {
			if v := get(s); v != nil {
				sum += *v
				n++
			}
		}
		if n == 0 {
			return 0, false
		}
		return sum / float64(n), true
	}
	apiOf := func(s sample) *float64 { return s.api }
	sulOf := func(s sample) *float64 { return s.sulfur }
	hvOf := func(s sample) *float64 { return s.hv }
	if man.Product == event.ProductGas {
		if v, ok := mean(samples, hvOf); ok {
			f.HeatingValue, f.Measured = v, true
		}
		return
	}
	api, ok1 := mean(tickets, apiOf)
	if !ok1 {
		api, ok1 = mean(samples, apiOf)
	}
	sul, ok2 := mean(tickets, sulOf)
	if !ok2 {
		sul, ok2 = mean(samples, sulOf)
	}
	if ok1 {
		f.APIGravity = api
	}
	if ok2 {
		f.SulfurPct = sul
	}
	f.Measured = ok1 && ok2
}
