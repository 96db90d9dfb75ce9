package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// This file is the strict reading of outside input (DecodeJSON): one pass
// over the JSON tokens, with the tokenizer of Go's encoding/json/v2
// (jsontext, from github.com/go-json-experiment/json, which becomes the
// standard library's on Go 1.27), that checks the input against the shape
// of the Go type it is decoded into and fills that value as it goes:
//
//   - I-JSON (RFC 7493): valid UTF-8 and no lone surrogate escapes
//     (jsontext's default), and member names unique in every object at
//     every depth (checked by shape: every object of an accepted input is
//     walked by its shape, and any other is refused as an unknown member);
//   - member names matched exactly, case included: "LAT" is not lat;
//   - every member known, of the JSON type its field needs, and never null;
//   - every required member present.
//
// A field is required unless its json tag says omitempty (or omitzero): what
// the canonical form always carries, the input must carry; what the canonical
// form leaves out when it is zero, the input may leave out. An optional field
// of a pointer type stays nil when it is absent; an optional field of another
// type has its zero value as its "absent" value, whether that is sent or left
// out (a sequence number of 0 means "not numbered"), so it is never carried
// as a present 0.
//
// Filling the value in the same pass costs less than checking first and then
// decoding the same bytes again with a JSON library (measured on the
// gateway's path with encoding/json, encoding/json/v2 and goccy/go-json as
// that second step: BenchmarkDecode in package ingest, BENCHMARKS.md). The
// values are read as encoding/json reads them (strconv.ParseFloat,
// time.Time.UnmarshalText, jsontext's unquoting), and FuzzDecodeJSON checks
// that whatever this pass accepts, encoding/json decodes to an identical
// value.

// kind is what JSON a field takes.
type kind uint8

const (
	kindString  kind = iota + 1 // a JSON string (Go string kinds)
	kindNumber                  // a JSON number that fits a float64 (float64, *float64)
	kindInteger                 // a JSON number that is a non-negative integer fitting a uint64
	kindTime                    // a JSON string holding an RFC 3339 time (time.Time)
	kindObject                  // a JSON object of a nested shape (a struct)
	kindStrings                 // a JSON array of strings
	kindRaw                     // a JSON object decoded later, once its type is known (json.RawMessage)
)

// member is one JSON member of a shape.
type member struct {
	name     string
	field    int // index of the Go field
	kind     kind
	required bool
	shape    *shape // of a kindObject member
}

// shape is the JSON form of a Go struct type.
type shape struct {
	members []member
	index   map[string]int
}

var (
	shapes      sync.Map // reflect.Type → *shape
	rawType     = reflect.TypeFor[json.RawMessage]()
	timeType    = reflect.TypeFor[time.Time]()
	float64Type = reflect.TypeFor[float64]()
)

// shapeOf returns the shape of struct type t, building it on first use.
func shapeOf(t reflect.Type) (*shape, error) {
	if s, ok := shapes.Load(t); ok {
		return s.(*shape), nil
	}
	s, err := buildShape(t)
	if err != nil {
		return nil, err
	}
	actual, _ := shapes.LoadOrStore(t, s)
	return actual.(*shape), nil
}

