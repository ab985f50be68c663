package policy

import (
	"math"
	"regexp"
	"strings"
	"time"
)

// Condition operators and how each compares an actual value with the
// expected one. The choices where the documentation is silent are recorded
// in docs/policy-semantics.md; the comments here say which rule applies.

type opKind int

const (
	opInvalid opKind = iota
	opEquals
	opNotEquals
	opLike
	opNotLike
	opMatch
	opMatchInsensitively
	opNotMatch
	opNotMatchInsensitively
	opContains
	opNotContains
	opIn
	opNotIn
	opContainsKey
	opNotContainsKey
	opLess
	opLessOrEquals
	opGreater
	opGreaterOrEquals
	opExists
)

var operatorNames = map[opKind]string{
	opEquals: "equals", opNotEquals: "notEquals", opLike: "like", opNotLike: "notLike",
	opMatch: "match", opMatchInsensitively: "matchInsensitively", opNotMatch: "notMatch",
	opNotMatchInsensitively: "notMatchInsensitively", opContains: "contains", opNotContains: "notContains",
	opIn: "in", opNotIn: "notIn", opContainsKey: "containsKey", opNotContainsKey: "notContainsKey",
	opLess: "less", opLessOrEquals: "lessOrEquals", opGreater: "greater", opGreaterOrEquals: "greaterOrEquals",
	opExists: "exists",
}

// operatorByName maps lower-case operator names (keys are case-insensitive).
var operatorByName = func() map[string]opKind {
	m := map[string]opKind{}
	for k, v := range operatorNames {
		m[strings.ToLower(v)] = k
	}
	return m
}()

func (k opKind) String() string { return operatorNames[k] }

// negated reports whether the operator is the "not" form of another, and
// returns the positive form.
func (k opKind) positive() (opKind, bool) {
	switch k {
	case opNotEquals:
		return opEquals, true
	case opNotLike:
		return opLike, true
	case opNotMatch:
		return opMatch, true
	case opNotMatchInsensitively:
		return opMatchInsensitively, true
	case opNotContains:
		return opContains, true
	case opNotIn:
		return opIn, true
	case opNotContainsKey:
		return opContainsKey, true
	}
	return k, false
}

// matcher is a pre-compiled like or match pattern.
type matcher interface {
	matches(s string) bool
}

// likePattern implements "like": '*' matches any run of characters, the
// rest compares case-insensitively (InvariantCultureIgnoreCase). Azure
// documents at most one '*'; several are accepted here.
type likePattern struct {
	parts  []string // lower-case literal parts between stars
	prefix bool     // pattern does not start with '*'
	suffix bool     // pattern does not end with '*'
}

func compileLike(p string) *likePattern {
	lp := &likePattern{parts: strings.Split(strings.ToLower(p), "*")}
	lp.prefix = !strings.HasPrefix(p, "*")
	lp.suffix = !strings.HasSuffix(p, "*")
	return lp
}

