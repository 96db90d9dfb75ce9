// Package desk is what an officer's tools do with alerts: list and read them
// from the state store, and acknowledge or resolve them. An action is not
// written to the alert: it is a command put on inbond.events, keyed by the
// alert's shipment, which the partition's owner applies in order with the
// shipment's other events, exactly once, so the log is the audit trail. The
// CLI uses it now and the API will.
package desk

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/internal/bus"
	"github.com/inbond/inbond/state"
	"github.com/segmentio/kafka-go"
)

// Writer is where commands go: a kafka-go Writer with bus.NewWriter's settings.
type Writer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Desk reads alerts from Store and sends commands through Writer.
type Desk struct {
	Store      *state.Store
	Writer     Writer
	Partitions int              // of inbond.events (default bus.DefaultPartitions)
	Now        func() time.Time // default time.Now
}

// ErrNotFound is returned for an alert ID no partition holds.
var ErrNotFound = errors.New("desk: no such alert")

// Filter selects alerts; zero fields select everything.
type Filter struct {
	ActiveOnly bool
	Rule       alerts.Rule
	Shipment   event.ShipmentID
	Severity   alerts.Severity
}

func (f Filter) match(a *alerts.Alert) bool {
	return (!f.ActiveOnly || a.Active()) && (f.Rule == "" || a.Rule == f.Rule) &&
		(f.Shipment == "" || a.Shipment == f.Shipment) && (f.Severity == "" || a.Severity == f.Severity)
}

func (d *Desk) partitions() int { return cmp.Or(d.Partitions, bus.DefaultPartitions) }

// List returns the alerts f selects, newest first.
func (d *Desk) List(ctx context.Context, f Filter) ([]alerts.Alert, error) {
	set := alerts.AllSet
	if f.ActiveOnly {
		set = alerts.ActiveSet
	}
	var out []alerts.Alert
	for p := range d.partitions() {
		ids, err := d.Store.Members(ctx, p, set)
		if err != nil {
			return nil, err
		}
		as, err := d.load(ctx, p, ids)
		if err != nil {
			return nil, err
		}
		for i := range as {
			if f.match(&as[i]) {
				out = append(out, as[i])
			}
		}
	}
	slices.SortFunc(out, func(a, b alerts.Alert) int {
		return cmp.Or(b.OpenedAt.Compare(a.OpenedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// All returns every alert, active or resolved: what the DOE reports' in-bond
// summary counts (report.Source.Alerts).
func (d *Desk) All(ctx context.Context) ([]alerts.Alert, error) { return d.List(ctx, Filter{}) }

func (d *Desk) load(ctx context.Context, p int, ids []string) ([]alerts.Alert, error) {
	suffixes := make([]string, len(ids))
	for i, id := range ids {
		suffixes[i] = alerts.RecordSuffix(id)
	}
	recs, err := d.Store.LoadRecords(ctx, p, suffixes)
	if err != nil {
		return nil, err
	}
	out := make([]alerts.Alert, 0, len(recs))
	for i, b := range recs {
		if b == nil {
			continue
		}
		var a alerts.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("alert %s: %w", ids[i], err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Get returns alert id.
func (d *Desk) Get(ctx context.Context, id string) (alerts.Alert, error) {
	for p := range d.partitions() {
		as, err := d.load(ctx, p, []string{id})
		if err != nil {
			return alerts.Alert{}, err
		}
		if len(as) == 1 {
			return as[0], nil
		}
	}
	return alerts.Alert{}, fmt.Errorf("%w %q", ErrNotFound, id)
}

// Acknowledge sends the command that records by having seen alert id.
func (d *Desk) Acknowledge(ctx context.Context, id, by, note string) (*event.Envelope, error) {
	return d.command(ctx, id, event.ActionAcknowledge, by, note)
}

// Resolve sends the command that resolves alert id.
func (d *Desk) Resolve(ctx context.Context, id, by, note string) (*event.Envelope, error) {
	return d.command(ctx, id, event.ActionResolve, by, note)
}

// command validates and sends one command; it returns once Kafka has it
// (acks=all). The alert changes when the processor applies it.
func (d *Desk) command(ctx context.Context, id, action, by, note string) (*event.Envelope, error) {
	a, err := d.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !a.Active() {
		return nil, fmt.Errorf("desk: alert %s is resolved already", id)
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	c := &event.AlertCommand{Alert: id, Action: action, By: by, Note: note}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	at := now().UTC().Truncate(time.Microsecond)
	body, _ := json.Marshal(c)
	e := &event.Envelope{
		SpecVersion: event.SpecVersion, Type: event.TypeAlertCommand, Subject: a.Shipment, PartitionKey: a.Shipment,
		Time: at, ReceivedTime: at, DataContentType: event.ContentTypeJSON, Carrier: "CBP",
		Source: "urn:inbond:officer:" + by, Data: c,
	}
	e.ID = event.DeriveID(e.Carrier, e.Subject, "", 0, "command", append([]byte(at.Format(time.RFC3339Nano)), body...))
	b, err := event.Marshal(e)
	if err != nil {
		return nil, err
	}
	msg := kafka.Message{Topic: string(event.TopicEvents), Key: []byte(a.Shipment), Value: b,
		Headers: []kafka.Header{{Key: "content-type", Value: []byte("application/cloudevents+json")}}}
	if err := d.Writer.WriteMessages(ctx, msg); err != nil {
		return nil, fmt.Errorf("desk: send %s of %s: %w", action, id, err)
	}
	return e, nil
}
