package policy

import (
	"fmt"
	"math"
	"strings"
)

// Expression nodes. Parsing yields a tree that still names parameters;
// binding (see bind) replaces parameter references with their values and
// folds calls whose arguments are all constant, so evaluation of a compiled
// rule never parses or looks up anything by name.

type expr interface {
	eval(c *evalCtx) (any, error)
	// bind substitutes parameters and folds constants.
	bind(b *binder) (expr, error)
	// String renders the expression back to template syntax (without brackets).
	String() string
}

// Azure's evaluation limits on function results (definition-structure-policy-rule,
// "Limits enforced during evaluation").
const (
	maxResultStringLength = 131072
	maxResultNodes        = 32768
)

type litExpr struct{ v any }

func (e *litExpr) eval(*evalCtx) (any, error) { return e.v, nil }
func (e *litExpr) bind(*binder) (expr, error) { return e, nil }
func (e *litExpr) String() string             { return literalString(e.v) }

// constValue returns the value of a constant expression.
func constValue(e expr) (any, bool) {
	if l, ok := e.(*litExpr); ok {
		return l.v, true
	}
	return nil, false
}

func literalString(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	case nil:
		return "null()"
	case bool:
		if x {
			return "true()"
		}
		return "false()"
	case float64:
		return formatNumber(x)
	}
	return "json('" + strings.ReplaceAll(toJSONString(v), "'", "''") + "')"
}

// callExpr calls a registered function.
type callExpr struct {
	fn   *funcDef
	args []expr
}

func (e *callExpr) String() string {
	parts := make([]string, len(e.args))
	for i, a := range e.args {
		parts[i] = a.String()
	}
	return e.fn.name + "(" + strings.Join(parts, ", ") + ")"
}

