// Package alerts flags deviations of in-bond movements for CBP officers. This
// file is its vocabulary: the rules' names, their severities and the limits
// they judge against, with DESIGN.md's defaults. The carrier simulator labels
// its injected deviations with these same names and crosses these same
// limits, so the simulator's ground truth and the rules can never drift
// apart.
package alerts

import (
	"fmt"
	"strings"
	"time"
)

// Rule names a deviation rule. Names are stable: they appear in alert IDs,
// in inbond.alerts, in the simulator's labels and in operators' filters.
type Rule string

// The deviation rules of DESIGN.md.
const (
	RuleRoute             Rule = "route"             // a conveyance outside its declared corridor
	RuleStop              Rule = "stop"              // stationary too long outside an allowed stop area
	RuleOverdue           Rule = "overdue"           // not arrived by the in-bond deadline
	RuleLateReport        Rule = "late_report"       // arrival reported after the business days allowed
	RuleDiversion         Rule = "diversion"         // arrival at another port without an approved diversion
	RuleImbalance         Rule = "imbalance"         // exit below entry (pipeline), delivered below loaded (conveyance)
	RuleMisclassification Rule = "misclassification" // measured quality on the other side of the declared HTS line
	RulePressure          Rule = "pressure"          // sudden pressure drop or flow divergence at a meter
	RuleSeal              Rule = "seal"              // seal broken or door opened in transit
	RuleGap               Rule = "gap"               // no telemetry for too long in transit
	RuleIdentity          Rule = "identity"          // an unregistered device, or a carrier neither bonded nor a transferee
	RuleReplay            Rule = "replay"            // a device sequence reused or skipped, a clock far ahead
)

// Rules lists every rule, in DESIGN.md's order.
var Rules = []Rule{RuleRoute, RuleStop, RuleOverdue, RuleLateReport, RuleDiversion, RuleImbalance,
	RuleMisclassification, RulePressure, RuleSeal, RuleGap, RuleIdentity, RuleReplay}

// ParseRule returns the rule named s.
func ParseRule(s string) (Rule, error) {
	for _, r := range Rules {
		if string(r) == s {
			return r, nil
		}
	}
	names := make([]string, len(Rules))
	for i, r := range Rules {
		names[i] = string(r)
	}
	return "", fmt.Errorf("unknown rule %q (known: %s)", s, strings.Join(names, ", "))
}

// Severity is how urgently an officer should look at an alert.
type Severity string

// Severities, least urgent first.
const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// DefaultSeverity is each rule's severity unless the configuration says
// otherwise: critical where goods may have left customs control.
var DefaultSeverity = map[Rule]Severity{
	RuleRoute: SeverityWarning, RuleStop: SeverityWarning, RuleOverdue: SeverityCritical,
	RuleLateReport: SeverityWarning, RuleDiversion: SeverityCritical, RuleImbalance: SeverityCritical,
	RuleMisclassification: SeverityWarning, RulePressure: SeverityCritical, RuleSeal: SeverityCritical,
	RuleGap: SeverityWarning, RuleIdentity: SeverityCritical, RuleReplay: SeverityWarning,
}

// Thresholds are the limits the rules judge against. A rule fires just past
// its limit, never at it.
type Thresholds struct {
	RouteKm            float64       `yaml:"route_km"`             // farther than this from the declared corridor
	StopMinutes        float64       `yaml:"stop_minutes"`         // stationary longer than this outside a stop area
	ReportBusinessDays int           `yaml:"report_business_days"` // arrival must be reported within this many business days
	ImbalancePct       float64       `yaml:"imbalance_pct"`        // exit vs entry (or delivered vs loaded) off by more than this
	ImbalanceWindow    time.Duration `yaml:"imbalance_window"`     // the line-balance window of a pipeline
	PressureDropPct    float64       `yaml:"pressure_drop_pct"`    // a drop larger than this within PressureWindow
	PressureWindow     time.Duration `yaml:"pressure_window"`
	GapMinutes         float64       `yaml:"gap_minutes"`           // no telemetry for longer than this in transit
	FutureClock        time.Duration `yaml:"future_clock"`          // an event time ahead of its receipt by more than this
	GasMinHeatingValue float64       `yaml:"gas_min_heating_value"` // Btu/scf, the FERC tariff floor
}

// DefaultThresholds are DESIGN.md's limits.
var DefaultThresholds = Thresholds{
	RouteKm: 5, StopMinutes: 30, ReportBusinessDays: 2, ImbalancePct: 0.5, ImbalanceWindow: 24 * time.Hour,
	PressureDropPct: 10, PressureWindow: 15 * time.Minute, GapMinutes: 60, FutureClock: 5 * time.Minute,
	GasMinHeatingValue: 967,
}
