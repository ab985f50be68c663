package policy

import (
	"fmt"
	"strings"
)

// Effect is a policy effect in its canonical spelling.
type Effect string

// Effects Azure Policy defines. The engine reports compliance for the
// resource-manager effects; the others yield Unknown with a reason.
const (
	EffectAudit             Effect = "Audit"
	EffectDeny              Effect = "Deny"
	EffectDisabled          Effect = "Disabled"
	EffectAppend            Effect = "Append"
	EffectModify            Effect = "Modify"
	EffectAuditIfNotExists  Effect = "AuditIfNotExists"
	EffectDeployIfNotExists Effect = "DeployIfNotExists"
	EffectManual            Effect = "Manual"
	EffectDenyAction        Effect = "DenyAction"
	EffectMutate            Effect = "Mutate"
	EffectAddToNetworkGroup Effect = "AddToNetworkGroup"
	EffectEnforceRegoPolicy Effect = "EnforceRegoPolicy"
	EffectEnforceSetting    Effect = "EnforceSetting"
	EffectAuditAction       Effect = "AuditAction"
)

var allEffects = []Effect{
	EffectAudit, EffectDeny, EffectDisabled, EffectAppend, EffectModify, EffectAuditIfNotExists,
	EffectDeployIfNotExists, EffectManual, EffectDenyAction, EffectMutate, EffectAddToNetworkGroup,
	EffectEnforceRegoPolicy, EffectEnforceSetting, EffectAuditAction,
}

// ParseEffect returns the canonical effect for s, compared
// case-insensitively (built-ins spell "audit", "Audit" and "AuditIfNotExists").
func ParseEffect(s string) (Effect, bool) {
	for _, e := range allEffects {
		if strings.EqualFold(string(e), s) {
			return e, true
		}
	}
	return "", false
}

// IfNotExists reports whether the effect checks related resources.
func (e Effect) IfNotExists() bool {
	return e == EffectAuditIfNotExists || e == EffectDeployIfNotExists
}

// reportsCompliance reports whether the engine computes a compliance state
// for the effect from the rule.
func (e Effect) reportsCompliance() bool {
	switch e {
	case EffectAudit, EffectDeny, EffectAppend, EffectModify, EffectAuditIfNotExists, EffectDeployIfNotExists, EffectManual:
		return true
	}
	return false
}

// detailsSpec is the parsed then.details of a rule. Only the members the
// engine uses are parsed; the raw value is kept for callers (DINE
// deployments, modify operations).
type detailsSpec struct {
	raw                any
	typeExpr           expr
	nameExpr           expr
	resourceGroupExpr  expr
	scopeExpr          expr
	existenceCondition condNode
	defaultStateExpr   expr // manual
	evaluationDelay    string
}

// parseDetails reads then.details. Existence members are parsed whenever
// present, because the effect is often a parameter that can be set to
// AuditIfNotExists at assignment time.
func (p *ruleParser) parseDetails(v any, path string) *detailsSpec {
	d := &detailsSpec{raw: v}
	m, ok := v.(map[string]any)
	if !ok {
		return d
	}
	if k, tv, ok := getKeyName(m, "type"); ok {
		if _, isStr := tv.(string); !isStr {
			p.errorf(CodeInvalidPolicyRule, path+"."+k, "details.type must be a string, got %s", typeName(tv))
		} else {
			d.typeExpr = p.parseValueExpr(tv, path+"."+k)
		}
	}
	if k, nv, ok := getKeyName(m, "name"); ok {
		d.nameExpr = p.parseValueExpr(nv, path+"."+k)
	}
	if k, rv, ok := getKeyName(m, "resourceGroupName"); ok {
		d.resourceGroupExpr = p.parseValueExpr(rv, path+"."+k)
	}
	if k, sv, ok := getKeyName(m, "existenceScope"); ok {
		d.scopeExpr = p.parseValueExpr(sv, path+"."+k)
		if s, isStr := sv.(string); isStr && !isExpression(s) && !strings.EqualFold(s, "ResourceGroup") && !strings.EqualFold(s, "Subscription") {
			p.errorf(CodeInvalidPolicyRule, path+"."+k, "existenceScope must be ResourceGroup or Subscription, got %q", s)
		}
	}
	if k, ev, ok := getKeyName(m, "existenceCondition"); ok {
		saved := p.conditions
		p.conditions = 0
		d.existenceCondition = p.parseCondition(ev, path+"."+k, 0)
		if p.conditions > maxExistenceConditions {
			p.errorf(CodeInvalidPolicyRule, path+"."+k, "the existenceCondition has %d conditions; the limit is %d", p.conditions, maxExistenceConditions)
		}
		p.conditions = saved
	}
	if k, dv, ok := getKeyName(m, "defaultState"); ok {
		d.defaultStateExpr = p.parseValueExpr(dv, path+"."+k)
	}
	if s := getString(m, "evaluationDelay"); s != "" {
		d.evaluationDelay = s
	}
	return d
}

