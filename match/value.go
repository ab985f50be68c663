package match

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// value reads the operator's value into n (n.field is set when known).
func (ps *parser) value(n *node, v *jvalue, t string) bool {
	name := opNames[n.op]
	switch n.op.positive() {
	case opExists:
		switch {
		case v.kind == jbool:
			n.exists = v.b
		case v.kind == jstring && (strings.EqualFold(v.str, "true") || strings.EqualFold(v.str, "false")):
			n.exists = strings.EqualFold(v.str, "true")
		default:
			ps.add(t, "The operator 'exists' takes true or false; this is %s.", describe(v))
			return false
		}
		return true
	case opIn:
		return ps.list(n, v, t)
	}
	if v.kind != jstring {
		ps.add(t, "The operator '%s' takes a string; this is %s.", name, describe(v))
		return false
	}
	if !ps.length(v.str, t) {
		return false
	}
	n.value = v.str
	n.cmp = n.compared(v.str)
	switch n.op.positive() {
	case opLike:
		n.glob = strings.Split(n.cmp, "*")
		n.star = len(n.glob) > 1
		if n.star {
			// A run of stars is one star: drop the empty runs between them.
			mid := slices.DeleteFunc(slices.Clone(n.glob[1:len(n.glob)-1]), func(s string) bool { return s == "" })
			n.glob = slices.Concat(n.glob[:1], mid, n.glob[len(n.glob)-1:])
		}
	case opRegex:
		return ps.regex(n, v.str, t)
	}
	return true
}

func (ps *parser) list(n *node, v *jvalue, t string) bool {
	name := opNames[n.op]
	switch {
	case v.kind != jarray:
		ps.add(t, "The operator '%s' takes an array of 1 to %d strings; this is %s.", name, maxValues, describe(v))
		return false
	case len(v.arr) == 0:
		ps.add(t, "The operator '%s' needs at least one value.", name)
		return false
	case len(v.arr) > maxValues:
		ps.add(t, "The operator '%s' takes at most %d values; this list has %d.", name, maxValues, len(v.arr))
		return false
	}
	for i, e := range v.arr {
		et := fmt.Sprintf("%s[%d]", t, i)
		if e.kind != jstring {
			ps.add(et, "The values of '%s' must be strings; this is %s.", name, describe(e))
			return false
		}
		if !ps.length(e.str, et) {
			return false
		}
		n.values = append(n.values, e.str)
		n.cmps = append(n.cmps, n.compared(e.str))
	}
	return true
}

// compared is a value as the leaf compares it: locations normalised
// (docs §13), the rest as written.
func (n *node) compared(s string) string {
	if n.field == fieldLocation {
		return normLocation(s)
	}
	return s
}

func (ps *parser) regex(n *node, s, t string) bool {
	// Compiled alone first: wrapped, a pattern such as a)|(b would compile
	// and escape the anchors (docs §9). A valid pattern that then fails
	// wrapped ends inside \Q, which quotes to the end and so swallows the
	// wrapper's )$; \E closes it without changing what it matches.
	_, err := regexp.Compile(s)
	if err == nil {
		n.re, err = regexp.Compile("(?i)^(?:" + s + ")$")
		if err != nil {
			n.re, err = regexp.Compile("(?i)^(?:" + s + `\E)$`)
		}
	}
	if err != nil {
		ps.add(t, "The regex '%s' is not valid RE2: %s.", clip(s), strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return false
	}
	return true
}

func (ps *parser) length(s, t string) bool {
	if c := utf8.RuneCountInString(s); c > maxString {
		ps.add(t, "The string is %d characters long; at most %d are allowed.", c, maxString)
		return false
	}
	return true
}

// describe names a JSON value's type for messages.
func describe(v *jvalue) string {
	switch v.kind {
	case jnumber:
		return "the number " + clip(v.str)
	case jbool:
		return fmt.Sprintf("the boolean %t", v.b)
	}
	return v.kind.String()
}
