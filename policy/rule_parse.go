package policy

import (
	"fmt"
	"strings"
)

// Parsing of the policy rule's condition language into a tree. Keys are
// matched case-insensitively; every problem is recorded with its JSON path
// and parsing continues, so an author sees all problems at once.

// Authoring limits from definition-structure-policy-rule ("Limits enforced
// during authoring").
const (
	maxIfConditions        = 4096
	maxExistenceConditions = 128
	maxRuleFunctions       = 2048
	maxValueCounts         = 10
	maxFieldCountsPerArray = 5
)

type ruleParser struct {
	errs       Errors
	conditions int // conditions in the block being parsed
	functions  int
	valueCount int
	fieldCount map[string]int // per counted array alias
	fields     []string       // every field name read, for static facts
}

func (p *ruleParser) errorf(code, path, format string, args ...any) {
	p.errs = append(p.errs, errorf(code, path, format, args...))
}

// parseValueExpr parses a JSON value that may hold template expressions:
// strings are expressions when bracketed; arrays and objects are literals
// whose string members may be expressions.
func (p *ruleParser) parseValueExpr(v any, path string) expr {
	switch x := v.(type) {
	case string:
		e, err := parseExpression(x)
		if err != nil {
			p.errorf(CodeInvalidPolicyRule, path, "invalid language expression %q: %v", x, err)
			return &litExpr{v: x}
		}
		p.functions += countCalls(e)
		return e
	case []any:
		elems := make([]expr, len(x))
		dynamic := false
		for i, e := range x {
			elems[i] = p.parseValueExpr(e, fmt.Sprintf("%s[%d]", path, i))
			if _, ok := elems[i].(*litExpr); !ok {
				dynamic = true
			}
		}
		if !dynamic {
			return &litExpr{v: x}
		}
		return &arrayExpr{elems: elems}
	case map[string]any:
		keys := sortedKeys(x)
		vals := make([]expr, len(keys))
		dynamic := false
		for i, k := range keys {
			vals[i] = p.parseValueExpr(x[k], path+"."+k)
			if _, ok := vals[i].(*litExpr); !ok {
				dynamic = true
			}
		}
		if !dynamic {
			return &litExpr{v: x}
		}
		return &objectExpr{keys: keys, vals: vals}
	}
	return &litExpr{v: v}
}

// countCalls counts function calls in an expression tree (Azure limits them
// per rule).
func countCalls(e expr) int {
	switch x := e.(type) {
	case *callExpr:
		n := 1
		for _, a := range x.args {
			n += countCalls(a)
		}
		return n
	case *memberExpr:
		return countCalls(x.target)
	case *indexExpr:
		return countCalls(x.target) + countCalls(x.index)
	case *paramExpr, *fieldFnExpr, *currentExpr:
		return 1
	case *arrayExpr:
		n := 0
		for _, el := range x.elems {
			n += countCalls(el)
		}
		return n
	case *objectExpr:
		n := 0
		for _, v := range x.vals {
			n += countCalls(v)
		}
		return n
	}
	return 0
}

// parseCondition parses one condition or logical operator object.
func (p *ruleParser) parseCondition(v any, path string, depth int) condNode {
	if depth > 64 {
		p.errorf(CodeInvalidPolicyRule, path, "conditions nest deeper than 64 levels")
		return &constNode{p: path}
	}
	m, ok := v.(map[string]any)
	if !ok {
		p.errorf(CodeInvalidPolicyRule, path, "a condition must be a JSON object, got %s", typeName(v))
		return &constNode{p: path}
	}
	p.conditions++
	for _, logical := range []string{"allOf", "anyOf", "not"} {
		key, val, ok := getKeyName(m, logical)
		if !ok {
			continue
		}
		if len(m) != 1 {
			p.errorf(CodeInvalidPolicyRule, path, "'%s' cannot be combined with other members (%s)", logical, strings.Join(otherKeys(m, key), ", "))
		}
		childPath := path + "." + key
		if logical == "not" {
			return &notNode{p: path, child: p.parseCondition(val, childPath, depth+1)}
		}
		list, ok := val.([]any)
		if !ok {
			p.errorf(CodeInvalidPolicyRule, childPath, "'%s' must be an array of conditions, got %s", logical, typeName(val))
			return &constNode{p: path}
		}
		if len(list) == 0 {
			p.errorf(CodeInvalidPolicyRule, childPath, "'%s' must contain at least one condition", logical)
		}
		children := make([]condNode, len(list))
		for i, c := range list {
			children[i] = p.parseCondition(c, fmt.Sprintf("%s[%d]", childPath, i), depth+1)
		}
		if logical == "allOf" {
			return &allOfNode{p: path, children: children}
		}
		return &anyOfNode{p: path, children: children}
	}
	return p.parseLeaf(m, path, depth)
}

