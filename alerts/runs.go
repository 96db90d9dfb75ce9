package alerts

// Runs reports whether the engine has rule r in its book.
func Runs(r Rule) bool {
	for _, s := range ruleBook {
		if s.rule == r {
			return true
		}
	}
	return false
}
