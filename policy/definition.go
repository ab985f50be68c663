package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// Definition is a parsed policy definition. It keeps the original JSON
// (Raw) for API reads; the parsed rule is private and is bound to parameter
// values when an assignment is compiled.
type Definition struct {
	ID          string // e.g. /providers/Microsoft.Authorization/policyDefinitions/{name}
	Name        string
	DisplayName string
	Description string
	PolicyType  string // BuiltIn, Custom, Static
	Mode        string // as written; "" means Indexed
	Version     string
	Category    string
	Deprecated  bool
	Preview     bool
	Metadata    map[string]any
	// Parameters declared by the definition, by name (case-insensitive lookup
	// through Parameter).
	Parameters []*ParameterDefinition
	// Raw is the document as it was parsed.
	Raw json.RawMessage
	// Warnings found while parsing, such as aliases outside the catalog.
	Warnings []Warning
	// Class says how far posture can evaluate the definition.
	Class Class
	// EffectValues are the effects the definition can take: the literal
	// effect, or the allowed values (or default) of its effect parameter.
	EffectValues []Effect

	rule *parsedRule
}

// ParameterDefinition is one declared parameter.
type ParameterDefinition struct {
	Name          string         `json:"name"`
	Type          string         `json:"type"` // String, Array, Object, Boolean, Integer, Float, DateTime
	DefaultValue  any            `json:"defaultValue,omitempty"`
	HasDefault    bool           `json:"-"`
	AllowedValues []any          `json:"allowedValues,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty"`
}

// parsedRule is a policy rule before binding.
type parsedRule struct {
	ifCond     condNode
	effectExpr expr
	details    *detailsSpec
	fields     []string // field names the rule reads literally
	params     []string // parameter names the rule uses
}

// Parameter returns the parameter called name (case-insensitive).
func (d *Definition) Parameter(name string) (*ParameterDefinition, bool) {
	return findParameter(d.Parameters, name)
}

func findParameter(list []*ParameterDefinition, name string) (*ParameterDefinition, bool) {
	for _, p := range list {
		if strings.EqualFold(p.Name, name) {
			return p, true
		}
	}
	return nil, false
}

// ModeKind classifies the definition's mode.
func (d *Definition) dataPlaneMode() bool {
	m := strings.ToLower(d.Mode)
	return m != "" && m != "all" && m != "indexed"
}

// BuiltinDefinitionID returns the id of the built-in definition called name.
func BuiltinDefinitionID(name string) string {
	return "/providers/Microsoft.Authorization/policyDefinitions/" + name
}

// BuiltinSetDefinitionID returns the id of the built-in initiative called name.
func BuiltinSetDefinitionID(name string) string {
	return "/providers/Microsoft.Authorization/policySetDefinitions/" + name
}

// unwrapProperties accepts both the repository layout
// {"properties": {...}, "id": ..., "name": ...} and the bare properties
// object. It returns the properties, the top-level object (nil for the bare
// form) and the JSON path prefix of the properties.
func unwrapProperties(v any, marker string) (props, top map[string]any, prefix string, err error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, "", fmt.Errorf("the document is a JSON %s, not an object", typeName(v))
	}
	if p, ok := getKey(m, "properties"); ok {
		if pm, ok := p.(map[string]any); ok {
			if _, has := getKey(pm, marker); has {
				return pm, m, "properties.", nil
			}
			if _, has := getKey(m, marker); !has {
				return pm, m, "properties.", nil
			}
		}
	}
	return m, nil, "", nil
}

// ParseDefinition parses and validates a policy definition document. On
// failure the error is an Errors list with codes and JSON paths.
func ParseDefinition(data []byte) (*Definition, error) {
	return parseDefinition(data, DefaultAliases())
}

