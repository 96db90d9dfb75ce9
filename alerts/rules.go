// Package alerts flags deviations of in-bond movements for CBP officers. This
// file is its vocabulary: the rules' names, their severities and the limits
// they judge against, with DESIGN.md's defaults. The carrier simulator labels
// its injected deviations with these same names and crosses these same
// limits, so the simulator's ground truth and the rules can never drift
// apart.
//
// The rules (book.go, a file each) are pure functions of a shipment's state,
// its Watch and an event (Observe) or the passing of event time (Tick, when
// Due). Each fires just past its limit, never at it, and says in its
// message what, where, by how much and against which limit, with the values
// under Evidence.Values ("<name>" and "<name>_limit") and the events that
// show it.
//
//	route              a fix farther than RouteKm from the corridor's line; clears back within it
//	stop               stationary (≤ StationaryKmh) longer than StopMinutes outside the allowed
//	                   stop areas, on the fixes and by a timer; clears when moving
//	overdue            not arrived by the manifest's deadline (timer); stays open on a late arrival
//	late_report        arrival reported after ReportBusinessDays business days (federal holidays
//	                   not counted, calendar.go) of the arrival the telemetry shows (timer);
//	                   stays open
//	diversion          arrival at a port other than the destination in force; clears only when
//	                   later facts make that port the destination
//	imbalance          pipeline line balance over ImbalanceWindow a measured line fill apart, or
//	                   delivered net against the declared quantity; clears when it balances again
//	misclassification  volume-weighted API gravity across the 25° HTS line, gas under the
//	                   heating-value floor or over the contaminant ceilings; clears when back
//	pressure           a drop over PressureDropPct within PressureWindow at a meter, or the
//	                   meters' flows diverging by as much; clears when neither holds
//	seal               a seal broken or opened in transit; clears when it reports intact
//	gap                no telemetry from the registered devices for longer than GapMinutes in
//	                   transit (timer); clears when it resumes
//	identity           an unregistered device, or a carrier neither bonded nor a transferee;
//	                   clears when an amended manifest registers them
//	replay             a sequence number reused with another time or payload, or a clock ahead
//	                   of its receipt by more than FutureClock; stays open
//
// What stays open is a fact about the past (a deadline missed, a report
// late, a replay received): an officer resolves it with a command.
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
	GasMaxH2S          float64       `yaml:"gas_max_h2s"`           // grains per 100 scf, the tariff ceiling
	GasMaxCO2Pct       float64       `yaml:"gas_max_co2_pct"`       // mole %, the tariff ceiling
}

// DefaultThresholds are DESIGN.md's limits.
var DefaultThresholds = Thresholds{
	RouteKm: 5, StopMinutes: 30, ReportBusinessDays: 2, ImbalancePct: 0.5, ImbalanceWindow: 24 * time.Hour,
	PressureDropPct: 10, PressureWindow: 15 * time.Minute, GapMinutes: 60, FutureClock: 5 * time.Minute,
	GasMinHeatingValue: 967, GasMaxH2S: 0.25, GasMaxCO2Pct: 2,
}
