package match

import (
	"errors"
	"fmt"
	"slices"
)

// Limits, docs §14.
const (
	maxNodes  = 64
	maxDepth  = 8
	maxString = 256
	maxValues = 100
)

// Property names by foldKey, to their canonical spelling (docs §2).
var props = map[string]string{}

const operatorList = "equals, notEquals, in, notIn, like, notLike, regex, notRegex or exists"

func init() {
	for _, name := range []string{"allOf", "anyOf", "not", "field"} {
		props[foldKey(name)] = name
	}
	for _, name := range opNames[1:] {
		props[foldKey(name)] = name
	}
}

func opByName(name string) op {
	return op(slices.Index(opNames[:], name))
}

// Parse reads a resource filter (docs/resource-filters.md). target is the
// JSON path of the filter in its document, such as
// "properties.resourceFilter"; error targets start with it. Any problem is
// an EINVALID *posture.Error with code InvalidResourceFilter, the first
// problem's target, and every problem in Details (docs §15).
func Parse(raw []byte, target string) (*Filter, error) {
	var ps parser
	v, err := readJSON(raw)
	switch {
	case errors.Is(err, errTooDeep):
		ps.add(target, "The resource filter nests deeper than %d levels of JSON.", maxJSONDepth)
	case err != nil:
		ps.add(target, "The resource filter is not valid JSON: %s.", err)
	default:
		ps.root = ps.cond(v, target, 1)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	f := &Filter{root: ps.root, target: target}
	f.assignSlots()
	return f, nil
}

type parser struct {
	problems
	root             *node
	nodes            int
	tooMany, tooDeep bool
}

// cond reads one condition at path; it returns nil when it has a problem.
func (ps *parser) cond(v *jvalue, path string, depth int) *node {
	ps.nodes++
	switch {
	case ps.nodes > maxNodes:
		if !ps.tooMany {
			ps.tooMany = true
			ps.add(path, "A resource filter may have at most %d conditions (allOf, anyOf, not and leaves each count one); this is the %dth.", maxNodes, ps.nodes)
		}
		return nil
	case depth > maxDepth:
		if !ps.tooDeep {
			ps.tooDeep = true
			ps.add(path, "Conditions may nest at most %d deep; this one is at depth %d.", maxDepth, depth)
		}
		return nil
	case v.kind != jobject:
		ps.add(path, "A condition must be a JSON object (allOf, anyOf, not, or field with an operator); this is %s.", v.kind)
		return nil
	}

	// Sort the members out in document order, so that the first problem
	// reported is the first in the document.
	var (
		first, opName string // first member's name; the operator's
		compound      string
		body, fv, ov  *jvalue
		bad           bool
	)
	seen := map[string]bool{}
	for _, m := range v.obj {
		name, known := props[foldKey(m.key)]
		if !known {
			ps.add(join(path, m.key), "'%s' is not a property of a condition; use allOf, anyOf, not, or field with one of %s.", clip(m.key), operatorList)
			bad = true
			continue
		}
		t := join(path, name)
		if seen[name] {
			ps.add(t, "The property '%s' appears more than once in a condition (property names ignore case).", name)
			bad = true
			continue
		}
		seen[name] = true
		isCompound := name == "allOf" || name == "anyOf" || name == "not"
		switch {
		case compound != "" || isCompound && first != "":
			ps.add(t, "A condition is one of allOf, anyOf, not, or a field with an operator; this one has both '%s' and '%s'.", first, name)
			bad = true
			continue
		case isCompound:
			compound, body = name, m.val
		case name == "field":
			fv = m.val
		case opName != "":
			ps.add(t, "A condition takes one operator; this one has both '%s' and '%s'.", opName, name)
			bad = true
			continue
		default:
			opName, ov = name, m.val
		}
		if first == "" {
			first = name
		}
	}

	var n *node
	switch {
	case compound != "":
		n = ps.compound(compound, body, join(path, compound), depth)
	case fv != nil || ov != nil:
		n = ps.leaf(fv, opName, ov, path)
	case !bad:
		ps.add(path, "A condition needs allOf, anyOf, not, or field with one of %s; this object is empty.", operatorList)
	}
	if bad || n == nil {
		return nil
	}
	n.path = path
	return n
}

func (ps *parser) compound(name string, v *jvalue, path string, depth int) *node {
	if name == "not" {
		k := ps.cond(v, path, depth+1)
		if k == nil {
			return nil
		}
		return &node{kind: kindNot, kids: []*node{k}}
	}
	switch {
	case v.kind != jarray:
		ps.add(path, "'%s' takes an array of conditions; this is %s.", name, v.kind)
		return nil
	case len(v.arr) == 0:
		ps.add(path, "'%s' needs at least one condition.", name)
		return nil
	}
	n := &node{kind: kindAllOf}
	if name == "anyOf" {
		n.kind = kindAnyOf
	}
	ok := true
	for i, e := range v.arr {
		if ps.tooMany {
			return nil
		}
		k := ps.cond(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
		n.kids = append(n.kids, k)
		ok = ok && k != nil
	}
	if !ok {
		return nil
	}
	n.order = slices.Clone(n.kids)
	slices.SortStableFunc(n.order, func(a, b *node) int { return a.cost() - b.cost() })
	return n
}

func (ps *parser) leaf(fv *jvalue, opName string, ov *jvalue, path string) *node {
	n := &node{kind: kindLeaf, op: opByName(opName)}
	ok := true
	if fv == nil {
		ps.add(join(path, "field"), "The operator '%s' needs a field: add \"field\" with one of %s.", opName, fieldList)
		ok = false
	} else {
		ok = ps.field(n, fv, join(path, "field"))
	}
	if opName == "" {
		ps.add(path, "The condition has a field but no operator; add one of %s.", operatorList)
		return nil
	}
	if !ps.value(n, ov, join(path, opName)) || !ok {
		return nil
	}
	return n
}

// assignSlots gives each tag leaf its slot in the tag cache (see tagCache):
// one per distinct key ignoring case, for the first tagSlots keys.
func (f *Filter) assignSlots() {
	slots := map[string]int{}
	f.root.walk(func(n *node) {
		if n.field != fieldTag {
			return
		}
		n.tk = newTagKey(n.tag)
		k := foldKey(n.tag)
		i, ok := slots[k]
		if !ok {
			i = -1
			if len(f.tags) < tagSlots {
				i = len(f.tags)
				f.tags = append(f.tags, n.tk)
			}
			slots[k] = i
		}
		n.slot = i
	})
}
