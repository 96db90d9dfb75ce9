package alerts

// ruleBook is every rule the engine runs, in DESIGN.md's order.
var ruleBook = []ruleSpec{
	{rule: RuleSeal, onEvent: sealRule},
}