func otherKeys(m map[string]any, except string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		if k != except {
			out = append(out, k)
		}
	}
	return out
}

// parseLeaf parses {"field"|"value"|"count": ..., "<operator>": ...}.
func (p *ruleParser) parseLeaf(m map[string]any, path string, depth int) condNode {
	leaf := &leafNode{p: path}
	var operands, operators []string
	for _, k := range sortedKeys(m) {
		lk := strings.ToLower(k)
		switch {
		case lk == "field" || lk == "value" || lk == "count":
			operands = append(operands, k)
		case operatorByName[lk] != 0:
			operators = append(operators, k)
		default:
			p.errorf(CodeInvalidPolicyRule, path+"."+k, "could not find member '%s': not a condition operator or operand", k)
		}
	}
	if len(operands) != 1 {
		if len(operands) == 0 {
			p.errorf(CodeInvalidPolicyRule, path, "a condition needs one of 'field', 'value' or 'count'")
		} else {
			p.errorf(CodeInvalidPolicyRule, path, "a condition takes one operand, found %s", strings.Join(operands, ", "))
		}
		return &constNode{p: path}
	}
	if len(operators) != 1 {
		if len(operators) == 0 {
			p.errorf(CodeInvalidPolicyRule, path, "a condition needs an operator such as 'equals'")
		} else {
			p.errorf(CodeInvalidPolicyRule, path, "a condition takes one operator, found %s", strings.Join(operators, ", "))
		}
		return &constNode{p: path}
	}
	opKey := operators[0]
	leaf.op = operatorByName[strings.ToLower(opKey)]
	leaf.rhs = p.parseValueExpr(m[opKey], path+"."+opKey)
	if lit, ok := leaf.rhs.(*litExpr); ok {
		// A literal of the wrong shape is a rule error; one that comes from
		// a parameter is caught when the assignment is compiled.
		if err := checkOperand(leaf.op, lit.v, strings.EqualFold(firstOperand(m), "count")); err != nil {
			p.errorf(CodeInvalidPolicyRule, path+"."+opKey, "%v", err)
		}
	}
	operandKey := operands[0]
	operandPath := path + "." + operandKey
	switch strings.ToLower(operandKey) {
	case "field":
		s, ok := m[operandKey].(string)
		if !ok || s == "" {
			p.errorf(CodeInvalidPolicyRule, operandPath, "'field' must be a non-empty string")
			return &constNode{p: path}
		}
		leaf.operand = operandField
		leaf.fieldExpr = p.parseValueExpr(s, operandPath)
		if !isExpression(s) {
			p.fields = append(p.fields, s)
		}
	case "value":
		leaf.operand = operandValue
		leaf.valueExpr = p.parseValueExpr(m[operandKey], operandPath)
	case "count":
		leaf.operand = operandCount
		leaf.count = p.parseCount(m[operandKey], operandPath, depth)
		if leaf.count == nil {
			return &constNode{p: path}
		}
	}
	return leaf
}

// firstOperand returns the operand key of a leaf condition object.
func firstOperand(m map[string]any) string {
	for k := range m {
		switch strings.ToLower(k) {
		case "field", "value", "count":
			return k
		}
	}
	return ""
}

