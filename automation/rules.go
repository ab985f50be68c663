package automation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Rule evaluation: the JPath subset (see Rule) and the comparisons.

// step is one step of a parsed JPath: a property name or an array index.
type step struct {
	name    string
	index   int
	isIndex bool
}

var errMulti = errors.New("selects several values (wildcards, '..', filters and slices are not supported)")

// parsePath parses a propertyJPath into its steps.
func parsePath(s string) ([]step, error) {
	if s == "" {
		return nil, errors.New("is empty")
	}
	var steps []step
	i := 0
	if s[0] == '$' {
		i = 1
	} else if s[0] != '[' {
		name, n, err := dotName(s)
		if err != nil {
			return nil, err
		}
		steps = append(steps, step{name: name})
		i = n
	}
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			if i < len(s) && s[i] == '.' {
				return nil, errMulti
			}
			name, n, err := dotName(s[i:])
			if err != nil {
				return nil, err
			}
			steps = append(steps, step{name: name})
			i += n
		case '[':
			st, n, err := bracket(s[i:])
			if err != nil {
				return nil, err
			}
			steps = append(steps, st)
			i += n
		default:
			return nil, fmt.Errorf("has an unexpected %q at %d", s[i], i)
		}
	}
	return steps, nil
}

// dotName reads a name up to the next '.' or '['.
func dotName(s string) (string, int, error) {
	n := strings.IndexAny(s, ".[")
	if n < 0 {
		n = len(s)
	}
	name := s[:n]
	switch {
	case name == "":
		return "", 0, errors.New("has an empty property name")
	case name == "*":
		return "", 0, errMulti
	case strings.ContainsAny(name, "]'\"$"):
		return "", 0, fmt.Errorf("has an invalid property name %q", name)
	}
	return name, n, nil
}

// bracket reads [index], ['name'] or ["name"] at the start of s.
func bracket(s string) (step, int, error) {
	if len(s) < 2 {
		return step{}, 0, errors.New("has an unclosed '['")
	}
	if q := s[1]; q == '\'' || q == '"' {
		var b strings.Builder
		for i := 2; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s):
				i++
				b.WriteByte(s[i])
			case c == q:
				if i+1 >= len(s) || s[i+1] != ']' {
					return step{}, 0, errors.New("has a quoted name not followed by ']'")
				}
				return step{name: b.String()}, i + 2, nil
			default:
				b.WriteByte(c)
			}
		}
		return step{}, 0, errors.New("has an unclosed quoted name")
	}
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return step{}, 0, errors.New("has an unclosed '['")
	}
	in := s[1:end]
	if in == "" || strings.Trim(in, "0123456789") != "" {
		if strings.ContainsAny(in, "*?:,") {
			return step{}, 0, errMulti
		}
		return step{}, 0, fmt.Errorf("has an invalid index [%s]", in)
	}
	n, err := strconv.Atoi(in)
	if err != nil {
		return step{}, 0, fmt.Errorf("has an index out of range [%s]", in)
	}
	return step{index: n, isIndex: true}, end + 1, nil
}

// decodeEvent reads an event for rule evaluation; ok is false when it is not
// JSON.
func decodeEvent(payload []byte) (any, bool) {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := d.Token(); err == nil {
		return nil, false // trailing data
	}
	return v, true
}

