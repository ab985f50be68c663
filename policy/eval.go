package policy

import (
	"context"
	"time"
)

// evalCtx is the state of one evaluation of one rule against one resource.
// It is created per (reference, resource) pair and never shared between
// goroutines.
type evalCtx struct {
	ctx   context.Context
	res   *Resource // what field conditions read: the related resource inside an existenceCondition
	ifRes *Resource // what field() reads: the resource the if-condition matched
	// frames are the count iterations in progress, innermost last.
	frames []countFrame
	// valueScale is the product of the lengths of the enclosing value counts
	// (Azure limits nested value-count iterations to 100 in total).
	valueScale int

	policyInfo map[string]any
	now        time.Time
	apiVersion string
	aliases    *AliasCatalog

	budget int // work units left; guards against huge counts and documents

	tracing bool
	reasons []Reason

	sub *evalCtx // reused for existence conditions
}

// defaultBudget bounds the work one (definition, resource) evaluation may do:
// function calls, condition evaluations and count iterations. It is far above
// what any built-in needs (the largest MCSB rule over a large document uses a
// few thousand units) and stops pathological input with an Error state.
const defaultBudget = 2_000_000

// latestAPIVersion stands for "the latest API version", which Azure uses for
// requestContext().apiVersion during compliance scans. It sorts after every
// real, dated API version.
const latestAPIVersion = "9999-12-31"

func (c *evalCtx) spend(n int) error {
	c.budget -= n
	if c.budget < 0 {
		return evalErrorf("evaluation exceeded its work limit (a count or function over a very large value)")
	}
	if c.ctx != nil && c.budget%4096 == 0 {
		if err := c.ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (c *evalCtx) catalog() *AliasCatalog {
	if c.aliases != nil {
		return c.aliases
	}
	return DefaultAliases()
}

// countFrame is one iteration of a count expression.
type countFrame struct {
	isValue bool
	// value count
	name  string
	value any
	// field count
	path *docPath  // the counted array path, ending in [*]
	res  *Resource // the document the path belongs to
	elem any       // the member being enumerated
}

func (f countFrame) current() any {
	if f.isValue {
		return f.value
	}
	return f.elem
}

// fieldValue is what a field reference yields: one value (possibly
// missing) or, for [*] aliases, a collection.
type fieldValue struct {
	value      any
	found      bool
	collection bool
	values     []any
	path       *docPath // the document path that produced the value (nil for built-in fields)
}

// readField reads a field of r, honouring the count iterations in progress:
// inside a field count, the counted array is seen as if the current member
// were its only member.
func (c *evalCtx) readField(f *fieldSpec, r *Resource) fieldValue {
	if r == nil {
		return fieldValue{}
	}
	switch f.kind {
	case fieldName:
		return fieldValue{value: r.Name, found: r.Name != ""}
	case fieldFullName:
		return fieldValue{value: r.FullName, found: r.FullName != ""}
	case fieldType:
		return fieldValue{value: r.Type, found: r.Type != ""}
	case fieldLocation:
		if r.Location == "" {
			return fieldValue{value: "global", found: true}
		}
		return fieldValue{value: r.Location, found: true}
	case fieldKindProp:
		v, ok := getKey(r.Document, "kind")
		return fieldValue{value: v, found: ok}
	case fieldID:
		return fieldValue{value: r.ID, found: true}
	case fieldTags:
		v, ok := getKey(r.Document, "tags")
		return fieldValue{value: v, found: ok}
	case fieldTag:
		if r.Tags == nil {
			return fieldValue{}
		}
		v, ok := getKey(r.Tags, f.tag)
		return fieldValue{value: v, found: ok}
	}
	paths := f.pathsFor(r.typeKey)
	var first fieldValue
	for i, p := range paths {
		fv := c.readPath(p, r)
		if fv.found || len(fv.values) > 0 || len(paths) == 1 {
			return fv
		}
		if i == 0 {
			first = fv
		}
	}
	return first
}

func (c *evalCtx) readPath(p *docPath, r *Resource) fieldValue {
	var root any = r.Document
	from := 0
	for i := len(c.frames) - 1; i >= 0; i-- {
		fr := c.frames[i]
		if fr.isValue || fr.res != r || !p.hasStepPrefix(fr.path) {
			continue
		}
		root, from = fr.elem, len(fr.path.steps)
		break
	}
	if p.stars > 0 {
		vals := p.selectAll(root, from, nil)
		return fieldValue{collection: true, values: vals, found: len(vals) > 0, path: p}
	}
	v, ok := p.selectOne(root, from)
	return fieldValue{value: v, found: ok, path: p}
}
