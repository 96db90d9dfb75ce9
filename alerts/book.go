package alerts

// ruleBook is every rule the engine runs, in DESIGN.md's order. The
// memory several rules share (when the devices were last heard, the meter
// tracks, the physical arrival) is updated before any of them runs
// (judge.track), so the order of the rules does not matter.
var ruleBook = []ruleSpec{
	{rule: RuleRoute, onEvent: routeRule},
	{rule: RuleStop, onEvent: stopRule, onTick: stopTick, due: stopDue},
	{rule: RuleOverdue, onEvent: overdueRule, onTick: overdueTick, due: overdueDue},
	{rule: RuleLateReport, onEvent: lateReportRule, onTick: lateReportTick, due: lateReportDue},
	{rule: RuleDiversion, onEvent: diversionRule},
	{rule: RuleImbalance, onEvent: imbalanceRule},
	{rule: RuleMisclassification, onEvent: misclassificationRule},
	{rule: RulePressure, onEvent: pressureRule},
	{rule: RuleSeal, onEvent: sealRule},
	{rule: RuleGap, onEvent: gapRule, onTick: gapTick, due: gapDue},
	{rule: RuleIdentity, onEvent: identityRule},
	{rule: RuleReplay, onEvent: replayRule},
}
