package state

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/inbond/inbond/event"
)

// Status is where a shipment is in its in-bond life.
type Status string

// Statuses, in the order a movement normally passes through them.
const (
	StatusUndeclared Status = "undeclared" // events seen, no manifest yet
	StatusDeclared   Status = "declared"
	StatusInTransit  Status = "in_transit"
	StatusDiverted   Status = "diverted" // in transit to a destination changed by an approved diversion
	StatusArrived    Status = "arrived"
	StatusExported   Status = "exported"  // T&E / IE goods left the country
	StatusConcluded  Status = "concluded" // IT goods delivered at destination
)

// rank orders statuses so that state only moves forward, whatever order
// carriers report milestones in.
func (s Status) rank() int {
	switch s {
	case StatusDeclared:
		return 1
	case StatusInTransit, StatusDiverted:
		return 2
	case StatusArrived:
		return 3
	case StatusExported, StatusConcluded:
		return 4
	}
	return 0
}

// Statuses lists every status, for indexes and dashboards.
var Statuses = []Status{StatusUndeclared, StatusDeclared, StatusInTransit, StatusDiverted, StatusArrived, StatusExported, StatusConcluded}

// Meter is what a shipment knows about one meter station: its latest
// reading by observation time.
type Meter struct {
	Cumulative  float64   `json:"cumulative"` // totalizer, canonical unit
	FlowRate    float64   `json:"flow_rate"`
	Pressure    float64   `json:"pressure"`    // psig
	Temperature float64   `json:"temperature"` // °F
	Unit        string    `json:"unit"`
	Readings    uint64    `json:"readings"`
	LastAt      time.Time `json:"last_at"`
	// Sampled is the totalizer as it stood at this meter's last quality
	// sample: the volume that sample and the ones before it stand for.
	Sampled float64 `json:"sampled,omitempty"`
}

// Quality is the volume-weighted product quality measured so far. Each sum
// is a measured value times its weight: the volume that passed the sample's
// own meter since that meter's previous sample, or 1 for a sample that names
// no meter (a conveyance's lab sample), which stands for the whole cargo.
type Quality struct {
	Weight          float64 `json:"weight"`
	APIGravitySum   float64 `json:"api_gravity_sum,omitempty"`
	SulfurSum       float64 `json:"sulfur_sum,omitempty"`
	HeatingValueSum float64 `json:"heating_value_sum,omitempty"`
	Samples         uint64  `json:"samples"`
}

// APIGravity returns the volume-weighted API gravity, ok=false before any sample.
func (q Quality) APIGravity() (float64, bool) { return q.avg(q.APIGravitySum) }

// SulfurPct returns the volume-weighted sulfur content.
func (q Quality) SulfurPct() (float64, bool) { return q.avg(q.SulfurSum) }

// HeatingValue returns the volume-weighted heating value (Btu/scf).
func (q Quality) HeatingValue() (float64, bool) { return q.avg(q.HeatingValueSum) }

func (q Quality) avg(sum float64) (float64, bool) {
	if q.Weight == 0 || sum == 0 {
		return 0, false
	}
	return sum / q.Weight, true
}

// Position is the latest known position of a conveyance, by observation time.
type Position struct {
	Lat      float64   `json:"lat"`
	Lon      float64   `json:"lon"`
	SpeedKmh float64   `json:"speed_kmh"`
	At       time.Time `json:"at"`
}

// Seal is the latest seal report, by observation time.
type Seal struct {
	ID    string    `json:"id"`
	State string    `json:"state"`
	Since time.Time `json:"since"` // when that report was observed
}

// Delivery is a delivery ticket received at destination.
type Delivery struct {
	Ticket string  `json:"ticket"`
	Gross  float64 `json:"gross"`
	Net    float64 `json:"net"`
	Unit   string  `json:"unit"`
}

// Milestone is a port event of the movement and when it was observed.
type Milestone struct {
	Port event.PortCode `json:"port,omitempty"`
	At   time.Time      `json:"at"`
}

// Transfer is a change of carrier and when it was observed.
type Transfer struct {
	To event.CarrierID `json:"to"`
	At time.Time       `json:"at"`
}

// MaxRememberedIDs bounds the IDs of unnumbered events a shipment remembers
// for deduplication. Unnumbered events are carrier milestones and manifests,
// a few dozen per movement, so a duplicate further back than this is not a
// realistic redelivery.
const MaxRememberedIDs = 1024

