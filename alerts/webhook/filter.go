package webhook

import (
	"slices"

	"github.com/inbond/inbond/alerts"
)

// severityRank orders the severities the sink knows, least urgent first.
var severityRank = map[alerts.Severity]int{
	alerts.SeverityInfo: 0, alerts.SeverityWarning: 1, alerts.SeverityCritical: 2,
}

// Matches reports whether the target wants an alert of rule and severity.
// A severity the sink does not know passes every min_severity: an alert is
// better delivered than lost to a new word.
func (t *Target) Matches(rule alerts.Rule, severity alerts.Severity) bool {
	if len(t.Rules) > 0 && !slices.Contains(t.Rules, rule) {
		return false
	}
	rank, known := severityRank[severity]
	return !known || rank >= severityRank[t.MinSeverity]
}