func buildShape(t reflect.Type) (*shape, error) {
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("event: strict decoding into %s: want a struct", t)
	}
	s := &shape{index: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if !ok || name == "" {
			return nil, fmt.Errorf("event: strict decoding into %s: field %s has no json name", t, f.Name)
		}
		m := member{name: name, field: i, required: !hasOption(opts, "omitempty") && !hasOption(opts, "omitzero")}
		ft := f.Type
		switch {
		case ft == rawType:
			m.kind = kindRaw
		case ft == timeType:
			m.kind = kindTime
		case ft.Kind() == reflect.String:
			m.kind = kindString
		case ft.Kind() == reflect.Float64 || ft.Kind() == reflect.Pointer && ft.Elem() == float64Type:
			m.kind = kindNumber
		case ft.Kind() == reflect.Uint64:
			m.kind = kindInteger
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			m.kind = kindStrings
		case ft.Kind() == reflect.Struct:
			sub, err := buildShape(ft)
			if err != nil {
				return nil, err
			}
			m.kind, m.shape = kindObject, sub
		default:
			return nil, fmt.Errorf("event: strict decoding into %s: field %s of type %s is not supported", t, f.Name, ft)
		}
		if len(s.members) == 64 {
			return nil, fmt.Errorf("event: strict decoding into %s: more than 64 members", t)
		}
		s.index[name] = len(s.members)
		s.members = append(s.members, m)
	}
	return s, nil
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// maxFieldErrors bounds the field errors one pass collects: enough to say
// everything wrong with a real message, not a list as long as a hostile one.
const maxFieldErrors = 32

// checker walks one input's tokens against a shape.
type checker struct {
	in   bytes.Buffer
	dec  jsontext.Decoder
	errs []error
	buf  []byte // scratch for unquoting names and strings with escapes
}

var checkers = sync.Pool{New: func() any { return new(checker) }}

// errStop ends a pass that has collected maxFieldErrors.
var errStop = errors.New("stop")

// decodeStrict checks b against s (see the top of this file) and fills dst,
// an addressable struct of s's type. It returns nil, a *SyntaxError, or a
// join of *FieldError with paths relative to b; dst is meaningful only when
// it returns nil.
func decodeStrict(b []byte, s *shape, dst reflect.Value) error {
	c := checkers.Get().(*checker)
	defer func() {
		c.in, c.errs = bytes.Buffer{}, c.errs[:0]
		c.dec.Reset(&c.in)
		checkers.Put(c)
	}()
	c.in = *bytes.NewBuffer(b)
	// jsontext checks UTF-8 and surrogates by default; duplicate names are
	// found by shape (object), which costs less than jsontext's own check
	// and covers every object of an accepted input.
	c.dec.Reset(&c.in, jsontext.AllowDuplicateNames(true))
	switch k := c.dec.PeekKind(); k {
	case '{':
	case jsontext.KindInvalid:
		_, err := c.dec.ReadToken()
		if err == io.EOF {
			return &SyntaxError{Msg: "empty body: want one JSON object"}
		}
		return syntaxError(err)
	default:
		return &SyntaxError{Msg: "want a JSON object, got " + kindName(k)}
	}
	err := c.object(s, "", dst)
	if err == nil {
		if _, eof := c.dec.ReadToken(); eof != io.EOF {
			return &SyntaxError{Msg: "trailing data after the JSON object"}
		}
	}
	if err != nil && err != errStop {
		return syntaxError(err)
	}
	if len(c.errs) == 0 {
		return nil
	}
	return errors.Join(c.errs...)
}

func (c *checker) add(err error) error {
	c.errs = append(c.errs, err)
	if len(c.errs) >= maxFieldErrors {
		return errStop
	}
	return nil
}