// Shipment is the live state of one in-bond movement. It is owned by the
// processor instance that owns the shipment's partition: one writer, so it
// needs no locking; readers get copies from Redis.
//
// Every field is a function of the set of the shipment's events, their own
// observation times and device sequence numbers, not of the order the
// channels' events were interleaved in on inbond.events: a manifest that
// arrives over Kafka after the telemetry it governs arrived over MQTT gives
// the same state as one that arrived first. (Within one device, order still
// matters: a sequence number not above the last applied is a duplicate.)
// Derived fields (Status, Carrier, Destination, PendingDiversion,
// ArrivalPort, ExportPort) are recomputed from the facts after every event.
type Shipment struct {
	ID          event.ShipmentID `json:"id"`
	Carrier     event.CarrierID  `json:"carrier,omitempty"` // the manifest's bonded carrier, or the first event's
	Status      Status           `json:"status"`
	Manifest    *event.Manifest  `json:"manifest,omitempty"`    // the latest by event time
	Destination event.PortCode   `json:"destination,omitempty"` // current: the manifest's, or an approved diversion's
	// PendingDiversion is a requested, not yet approved, new destination.
	PendingDiversion event.PortCode  `json:"pending_diversion,omitempty"`
	ArrivalPort      event.PortCode  `json:"arrival_port,omitempty"`
	ExportPort       event.PortCode  `json:"export_port,omitempty"`
	Transfers        []Transfer      `json:"transfers,omitempty"` // by time, then carrier
	ManifestID       string          `json:"manifest_id,omitempty"`
	ManifestAt       time.Time       `json:"manifest_at,omitzero"`
	FirstCarrier     event.CarrierID `json:"first_carrier,omitempty"` // of the earliest event (ties: the smallest)

	Position *Position                `json:"position,omitempty"`
	Meters   map[event.MeterID]*Meter `json:"meters,omitempty"`
	Quality  Quality                  `json:"quality"`
	Seal     *Seal                    `json:"seal,omitempty"`
	Delivery []Delivery               `json:"deliveries,omitempty"` // by ticket

	FirstEventAt  time.Time  `json:"first_event_at"`
	LastEventAt   time.Time  `json:"last_event_at"`
	LastTelemetry time.Time  `json:"last_telemetry,omitempty"`
	DepartedAt    time.Time  `json:"departed_at,omitempty"` // the earliest departure
	CrossedAt     time.Time  `json:"crossed_at,omitzero"`   // the earliest border crossing
	ArrivedAt     time.Time  `json:"arrived_at,omitempty"`  // the earliest arrival (Arrival's time)
	Arrival       *Milestone `json:"arrival,omitempty"`
	Export        *Milestone `json:"export,omitempty"`            // the earliest export
	Diversion     *Milestone `json:"diversion,omitempty"`         // the latest approved diversion: its new destination
	DiversionAsk  *Milestone `json:"diversion_request,omitempty"` // the latest requested diversion

	// DeviceSeq is the highest sequence number applied per device, keyed by
	// "carrier/device": device IDs are each carrier's own, so after a
	// transfer the new carrier's GPS-1 is another device than the old one's.
	DeviceSeq map[string]uint64 `json:"device_seq,omitempty"`
	// RecentIDs are the IDs of applied unnumbered events, sorted.
	RecentIDs  []string `json:"recent_ids,omitempty"`
	EventCount uint64   `json:"event_count"`
}

// New returns the state of a shipment no event has touched.
func New(id event.ShipmentID) *Shipment {
	return &Shipment{ID: id, Status: StatusUndeclared}
}

// Deadline is the in-bond deadline, zero before a manifest.
func (s *Shipment) Deadline() time.Time {
	if s.Manifest == nil {
		return time.Time{}
	}
	return s.Manifest.Deadline
}

// Outcome says what Apply did with an event.
type Outcome int

// Outcomes of Apply.
const (
	Applied   Outcome = iota // the event changed the state
	Duplicate                // already applied (same ID or a device sequence not above the last)
)

