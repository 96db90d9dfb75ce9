package alerts

import (
	"fmt"

	"github.com/inbond/inbond/event"
)

// Command applies an officer's command to the shipment's alert it names: an
// acknowledgement keeps it active, a resolution ends it. The change is
// stamped with the command's time and recorded with the officer and the
// note. A command for an alert that is not active (unknown, resolved
// already) changes nothing and returns an error saying so, which the
// processor logs: the log keeps the command either way.
func (w *Watch) Command(e *event.Envelope, c *event.AlertCommand) ([]Transition, error) {
	for rule, a := range w.Active {
		if a.ID != c.Alert {
			continue
		}
		var ch Change
		var err error
		if c.Action == event.ActionResolve {
			ch, err = a.Resolve(e.Time, c.By, c.Note)
			delete(w.Active, rule)
		} else {
			ch, err = a.Acknowledge(e.Time, c.By, c.Note)
		}
		if err != nil {
			return nil, err
		}
		return []Transition{{Alert: *a, Change: ch}}, nil
	}
	return nil, fmt.Errorf("alerts: %s of alert %s on %s: no such active alert", c.Action, c.Alert, w.Shipment)
}
