package policy

import (
	"fmt"
	"strings"
)

// The condition tree. Parsing builds it with expressions that still name
// parameters; bind returns a copy with parameters substituted, constants
// folded, fields resolved to document paths and like/match patterns
// compiled. Only bound trees are evaluated.

type condNode interface {
	eval(c *evalCtx) (bool, error)
	bind(b *binder) (condNode, error)
	rulePath() string
}

// Reason explains one condition that decided a result: which field or value
// was read, from where, with which operator, and what was found and expected.
type Reason struct {
	Condition string `json:"condition"`          // path of the condition in the policy rule
	Field     string `json:"field,omitempty"`    // field or alias as written in the rule
	Path      string `json:"path,omitempty"`     // resolved document path
	Value     string `json:"value,omitempty"`    // the value expression, for value conditions
	Count     string `json:"count,omitempty"`    // what was counted, for count conditions
	Operator  string `json:"operator,omitempty"` // the condition operator
	Actual    any    `json:"actual,omitempty"`   // the value found (absent when missing or null)
	Missing   bool   `json:"missing,omitempty"`  // the field does not exist in the document
	Expected  any    `json:"expected,omitempty"` // the value compared with
	Result    bool   `json:"result"`             // the condition's outcome
	Derived   bool   `json:"derived,omitempty"`  // the alias was resolved heuristically
	Resource  string `json:"resource,omitempty"` // the document read, when it is not the evaluated resource
	Message   string `json:"message,omitempty"`  // free text for existence checks and effects
}

// allOfNode is true when every child is true; evaluation stops at the first
// false child.
type allOfNode struct {
	p        string
	children []condNode
}

func (n *allOfNode) rulePath() string { return n.p }

func (n *allOfNode) eval(c *evalCtx) (bool, error) {
	start := len(c.reasons)
	for _, ch := range n.children {
		mark := len(c.reasons)
		ok, err := ch.eval(c)
		if err != nil {
			return false, err
		}
		if !ok {
			if c.tracing {
				// Only the false child explains a false allOf.
				c.reasons = append(c.reasons[:start], c.reasons[mark:]...)
			}
			return false, nil
		}
	}
	return true, nil
}

func (n *allOfNode) bind(b *binder) (condNode, error) {
	out := &allOfNode{p: n.p, children: make([]condNode, len(n.children))}
	for i, ch := range n.children {
		bc, err := ch.bind(b)
		if err != nil {
			return nil, err
		}
		out.children[i] = bc
	}
	return out, nil
}

// anyOfNode is true when a child is true; evaluation stops at the first true
// child.
type anyOfNode struct {
	p        string
	children []condNode
}

func (n *anyOfNode) rulePath() string { return n.p }

func (n *anyOfNode) eval(c *evalCtx) (bool, error) {
	start := len(c.reasons)
	for _, ch := range n.children {
		mark := len(c.reasons)
		ok, err := ch.eval(c)
		if err != nil {
			return false, err
		}
		if ok {
			if c.tracing {
				c.reasons = append(c.reasons[:start], c.reasons[mark:]...)
			}
			return true, nil
		}
	}
	return false, nil
}

func (n *anyOfNode) bind(b *binder) (condNode, error) {
	out := &anyOfNode{p: n.p, children: make([]condNode, len(n.children))}
	for i, ch := range n.children {
		bc, err := ch.bind(b)
		if err != nil {
			return nil, err
		}
		out.children[i] = bc
	}
	return out, nil
}

type notNode struct {
	p     string
	child condNode
}

func (n *notNode) rulePath() string { return n.p }

func (n *notNode) eval(c *evalCtx) (bool, error) {
	ok, err := n.child.eval(c)
	return !ok && err == nil, err
}

func (n *notNode) bind(b *binder) (condNode, error) {
	ch, err := n.child.bind(b)
	if err != nil {
		return nil, err
	}
	return &notNode{p: n.p, child: ch}, nil
}

// constNode stands in for a condition that failed to parse; definitions with
// parse errors are never evaluated, so it only has to be safe.
type constNode struct{ p string }