func (lp *likePattern) matches(s string) bool {
	parts := lp.parts
	if isASCII(s) {
		// Fast paths without allocating: most patterns have one star.
		switch len(parts) {
		case 1:
			return strings.EqualFold(s, parts[0])
		case 2:
			return len(s) >= len(parts[0])+len(parts[1]) &&
				strings.EqualFold(s[:len(parts[0])], parts[0]) &&
				strings.EqualFold(s[len(s)-len(parts[1]):], parts[1])
		}
	}
	s = strings.ToLower(s)
	if len(parts) == 1 {
		return s == parts[0]
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, last)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// containsFold reports whether sub is in s, ignoring case.
func containsFold(s, sub string) bool {
	if isASCII(s) && isASCII(sub) {
		for i := 0; i+len(sub) <= len(s); i++ {
			if strings.EqualFold(s[i:i+len(sub)], sub) {
				return true
			}
		}
		return false
	}
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

// compileMatch translates a "match" pattern ('#' digit, '?' letter, '.' any
// character, everything else literal) to an anchored regular expression.
func compileMatch(p string, insensitive bool) *regexp.Regexp {
	var b strings.Builder
	if insensitive {
		b.WriteString("(?i)")
	}
	b.WriteString("^(?s:")
	for _, r := range p {
		switch r {
		case '#':
			b.WriteString(`[0-9]`)
		case '?':
			b.WriteString(`\pL`)
		case '.':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(")$")
	return regexp.MustCompile(b.String())
}

type regexMatcher struct{ re *regexp.Regexp }

func (m regexMatcher) matches(s string) bool { return m.re.MatchString(s) }

// compileMatcher pre-compiles the pattern of like/match operators.
func compileMatcher(op opKind, pattern string) matcher {
	switch op {
	case opLike, opNotLike:
		return compileLike(pattern)
	case opMatch, opNotMatch:
		return regexMatcher{compileMatch(pattern, false)}
	case opMatchInsensitively, opNotMatchInsensitively:
		return regexMatcher{compileMatch(pattern, true)}
	}
	return nil
}

// compareOptions carries what a comparison needs beyond the two values.
type compareOptions struct {
	location bool    // the field is "location": compare normalised spellings
	matcher  matcher // pre-compiled pattern for like/match with a constant pattern
}

// applyOp evaluates one operator on a single actual value. found is false
// when the field does not exist in the document.
func applyOp(op opKind, actual any, found bool, expected any, o compareOptions) (bool, error) {
	if pos, neg := op.positive(); neg {
		r, err := applyOp(pos, actual, found, expected, o)
		return !r, err
	}
	if !found {
		actual = nil
	}
	switch op {
	case opExists:
		want, err := existsWanted(expected)
		if err != nil {
			return false, err
		}
		return found == want, nil
	case opEquals:
		return valuesEqual(actual, expected, o.location), nil
	case opIn:
		list, ok := expected.([]any)
		if !ok {
			return false, evalErrorf("'in' and 'notIn' need an array, got %s", typeName(expected))
		}
		for _, e := range list {
			if valuesEqual(actual, e, o.location) {
				return true, nil
			}
		}
		return false, nil
	case opLike, opMatch, opMatchInsensitively:
		s, ok := stringForMatch(actual)
		if !ok {
			return false, nil
		}
		m := o.matcher
		if m == nil {
			pat, ok := expected.(string)
			if !ok {
				return false, evalErrorf("'%s' needs a string pattern, got %s", op, typeName(expected))
			}
			m = compileMatcher(op, pat)
		}
		if o.location {
			s = normalizeLocation(s)
		}
		return m.matches(s), nil
	case opContains:
		return conditionContains(actual, expected, o.location)
	case opContainsKey:
		key, ok := scalarString(expected)
		if !ok {
			return false, evalErrorf("'containsKey' needs a key name, got %s", typeName(expected))
		}
		m, isObj := actual.(map[string]any)
		if !isObj {
			return false, nil
		}
		_, has := getKey(m, key)
		return has, nil
	case opLess, opLessOrEquals, opGreater, opGreaterOrEquals:
		if actual == nil {
			// A missing value is neither less nor greater than anything
			// (docs/policy-semantics.md, "Ordering a missing value").
			return false, nil
		}
		c, err := orderCompare(actual, expected)
		if err != nil {
			return false, err
		}
		switch op {
		case opLess:
			return c < 0, nil
		case opLessOrEquals:
			return c <= 0, nil
		case opGreater:
			return c > 0, nil
		}
		return c >= 0, nil
	}
	return false, evalErrorf("unknown operator")
}

// existsWanted reads the operand of "exists": true/false as a boolean or a
// string (built-ins use both).
func existsWanted(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, evalErrorf("'exists' needs true or false, got %s", toJSONString(v))
}

// valuesEqual is "equals": strings case-insensitively; scalars of different
// types compare through their string forms (true equals "true", 1 equals
// "1"); arrays and objects deeply. A missing value equals nothing but null.
func valuesEqual(actual, expected any, location bool) bool {
	if location {
		as, aok := actual.(string)
		es, eok := expected.(string)
		if aok && eok {
			return normalizeLocation(as) == normalizeLocation(es)
		}
	}
	if actual == nil || expected == nil {
		return actual == nil && expected == nil
	}
	return deepEqualFold(actual, expected)
}

// stringForMatch gives the string that like/match test; a missing value
// tests as "" and non-strings are rendered as scalars.
func stringForMatch(v any) (string, bool) {
	if v == nil {
		return "", true
	}
	return scalarString(v)
}

// conditionContains is "contains": a substring test on strings
// (case-insensitive), membership on arrays, key presence on objects.
func conditionContains(actual, expected any, location bool) (bool, error) {
	switch x := actual.(type) {
	case nil:
		return false, nil
	case []any:
		for _, e := range x {
			if valuesEqual(e, expected, location) {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		key, ok := scalarString(expected)
		if !ok {
			return false, nil
		}
		_, has := getKey(x, key)
		return has, nil
	}
	s, _ := scalarString(actual)
	sub, ok := scalarString(expected)
	if !ok {
		return false, evalErrorf("'contains' needs a string, got %s", typeName(expected))
	}
	if location {
		s, sub = normalizeLocation(s), normalizeLocation(sub)
	}
	return containsFold(s, sub), nil
}

// orderCompare orders two values for less/greater: numbers numerically,
// date-times chronologically when both sides parse as dates, other strings
// case-insensitively (so "None" sorts after "1.2", as Azure reports for the
// SQL minimal TLS built-in). Any other combination is a type mismatch error,
// as the documentation says.
func orderCompare(a, b any) (int, error) {
	switch x := a.(type) {
	case float64:
		switch y := b.(type) {
		case float64:
			return cmpFloat(x, y), nil
		case string:
			return 0, evalErrorf("cannot compare the number %s with the string %q", formatNumber(x), y)
		}
	case string:
		switch y := b.(type) {
		case string:
			if ta, ok := parseComparableDate(x); ok {
				if tb, ok := parseComparableDate(y); ok {
					return ta.Compare(tb), nil
				}
			}
			return compareFold(x, y), nil
		case float64:
			return 0, evalErrorf("cannot compare the string %q with the number %s", x, formatNumber(y))
		}
	}
	return 0, evalErrorf("cannot order a %s and a %s", typeName(a), typeName(b))
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case math.IsNaN(x) || math.IsNaN(y):
		return 0
	}
	return 0
}

// parseComparableDate accepts full ISO 8601 date-times and plain dates. It
// requires a 4-digit year followed by '-' so that version strings such as
// "1.2" or "10.0.20350" never parse as dates.
func parseComparableDate(s string) (time.Time, bool) {
	return parseDateTime(s)
}

// compareFold compares strings ignoring case.
func compareFold(a, b string) int {
	if isASCII(a) && isASCII(b) {
		for i := 0; i < len(a) && i < len(b); i++ {
			ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
			if ca != cb {
				if ca < cb {
					return -1
				}
				return 1
			}
		}
		return cmpInt(len(a), len(b))
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b))
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