func parseDefinition(data []byte, aliases *AliasCatalog) (*Definition, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, Errors{errorf(CodeInvalidPolicyDefinition, "", "the definition is not valid JSON: %v", err)}
	}
	props, top, prefix, err := unwrapProperties(v, "policyRule")
	if err != nil {
		return nil, Errors{errorf(CodeInvalidPolicyDefinition, "", "%v", err)}
	}
	d := &Definition{Raw: append(json.RawMessage(nil), data...)}
	var errs Errors
	if top != nil {
		d.ID = getString(top, "id")
		d.Name = getString(top, "name")
	}
	d.DisplayName = getString(props, "displayName")
	d.Description = getString(props, "description")
	d.PolicyType = getString(props, "policyType")
	d.Mode = getString(props, "mode")
	d.Version = getString(props, "version")
	d.Metadata = getObject(props, "metadata")
	if d.Metadata != nil {
		d.Category = getString(d.Metadata, "category")
		d.Deprecated = truthy(d.Metadata, "deprecated")
		d.Preview = truthy(d.Metadata, "preview")
		if d.Version == "" {
			d.Version = getString(d.Metadata, "version")
		}
	}
	if len(d.DisplayName) > 128 {
		errs = append(errs, errorf(CodeInvalidPolicyDefinition, prefix+"displayName", "displayName is %d characters; the limit is 128", len(d.DisplayName)))
	}
	if d.Name == "" && d.ID != "" {
		d.Name = parseARMID(d.ID).name()
	}
	if d.ID == "" && d.Name != "" {
		d.ID = BuiltinDefinitionID(d.Name)
	}
	if mv, ok := getKey(props, "mode"); ok {
		if _, isStr := mv.(string); !isStr && mv != nil {
			errs = append(errs, errorf(CodeInvalidPolicyDefinition, prefix+"mode", "mode must be a string"))
		}
	}
	d.Parameters, errs = parseParameterDefinitions(getObjectOrNil(props, "parameters"), prefix+"parameters", errs)

	ruleKey, ruleVal, ok := getKeyName(props, "policyRule")
	if !ok {
		errs = append(errs, errorf(CodeInvalidPolicyRule, prefix+"policyRule", "the definition has no policyRule"))
		return nil, errs.err()
	}
	rule, perrs := parseRule(ruleVal, prefix+ruleKey)
	errs = append(errs, perrs...)
	if rule != nil {
		for _, name := range rule.params {
			if _, ok := d.Parameter(name); !ok {
				errs = append(errs, errorf(CodeInvalidPolicyParameters, prefix+ruleKey,
					"the policy has undefined parameter '%s' which is used in the policy rule; define it in the definition or remove the reference", name))
			}
		}
		d.rule = rule
		d.EffectValues, errs = d.effectValues(prefix+ruleKey+".then.effect", errs)
	}
	if len(errs) > 0 {
		return nil, errs.err()
	}
	d.Warnings = aliasWarnings(rule, aliases, prefix+ruleKey)
	d.Class = classify(d)
	return d, nil
}

func getObjectOrNil(m map[string]any, key string) any {
	v, _ := getKey(m, key)
	return v
}

