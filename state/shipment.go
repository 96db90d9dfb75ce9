package state

import (
	"fmt"
	"slices"
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

// Meter is what a shipment knows about one meter station.
type Meter struct {
	Cumulative  float64   `json:"cumulative"` // totalizer, canonical unit
	FlowRate    float64   `json:"flow_rate"`
	Pressure    float64   `json:"pressure"`    // psig
	Temperature float64   `json:"temperature"` // °F
	Unit        string    `json:"unit"`
	Readings    uint64    `json:"readings"`
	LastAt      time.Time `json:"last_at"`
}

// Quality is the volume-weighted product quality measured so far. Each sum
// is a measured value times its weight: the volume that passed the entry
// meter since the previous quality reading, or 1 for conveyances, which
// report no volume.
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

// Position is the last known position of a conveyance.
type Position struct {
	Lat      float64   `json:"lat"`
	Lon      float64   `json:"lon"`
	SpeedKmh float64   `json:"speed_kmh"`
	At       time.Time `json:"at"`
}

// Seal is the last reported seal state.
type Seal struct {
	ID    string    `json:"id"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
}

// Delivery is a delivery ticket received at destination.
type Delivery struct {
	Ticket string  `json:"ticket"`
	Gross  float64 `json:"gross"`
	Net    float64 `json:"net"`
	Unit   string  `json:"unit"`
}

// MaxRememberedIDs bounds the IDs of unnumbered events a shipment remembers
// for deduplication. Unnumbered events are carrier milestones and manifests,
// a few dozen per movement, so a duplicate further back than this is not a
// realistic redelivery.
const MaxRememberedIDs = 1024

// Shipment is the live state of one in-bond movement. It is owned by the
// processor instance that owns the shipment's partition: one writer, so it
// needs no locking; readers get copies from Redis.
type Shipment struct {
	ID          event.ShipmentID `json:"id"`
	Carrier     event.CarrierID  `json:"carrier,omitempty"`
	Status      Status           `json:"status"`
	Manifest    *event.Manifest  `json:"manifest,omitempty"`
	Destination event.PortCode   `json:"destination,omitempty"` // current: the manifest's, or an approved diversion's
	// PendingDiversion is a requested, not yet approved, new destination.
	PendingDiversion event.PortCode    `json:"pending_diversion,omitempty"`
	ArrivalPort      event.PortCode    `json:"arrival_port,omitempty"`
	ExportPort       event.PortCode    `json:"export_port,omitempty"`
	TransferredTo    []event.CarrierID `json:"transferred_to,omitempty"`

	Position *Position                `json:"position,omitempty"`
	Meters   map[event.MeterID]*Meter `json:"meters,omitempty"`
	Quality  Quality                  `json:"quality"`
	Seal     *Seal                    `json:"seal,omitempty"`
	Delivery []Delivery               `json:"deliveries,omitempty"`

	FirstEventAt  time.Time `json:"first_event_at"`
	LastEventAt   time.Time `json:"last_event_at"`
	LastTelemetry time.Time `json:"last_telemetry,omitempty"`
	DepartedAt    time.Time `json:"departed_at,omitempty"`
	ArrivedAt     time.Time `json:"arrived_at,omitempty"`

	// DeviceSeq is the highest sequence number applied per device, keyed by
	// "carrier/device": device IDs are each carrier's own, so after a
	// transfer the new carrier's GPS-1 is another device than the old one's.
	DeviceSeq map[string]uint64 `json:"device_seq,omitempty"`
	// RecentIDs are the IDs of applied unnumbered events, oldest first.
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
// same state, byte for byte once encoded, which the exactly-once guarantee rests on.
// An event of another shipment changes nothing and is an error.
func Apply(s *Shipment, e *event.Envelope) (Outcome, error) {
	if e.Subject != s.ID {
		return Duplicate, fmt.Errorf("state: event %s of shipment %s applied to shipment %s", e.ID, e.Subject, s.ID)
	}
	if isDuplicate(s, e) {
		return Duplicate, nil
	}
	s.EventCount++
	if s.FirstEventAt.IsZero() || e.Time.Before(s.FirstEventAt) {
		s.FirstEventAt = e.Time
	}
	if e.Time.After(s.LastEventAt) {
		s.LastEventAt = e.Time
	}
	if s.Carrier == "" {
		s.Carrier = e.Carrier
	}
	if e.Kind() == event.KindTelemetry && e.Time.After(s.LastTelemetry) {
		s.LastTelemetry = e.Time
	}
	switch d := e.Data.(type) {
	case *event.Manifest:
		s.Manifest = d
		s.Carrier = d.Carrier.SCAC
		if s.Destination == "" || s.Status.rank() < StatusDiverted.rank() {
			s.Destination = d.DestinationPort
		}
		s.advance(StatusDeclared)
	case *event.Position:
		if s.Position == nil || !e.Time.Before(s.Position.At) {
			s.Position = &Position{Lat: d.Lat, Lon: d.Lon, SpeedKmh: d.SpeedKmh, At: e.Time}
		}
	case *event.MeterReading:
		applyMeter(s, d, e.Time)
	case *event.QualityReading:
		applyQuality(s, d)
	case *event.SealState:
		if s.Seal == nil || s.Seal.State != d.State || s.Seal.ID != d.Seal {
			s.Seal = &Seal{ID: d.Seal, State: d.State, Since: e.Time}
		}
	case *event.Departed:
		if s.DepartedAt.IsZero() {
			s.DepartedAt = e.Time
		}
		s.advance(StatusInTransit)
	case *event.BorderCrossed:
		s.advance(StatusInTransit)
	case *event.DiversionRequested:
		s.PendingDiversion = d.To
	case *event.DiversionApproved:
		s.Destination, s.PendingDiversion = d.To, ""
		if s.Status.rank() <= StatusDiverted.rank() {
			s.Status = StatusDiverted
		}
	case *event.Arrived:
		if s.ArrivedAt.IsZero() {
			s.ArrivedAt, s.ArrivalPort = e.Time, d.Port
		}
		s.advance(StatusArrived)
	case *event.Transferred:
		s.TransferredTo = append(s.TransferredTo, d.ToCarrier)
	case *event.Exported:
		s.ExportPort = d.Port
		s.advance(StatusExported)
	case *event.Delivered:
		s.Delivery = append(s.Delivery, Delivery{Ticket: d.Ticket, Gross: d.Gross, Net: d.Net, Unit: string(d.Unit)})
		if s.Manifest != nil && s.Manifest.EntryType == event.EntryIT {
			s.advance(StatusConcluded)
		}
	}
	return Applied, nil
}

// advance moves the status forward, never back.
func (s *Shipment) advance(to Status) {
	if to.rank() > s.Status.rank() {
		s.Status = to
	}
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
	if slices.Contains(s.RecentIDs, e.ID) {
		return true
	}
	s.RecentIDs = append(s.RecentIDs, e.ID)
	if len(s.RecentIDs) > MaxRememberedIDs {
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
	if !at.Before(m.LastAt) {
		m.Cumulative, m.FlowRate, m.Pressure, m.Temperature, m.Unit, m.LastAt =
			d.Cumulative, d.FlowRate, d.Pressure, d.Temperature, string(d.Unit), at
	}
}

// applyQuality weights a quality sample by the volume that entered since the
// previous sample (entry meter), or by 1 where there is no meter.
func applyQuality(s *Shipment, d *event.QualityReading) {
	q := &s.Quality
	w := 1.0
	if s.Manifest != nil && s.Manifest.EntryMeter != "" {
		vol := 0.0
		if m := s.Meters[s.Manifest.EntryMeter]; m != nil {
			vol = m.Cumulative
		}
		base := q.Weight // the weights so far add up to the volume already sampled
		if vol > base {
			w = vol - base
		} else if q.Samples > 0 {
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