// Apply applies one canonical event to s in place and says whether it was new.
// It is a pure function of (s, e): the same events in the same order give the
// same state, byte for byte once encoded, which the exactly-once guarantee
// rests on; and events of different channels give the same state in any
// interleaving (see Shipment). An event of another shipment changes nothing
// and is an error.
func Apply(s *Shipment, e *event.Envelope) (Outcome, error) {
	if e.Subject != s.ID {
		return Duplicate, fmt.Errorf("state: event %s of shipment %s applied to shipment %s", e.ID, e.Subject, s.ID)
	}
	if isDuplicate(s, e) {
		return Duplicate, nil
	}
	s.EventCount++
	if e.Kind() == event.KindCommand {
		return Applied, nil // people's actions change the alerts, not the movement (nor its times)
	}
	if s.FirstEventAt.IsZero() || e.Time.Before(s.FirstEventAt) || (e.Time.Equal(s.FirstEventAt) && e.Carrier < s.FirstCarrier) {
		s.FirstCarrier = e.Carrier
	}
	if s.FirstEventAt.IsZero() || e.Time.Before(s.FirstEventAt) {
		s.FirstEventAt = e.Time
	}
	if e.Time.After(s.LastEventAt) {
		s.LastEventAt = e.Time
	}
	if e.Kind() == event.KindTelemetry && e.Time.After(s.LastTelemetry) {
		s.LastTelemetry = e.Time
	}
	switch d := e.Data.(type) {
	case *event.Manifest:
		// An amendment replaces what it amends: the latest manifest rules.
		if s.Manifest == nil || e.Time.After(s.ManifestAt) || (e.Time.Equal(s.ManifestAt) && e.ID > s.ManifestID) {
			s.Manifest, s.ManifestAt, s.ManifestID = d, e.Time, e.ID
		}
	case *event.Position:
		p := &Position{Lat: d.Lat, Lon: d.Lon, SpeedKmh: d.SpeedKmh, At: e.Time}
		if s.Position == nil || later(p.At, s.Position.At, func() bool { return positionAfter(p, s.Position) }) {
			s.Position = p
		}
	case *event.MeterReading:
		applyMeter(s, d, e.Time)
	case *event.QualityReading:
		applyQuality(s, d)
	case *event.SealState:
		r := &Seal{ID: d.Seal, State: d.State, Since: e.Time}
		if s.Seal == nil || later(r.Since, s.Seal.Since, func() bool { return r.State > s.Seal.State || (r.State == s.Seal.State && r.ID > s.Seal.ID) }) {
			s.Seal = r
		}
	case *event.Departed:
		s.DepartedAt = earliest(s.DepartedAt, e.Time)
	case *event.BorderCrossed:
		s.CrossedAt = earliest(s.CrossedAt, e.Time)
	case *event.DiversionRequested:
		s.DiversionAsk = latestMilestone(s.DiversionAsk, Milestone{Port: d.To, At: e.Time})
	case *event.DiversionApproved:
		s.Diversion = latestMilestone(s.Diversion, Milestone{Port: d.To, At: e.Time})
	case *event.Arrived:
		s.Arrival = earliestMilestone(s.Arrival, Milestone{Port: d.Port, At: e.Time})
	case *event.Transferred:
		t := Transfer{To: d.ToCarrier, At: e.Time}
		i, _ := slices.BinarySearchFunc(s.Transfers, t, compareTransfers)
		s.Transfers = slices.Insert(s.Transfers, i, t)
	case *event.Exported:
		s.Export = earliestMilestone(s.Export, Milestone{Port: d.Port, At: e.Time})
	case *event.Delivered:
		dl := Delivery{Ticket: d.Ticket, Gross: d.Gross, Net: d.Net, Unit: string(d.Unit)}
		i, _ := slices.BinarySearchFunc(s.Delivery, dl, compareDeliveries)
		s.Delivery = slices.Insert(s.Delivery, i, dl)
	}
	s.derive()
	return Applied, nil
}

// derive recomputes the fields that follow from the facts.
func (s *Shipment) derive() {
	s.Carrier = s.FirstCarrier
	s.Destination = ""
	if s.Manifest != nil {
		s.Carrier, s.Destination = s.Manifest.Carrier.SCAC, s.Manifest.DestinationPort
	}
	if s.Diversion != nil {
		s.Destination = s.Diversion.Port
	}
	s.PendingDiversion = ""
	if r := s.DiversionAsk; r != nil && (s.Diversion == nil || r.At.After(s.Diversion.At)) {
		s.PendingDiversion = r.Port
	}
	s.ArrivalPort, s.ExportPort, s.ArrivedAt = "", "", time.Time{}
	if s.Arrival != nil {
		s.ArrivalPort, s.ArrivedAt = s.Arrival.Port, s.Arrival.At
	}
	if s.Export != nil {
		s.ExportPort = s.Export.Port
	}
	s.Status = s.status()
}

// status is the furthest status the facts reach: a status only ever moves
// forward, whatever order carriers report milestones in.
func (s *Shipment) status() Status {
	switch {
	case s.Export != nil:
		return StatusExported
	case len(s.Delivery) > 0 && s.Manifest != nil && s.Manifest.EntryType == event.EntryIT:
		return StatusConcluded
	case !s.ArrivedAt.IsZero():
		return StatusArrived
	case s.Diversion != nil:
		return StatusDiverted
	case !s.DepartedAt.IsZero() || !s.CrossedAt.IsZero():
		return StatusInTransit
	case s.Manifest != nil:
		return StatusDeclared
	}
	return StatusUndeclared
}

