package kql

import (
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Scalar operators: arithmetic, comparison, logic and the string operators,
// with Kusto's null rules (kql.md §2): == with a null side is false (null if
// both are null), != is true, other operators propagate null, and/or are
// three-valued.

func negate(v Value) Value {
	v = scalarOf(v)
	if v.Null {
		return v
	}
	switch v.T {
	case TypeReal, TypeDecimal:
		return realValue(-v.Float())
	case TypeInt, TypeLong, TypeTimespan:
		out := v
		out.n = -v.n
		return out
	}
	return nullValue
}

// arithType is the static result type of an arithmetic operator.
func arithType(op string, a, b Type) (Type, bool) {
	if a == TypeDynamic || b == TypeDynamic || a == TypeUnknown || b == TypeUnknown {
		if a == TypeReal || b == TypeReal {
			return TypeReal, true
		}
		return TypeDynamic, true
	}
	switch {
	case a.isNumeric() && b.isNumeric():
		if a == TypeReal || b == TypeReal || a == TypeDecimal || b == TypeDecimal {
			return TypeReal, true
		}
		if a == TypeInt && b == TypeInt {
			return TypeInt, true
		}
		return TypeLong, true
	case a == TypeDateTime && b == TypeDateTime && op == "-":
		return TypeTimespan, true
	case a == TypeDateTime && b == TypeTimespan && (op == "+" || op == "-"):
		return TypeDateTime, true
	case a == TypeTimespan && b == TypeDateTime && op == "+":
		return TypeDateTime, true
	case a == TypeTimespan && b == TypeTimespan:
		switch op {
		case "+", "-", "%":
			return TypeTimespan, true
		case "/":
			return TypeReal, true
		}
	case a == TypeTimespan && b.isNumeric() && (op == "*" || op == "/"):
		return TypeTimespan, true
	case a.isNumeric() && b == TypeTimespan && op == "*":
		return TypeTimespan, true
	}
	return TypeUnknown, false
}

// arith evaluates an arithmetic operator on runtime values.
func arith(op string, a, b Value, typ Type) Value {
	a, b = scalarOf(a), scalarOf(b)
	if a.Null || b.Null {
		return nullOf(typ)
	}
	at, bt := a.T, b.T
	if at == TypeBool {
		at = TypeLong
	}
	if bt == TypeBool {
		bt = TypeLong
	}
	switch {
	case at.isInteger() && bt.isInteger():
		x, y := a.n, b.n
		var r int64
		switch op {
		case "+":
			r = x + y
		case "-":
			r = x - y
		case "*":
			r = x * y
		case "/":
			if y == 0 || (x == math.MinInt64 && y == -1) {
				return nullOf(typ)
			}
			r = x / y
		case "%":
			if y == 0 || y == -1 {
				if y == -1 {
					return longValue(0)
				}
				return nullOf(typ)
			}
			r = x % y
		}
		if at == TypeInt && bt == TypeInt {
			return intValue(r)
		}
		return longValue(r)
	case at.isNumeric() && bt.isNumeric():
		x, y := a.asFloat(), b.asFloat()
		var r float64
		switch op {
		case "+":
			r = x + y
		case "-":
			r = x - y
		case "*":
			r = x * y
		case "/":
			r = x / y
		case "%":
			r = math.Mod(x, y)
		}
		return realValue(r)
	case at == TypeDateTime && bt == TypeDateTime && op == "-":
		return timespanValue(a.n - b.n)
	case at == TypeDateTime && bt == TypeTimespan && (op == "+" || op == "-"):
		if op == "+" {
			return checkedDatetime(a.n + b.n)
		}
		return checkedDatetime(a.n - b.n)
	case at == TypeTimespan && bt == TypeDateTime && op == "+":
		return checkedDatetime(a.n + b.n)
	case at == TypeTimespan && bt == TypeTimespan:
		switch op {
		case "+":
			return timespanValue(a.n + b.n)
		case "-":
			return timespanValue(a.n - b.n)
		case "/":
			if b.n == 0 {
				return nullOf(TypeReal)
			}
			return realValue(float64(a.n) / float64(b.n))
		case "%":
			if b.n == 0 {
				return nullOf(TypeTimespan)
			}
			return timespanValue(a.n % b.n)
		}
	case at == TypeTimespan && bt.isNumeric():
		f := b.asFloat()
		switch op {
		case "*":
			return timespanFromFloat(float64(a.n) * f)
		case "/":
			if f == 0 {
				return nullOf(TypeTimespan)
			}
			return timespanFromFloat(float64(a.n) / f)
		}
	case at.isNumeric() && bt == TypeTimespan && op == "*":
		return timespanFromFloat(a.asFloat() * float64(b.n))
	}
	return nullOf(typ)
}

func timespanFromFloat(f float64) Value {
	if math.IsNaN(f) || math.Abs(f) > 9.2e18 {
		return nullOf(TypeTimespan)
	}
	return timespanValue(int64(math.Round(f)))
}

func checkedDatetime(t int64) Value {
	if t < 0 || t > maxTicks {
		return nullOf(TypeDateTime)
	}
	return datetimeValue(t)
}

// compareValues orders two values: numbers numerically, strings ordinally,
// datetimes and timespans by ticks, bools false<true. ok is false if either
// is null or they are not comparable.
func compareValues(a, b Value) (int, bool) {
	a, b = scalarOf(a), scalarOf(b)
	if a.Null || b.Null {
		return 0, false
	}
	switch {
	case a.T.isNumeric() && b.T.isNumeric():
		if a.T.isInteger() && b.T.isInteger() {
			return cmpInt(a.n, b.n), true
		}
		x, y := a.asFloat(), b.asFloat()
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		case x == y:
			return 0, true
		}
		return 0, false // NaN
	case (a.T == TypeString || a.T == TypeGuid) && (b.T == TypeString || b.T == TypeGuid):
		return strings.Compare(a.s, b.s), true
	case a.T == b.T && (a.T == TypeDateTime || a.T == TypeTimespan || a.T == TypeBool):
		return cmpInt(a.n, b.n), true
	case a.T == TypeDynamic && b.T == TypeDynamic:
		if equalDyn(a.d, b.d) {
			return 0, true
		}
		return strings.Compare(string(a.d.appendJSON(nil)), string(b.d.appendJSON(nil))), true
	case a.T == TypeString || b.T == TypeString:
		// A dynamic value compared with a string: compare text.
		return strings.Compare(toStringValue(a), toStringValue(b)), true
	case a.T == TypeDateTime && b.T == TypeString, a.T == TypeString && b.T == TypeDateTime:
		return 0, false
	}
	return 0, false
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// equalValues implements == with Kusto's null rules: the first result is
// the boolean, the second false when the result is null.
func equalValues(a, b Value) (eq bool, ok bool) {
	a, b = scalarOf(a), scalarOf(b)
	if a.Null || b.Null {
		if a.Null && b.Null {
			return false, false
		}
		return false, true
	}
	if (a.T == TypeString || a.T == TypeGuid) && (b.T == TypeString || b.T == TypeGuid) {
		return a.s == b.s, true
	}
	c, ok := compareValues(a, b)
	if !ok {
		return false, true
	}
	return c == 0, true
}

// comparable types for static checking of ==, <, ...
func comparableTypes(a, b Type) bool {
	if a == TypeDynamic || b == TypeDynamic || a == TypeUnknown || b == TypeUnknown || a == b {
		return true
	}
	if a.isNumeric() && b.isNumeric() {
		return true
	}
	if (a == TypeString || a == TypeGuid) && (b == TypeString || b == TypeGuid) {
		return true
	}
	return false
}

// ---- string operators ----

func isAlnumRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// indexFold finds needle in s ignoring case, from byte offset start.
// needle must already be lower-case when fold is true.
func indexFold(s, needle string, start int, fold bool) int {
	if !fold {
		i := strings.Index(s[start:], needle)
		if i < 0 {
			return -1
		}
		return start + i
	}
	if len(needle) == 0 {
		return start
	}
	if isASCII(needle) {
		n0 := needle[0]
		u0 := n0
		if n0 >= 'a' && n0 <= 'z' {
			u0 = n0 - 32
		}
		for i := start; i+len(needle) <= len(s); i++ {
			c := s[i]
			if c != n0 && c != u0 {
				continue
			}
			if asciiEqualFoldPrefix(s[i:], needle) {
				return i
			}
		}
		return -1
	}
	// Non-ASCII needle: fall back to lower-casing (rare).
	ls := strings.ToLower(s[start:])
	i := strings.Index(ls, needle)
	if i < 0 || len(ls) != len(s)-start {
		if i >= 0 {
			return start + i // lengths differ; best effort
		}
		return -1
	}
	return start + i
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiEqualFoldPrefix reports whether s starts with lower (lower-case
// ASCII) ignoring ASCII case.
func asciiEqualFoldPrefix(s, lower string) bool {
	if len(s) < len(lower) {
		return false
	}
	for i := 0; i < len(lower); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// stringMatcher evaluates one string operator against a prepared needle.
type stringMatcher struct {
	op     string // base op without "!" and "_cs"
	fold   bool
	needle string // lower-cased when fold
	re     *regexp.Regexp
}

func newStringMatcher(op, needle string) *stringMatcher {
	base := strings.TrimPrefix(op, "!")
	cs := strings.HasSuffix(base, "_cs")
	base = strings.TrimSuffix(base, "_cs")
	m := &stringMatcher{op: base, fold: !cs, needle: needle}
	if m.fold {
		m.needle = strings.ToLower(needle)
	}
	return m
}

func (m *stringMatcher) match(s string) bool {
	switch m.op {
	case "contains":
		return indexFold(s, m.needle, 0, m.fold) >= 0
	case "startswith":
		if m.fold {
			return isASCII(m.needle) && asciiEqualFoldPrefix(s, m.needle) || !isASCII(m.needle) && strings.HasPrefix(strings.ToLower(s), m.needle)
		}
		return strings.HasPrefix(s, m.needle)
	case "endswith":
		if len(s) < len(m.needle) {
			return false
		}
		if m.fold {
			return strings.EqualFold(s[len(s)-len(m.needle):], m.needle) || !isASCII(m.needle) && strings.HasSuffix(strings.ToLower(s), m.needle)
		}
		return strings.HasSuffix(s, m.needle)
	case "has", "hasprefix", "hassuffix":
		return m.hasTerm(s)
	}
	return false
}

// hasTerm implements has/hasprefix/hassuffix: the needle must be found at
// term boundaries, where terms are maximal runs of letters and digits.
func (m *stringMatcher) hasTerm(s string) bool {
	n := m.needle
	if n == "" {
		return true
	}
	startAlnum := isAlnumStart(n)
	endAlnum := isAlnumEnd(n)
	for i := 0; ; {
		j := indexFold(s, n, i, m.fold)
		if j < 0 {
			return false
		}
		before := j == 0 || !startAlnum || !isAlnumBefore(s, j)
		after := j+len(n) >= len(s) || !endAlnum || !isAlnumAt(s, j+len(n))
		switch m.op {
		case "has":
			if before && after {
				return true
			}
		case "hasprefix":
			if before {
				return true
			}
		case "hassuffix":
			if after {
				return true
			}
		}
		_, size := utf8.DecodeRuneInString(s[j:])
		i = j + size
	}
}

func isAlnumStart(s string) bool { r, _ := utf8.DecodeRuneInString(s); return isAlnumRune(r) }
func isAlnumEnd(s string) bool   { r, _ := utf8.DecodeLastRuneInString(s); return isAlnumRune(r) }
func isAlnumBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return isAlnumRune(r)
}
func isAlnumAt(s string, i int) bool { r, _ := utf8.DecodeRuneInString(s[i:]); return isAlnumRune(r) }

// tri-valued logic.
func truth(v Value) (b bool, known bool) {
	v = scalarOf(v)
	if v.Null {
		return false, false
	}
	switch v.T {
	case TypeBool, TypeInt, TypeLong:
		return v.n != 0, true
	case TypeString:
		switch strings.ToLower(v.s) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}