func (n *constNode) rulePath() string { return n.p }
func (n *constNode) eval(*evalCtx) (bool, error) {
	return false, &evalError{path: n.p, msg: "invalid condition"}
}
func (n *constNode) bind(*binder) (condNode, error) { return n, nil }

type operandKind int

const (
	operandField operandKind = iota + 1
	operandValue
	operandCount
)

// leafNode is one condition: an operand, an operator and the expected value.
type leafNode struct {
	p       string
	operand operandKind
	op      opKind

	fieldExpr expr       // "field": usually a literal name, may be an expression
	field     *fieldSpec // bound and resolved when the name is constant
	valueExpr expr       // "value"
	count     *countSpec // "count"

	rhs      expr // the operator's value
	rhsConst bool // rhs is a constant after binding
	expected any  // the constant rhs
	matcher  matcher
}

func (n *leafNode) rulePath() string { return n.p }

func (n *leafNode) bind(b *binder) (condNode, error) {
	out := &leafNode{p: n.p, operand: n.operand, op: n.op}
	rhs, err := n.rhs.bind(b)
	if err != nil {
		return nil, b.wrap(err, n.p+"."+n.op.String())
	}
	out.rhs = rhs
	if v, ok := constValue(rhs); ok {
		out.rhsConst, out.expected = true, v
		if err := checkOperand(n.op, v, n.operand == operandCount); err != nil {
			return nil, errorf(CodeInvalidPolicyParameters, b.fullPath(n.p+"."+n.op.String()), "%v", err)
		}
		if s, ok := v.(string); ok {
			out.matcher = compileMatcher(n.op, s)
		}
	}
	switch n.operand {
	case operandField:
		fe, err := n.fieldExpr.bind(b)
		if err != nil {
			return nil, b.wrap(err, n.p+".field")
		}
		out.fieldExpr = fe
		if v, ok := constValue(fe); ok {
			name, isStr := v.(string)
			if !isStr || name == "" {
				return nil, errorf(CodeInvalidPolicyRule, b.fullPath(n.p+".field"), "'field' must evaluate to a non-empty string, got %s", toJSONString(v))
			}
			out.field = b.fieldAt(name, n.p+".field")
		}
	case operandValue:
		ve, err := n.valueExpr.bind(b)
		if err != nil {
			return nil, b.wrap(err, n.p+".value")
		}
		out.valueExpr = ve
	case operandCount:
		cs, err := n.count.bind(b, n.p+".count")
		if err != nil {
			return nil, err
		}
		out.count = cs
	}
	return out, nil
}

// checkOperand validates a constant operator value, the way Azure rejects a
// definition or assignment whose parameter has the wrong type for the
// condition ("Evaluation result of language expression ... is type 'Array',
// expected type is 'String'").
func checkOperand(op opKind, v any, isCount bool) error {
	switch op {
	case opIn, opNotIn:
		if _, ok := v.([]any); !ok {
			return fmt.Errorf("'%s' needs an array, the value is type '%s'", op, typeName(v))
		}
	case opExists:
		if _, err := existsWanted(v); err != nil {
			return err
		}
	case opLike, opNotLike, opMatch, opNotMatch, opMatchInsensitively, opNotMatchInsensitively:
		if _, ok := v.(string); !ok {
			return fmt.Errorf("'%s' needs a string pattern, the value is type '%s'", op, typeName(v))
		}
	case opEquals, opNotEquals, opContains, opNotContains, opContainsKey, opNotContainsKey:
		switch v.(type) {
		case []any, map[string]any:
			// "Evaluation result of language expression ... is type 'Array',
			// expected type is 'String'" (author-policies-for-arrays).
			return fmt.Errorf("'%s' needs a string, the value is type '%s'", op, typeName(v))
		}
	case opLess, opLessOrEquals, opGreater, opGreaterOrEquals:
		switch v.(type) {
		case string, float64:
		default:
			return fmt.Errorf("'%s' needs a string, a date or an integer, the value is type '%s'", op, typeName(v))
		}
	}
	if isCount {
		switch op {
		case opLike, opNotLike, opMatch, opNotMatch, opMatchInsensitively, opNotMatchInsensitively,
			opContainsKey, opNotContainsKey, opExists:
			return fmt.Errorf("'%s' cannot compare a count", op)
		}
	}
	return nil
}

