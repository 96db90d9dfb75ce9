package alerts

import (
	"encoding/json"
	"time"

	"github.com/inbond/inbond/event"
)

// Source is the CloudEvents source of every alert transition.
const Source = "urn:inbond:processor:alerts"

// TypePrefix starts the CloudEvents type of a transition; the status and
// the version follow: gov.cbp.inbond.alert.opened.v1, ….updated.v1,
// ….acknowledged.v1, ….resolved.v1.
const TypePrefix = "gov.cbp.inbond.alert."

// TransitionEvent is a transition as published on inbond.alerts: a
// structured-mode CloudEvent whose data is the alert after the change.
type TransitionEvent struct {
	SpecVersion     string           `json:"specversion"`
	ID              string           `json:"id"` // Transition.ID: consumers deduplicate by it
	Source          string           `json:"source"`
	Type            string           `json:"type"`
	Subject         event.ShipmentID `json:"subject"`
	Time            time.Time        `json:"time"`
	DataContentType string           `json:"datacontenttype"`
	PartitionKey    event.ShipmentID `json:"partitionkey"`
	Change          Change           `json:"change"`
	Data            Alert            `json:"data"`
}

// verb is the word of a change in the event type.
func (c Change) verb() string {
	switch {
	case c.Seq == 1:
		return "opened"
	case c.Status == StatusResolved:
		return "resolved"
	case c.Status == StatusAcknowledged && c.By != System:
		return "acknowledged"
	}
	return "updated"
}

// Marshal encodes t as its CloudEvent.
func (t Transition) Marshal() ([]byte, error) {
	return json.Marshal(TransitionEvent{
		SpecVersion: event.SpecVersion, ID: t.ID(), Source: Source, Type: TypePrefix + t.Change.verb() + ".v1",
		Subject: t.Alert.Shipment, Time: t.Change.At.UTC(), DataContentType: event.ContentTypeJSON,
		PartitionKey: t.Alert.Shipment, Change: t.Change, Data: t.Alert,
	})
}