// later reports whether a fact observed at a supersedes one observed at b;
// tie decides equal times, so the outcome never depends on arrival order.
func later(a, b time.Time, tie func() bool) bool {
	return a.After(b) || (a.Equal(b) && tie())
}

func positionAfter(a, b *Position) bool {
	return a.Lat > b.Lat || (a.Lat == b.Lat && (a.Lon > b.Lon || (a.Lon == b.Lon && a.SpeedKmh > b.SpeedKmh)))
}

func earliest(have, t time.Time) time.Time {
	if have.IsZero() || t.Before(have) {
		return t
	}
	return have
}

func earliestMilestone(have *Milestone, m Milestone) *Milestone {
	if have == nil || m.At.Before(have.At) || (m.At.Equal(have.At) && m.Port < have.Port) {
		return &m
	}
	return have
}

func latestMilestone(have *Milestone, m Milestone) *Milestone {
	if have == nil || later(m.At, have.At, func() bool { return m.Port > have.Port }) {
		return &m
	}
	return have
}

func compareTransfers(a, b Transfer) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return strings.Compare(string(a.To), string(b.To))
}

func compareDeliveries(a, b Delivery) int {
	return cmp.Or(strings.Compare(a.Ticket, b.Ticket), cmp.Compare(a.Net, b.Net), cmp.Compare(a.Gross, b.Gross), strings.Compare(a.Unit, b.Unit))
}

// isDuplicate checks and records e's identity: a numbered device event by its
// sequence, anything else by its ID.
func isDuplicate(s *Shipment, e *event.Envelope) bool {
	if e.Device != "" && e.Sequence != 0 {
		device := string(e.Carrier) + "/" + string(e.Device)
		if e.Sequence <= s.DeviceSeq[device] {
			return true
		}
		if s.DeviceSeq == nil {
			s.DeviceSeq = make(map[string]uint64)
		}
		s.DeviceSeq[device] = e.Sequence
		return false
	}
	i, found := slices.BinarySearch(s.RecentIDs, e.ID)
	if found {
		return true
	}
	s.RecentIDs = slices.Insert(s.RecentIDs, i, e.ID)
	if len(s.RecentIDs) > MaxRememberedIDs {
		// Past the bound the smallest ID goes: which one is forgotten then
		// depends on the set, not on the order the events came in.
		s.RecentIDs = slices.Delete(s.RecentIDs, 0, len(s.RecentIDs)-MaxRememberedIDs)
	}
	return false
}

func applyMeter(s *Shipment, d *event.MeterReading, at time.Time) {
	if s.Meters == nil {
		s.Meters = make(map[event.MeterID]*Meter)
	}
	m := s.Meters[d.Meter]
	if m == nil {
		m = &Meter{}
		s.Meters[d.Meter] = m
	}
	m.Readings++
	// A totalizer never runs backwards, so at equal times the larger one is the later reading.
	if m.Readings == 1 || later(at, m.LastAt, func() bool { return d.Cumulative > m.Cumulative }) {
		m.Cumulative, m.FlowRate, m.Pressure, m.Temperature, m.Unit, m.LastAt =
			d.Cumulative, d.FlowRate, d.Pressure, d.Temperature, string(d.Unit), at
	}
}

// applyQuality weights a quality sample by the volume that passed its meter
// since that meter's previous sample, or by 1 when it names no meter. The
// sample's meter is its own: the manifest (which may not have arrived yet)
// is not needed to weigh it. A meter's readings and its analyzer's samples
// come from the same device stream, in order.
func applyQuality(s *Shipment, d *event.QualityReading) {
	q := &s.Quality
	w := 1.0
	if d.Meter != "" {
		if s.Meters == nil {
			s.Meters = make(map[event.MeterID]*Meter)
		}
		m := s.Meters[d.Meter]
		if m == nil {
			m = &Meter{}
			s.Meters[d.Meter] = m
		}
		switch {
		case m.Cumulative > m.Sampled:
			w = m.Cumulative - m.Sampled
			m.Sampled = m.Cumulative
		case q.Samples > 0:
			w = 0 // no new volume since the last sample: it re-measures the same product
		}
	}
	q.Samples++
	if w == 0 {
		return
	}
	q.Weight += w
	if d.APIGravity != nil {
		q.APIGravitySum += *d.APIGravity * w
	}
	if d.SulfurPct != nil {
		q.SulfurSum += *d.SulfurPct * w
	}
	if d.HeatingValue != nil {
		q.HeatingValueSum += *d.HeatingValue * w
	}
}
