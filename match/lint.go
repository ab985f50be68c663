package match

import (
	"regexp/syntax"
	"slices"
	"strings"
)

// Lint returns warnings about conditions that are valid but probably not
// what was meant (docs §19), each starting with the condition's JSON path.
func (f *Filter) Lint() []string {
	if f == nil {
		return nil
	}
	var out []string
	f.root.walk(func(n *node) {
		for _, w := range n.lint() {
			if n.path != "" {
				w = n.path + ": " + w
			}
			out = append(out, w)
		}
	})
	return out
}

func (n *node) lint() []string {
	switch n.kind {
	case kindAllOf, kindAnyOf:
		if len(n.kids) == 1 {
			name := "allOf"
			if n.kind == kindAnyOf {
				name = "anyOf"
			}
			return []string{name + " with one condition is that condition; the " + name + " can go."}
		}
		return nil
	case kindNot:
		k := n.kids[0]
		switch {
		case k.kind == kindNot:
			return []string{"not (not (…)) is a double negation; remove both."}
		case k.kind == kindLeaf && k.op.negated():
			pos := *k
			pos.op = k.op.positive()
			return []string{"not (" + k.leafString() + ") is a double negation; write " + pos.leafString() + "."}
		}
		return nil
	}
	s := n.leafString()
	var out []string
	switch n.op.positive() {
	case opEquals, opIn:
		if strings.Contains(n.value, "*") || slices.ContainsFunc(n.values, func(v string) bool { return strings.Contains(v, "*") }) {
			out = append(out, s+" compares '*' literally; use like where '*' means any characters.")
		}
	case opLike:
		switch {
		case !n.star:
			out = append(out, s+" has no '*', so it is the same as "+opNames[n.op-opLike+opEquals]+"; add '*' where any characters may be, or use "+opNames[n.op-opLike+opEquals]+".")
		case n.everything():
			out = append(out, s+n.everythingWarning())
		}
	case opRegex:
		switch {
		case n.everything():
			out = append(out, s+n.everythingWarning())
		case n.re.MatchString(""):
			out = append(out, s+" also matches an empty value (the pattern matches the empty string).")
		}
	}
	return out
}

func (n *node) everythingWarning() string {
	always := n.field != fieldTag && n.field != fieldLocation && n.field != fieldResourceGroup
	switch {
	case !n.op.negated() && always:
		return " matches every resource."
	case !n.op.negated():
		return " matches every resource that has " + n.fieldString() + "; to say that, use exists true."
	case always:
		return " matches no resource."
	}
	return " matches only resources without " + n.fieldString() + "; to say that, use exists false."
}

// everything reports whether a like or regex leaf matches any value.
func (n *node) everything() bool {
	if n.op.positive() == opLike {
		for _, p := range n.glob {
			if p != "" {
				return false
			}
		}
		return n.star
	}
	re, err := syntax.Parse(n.value, syntax.Perl)
	if err != nil {
		return false
	}
	return anything(re.Simplify())
}

// anything recognises the usual spellings of "any string": .*, (.*),
// ^.*$, (?s).*, .*.* (names and tags hold no newlines, so . is enough).
func anything(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpCapture:
		return anything(re.Sub[0])
	case syntax.OpStar:
		return re.Sub[0].Op == syntax.OpAnyChar || re.Sub[0].Op == syntax.OpAnyCharNotNL
	case syntax.OpConcat:
		star := false
		for _, s := range re.Sub {
			switch s.Op {
			case syntax.OpBeginLine, syntax.OpBeginText, syntax.OpEndLine, syntax.OpEndText:
			default:
				if !anything(s) {
					return false
				}
				star = true
			}
		}
		return star
	}
	return false
}