func (e *callExpr) eval(c *evalCtx) (any, error) {
	if err := c.spend(1); err != nil {
		return nil, err
	}
	if e.fn.lazy != nil {
		return e.fn.lazy(c, e.args)
	}
	args := make([]any, len(e.args))
	for i, a := range e.args {
		v, err := a.eval(c)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	v, err := e.fn.call(c, args)
	if err != nil {
		return nil, fmt.Errorf("%s(): %w", e.fn.name, err)
	}
	return v, checkResultLimits(e.fn.name, v)
}

func checkResultLimits(name string, v any) error {
	switch x := v.(type) {
	case string:
		if len(x) > maxResultStringLength {
			return evalErrorf("%s() returned a string of %d characters; the limit is %d", name, len(x), maxResultStringLength)
		}
	case []any, map[string]any:
		if n := countNodes(x, maxResultNodes); n > maxResultNodes {
			return evalErrorf("%s() returned more than %d nodes", name, maxResultNodes)
		}
	}
	return nil
}

func (e *callExpr) bind(b *binder) (expr, error) {
	if e.fn.name == "policy" && b.policyInfo != nil {
		// policy() is fixed for a compiled assignment.
		return &litExpr{v: b.policyInfo}, nil
	}
	args := make([]expr, len(e.args))
	allConst := true
	for i, a := range e.args {
		ba, err := a.bind(b)
		if err != nil {
			return nil, err
		}
		args[i] = ba
		if _, ok := ba.(*litExpr); !ok {
			allConst = false
		}
	}
	out := &callExpr{fn: e.fn, args: args}
	if e.fn.pure && allConst {
		// Fold: evaluate now. A failure is left for evaluation time, where
		// it becomes the Error state, as Azure reports it.
		if v, err := out.eval(&evalCtx{budget: defaultBudget}); err == nil {
			return &litExpr{v: v}, nil
		}
	}
	if e.fn.name == "if" && len(args) == 3 {
		// if() with a constant condition folds to one branch even when the
		// branches are dynamic.
		if cond, ok := constValue(args[0]); ok {
			if bv, ok := cond.(bool); ok {
				if bv {
					return args[1], nil
				}
				return args[2], nil
			}
		}
	}
	return out, nil
}

// paramExpr is parameters('name') before binding.
type paramExpr struct{ name string }

func (e *paramExpr) String() string { return "parameters(" + literalString(e.name) + ")" }

func (e *paramExpr) eval(c *evalCtx) (any, error) {
	return nil, evalErrorf("parameter '%s' was not bound", e.name)
}

func (e *paramExpr) bind(b *binder) (expr, error) {
	v, ok := b.param(e.name)
	if !ok {
		return nil, fmt.Errorf("the policy rule uses undefined parameter '%s'", e.name)
	}
	return &litExpr{v: v}, nil
}

// fieldFnExpr is field('name'): the value of a field of the evaluated
// resource (inside an existenceCondition too: field() always reads the
// resource the if-condition matched).
type fieldFnExpr struct {
	name string
	spec *fieldSpec
}

func (e *fieldFnExpr) String() string { return "field(" + literalString(e.name) + ")" }

func (e *fieldFnExpr) bind(b *binder) (expr, error) {
	return &fieldFnExpr{name: e.name, spec: b.field(e.name)}, nil
}

func (e *fieldFnExpr) eval(c *evalCtx) (any, error) {
	if e.spec == nil {
		return nil, evalErrorf("field('%s') was not bound", e.name)
	}
	fv := c.readField(e.spec, c.ifRes)
	if fv.collection {
		out := make([]any, len(fv.values))
		copy(out, fv.values)
		return out, nil
	}
	if !fv.found {
		// Documented: field() of a missing property returns "".
		return "", nil
	}
	return fv.value, nil
}

// currentExpr is current() or current('name'): the member a count is
// enumerating.
type currentExpr struct {
	name  string
	named bool
	spec  *fieldSpec // set when name is an alias ("...[*]" or "...[*].prop")
}

func (e *currentExpr) String() string {
	if !e.named {
		return "current()"
	}
	return "current(" + literalString(e.name) + ")"
}

func (e *currentExpr) bind(b *binder) (expr, error) {
	out := &currentExpr{name: e.name, named: e.named}
	if e.named && strings.Contains(e.name, "/") {
		out.spec = b.field(e.name)
	}
	return out, nil
}

func (e *currentExpr) eval(c *evalCtx) (any, error) {
	if len(c.frames) == 0 {
		return nil, evalErrorf("current() is only available inside a count expression's where condition")
	}
	if !e.named {
		f := c.frames[len(c.frames)-1]
		return f.current(), nil
	}
	for i := len(c.frames) - 1; i >= 0; i-- {
		f := c.frames[i]
		if f.isValue && strings.EqualFold(f.name, e.name) {
			return f.value, nil
		}
	}
	if e.spec != nil {
		for i := len(c.frames) - 1; i >= 0; i-- {
			f := c.frames[i]
			if f.isValue {
				continue
			}
			for _, p := range e.spec.pathsFor(f.res.typeKey) {
				if !p.hasStepPrefix(f.path) {
					continue
				}
				rest := len(f.path.steps)
				if rest == len(p.steps) {
					return f.elem, nil
				}
				sub := &docPath{raw: p.raw, steps: p.steps, lenient: p.lenient}
				if p.stars-f.path.stars > 0 {
					return sub.selectAll(f.elem, rest, nil), nil
				}
				v, ok := sub.selectOne(f.elem, rest)
				if !ok {
					return nil, nil
				}
				return v, nil
			}
		}
	}
	return nil, evalErrorf("current('%s') does not name an enclosing count", e.name)
}

// memberExpr is target.name.
type memberExpr struct {
	target expr
	name   string
}

func (e *memberExpr) String() string { return e.target.String() + "." + e.name }

func (e *memberExpr) bind(b *binder) (expr, error) {
	t, err := e.target.bind(b)
	if err != nil {
		return nil, err
	}
	out := &memberExpr{target: t, name: e.name}
	if _, ok := t.(*litExpr); ok {
		if v, err := out.eval(&evalCtx{budget: defaultBudget}); err == nil {
			return &litExpr{v: v}, nil
		}
	}
	return out, nil
}

func (e *memberExpr) eval(c *evalCtx) (any, error) {
	t, err := e.target.eval(c)
	if err != nil {
		return nil, err
	}
	return memberOf(t, e.name)
}

func memberOf(t any, name string) (any, error) {
	switch x := t.(type) {
	case map[string]any:
		// A missing property reads as null rather than failing: Azure's
		// own built-ins read resourceGroup().managedBy on groups that have
		// none (docs/policy-semantics.md).
		v, _ := getKey(x, name)
		return v, nil
	case nil:
		return nil, evalErrorf("cannot read property '%s' of null", name)
	}
	return nil, evalErrorf("cannot read property '%s' of a %s", name, typeName(t))
}

// indexExpr is target[index].
type indexExpr struct {
	target, index expr
}

func (e *indexExpr) String() string { return e.target.String() + "[" + e.index.String() + "]" }

func (e *indexExpr) bind(b *binder) (expr, error) {
	t, err := e.target.bind(b)
	if err != nil {
		return nil, err
	}
	i, err := e.index.bind(b)
	if err != nil {
		return nil, err
	}
	out := &indexExpr{target: t, index: i}
	_, tc := t.(*litExpr)
	_, ic := i.(*litExpr)
	if tc && ic {
		if v, err := out.eval(&evalCtx{budget: defaultBudget}); err == nil {
			return &litExpr{v: v}, nil
		}
	}
	return out, nil
}

func (e *indexExpr) eval(c *evalCtx) (any, error) {
	t, err := e.target.eval(c)
	if err != nil {
		return nil, err
	}
	i, err := e.index.eval(c)
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case []any:
		f, ok := i.(float64)
		if !ok || f != math.Trunc(f) {
			return nil, evalErrorf("array index must be an integer, got %s", typeName(i))
		}
		if f < 0 || int(f) >= len(x) {
			return nil, evalErrorf("array index %s is out of range (length %d)", formatNumber(f), len(x))
		}
		return x[int(f)], nil
	case map[string]any:
		s, ok := i.(string)
		if !ok {
			return nil, evalErrorf("object index must be a string, got %s", typeName(i))
		}
		v, _ := getKey(x, s)
		return v, nil
	}
	return nil, evalErrorf("cannot index a %s", typeName(t))
}