// boundDetails is detailsSpec after binding to parameter values.
type boundDetails struct {
	typeExpr           expr
	relatedType        string // constant related type, when known at compile time
	relatedTypeKey     string // relatedType in lower case
	nameExpr           expr
	resourceGroupExpr  expr
	scopeExpr          expr
	existenceCondition condNode
	defaultState       ComplianceState
}

func (d *detailsSpec) bind(b *binder, path string) (*boundDetails, error) {
	out := &boundDetails{}
	bindOne := func(e expr, member string) (expr, error) {
		if e == nil {
			return nil, nil
		}
		be, err := e.bind(b)
		if err != nil {
			return nil, b.wrap(err, path+"."+member)
		}
		return be, nil
	}
	var err error
	if out.typeExpr, err = bindOne(d.typeExpr, "type"); err != nil {
		return nil, err
	}
	if v, ok := constValue(out.typeExpr); ok {
		out.relatedType, _ = v.(string)
		out.relatedTypeKey = strings.ToLower(out.relatedType)
	}
	if out.nameExpr, err = bindOne(d.nameExpr, "name"); err != nil {
		return nil, err
	}
	if out.resourceGroupExpr, err = bindOne(d.resourceGroupExpr, "resourceGroupName"); err != nil {
		return nil, err
	}
	if out.scopeExpr, err = bindOne(d.scopeExpr, "existenceScope"); err != nil {
		return nil, err
	}
	if d.existenceCondition != nil {
		if out.existenceCondition, err = d.existenceCondition.bind(b); err != nil {
			return nil, err
		}
	}
	out.defaultState = StateUnknown
	if d.defaultStateExpr != nil {
		ds, err := bindOne(d.defaultStateExpr, "defaultState")
		if err != nil {
			return nil, err
		}
		if v, ok := constValue(ds); ok {
			s, _ := v.(string)
			st, ok := parseManualState(s)
			if !ok {
				return nil, errorf(CodeInvalidPolicyRule, b.fullPath(path+".defaultState"), "defaultState must be Compliant, NonCompliant or Unknown, got %s", toJSONString(v))
			}
			out.defaultState = st
		}
	}
	return out, nil
}

func parseManualState(s string) (ComplianceState, bool) {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "compliant":
		return StateCompliant, true
	case "noncompliant":
		return StateNonCompliant, true
	case "unknown":
		return StateUnknown, true
	}
	return "", false
}

func (e Effect) String() string { return string(e) }

// effectError formats the message for an effect that is not valid.
func effectError(v any) string {
	return fmt.Sprintf("the policy effect %s is not valid; expected one of %s", toJSONString(v), effectList())
}

func effectList() string {
	parts := make([]string, len(allEffects))
	for i, e := range allEffects {
		parts[i] = string(e)
	}
	return strings.Join(parts, ", ")
}
