package match

import (
	"strconv"
	"strings"
)

// Explanation is the result of each condition of a filter for one resource
// (docs §18).
type Explanation struct {
	Condition string         `json:"condition"`
	Matched   bool           `json:"matched"`
	Detail    string         `json:"detail,omitempty"`
	Children  []*Explanation `json:"children,omitempty"`
}

// Explain evaluates every condition of the filter for r, without stopping
// early, so that a person can see why it does or does not match. Its
// Matched is always Match's result.
func (f *Filter) Explain(r *Resource) *Explanation {
	if f == nil || f.root == nil {
		return &Explanation{Condition: "no filter"}
	}
	if r == nil {
		r = &Resource{}
	}
	c := tagCache{keys: f.tags}
	return f.root.explain(r, &c)
}

func (n *node) explain(r *Resource, c *tagCache) *Explanation {
	e := &Explanation{}
	switch n.kind {
	case kindAllOf, kindAnyOf:
		e.Condition = "allOf"
		if n.kind == kindAnyOf {
			e.Condition = "anyOf"
		}
		// allOf is true unless a child is false, anyOf false unless
		// one is true.
		all := n.kind == kindAllOf
		e.Matched = all
		for _, k := range n.kids {
			x := k.explain(r, c)
			e.Children = append(e.Children, x)
			if x.Matched != all {
				e.Matched = !all
			}
		}
	case kindNot:
		x := n.kids[0].explain(r, c)
		e.Condition, e.Matched, e.Children = "not", !x.Matched, []*Explanation{x}
	default:
		v := n.read(r, c)
		e.Condition, e.Matched, e.Detail = n.leafString(), n.test(v.val, v.ok), n.detail(v)
	}
	return e
}

// detail says what the resource has in the leaf's field.
func (n *node) detail(v tagValue) string {
	if n.field == fieldTag {
		if !v.ok {
			return "tag " + bare(n.tag) + " is absent"
		}
		return "tag " + bare(v.key) + " = " + strconv.Quote(v.val)
	}
	if !v.ok {
		return fieldNames[n.field] + " is absent"
	}
	return fieldNames[n.field] + " is " + strconv.Quote(v.val)
}

// String prints the tree, one condition a line, children indented.
func (e *Explanation) String() string {
	var sb strings.Builder
	e.write(&sb, 0)
	return strings.TrimSuffix(sb.String(), "\n")
}

func (e *Explanation) write(sb *strings.Builder, depth int) {
	if e == nil {
		return
	}
	sb.WriteString(strings.Repeat("  ", depth))
	if e.Matched {
		sb.WriteString("✓ ")
	} else {
		sb.WriteString("✗ ")
	}
	sb.WriteString(e.Condition)
	if e.Detail != "" {
		sb.WriteString(": " + e.Detail)
	}
	sb.WriteByte('\n')
	for _, c := range e.Children {
		c.write(sb, depth+1)
	}
}