func (n *leafNode) eval(c *evalCtx) (bool, error) {
	if err := c.spend(1); err != nil {
		return false, err
	}
	expected := n.expected
	m := n.matcher
	if !n.rhsConst {
		v, err := n.rhs.eval(c)
		if err != nil {
			return false, withPath(err, n.p)
		}
		expected = v
		m = nil
	}
	var (
		result bool
		err    error
		reason Reason
	)
	switch n.operand {
	case operandField:
		spec := n.field
		if spec == nil {
			if spec, err = n.dynamicField(c); err != nil {
				return false, withPath(err, n.p)
			}
		}
		fv := c.readField(spec, c.res)
		opts := compareOptions{location: spec.kind == fieldLocation, matcher: m}
		if fv.collection {
			result, err = applyCollection(n.op, fv.values, expected, opts)
		} else {
			result, err = applyOp(n.op, fv.value, fv.found, expected, opts)
		}
		if c.tracing {
			reason = Reason{Field: spec.name, Path: spec.resolvedPath(), Derived: spec.derived, Missing: !fv.found && !fv.collection}
			if fv.path != nil {
				reason.Path = fv.path.raw
			}
			if fv.collection {
				reason.Actual = nonNilSlice(fv.values)
			} else {
				reason.Actual = fv.value
			}
		}
	case operandValue:
		v, verr := n.valueExpr.eval(c)
		if verr != nil {
			return false, withPath(verr, n.p)
		}
		result, err = applyOp(n.op, v, v != nil, expected, compareOptions{matcher: m})
		if c.tracing {
			reason = Reason{Value: "[" + n.valueExpr.String() + "]", Actual: v}
			if l, ok := n.valueExpr.(*litExpr); ok {
				reason.Value = toJSONString(l.v)
			}
		}
	case operandCount:
		start := len(c.reasons)
		cnt, cerr := n.count.eval(c)
		c.reasons = c.reasons[:start] // the where-clause details are summarised by the count
		if cerr != nil {
			return false, withPath(cerr, n.p)
		}
		result, err = applyOp(n.op, float64(cnt), true, expected, compareOptions{})
		if c.tracing {
			reason = Reason{Count: n.count.describe(), Actual: float64(cnt)}
		}
	}
	if err != nil {
		return false, withPath(err, n.p)
	}
	if c.tracing {
		reason.Condition = n.p
		reason.Operator = n.op.String()
		reason.Expected = expected
		reason.Result = result
		if c.res != nil && c.res != c.ifRes {
			reason.Resource = c.res.ID
		}
		c.reasons = append(c.reasons, reason)
	}
	return result, nil
}

