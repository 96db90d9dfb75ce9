package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/alerts/desk"
	"github.com/inbond/inbond/event"
	"github.com/inbond/inbond/state"
	"github.com/redis/go-redis/v9"
)

// AlertPage is a page of alerts, newest first.
type AlertPage struct {
	Items      []alerts.Alert `json:"items" nullable:"false"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

type listAlertsInput struct {
	Status   string `query:"status" enum:"active,open,acknowledged,resolved" doc:"active is open or acknowledged; default every status"`
	Rule     string `query:"rule" enum:"route,stop,overdue,late_report,diversion,imbalance,misclassification,pressure,seal,gap,identity,replay"`
	Severity string `query:"severity" enum:"info,warning,critical"`
	Shipment string `query:"shipment"`
	Cursor   string `query:"cursor" doc:"next_cursor of the previous page"`
	Limit    int    `query:"limit" minimum:"1" maximum:"500" default:"50"`
}

type alertPageOutput struct{ Body AlertPage }

// CommandRequest is an officer's note on an acknowledgement or resolution.
type CommandRequest struct {
	Note string `json:"note" minLength:"1" maxLength:"4096" doc:"why: kept in the alert's audit trail"`
}

// CommandAccepted says the command is on the log: the alert changes when
// the shipment's partition owner applies it, in order with its events, and
// the transition then appears on the stream.
type CommandAccepted struct {
	Alert    string           `json:"alert"`
	Shipment event.ShipmentID `json:"shipment"`
	Action   string           `json:"action" enum:"acknowledge,resolve"`
	By       string           `json:"by"`
	Command  string           `json:"command" doc:"the command event's ID on inbond.events"`
	At       time.Time        `json:"at"`
}

type commandInput struct {
	ID   string `path:"id" doc:"alert ID"`
	Body CommandRequest
}

type commandOutput struct{ Body CommandAccepted }

func (s *Server) registerAlerts() {
	huma.Register(s.api, op(http.MethodGet, "/v1/alerts", "list-alerts", "List alerts",
		roles(roleCBP, roleCarrier), http.StatusBadRequest), s.listAlerts)
	for _, c := range []struct{ verb, action string }{{"ack", event.ActionAcknowledge}, {"resolve", event.ActionResolve}} {
		o := op(http.MethodPost, "/v1/alerts/{id}/"+c.verb, c.verb+"-alert", "Send an officer's "+c.action+" command for an alert",
			roles(roleCBP), http.StatusBadRequest, http.StatusNotFound, http.StatusConflict)
		o.DefaultStatus = http.StatusAccepted
		action := c.action
		huma.Register(s.api, o, func(ctx context.Context, in *commandInput) (*commandOutput, error) {
			return s.command(ctx, in, action)
		})
	}
}

// alertCursor orders alerts as sortAlerts does: opened_at descending, then ID.
func alertCursor(a alerts.Alert) string {
	return encodeCursor("a", a.OpenedAt.UTC().Format(time.RFC3339Nano)+"|"+a.ID)
}

func afterAlertCursor(c string, a alerts.Alert) (bool, *Error) {
	v, e := decodeCursor("a", c)
	if e != nil || v == "" {
		return true, e
	}
	ts, id, _ := strings.Cut(v, "|")
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return false, badField("cursor", c, event.RuleFormat, "not a cursor this list returned")
	}
	switch c := t.Compare(a.OpenedAt); {
	case c != 0:
		return c > 0, nil // older than the cursor comes after it
	default:
		return a.ID > id, nil
	}
}

func (s *Server) listAlerts(ctx context.Context, in *listAlertsInput) (*alertPageOutput, error) {
	if _, e := decodeCursor("a", in.Cursor); e != nil {
		return nil, e
	}
	set := alerts.AllSet
	if in.Status == "active" || in.Status == "open" || in.Status == "acknowledged" {
		set = alerts.ActiveSet
	}
	var parts []int
	if in.Shipment != "" {
		if err := event.ShipmentID(in.Shipment).Validate("shipment"); err != nil {
			return nil, invalid(err)
		}
		parts = []int{s.partitionOf(event.ShipmentID(in.Shipment))}
	}
	all, err := s.alertsIn(ctx, set, parts)
	if err != nil {
		return nil, err
	}
	f := desk.Filter{Rule: alerts.Rule(in.Rule), Severity: alerts.Severity(in.Severity), Shipment: event.ShipmentID(in.Shipment)}
	var sel []alerts.Alert
	for _, a := range all {
		switch {
		case f.Rule != "" && a.Rule != f.Rule, f.Severity != "" && a.Severity != f.Severity,
			f.Shipment != "" && a.Shipment != f.Shipment,
			in.Status == "open" && a.Status != alerts.StatusOpen,
			in.Status == "acknowledged" && a.Status != alerts.StatusAcknowledged,
			in.Status == "resolved" && a.Status != alerts.StatusResolved:
			continue
		}
		sel = append(sel, a)
	}
	if sel, err = s.ownedAlerts(ctx, identity(ctx), sel); err != nil {
		return nil, err
	}
	sortAlerts(sel)
	page := AlertPage{Items: []alerts.Alert{}}
	for _, a := range sel {
		if ok, _ := afterAlertCursor(in.Cursor, a); !ok {
			continue
		}
		if len(page.Items) == in.Limit {
			page.NextCursor = alertCursor(page.Items[len(page.Items)-1])
			break
		}
		page.Items = append(page.Items, a)
	}
	return &alertPageOutput{page}, nil
}

// ownedAlerts keeps the alerts of shipments a carrier owns (all for other
// roles): one pipelined read of those shipments.
func (s *Server) ownedAlerts(ctx context.Context, who Identity, as []alerts.Alert) ([]alerts.Alert, error) {
	if who.Kind != roleCarrier || len(as) == 0 {
		return as, nil
	}
	pipe := s.cfg.Redis.Pipeline()
	gets := map[event.ShipmentID]*redis.StringCmd{}
	for _, a := range as {
		if gets[a.Shipment] == nil {
			gets[a.Shipment] = pipe.Get(ctx, s.cfg.Store.ShipmentKey(s.partitionOf(a.Shipment), a.Shipment))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	mine := map[event.ShipmentID]bool{}
	for id, g := range gets {
		if b, err := g.Bytes(); err == nil {
			if sh, err := state.Decode(b); err == nil {
				mine[id] = owns(who, sh)
			}
		}
	}
	out := as[:0:0]
	for _, a := range as {
		if mine[a.Shipment] {
			out = append(out, a)
		}
	}
	return out, nil
}

// command sends an officer's command through alerts/desk: onto
// inbond.events keyed by the alert's shipment, acknowledged by Kafka
// (acks=all) before the answer, recorded under the token's name.
func (s *Server) command(ctx context.Context, in *commandInput, action string) (*commandOutput, error) {
	who := identity(ctx)
	send := s.desk.Acknowledge
	if action == event.ActionResolve {
		send = s.desk.Resolve
	}
	e, err := send(ctx, in.ID, who.Name, in.Body.Note)
	var fe *event.FieldError
	switch {
	case errors.Is(err, desk.ErrNotFound):
		return nil, fail(http.StatusNotFound, "no alert %q", in.ID)
	case err != nil && strings.Contains(err.Error(), "resolved already"):
		return nil, fail(http.StatusConflict, "alert %s is resolved already", in.ID)
	case errors.As(err, &fe):
		return nil, invalid(err)
	case err != nil:
		return nil, fail(http.StatusServiceUnavailable, "%v", err)
	}
	return &commandOutput{Body: CommandAccepted{Alert: in.ID, Shipment: e.Subject, Action: action,
		By: who.Name, Command: e.ID, At: e.Time}}, nil
}