// object reads the object that starts at the next token into dst, a struct
// of shape s. path is the object's own field path ("" for the top level).
func (c *checker) object(s *shape, path string, dst reflect.Value) error {
	if _, err := c.dec.ReadToken(); err != nil { // '{'
		return err
	}
	var seen uint64
	for c.dec.PeekKind() != '}' {
		raw, err := c.dec.ReadValue() // the member's name
		if err != nil {
			return err
		}
		name, err := c.unquote(raw)
		if err != nil {
			return err
		}
		i, ok := s.index[string(name)]
		if !ok {
			if err := c.add(unknownMember(s, join(path, string(name)), string(name))); err != nil {
				return err
			}
			if err := c.dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		m := &s.members[i]
		if seen&(1<<i) != 0 {
			if err := c.add(&FieldError{Field: join(path, m.name), Rule: RuleDuplicate,
				Detail: "appears more than once in its object; I-JSON (RFC 7493) names are unique"}); err != nil {
				return err
			}
		}
		seen |= 1 << i
		if err := c.value(m, path, dst.Field(m.field)); err != nil {
			return err
		}
	}
	if _, err := c.dec.ReadToken(); err != nil { // '}'
		return err
	}
	for i := range s.members {
		if m := &s.members[i]; m.required && seen&(1<<i) == 0 {
			if err := c.add(missing(join(path, m.name))); err != nil {
				return err
			}
		}
	}
	return nil
}

// value reads member m's value, which starts at the next token, into dst.
// path is the field path of the object that holds it.
func (c *checker) value(m *member, path string, dst reflect.Value) error {
	k := c.dec.PeekKind()
	want := jsontext.Kind('"')
	switch m.kind {
	case kindNumber, kindInteger:
		want = '0'
	case kindObject, kindRaw:
		want = '{'
	case kindStrings:
		want = '['
	}
	if k != want {
		if k == jsontext.KindInvalid {
			_, err := c.dec.ReadValue()
			return err
		}
		return c.wrongKind(m.kind, join(path, m.name))
	}
	if m.kind == kindObject {
		return c.object(m.shape, join(path, m.name), dst)
	}
	if m.kind == kindStrings {
		return c.strings(join(path, m.name), dst)
	}
	raw, err := c.dec.ReadValue()
	if err != nil {
		return err
	}
	switch m.kind {
	case kindRaw:
		dst.SetBytes(bytes.Clone(raw))
	case kindString:
		s, err := c.unquote(raw)
		if err != nil {
			return err
		}
		dst.SetString(string(s))
	case kindNumber:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return c.add(invalid(join(path, m.name), rawJSON(clip(raw, 64)), RuleRange, "outside the range of an IEEE 754 double"))
		}
		if dst.Kind() == reflect.Pointer {
			dst.Set(reflect.New(float64Type))
			dst = dst.Elem()
		}
		dst.SetFloat(f)
	case kindInteger:
		u, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil {
			return c.add(invalid(join(path, m.name), rawJSON(clip(raw, 64)), RuleFormat, "want a whole number from 0 to 18446744073709551615, without fraction or exponent"))
		}
		dst.SetUint(u)
	case kindTime:
		s, err := c.unquote(raw)
		if err != nil {
			return err
		}
		t, ok := parseRFC3339(s)
		if !ok {
			return c.add(invalid(join(path, m.name), string(s), RuleFormat, "want an RFC 3339 time such as 2026-10-01T12:00:00Z"))
		}
		*dst.Addr().Interface().(*time.Time) = t
	}
	return nil
}

// strings reads an array of strings into dst, a slice of a string kind.
func (c *checker) strings(field string, dst reflect.Value) error {
	if _, err := c.dec.ReadToken(); err != nil { // '['
		return err
	}
	var out []string
	for i := 0; ; i++ {
		switch c.dec.PeekKind() {
		case ']':
			if _, err := c.dec.ReadToken(); err != nil {
				return err
			}
			sl := reflect.MakeSlice(dst.Type(), len(out), len(out))
			for j, s := range out {
				sl.Index(j).SetString(s)
			}
			dst.Set(sl)
			return nil
		case '"':
			raw, err := c.dec.ReadValue()
			if err != nil {
				return err
			}
			s, err := c.unquote(raw)
			if err != nil {
				return err
			}
			out = append(out, string(s))
		case jsontext.KindInvalid:
			_, err := c.dec.ReadValue()
			return err
		default:
			if err := c.wrongKind(kindString, field+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	}
}

// wrongKind records a value of the wrong JSON type (null included) and skips it.
func (c *checker) wrongKind(want kind, field string) error {
	raw, err := c.dec.ReadValue()
	if err != nil {
		return err
	}
	return c.add(invalid(field, rawJSON(clip(raw, 64)), RuleFormat, "want "+wantText(want)))
}

// unquote returns the contents of the JSON string raw, valid until the next call.
func (c *checker) unquote(raw []byte) ([]byte, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1], nil
	}
	var err error
	c.buf, err = jsontext.AppendUnquote(c.buf[:0], raw)
	return c.buf, err
}