func (p *ruleParser) parseCount(v any, path string, depth int) *countSpec {
	m, ok := v.(map[string]any)
	if !ok {
		p.errorf(CodeInvalidPolicyRule, path, "'count' must be an object, got %s", typeName(v))
		return nil
	}
	cs := &countSpec{}
	for _, k := range sortedKeys(m) {
		switch strings.ToLower(k) {
		case "field", "value", "name", "where":
		default:
			p.errorf(CodeInvalidPolicyRule, path+"."+k, "could not find member '%s' on a count expression", k)
		}
	}
	fk, fv, hasField := getKeyName(m, "field")
	vk, vv, hasValue := getKeyName(m, "value")
	switch {
	case hasField && hasValue:
		p.errorf(CodeInvalidPolicyRule, path, "a count takes either 'field' or 'value', not both")
		return nil
	case hasField:
		s, ok := fv.(string)
		if !ok || !strings.Contains(s, "[*]") && !isExpression(s) {
			p.errorf(CodeInvalidPolicyRule, path+"."+fk, "count.field must be an array alias ending in [*], got %s", toJSONString(fv))
			return nil
		}
		cs.fieldExpr = p.parseValueExpr(s, path+"."+fk)
		if !isExpression(s) {
			p.fields = append(p.fields, s)
			if p.fieldCount == nil {
				p.fieldCount = map[string]int{}
			}
			p.fieldCount[strings.ToLower(s)]++
			if p.fieldCount[strings.ToLower(s)] > maxFieldCountsPerArray {
				p.errorf(CodeInvalidPolicyRule, path, "more than %d field count expressions on array %s", maxFieldCountsPerArray, s)
			}
		}
	case hasValue:
		cs.isValue = true
		cs.valueExpr = p.parseValueExpr(vv, path+"."+vk)
		p.valueCount++
		if p.valueCount > maxValueCounts {
			p.errorf(CodeInvalidPolicyRule, path, "more than %d value count expressions in one rule", maxValueCounts)
		}
		if nk, nv, ok := getKeyName(m, "name"); ok {
			s, isStr := nv.(string)
			if !isStr || !isIndexName(s) {
				p.errorf(CodeInvalidPolicyRule, path+"."+nk, "count.name must be letters and digits, got %s", toJSONString(nv))
			} else {
				cs.name = s
			}
		}
	default:
		p.errorf(CodeInvalidPolicyRule, path, "a count needs 'field' or 'value'")
		return nil
	}
	if !cs.isValue {
		if _, _, ok := getKeyName(m, "name"); ok {
			p.errorf(CodeInvalidPolicyRule, path+".name", "'name' is only allowed in a value count")
		}
	}
	if wk, wv, ok := getKeyName(m, "where"); ok {
		cs.where = p.parseCondition(wv, path+"."+wk, depth+1)
	}
	return cs
}

func isIndexName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// arrayExpr is a JSON array literal with expression members.
type arrayExpr struct{ elems []expr }

func (e *arrayExpr) String() string {
	parts := make([]string, len(e.elems))
	for i, el := range e.elems {
		parts[i] = el.String()
	}
	return "createArray(" + strings.Join(parts, ", ") + ")"
}

func (e *arrayExpr) eval(c *evalCtx) (any, error) {
	out := make([]any, len(e.elems))
	for i, el := range e.elems {
		v, err := el.eval(c)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (e *arrayExpr) bind(b *binder) (expr, error) {
	out := &arrayExpr{elems: make([]expr, len(e.elems))}
	allConst := true
	for i, el := range e.elems {
		be, err := el.bind(b)
		if err != nil {
			return nil, err
		}
		out.elems[i] = be
		if _, ok := be.(*litExpr); !ok {
			allConst = false
		}
	}
	if allConst {
		v, _ := out.eval(nil)
		return &litExpr{v: v}, nil
	}
	return out, nil
}

// objectExpr is a JSON object literal with expression members.
type objectExpr struct {
	keys []string
	vals []expr
}

func (e *objectExpr) String() string {
	parts := make([]string, 0, 2*len(e.keys))
	for i, k := range e.keys {
		parts = append(parts, literalString(k), e.vals[i].String())
	}
	return "createObject(" + strings.Join(parts, ", ") + ")"
}

func (e *objectExpr) eval(c *evalCtx) (any, error) {
	out := make(map[string]any, len(e.keys))
	for i, k := range e.keys {
		v, err := e.vals[i].eval(c)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

func (e *objectExpr) bind(b *binder) (expr, error) {
	out := &objectExpr{keys: e.keys, vals: make([]expr, len(e.vals))}
	allConst := true
	for i, v := range e.vals {
		bv, err := v.bind(b)
		if err != nil {
			return nil, err
		}
		out.vals[i] = bv
		if _, ok := bv.(*litExpr); !ok {
			allConst = false
		}
	}
	if allConst {
		v, _ := out.eval(nil)
		return &litExpr{v: v}, nil
	}
	return out, nil
}
