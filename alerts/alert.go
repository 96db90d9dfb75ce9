package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/inbond/inbond/event"
)

// Status is where an alert is in its life: open → acknowledged → resolved.
type Status string

// Alert statuses.
const (
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged" // an officer is on it; still open for dedup
	StatusResolved     Status = "resolved"
)

// System is who makes the transitions rules make (as opposed to officers).
const System = "inbond"

// Evidence is what an alert rests on: the events that showed it and the
// measured values against their limits.
type Evidence struct {
	EventIDs []string `json:"event_ids,omitempty"`
	// Values are the measurements, by name (km_off_corridor, shortfall_pct…),
	// with the limit each was judged against under the same name + "_limit".
	Values map[string]float64 `json:"values,omitempty"`
	Port   event.PortCode     `json:"port,omitempty"`
	Meter  event.MeterID      `json:"meter,omitempty"`
	Device event.DeviceID     `json:"device,omitempty"`
	Lat    *float64           `json:"lat,omitempty"`
	Lon    *float64           `json:"lon,omitempty"`
}

// Change is one step of an alert's audit trail.
type Change struct {
	Seq     int       `json:"seq"` // 1 for the opening, then counting
	Status  Status    `json:"status"`
	At      time.Time `json:"at"` // event time
	By      string    `json:"by"` // System, or the officer
	Note    string    `json:"note,omitempty"`
	Message string    `json:"message,omitempty"`
}

// Alert is a deviation flagged on a shipment. At most one alert per
// (shipment, rule) is not resolved at a time.
type Alert struct {
	ID       string           `json:"id"`
	Shipment event.ShipmentID `json:"shipment"`
	Rule     Rule             `json:"rule"`
	Severity Severity         `json:"severity"`
	Status   Status           `json:"status"`
	// Trigger is what first showed the deviation: an event ID, or the timer
	// that fired. With the shipment and rule it makes the ID.
	Trigger    string    `json:"trigger"`
	OpenedAt   time.Time `json:"opened_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	Message    string    `json:"message"`
	Evidence   Evidence  `json:"evidence"`
	History    []Change  `json:"history"`
}

// AlertID is the deterministic ID of the alert a rule opens on a shipment
// for a trigger: a replay of the log opens the same alert, never a second.
func AlertID(shipment event.ShipmentID, rule Rule, trigger string) string {
	h := sha256.New()
	fmt.Fprintf(h, "alert\x00%s\x00%s\x00%s", shipment, rule, trigger)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// Open returns a new open alert.
func Open(shipment event.ShipmentID, rule Rule, severity Severity, trigger string, at time.Time, message string, ev Evidence) *Alert {
	a := &Alert{
		ID: AlertID(shipment, rule, trigger), Shipment: shipment, Rule: rule, Severity: severity, Status: StatusOpen,
		Trigger: trigger, OpenedAt: at, UpdatedAt: at, Message: message, Evidence: ev,
	}
	a.record(StatusOpen, at, System, "", message)
	return a
}

func (a *Alert) record(st Status, at time.Time, by, note, message string) Change {
	c := Change{Seq: len(a.History) + 1, Status: st, At: at, By: by, Note: note, Message: message}
	a.History = append(a.History, c)
	a.UpdatedAt = at
	return c
}

// Active reports whether the alert is not resolved.
func (a *Alert) Active() bool { return a.Status != StatusResolved }

// Acknowledge records that by has seen the alert. It is an error on a
// resolved alert.
func (a *Alert) Acknowledge(at time.Time, by, note string) (Change, error) {
	if !a.Active() {
		return Change{}, fmt.Errorf("alert %s is resolved", a.ID)
	}
	a.Status = StatusAcknowledged
	return a.record(StatusAcknowledged, at, by, note, ""), nil
}

// Resolve closes the alert: by System when the condition cleared, or by an
// officer. It is an error on a resolved alert.
func (a *Alert) Resolve(at time.Time, by, note string) (Change, error) {
	if !a.Active() {
		return Change{}, fmt.Errorf("alert %s is resolved already", a.ID)
	}
	a.Status, a.ResolvedAt = StatusResolved, at
	return a.record(StatusResolved, at, by, note, ""), nil
}