func unknownMember(s *shape, field, name string) error {
	detail := "not part of the schema"
	for _, m := range s.members {
		if strings.EqualFold(m.name, name) {
			detail += "; names are case-sensitive: did you mean " + strconv.Quote(m.name) + "?"
			break
		}
	}
	return &FieldError{Field: field, Rule: RuleUnknown, Detail: detail}
}

func wantText(k kind) string {
	switch k {
	case kindNumber:
		return "a JSON number"
	case kindInteger:
		return "a JSON number that is a whole number"
	case kindTime:
		return "an RFC 3339 time in a JSON string"
	case kindObject, kindRaw:
		return "a JSON object"
	case kindStrings:
		return "a JSON array of strings"
	}
	return "a JSON string"
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	case '"':
		return "a string"
	case '0':
		return "a number"
	case '[':
		return "an array"
	}
	return "an object"
}

// IsRFC3339 reports whether s is a time as the contract spells it: RFC 3339's
// date-time with an upper-case T and Z, hours 00–23, minutes and seconds
// 00–59 (no leap second), an optional fraction after a '.', a real calendar
// date, and an offset of Z or ±hh:mm within ±23:59. Go's own parser also
// takes a ',' before the fraction and offsets such as +24:00; the contract
// does not, so that its JSON Schema can say exactly what is accepted.
func IsRFC3339[B ~[]byte | ~string](s B) bool {
	_, ok := parseRFC3339(s)
	return ok
}

func parseRFC3339[B ~[]byte | ~string](s B) (time.Time, bool) {
	var t time.Time
	n := len(s)
	if n < 20 {
		return t, false
	}
	digits := func(i, j int) bool {
		for ; i < j; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	two := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	if !digits(0, 4) || s[4] != '-' || !digits(5, 7) || s[7] != '-' || !digits(8, 10) || s[10] != 'T' ||
		!digits(11, 13) || s[13] != ':' || !digits(14, 16) || s[16] != ':' || !digits(17, 19) ||
		two(11) > 23 || two(14) > 59 || two(17) > 59 {
		return t, false
	}
	i := 19
	if s[i] == '.' {
		j := i + 1
		for j < n && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i+1 {
			return t, false
		}
		i = j
	}
	switch {
	case i == n-1 && s[i] == 'Z':
	case i == n-6 && (s[i] == '+' || s[i] == '-') && digits(i+1, i+3) && s[i+3] == ':' && digits(i+4, i+6) &&
		two(i+1) <= 23 && two(i+4) <= 59:
	default:
		return t, false
	}
	err := t.UnmarshalText([]byte(s)) // the calendar: month 1–12, a day the month has
	return t, err == nil
}

// rawJSON is a JSON value quoted in an error message as it was sent.
type rawJSON []byte

// GoString renders the value as its JSON text, for FieldError's %#v.
func (r rawJSON) GoString() string { return string(r) }

// clip copies at most n bytes of b (which may alias the input), marking a cut.
func clip(b []byte, n int) []byte {
	if len(b) <= n {
		return bytes.Clone(b)
	}
	return append(b[:n:n], "…"...)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// syntaxError describes a tokenizer error for a carrier: what is wrong and where.
func syntaxError(err error) *SyntaxError {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &SyntaxError{Msg: "unexpected end of input"}
		}
		return &SyntaxError{Msg: err.Error()}
	}
	msg := strings.TrimPrefix(se.Error(), "jsontext: ")
	if s := se.Err.Error(); strings.Contains(s, "UTF-8") || strings.Contains(s, "surrogate") {
		msg += " (I-JSON, RFC 7493, takes only valid UTF-8 and whole surrogate pairs)"
	}
	return &SyntaxError{Msg: msg}
}
