package event

import (
	"errors"
	"fmt"
)

// Rule names the kind of check a value failed. Ingest maps rules to the reason
// codes of dead-letter records, so they are part of the wire contract.
type Rule string

// The rules a FieldError can name.
const (
	RuleRequired Rule = "required" // the field is missing or empty
	RuleFormat   Rule = "format"   // the value does not have the expected shape
	RuleRange    Rule = "range"    // a number or time outside its allowed range
	RuleOneOf    Rule = "one_of"   // a value outside a closed set (modes, products…)
	RuleUnit     Rule = "unit"     // a unit of measure we cannot convert
	RuleConsist  Rule = "consistency"
	RuleUnknown  Rule = "unknown_field" // a member name not in the schema (names are case-sensitive)
	// RuleDuplicate is a member name that appears twice in one object, which
	// I-JSON (RFC 7493) forbids: readers disagree on which one counts.
	RuleDuplicate Rule = "duplicate"
)

// FieldError says precisely why a value was refused: which field, what value,
// which rule and, in words, what would have been accepted.
type FieldError struct {
	Field  string
	Value  any
	Rule   Rule
	Detail string
}

// Error renders "field (value): rule: detail", e.g.
// `data.unit ("gal"): unit: want one of bbl, m3, mcf, e3m3`.
func (e *FieldError) Error() string {
	if e.Value == nil {
		return fmt.Sprintf("%s: %s: %s", e.Field, e.Rule, e.Detail)
	}
	return fmt.Sprintf("%s (%#v): %s: %s", e.Field, e.Value, e.Rule, e.Detail)
}

// FirstRule returns the rule of the first FieldError found in err (which may be
// a join of several), or "" when err holds none.
func FirstRule(err error) Rule {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Rule
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if r := FirstRule(e); r != "" {
				return r
			}
		}
	}
	return ""
}

func missing(field string) error {
	return &FieldError{Field: field, Rule: RuleRequired, Detail: "must be present and non-empty"}
}

func invalid(field string, value any, rule Rule, detail string) error {
	return &FieldError{Field: field, Value: value, Rule: rule, Detail: detail}
}

// prefixed re-roots the field paths in err under prefix (e.g. "data").
func prefixed(prefix string, err error) error {
	return MapFields(err, func(f string) string { return prefix + "." + f })
}

// MapFields returns err with the field path of every *FieldError in it
// (joined errors included) replaced by path(field): how a caller re-roots
// the paths on the document it reports about. Other errors are kept as
// they are; a nil err stays nil.
func MapFields(err error, path func(string) string) error {
	if err == nil {
		return nil
	}
	var out []error
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *FieldError
		if errors.As(e, &fe) {
			c := *fe
			c.Field = path(fe.Field)
			out = append(out, &c)
			return
		}
		out = append(out, e)
	}
	walk(err)
	return errors.Join(out...)
}