// lookup follows steps through a decoded event.
func lookup(v any, steps []step) (any, bool) {
	for _, st := range steps {
		if st.isIndex {
			arr, ok := v.([]any)
			if !ok || st.index >= len(arr) {
				return nil, false
			}
			v = arr[st.index]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		next, ok := obj[st.name]
		if !ok {
			key := ""
			for k := range obj {
				if strings.EqualFold(k, st.name) && (!ok || k < key) {
					key, ok = k, true
				}
			}
			if !ok {
				return nil, false
			}
			next = obj[key]
		}
		v = next
	}
	return v, true
}

// applies says which operators each property type takes: the 2023-12-01-preview
// spec's operator descriptions (ordering operators for decimal operands only,
// Contains/StartsWith/EndsWith for non-decimal operands only). Boolean takes
// Equals and NotEquals: a containment test on true/false means nothing.
var applies = map[string][]string{
	TypeString:  {Equals, NotEquals, Contains, StartsWith, EndsWith},
	TypeInteger: {Equals, NotEquals, GreaterThan, GreaterThanOrEqualTo, LesserThan, LesserThanOrEqualTo},
	TypeNumber:  {Equals, NotEquals, GreaterThan, GreaterThanOrEqualTo, LesserThan, LesserThanOrEqualTo},
	TypeBoolean: {Equals, NotEquals},
}

// Check returns why r cannot be evaluated, or "" when it is well-formed:
// its path parses (see the package's rule notes), its operator applies to
// its property type, and its expected value is of that type (an integer, a
// finite number, or true/false in any case).
func (r Rule) Check() string {
	if _, err := parsePath(r.PropertyJPath); err != nil {
		return fmt.Sprintf("propertyJPath '%s' %v", clip(r.PropertyJPath), err)
	}
	ops, ok := applies[r.PropertyType]
	if !ok {
		return fmt.Sprintf("propertyType '%s' is not one of String, Integer, Number, Boolean", clip(r.PropertyType))
	}
	if !slices.Contains(ops, r.Operator) {
		return fmt.Sprintf("operator '%s' does not apply to %s values (use %s)", clip(r.Operator), r.PropertyType, strings.Join(ops, ", "))
	}
	switch r.PropertyType {
	case TypeInteger:
		if _, err := strconv.ParseInt(strings.TrimSpace(r.ExpectedValue), 10, 64); err != nil {
			return fmt.Sprintf("expectedValue '%s' is not an integer", clip(r.ExpectedValue))
		}
	case TypeNumber:
		if _, ok := number(r.ExpectedValue); !ok {
			return fmt.Sprintf("expectedValue '%s' is not a number", clip(r.ExpectedValue))
		}
	case TypeBoolean:
		if _, ok := boolean(r.ExpectedValue); !ok {
			return fmt.Sprintf("expectedValue '%s' is not true or false", clip(r.ExpectedValue))
		}
	}
	return ""
}

// Holds reports whether the rule holds on an event (a JSON document). A
// malformed rule, an event that is not JSON and a missing value all give
// false.
func (r Rule) Holds(event []byte) bool {
	v, ok := decodeEvent(event)
	return ok && r.holds(v)
}

func (r Rule) holds(event any) bool {
	if r.Check() != "" {
		return false
	}
	steps, _ := parsePath(r.PropertyJPath)
	v, ok := lookup(event, steps)
	if !ok {
		return false
	}
	switch r.PropertyType {
	case TypeString:
		s, ok := text(v)
		return ok && compareStrings(r.Operator, s, r.ExpectedValue)
	case TypeInteger, TypeNumber:
		s, ok := numeric(v)
		if !ok {
			return false
		}
		c, ok := compareNumbers(s, r.ExpectedValue)
		return ok && ordered(r.Operator, c)
	case TypeBoolean:
		got, ok := v.(bool)
		if !ok {
			s, isString := v.(string)
			if got, ok = boolean(s); !isString || !ok {
				return false
			}
		}
		want, _ := boolean(r.ExpectedValue)
		return (got == want) == (r.Operator == Equals)
	}
	return false
}

// text is the string a String rule compares: a JSON string's value, or the
// JSON text of a number or boolean. Objects, arrays and null have none.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// numeric is the number text a numeric rule compares: a JSON number, or a
// string holding one.
func numeric(v any) (string, bool) {
	switch v := v.(type) {
	case json.Number:
		return v.String(), true
	case string:
		if _, ok := number(v); ok {
			return v, true
		}
	}
	return "", false
}

// compareStrings applies a string operator case-insensitively (the spec:
// "A case-insensitive comparison will be applied for String PropertyType").
func compareStrings(op, got, want string) bool {
	g, w := strings.ToLower(got), strings.ToLower(want)
	switch op {
	case Equals:
		return g == w
	case NotEquals:
		return g != w
	case Contains:
		return strings.Contains(g, w)
	case StartsWith:
		return strings.HasPrefix(g, w)
	case EndsWith:
		return strings.HasSuffix(g, w)
	}
	return false
}

// compareNumbers compares two number texts: exactly as integers when both
// are, else as float64.
func compareNumbers(a, b string) (int, bool) {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if x, err := strconv.ParseInt(a, 10, 64); err == nil {
		if y, err := strconv.ParseInt(b, 10, 64); err == nil {
			return cmp(x, y), true
		}
	}
	x, ok1 := number(a)
	y, ok2 := number(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	return cmp(x, y), true
}

func cmp[T int64 | float64](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func ordered(op string, c int) bool {
	switch op {
	case Equals:
		return c == 0
	case NotEquals:
		return c != 0
	case GreaterThan:
		return c > 0
	case GreaterThanOrEqualTo:
		return c >= 0
	case LesserThan:
		return c < 0
	case LesserThanOrEqualTo:
		return c <= 0
	}
	return false
}

// number parses a finite number written as JSON writes numbers (no hex,
// underscores, Inf or NaN, which strconv would take).
func number(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" || !(s[0] == '-' || s[0] >= '0' && s[0] <= '9') || !json.Valid([]byte(s)) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func boolean(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
