package event

// The actions of an AlertCommand.
const (
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
)

// AlertCommand is an officer's action on an alert: acknowledging it (it
// stays open) or resolving it, with a note for the audit trail. It travels
// on inbond.events keyed by the alert's shipment, so the partition's owner
// applies it in order with the shipment's other events, exactly once, and
// the log itself is the audit trail.
type AlertCommand struct {
	Alert  string `json:"alert"`  // the alert's ID
	Action string `json:"action"` // acknowledge or resolve
	By     string `json:"by"`     // the officer
	Note   string `json:"note,omitempty"`
}

// EventType implements Payload.
func (*AlertCommand) EventType() Type { return TypeAlertCommand }

// Validate implements Payload.
func (c *AlertCommand) Validate() error {
	var e errs
	if c.Alert == "" {
		e.add(missing("alert"))
	}
	switch c.Action {
	case ActionAcknowledge, ActionResolve:
	case "":
		e.add(missing("action"))
	default:
		e.add(invalid("action", c.Action, RuleFormat, "want acknowledge or resolve"))
	}
	if c.By == "" {
		e.add(missing("by"))
	}
	if len(c.Note) > 4096 {
		e.add(invalid("note", len(c.Note), RuleRange, "at most 4096 bytes"))
	}
	return e.join()
}
