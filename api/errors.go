package api

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/inbond/inbond/event"
)

// Error is every error the API answers with: the status again, a message,
// and for bad input the first offending field, its value and the rule it
// broke (the rules of event.FieldError, which the gateways' dead letters
// name too), with every problem found in Problems.
type Error struct {
	Status   int       `json:"status"`
	Message  string    `json:"error"`
	Field    string    `json:"field,omitempty"`
	Value    any       `json:"value,omitempty"`
	Rule     string    `json:"rule,omitempty"`
	Problems []Problem `json:"problems,omitempty"`
}

// Problem is one field refused.
type Problem struct {
	Field  string `json:"field"`
	Value  any    `json:"value,omitempty"`
	Rule   string `json:"rule"`
	Detail string `json:"detail,omitempty"`
}

// Error implements error.
func (e *Error) Error() string { return e.Message }

// GetStatus implements huma.StatusError.
func (e *Error) GetStatus() int { return e.Status }

// ContentType keeps errors plain JSON rather than huma's problem+json: one
// shape for every client, the SSE one included.
func (e *Error) ContentType(string) string { return "application/json" }

var installErrors sync.Once

// useErrorModel makes huma build every error as an *Error. huma keeps it in
// a package variable; only this package uses huma in the binary. Its own
// validation errors (a query parameter of the wrong type, a body against
// the schema) come as 422: bad input is 400 here, with the field named.
func useErrorModel() {
	installErrors.Do(func() {
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			e := &Error{Status: status, Message: msg}
			for _, err := range errs {
				var d *huma.ErrorDetail
				if errors.As(err, &d) {
					e.Problems = append(e.Problems, problemOf(d))
				}
			}
			if status == http.StatusUnprocessableEntity {
				e.Status = http.StatusBadRequest
			}
			if len(e.Problems) > 0 {
				p := e.Problems[0]
				e.Field, e.Value, e.Rule = p.Field, p.Value, p.Rule
				e.Message = fmt.Sprintf("%s: %s: %s", p.Field, p.Rule, p.Detail)
			}
			return e
		}
	})
}

// problemOf names the field and rule of one of huma's validation errors:
// a body's missing or unknown property is reported on the body, with the
// property in the message.
func problemOf(d *huma.ErrorDetail) Problem {
	p := Problem{Field: fieldOf(d.Location), Value: d.Value, Rule: string(event.RuleFormat), Detail: d.Message}
	if m := requiredProperty.FindStringSubmatch(d.Message); m != nil {
		p.Field, p.Rule, p.Value = joinField(p.Field, m[1]), string(event.RuleRequired), nil
	} else if strings.HasPrefix(d.Message, "unexpected property") {
		p.Rule, p.Value = string(event.RuleUnknown), nil
	}
	return p
}

var requiredProperty = regexp.MustCompile(`^expected required property (\S+) to be present`)

func joinField(parent, name string) string {
	if parent == "" || parent == "body" {
		return name
	}
	return parent + "." + name
}

// fieldOf turns huma's locations ("query.limit", "body.note") into the name
// a client sent.
func fieldOf(loc string) string {
	for _, p := range []string{"query.", "path.", "header.", "body."} {
		if r, ok := strings.CutPrefix(loc, p); ok {
			return r
		}
	}
	return loc
}

// fail is an error answer.
func fail(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// badField is a 400 naming one field.
func badField(field string, value any, rule event.Rule, detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("%s: %s: %s", field, rule, detail),
		Field: field, Value: value, Rule: string(rule), Problems: []Problem{{Field: field, Value: value, Rule: string(rule), Detail: detail}}}
}

// invalid is a 400 from a validation error: every event.FieldError in err,
// the first one up front.
func invalid(err error) *Error {
	e := &Error{Status: http.StatusBadRequest, Message: err.Error()}
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *event.FieldError
		if errors.As(err, &fe) {
			e.Problems = append(e.Problems, Problem{Field: fe.Field, Value: fe.Value, Rule: string(fe.Rule), Detail: fe.Detail})
		}
	}
	walk(err)
	var syn *event.SyntaxError
	switch {
	case len(e.Problems) > 0:
		p := e.Problems[0]
		e.Field, e.Value, e.Rule = p.Field, p.Value, p.Rule
		if len(e.Problems) == 1 {
			e.Message = (&event.FieldError{Field: p.Field, Value: p.Value, Rule: event.Rule(p.Rule), Detail: p.Detail}).Error()
		}
	case errors.As(err, &syn):
		e.Field, e.Rule = "body", "malformed_json"
	}
	return e
}
