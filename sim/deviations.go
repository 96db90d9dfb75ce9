package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/inbond/inbond/alerts"
	"github.com/inbond/inbond/event"
)

// RuleMalformed is the deviation that is no alert rule: a message the
// gateways must dead-letter. Every other deviation the simulator injects is
// named by the alert rule it must raise.
const RuleMalformed alerts.Rule = "malformed"

// Rules lists every injectable deviation: the alert rules and RuleMalformed.
var Rules = append(slices.Clone(alerts.Rules), RuleMalformed)

// appliesTo reports whether deviation r can be injected into a movement of mode.
func appliesTo(r alerts.Rule, mode event.Mode) bool {
	switch r {
	case alerts.RuleRoute, alerts.RuleStop, alerts.RuleSeal, alerts.RuleDiversion:
		return mode.Conveyance()
	case alerts.RulePressure:
		return mode == event.ModePipeline
	}
	return true
}

// ParseRules parses a comma-separated list such as "seal,imbalance".
func ParseRules(s string) ([]alerts.Rule, error) {
	var out []alerts.Rule
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		r := alerts.Rule(part)
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

func joinRules(rs []alerts.Rule) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// Label is one line of the ground-truth file the simulator writes beside
// its traffic: an injected deviation (Kind "deviation": the shipment, the
// rule, when it begins and the values that make it one), or the expected
// outcome of a clean shipment (Kind "expected": final status and volumes).
type Label struct {
	Kind     string           `json:"kind"`
	Shipment event.ShipmentID `json:"shipment"`
	Rule     alerts.Rule      `json:"rule,omitempty"`
	Begins   time.Time        `json:"begins,omitzero"`
	Values   map[string]any   `json:"values"`
}
