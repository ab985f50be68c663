package policy

import (
	"sort"
	"strings"
)

// Static analysis of a bound if-condition: which resource types can make it
// true. This is what lets a server evaluate a resource only against the
// definitions that can match its type, and it is the engine's main speed
// lever: most (definition, resource) pairs are skipped by one map lookup.
//
// The analysis over-approximates: a type outside the filter can never make
// the condition true, a type inside may or may not.

// typeFilter is a set of lower-case types, possibly with like-patterns, or
// "any type".
type typeFilter struct {
	any      bool
	exact    map[string]bool
	patterns []*likePattern
	raw      []string // the patterns as written, for Facts
}

func anyType() typeFilter { return typeFilter{any: true} }

func (f typeFilter) matches(typeKey string) bool {
	if f.any || f.exact[typeKey] {
		return true
	}
	for _, p := range f.patterns {
		if p.matches(typeKey) {
			return true
		}
	}
	return false
}

func union(a, b typeFilter) typeFilter {
	if a.any || b.any {
		return anyType()
	}
	out := typeFilter{exact: map[string]bool{}}
	for t := range a.exact {
		out.exact[t] = true
	}
	for t := range b.exact {
		out.exact[t] = true
	}
	out.patterns = append(append(out.patterns, a.patterns...), b.patterns...)
	out.raw = append(append(out.raw, a.raw...), b.raw...)
	return out
}

func intersect(a, b typeFilter) typeFilter {
	if a.any {
		return b
	}
	if b.any {
		return a
	}
	out := typeFilter{exact: map[string]bool{}}
	for t := range a.exact {
		if b.matches(t) {
			out.exact[t] = true
		}
	}
	for t := range b.exact {
		if a.matches(t) {
			out.exact[t] = true
		}
	}
	// Two pattern sets: keep one side's patterns, a superset of the true
	// intersection.
	if len(a.patterns) > 0 && len(b.patterns) > 0 {
		out.patterns, out.raw = a.patterns, a.raw
	}
	return out
}

// analyzeTypes computes the filter of a bound condition. negated tracks
// an odd number of enclosing "not"s (negations are pushed to the leaves).
func analyzeTypes(n condNode, negated bool) typeFilter {
	switch x := n.(type) {
	case *allOfNode:
		return combine(x.children, negated, !negated)
	case *anyOfNode:
		return combine(x.children, negated, negated)
	case *notNode:
		return analyzeTypes(x.child, !negated)
	case *leafNode:
		return leafTypes(x, negated)
	}
	return anyType()
}

// combine folds children with intersection (conjunction) or union.
func combine(children []condNode, negated, conjunction bool) typeFilter {
	var acc typeFilter
	for i, ch := range children {
		f := analyzeTypes(ch, negated)
		switch {
		case i == 0:
			acc = f
		case conjunction:
			acc = intersect(acc, f)
		default:
			acc = union(acc, f)
		}
	}
	if len(children) == 0 {
		return anyType()
	}
	return acc
}

// leafTypes handles a condition on the "type" field with a constant value.
func leafTypes(n *leafNode, negated bool) typeFilter {
	if n.operand != operandField || n.field == nil || n.field.kind != fieldType || !n.rhsConst {
		return anyType()
	}
	op := n.op
	if pos, isNeg := op.positive(); isNeg {
		op, negated = pos, !negated
	}
	if negated {
		// "type notEquals X" can be true for every other type.
		return anyType()
	}
	switch op {
	case opEquals:
		s, ok := n.expected.(string)
		if !ok {
			return anyType()
		}
		return typeFilter{exact: map[string]bool{strings.ToLower(s): true}}
	case opIn:
		list, ok := n.expected.([]any)
		if !ok {
			return anyType()
		}
		f := typeFilter{exact: map[string]bool{}}
		for _, e := range list {
			if s, ok := e.(string); ok {
				f.exact[strings.ToLower(s)] = true
			}
		}
		return f
	case opLike:
		s, ok := n.expected.(string)
		if !ok {
			return anyType()
		}
		if !strings.Contains(s, "*") {
			return typeFilter{exact: map[string]bool{strings.ToLower(s): true}}
		}
		return typeFilter{exact: map[string]bool{}, patterns: []*likePattern{compileLike(s)}, raw: []string{s}}
	}
	return anyType()
}

// types lists the exact types of a filter, sorted.
func (f typeFilter) types() []string {
	out := make([]string, 0, len(f.exact))
	for t := range f.exact {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
