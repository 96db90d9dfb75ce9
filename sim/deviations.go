package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/inbond/inbond/event"
)

// Rule names a deviation the simulator can inject, one per deviation rule of
// DESIGN.md (plus malformed input, which the gateways must dead-letter).
type Rule string

// The injectable deviations.
const (
	RuleRoute             Rule = "route"             // conveyance leaves its corridor
	RuleStop              Rule = "stop"              // stationary outside an allowed stop area
	RuleOverdue           Rule = "overdue"           // not arrived by the in-bond deadline
	RuleLateReport        Rule = "late_report"       // arrival reported after 2 business days
	RuleDiversion         Rule = "diversion"         // arrives at another port, no approved diversion
	RuleImbalance         Rule = "imbalance"         // exit below entry (pipeline offtake) or short delivery
	RuleMisclassification Rule = "misclassification" // measured quality on the other side of the declared HTS line
	RulePressure          Rule = "pressure"          // sudden pressure drop at a meter
	RuleSeal              Rule = "seal"              // seal broken in transit
	RuleGap               Rule = "gap"               // no telemetry while in transit
	RuleIdentity          Rule = "identity"          // unregistered device, carrier not the bonded one
	RuleReplay            Rule = "replay"            // a device sequence number reused, a clock far ahead
	RuleMalformed         Rule = "malformed"         // a message the gateways must dead-letter
)

// Rules lists every injectable deviation.
var Rules = []Rule{RuleRoute, RuleStop, RuleOverdue, RuleLateReport, RuleDiversion, RuleImbalance,
	RuleMisclassification, RulePressure, RuleSeal, RuleGap, RuleIdentity, RuleReplay, RuleMalformed}

// AppliesTo reports whether r can be injected into a movement by mode of product.
func (r Rule) AppliesTo(mode event.Mode, _ event.Product) bool {
	switch r {
	case RuleRoute, RuleStop, RuleSeal, RuleDiversion:
		return mode.Conveyance()
	case RulePressure:
		return mode == event.ModePipeline
	}
	return true
}

// ParseRules parses a comma-separated list such as "seal,imbalance".
func ParseRules(s string) ([]Rule, error) {
	var out []Rule
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r := Rule(part)
		found := false
		for _, k := range Rules {
			found = found || k == r
		}
		if !found {
			return nil, fmt.Errorf("unknown deviation %q (known: %s)", part, joinRules(Rules))
		}
		out = append(out, r)
	}
	return out, nil
}

func joinRules(rs []Rule) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Thresholds are the limits an injected deviation is made to cross. They are
// DESIGN.md's rule table with the defaults the alerts will use; every
// deviation label states the threshold it crosses.
type Thresholds struct {
	RouteKm            float64       // farther than this from the corridor
	StopMinutes        float64       // stationary longer than this outside a stop area
	ReportBusinessDays int           // arrival must be reported within this
	ImbalancePct       float64       // exit vs entry over ImbalanceWindow
	ImbalanceWindow    time.Duration //
	PressureDropPct    float64       // drop within PressureWindow
	PressureWindow     time.Duration //
	GapMinutes         float64       // no telemetry for longer than this in transit
	FutureClock        time.Duration // event time ahead of receipt by more than this
	GasMinHeatingValue float64       // Btu/scf, FERC tariff floor
}

// DefaultThresholds are the values the simulator's deviations cross.
var DefaultThresholds = Thresholds{
	RouteKm: 5, StopMinutes: 30, ReportBusinessDays: 2, ImbalancePct: 0.5, ImbalanceWindow: 24 * time.Hour,
	PressureDropPct: 10, PressureWindow: 15 * time.Minute, GapMinutes: 60, FutureClock: 5 * time.Minute,
	GasMinHeatingValue: 967,
}

// Label is one line of the ground-truth file the simulator writes beside
// its traffic: an injected deviation (Kind "deviation": the shipment, the
// rule, when it begins and the values that make it one), or the expected
// outcome of a clean shipment (Kind "expected": final status and volumes).
type Label struct {
	Kind     string           `json:"kind"`
	Shipment event.ShipmentID `json:"shipment"`
	Rule     Rule             `json:"rule,omitempty"`
	Begins   time.Time        `json:"begins,omitzero"`
	Values   map[string]any   `json:"values"`
}

// addBusinessDays adds n working days (Monday–Friday) to t.
func addBusinessDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}