func truthy(m map[string]any, key string) bool {
	v, _ := getKey(m, key)
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// parseRule parses a policyRule object.
func parseRule(v any, path string) (*parsedRule, Errors) {
	p := &ruleParser{}
	m, ok := v.(map[string]any)
	if !ok {
		p.errorf(CodeInvalidPolicyRule, path, "policyRule must be an object, got %s", typeName(v))
		return nil, p.errs
	}
	for _, k := range sortedKeys(m) {
		if !strings.EqualFold(k, "if") && !strings.EqualFold(k, "then") {
			p.errorf(CodeInvalidPolicyRule, path+"."+k, "could not find member '%s' on the policy rule; expected 'if' and 'then'", k)
		}
	}
	rule := &parsedRule{}
	ifKey, ifVal, ok := getKeyName(m, "if")
	if !ok {
		p.errorf(CodeInvalidPolicyRule, path+".if", "the policy rule has no 'if'")
	} else {
		rule.ifCond = p.parseCondition(ifVal, path+"."+ifKey, 0)
		if p.conditions > maxIfConditions {
			p.errorf(CodeInvalidPolicyRule, path+"."+ifKey, "the if block has %d conditions; the limit is %d", p.conditions, maxIfConditions)
		}
	}
	thenKey, thenVal, ok := getKeyName(m, "then")
	thenObj, isObj := thenVal.(map[string]any)
	switch {
	case !ok:
		p.errorf(CodeInvalidPolicyRule, path+".then", "the policy rule has no 'then'")
	case !isObj:
		p.errorf(CodeInvalidPolicyRule, path+"."+thenKey, "'then' must be an object, got %s", typeName(thenVal))
	default:
		thenPath := path + "." + thenKey
		for _, k := range sortedKeys(thenObj) {
			if !strings.EqualFold(k, "effect") && !strings.EqualFold(k, "details") {
				p.errorf(CodeInvalidPolicyRule, thenPath+"."+k, "could not find member '%s' on 'then'", k)
			}
		}
		ek, ev, ok := getKeyName(thenObj, "effect")
		if s, isStr := ev.(string); !ok || !isStr || s == "" {
			p.errorf(CodeInvalidPolicyRule, thenPath+".effect", "'then' needs an effect string")
		} else {
			rule.effectExpr = p.parseValueExpr(s, thenPath+"."+ek)
		}
		if dk, dv, ok := getKeyName(thenObj, "details"); ok {
			rule.details = p.parseDetails(dv, thenPath+"."+dk)
		}
	}
	if p.functions > maxRuleFunctions {
		p.errorf(CodeInvalidPolicyRule, path, "the rule calls %d functions; the limit is %d", p.functions, maxRuleFunctions)
	}
	rule.fields = p.fields
	rule.params = ruleParams(rule)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return rule, nil
}

// ruleParams lists the parameter names the rule references (outside the
// DINE deployment, which is not evaluated).
func ruleParams(r *parsedRule) []string {
	seen := map[string]bool{}
	var out []string
	add := func(e expr) {
		walkExpr(e, func(x expr) {
			if p, ok := x.(*paramExpr); ok && !seen[strings.ToLower(p.name)] {
				seen[strings.ToLower(p.name)] = true
				out = append(out, p.name)
			}
		})
	}
	walkCond(r.ifCond, add)
	if r.effectExpr != nil {
		add(r.effectExpr)
	}
	if d := r.details; d != nil {
		for _, e := range []expr{d.typeExpr, d.nameExpr, d.resourceGroupExpr, d.scopeExpr, d.defaultStateExpr} {
			if e != nil {
				add(e)
			}
		}
		walkCond(d.existenceCondition, add)
	}
	return out
}

// walkExpr calls fn for e and every sub-expression.
func walkExpr(e expr, fn func(expr)) {
	if e == nil {
		return
	}
	fn(e)
	switch x := e.(type) {
	case *callExpr:
		for _, a := range x.args {
			walkExpr(a, fn)
		}
	case *memberExpr:
		walkExpr(x.target, fn)
	case *indexExpr:
		walkExpr(x.target, fn)
		walkExpr(x.index, fn)
	case *arrayExpr:
		for _, el := range x.elems {
			walkExpr(el, fn)
		}
	case *objectExpr:
		for _, v := range x.vals {
			walkExpr(v, fn)
		}
	}
}

// walkCond calls fn for every expression in a condition tree.
func walkCond(n condNode, fn func(expr)) {
	switch x := n.(type) {
	case *allOfNode:
		for _, c := range x.children {
			walkCond(c, fn)
		}
	case *anyOfNode:
		for _, c := range x.children {
			walkCond(c, fn)
		}
	case *notNode:
		walkCond(x.child, fn)
	case *leafNode:
		for _, e := range []expr{x.fieldExpr, x.valueExpr, x.rhs} {
			if e != nil {
				fn(e)
			}
		}
		if x.count != nil {
			for _, e := range []expr{x.count.fieldExpr, x.count.valueExpr} {
				if e != nil {
					fn(e)
				}
			}
			walkCond(x.count.where, fn)
		}
	}
}

// effectValues lists the effects the definition can take and checks literal
// effects.
func (d *Definition) effectValues(path string, errs Errors) ([]Effect, Errors) {
	e := d.rule.effectExpr
	if e == nil {
		return nil, errs
	}
	if v, ok := constValue(e); ok {
		s, _ := v.(string)
		eff, ok := ParseEffect(s)
		if !ok {
			return nil, append(errs, errorf(CodeInvalidPolicyRule, path, "%s", effectError(v)))
		}
		return []Effect{eff}, errs
	}
	if p, ok := e.(*paramExpr); ok {
		pd, found := d.Parameter(p.name)
		if !found {
			return nil, errs // reported as an undefined parameter
		}
		var out []Effect
		add := func(v any) {
			s, _ := v.(string)
			if eff, ok := ParseEffect(s); ok {
				for _, x := range out {
					if x == eff {
						return
					}
				}
				out = append(out, eff)
			}
		}
		for _, av := range pd.AllowedValues {
			add(av)
		}
		if pd.HasDefault {
			add(pd.DefaultValue)
		}
		return out, errs
	}
	return nil, errs
}

// aliasWarnings resolves every literal field the rule reads and reports the
// ones the catalog does not know.
func aliasWarnings(r *parsedRule, aliases *AliasCatalog, path string) []Warning {
	var out []Warning
	seen := map[string]bool{}
	check := func(name string) {
		if seen[strings.ToLower(name)] {
			return
		}
		seen[strings.ToLower(name)] = true
		if _, w := aliases.resolveField(name, nil); w != nil {
			w.Path = path
			out = append(out, *w)
		}
	}
	for _, f := range r.fields {
		check(f)
	}
	collect := func(e expr) {
		walkExpr(e, func(x expr) {
			switch y := x.(type) {
			case *fieldFnExpr:
				check(y.name)
			case *currentExpr:
				if strings.Contains(y.name, "/") {
					check(y.name)
				}
			}
		})
	}
	walkCond(r.ifCond, collect)
	if r.details != nil {
		walkCond(r.details.existenceCondition, collect)
		for _, e := range []expr{r.details.nameExpr, r.details.resourceGroupExpr} {
			if e != nil {
				collect(e)
			}
		}
	}
	return out
}

// Parameter types.
var parameterTypes = map[string]string{
	"string": "String", "array": "Array", "object": "Object", "boolean": "Boolean",
	"integer": "Integer", "float": "Float", "datetime": "DateTime",
}

func parseParameterDefinitions(v any, path string, errs Errors) ([]*ParameterDefinition, Errors) {
	if v == nil {
		return nil, errs
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, append(errs, errorf(CodeInvalidPolicyParameters, path, "parameters must be an object, got %s", typeName(v)))
	}
	var out []*ParameterDefinition
	for _, name := range sortedKeys(m) {
		ppath := path + "." + name
		pm, ok := m[name].(map[string]any)
		if !ok {
			errs = append(errs, errorf(CodeInvalidPolicyParameters, ppath, "parameter '%s' must be an object", name))
			continue
		}
		pd := &ParameterDefinition{Name: name, Metadata: getObject(pm, "metadata")}
		t, ok := parameterTypes[strings.ToLower(getString(pm, "type"))]
		if !ok {
			errs = append(errs, errorf(CodeInvalidPolicyParameters, ppath+".type", "parameter '%s' has type %s; expected String, Array, Object, Boolean, Integer, Float or DateTime", name, toJSONString(getObjectOrNil(pm, "type"))))
			continue
		}
		pd.Type = t
		if av, ok := getKey(pm, "allowedValues"); ok && av != nil {
			list, isArr := av.([]any)
			if !isArr {
				errs = append(errs, errorf(CodeInvalidPolicyParameters, ppath+".allowedValues", "allowedValues must be an array"))
			}
			pd.AllowedValues = list
		}
		if dv, ok := getKey(pm, "defaultValue"); ok {
			pd.DefaultValue, pd.HasDefault = dv, true
			if err := checkParameterValue(pd, dv); err != nil {
				errs = append(errs, errorf(err.Code, ppath+".defaultValue", "%s", err.Message))
			}
		}
		out = append(out, pd)
	}
	return out, errs
}

// checkParameterValue checks a value against a parameter's type and
// allowedValues. allowedValues are matched case-sensitively, as Azure does
// ("The value 'Audit' is not allowed ... The allowed values are 'audit, deny,
// disabled'", Azure/azure-policy#721).
func checkParameterValue(pd *ParameterDefinition, v any) *Error {
	if !valueHasType(v, pd.Type) {
		return errorf(CodeInvalidPolicyParameters, "", "the value %s of parameter '%s' is not of type %s", toJSONString(v), pd.Name, pd.Type)
	}
	if len(pd.AllowedValues) == 0 || v == nil {
		return nil
	}
	allowed := func(x any) bool {
		for _, a := range pd.AllowedValues {
			if templateEquals(a, x) {
				return true
			}
		}
		return false
	}
	if allowed(v) {
		return nil
	}
	// An array parameter's allowedValues may list the allowed members.
	if arr, ok := v.([]any); ok && pd.Type == "Array" {
		all := true
		for _, e := range arr {
			if !allowed(e) {
				all = false
				break
			}
		}
		if all {
			return nil
		}
	}
	parts := make([]string, len(pd.AllowedValues))
	for i, a := range pd.AllowedValues {
		parts[i], _ = scalarString(a)
		if _, ok := a.(string); !ok {
			parts[i] = toJSONString(a)
		}
	}
	return errorf(CodeParameterValueNotAllowed, "", "the value %s is not allowed for policy parameter '%s'; the allowed values are '%s'", toJSONString(v), pd.Name, strings.Join(parts, ", "))
}

func valueHasType(v any, t string) bool {
	if v == nil {
		return true
	}
	switch t {
	case "String":
		_, ok := v.(string)
		return ok
	case "Array":
		_, ok := v.([]any)
		return ok
	case "Object":
		_, ok := v.(map[string]any)
		return ok
	case "Boolean":
		_, ok := v.(bool)
		return ok
	case "Integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f)
	case "Float":
		_, ok := v.(float64)
		return ok
	case "DateTime":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			_, ok = parseDateTime(s)
			return ok
		}
		return true
	}
	return true
}