func nonNilSlice(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// applyCollection applies an operator to a [*] selection. A field condition
// on a collection holds when every selected value passes, so it holds for an
// empty collection; "exists" asks whether any value was selected.
func applyCollection(op opKind, values []any, expected any, o compareOptions) (bool, error) {
	if op == opExists {
		want, err := existsWanted(expected)
		if err != nil {
			return false, err
		}
		return (len(values) > 0) == want, nil
	}
	for _, v := range values {
		ok, err := applyOp(op, v, true, expected, o)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// dynamicField resolves a field name computed at evaluation time.
func (n *leafNode) dynamicField(c *evalCtx) (*fieldSpec, error) {
	v, err := n.fieldExpr.eval(c)
	if err != nil {
		return nil, err
	}
	name, ok := v.(string)
	if !ok || name == "" {
		return nil, evalErrorf("'field' evaluated to %s, not a field name", toJSONString(v))
	}
	spec, _ := c.catalog().resolveField(name, nil)
	return spec, nil
}

// countSpec is a field count or a value count.
type countSpec struct {
	isValue   bool
	fieldExpr expr
	field     *fieldSpec
	valueExpr expr
	name      string
	where     condNode
}

func (cs *countSpec) describe() string {
	if cs.isValue {
		return "[" + cs.valueExpr.String() + "]"
	}
	if cs.field != nil {
		return cs.field.name
	}
	return "[" + cs.fieldExpr.String() + "]"
}

func (cs *countSpec) bind(b *binder, path string) (*countSpec, error) {
	out := &countSpec{isValue: cs.isValue, name: cs.name}
	if cs.isValue {
		ve, err := cs.valueExpr.bind(b)
		if err != nil {
			return nil, b.wrap(err, path+".value")
		}
		out.valueExpr = ve
		if v, ok := constValue(ve); ok {
			arr, isArr := v.([]any)
			if !isArr {
				return nil, errorf(CodeInvalidPolicyParameters, b.fullPath(path+".value"), "count.value must be an array, the value is type '%s'", typeName(v))
			}
			if len(arr) > maxValueCountIterations {
				return nil, errorf(CodeInvalidPolicyParameters, b.fullPath(path+".value"), "count.value has %d members; the limit is %d iterations", len(arr), maxValueCountIterations)
			}
		}
	} else {
		fe, err := cs.fieldExpr.bind(b)
		if err != nil {
			return nil, b.wrap(err, path+".field")
		}
		out.fieldExpr = fe
		if v, ok := constValue(fe); ok {
			name, _ := v.(string)
			if !strings.Contains(name, "[*]") {
				return nil, errorf(CodeInvalidPolicyRule, b.fullPath(path+".field"), "count.field must be an array alias ending in [*], got %q", name)
			}
			out.field = b.fieldAt(name, path+".field")
		}
	}
	if cs.where != nil {
		w, err := cs.where.bind(b)
		if err != nil {
			return nil, err
		}
		out.where = w
	}
	return out, nil
}

// maxValueCountIterations is Azure's limit on value count iterations,
// nested counts multiplying.
const maxValueCountIterations = 100

func (cs *countSpec) eval(c *evalCtx) (int, error) {
	if cs.isValue {
		v, err := cs.valueExpr.eval(c)
		if err != nil {
			return 0, err
		}
		arr, ok := v.([]any)
		if !ok {
			return 0, evalErrorf("count.value must be an array, got %s", typeName(v))
		}
		scale := max(c.valueScale, 1) * len(arr)
		if scale > maxValueCountIterations {
			return 0, evalErrorf("value count iterates %d times; the limit is %d", scale, maxValueCountIterations)
		}
		if cs.where == nil {
			return len(arr), nil
		}
		saved := c.valueScale
		c.valueScale = scale
		defer func() { c.valueScale = saved }()
		n := 0
		for _, e := range arr {
			c.frames = append(c.frames, countFrame{isValue: true, name: cs.name, value: e})
			ok, err := cs.where.eval(c)
			c.frames = c.frames[:len(c.frames)-1]
			if err != nil {
				return 0, err
			}
			if ok {
				n++
			}
		}
		return n, nil
	}
	spec := cs.field
	if spec == nil {
		v, err := cs.fieldExpr.eval(c)
		if err != nil {
			return 0, err
		}
		name, _ := v.(string)
		if !strings.Contains(name, "[*]") {
			return 0, evalErrorf("count.field must be an array alias, got %s", toJSONString(v))
		}
		spec, _ = c.catalog().resolveField(name, nil)
	}
	fv := c.readField(spec, c.res)
	if !fv.collection {
		return 0, evalErrorf("count.field %s does not select an array", spec.name)
	}
	if err := c.spend(len(fv.values)); err != nil {
		return 0, err
	}
	if cs.where == nil {
		return len(fv.values), nil
	}
	n := 0
	for _, e := range fv.values {
		c.frames = append(c.frames, countFrame{path: fv.path, res: c.res, elem: e})
		ok, err := cs.where.eval(c)
		c.frames = c.frames[:len(c.frames)-1]
		if err != nil {
			return 0, err
		}
		if ok {
			n++
		}
	}
	return n, nil
}
