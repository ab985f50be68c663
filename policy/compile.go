package policy

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// CompileOptions tune Compile.
type CompileOptions struct {
	// Aliases replaces the embedded alias catalog.
	Aliases *AliasCatalog
}

// CompiledAssignment is an assignment ready for evaluation: the initiative
// expanded into references, parameters resolved (assignment, then
// initiative default, then definition default), rules bound and indexed by
// the resource types they can match. It is immutable and safe for
// concurrent use.
type CompiledAssignment struct {
	Assignment    *Assignment
	SetDefinition *SetDefinition // nil when a single definition is assigned
	References    []*CompiledReference
	Warnings      []Warning

	notScopes []string
	selectors []ResourceSelector
	byType    map[string][]*CompiledReference // exact lower-case types
	anyType   []*CompiledReference            // references whose filter is not a finite set
	cache     sync.Map                        // typeKey -> []*CompiledReference
}

// CompiledReference is one definition of a compiled assignment.
type CompiledReference struct {
	ReferenceID string // policyDefinitionReferenceId ("" for a single definition)
	Definition  *Definition
	Effect      Effect         // effect after parameters; overrides by location apply per resource
	Parameters  map[string]any // the definition's effective parameter values
	GroupNames  []string
	Class       Class
	Facts       Facts
	EnforceDeny bool // enforcementMode is Default
	ifCond      condNode
	details     *boundDetails
	types       typeFilter
	applic      applicability
	overrides   []refOverride
	policyInfo  map[string]any
	dataPlane   []string // host types, for data-plane modes
}

// refOverride is an effect override that applies to a reference, possibly
// only in some locations.
type refOverride struct {
	effect    Effect
	locations []Selector
}

// Compile resolves an assignment against a registry.
func Compile(a *Assignment, reg *Registry, opts ...CompileOptions) (*CompiledAssignment, error) {
	var o CompileOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Aliases == nil {
		o.Aliases = DefaultAliases()
	}
	if errs := a.validate(); len(errs) > 0 {
		return nil, errs.err()
	}
	ca := &CompiledAssignment{Assignment: a, notScopes: a.NotScopes, selectors: a.ResourceSelectors, byType: map[string][]*CompiledReference{}}
	given := map[string]any{}
	for k, v := range a.Parameters {
		given[k] = unwrapParameterValue(v)
	}
	var errs Errors
	set, isSet := reg.SetDefinition(a.PolicyDefinitionID)
	d, isDef := reg.Definition(a.PolicyDefinitionID)
	if isSet && (!isDef || strings.Contains(strings.ToLower(a.PolicyDefinitionID), "/policysetdefinitions/")) {
		ca.SetDefinition = set
		setParams, perrs := effectiveParameters(set.Parameters, given, "properties.parameters", "policy set definition '"+set.Name+"'")
		errs = append(errs, perrs...)
		if len(perrs) == 0 {
			for i, ref := range set.References {
				path := fmt.Sprintf("policyDefinitions[%d]", i)
				cr, rerrs := compileReference(a, set, ref, setParams, reg, o, path)
				errs = append(errs, rerrs...)
				if cr != nil {
					ca.References = append(ca.References, cr)
				}
			}
		}
	} else if isDef {
		params, perrs := effectiveParameters(d.Parameters, given, "properties.parameters", "policy definition '"+d.Name+"'")
		errs = append(errs, perrs...)
		if len(perrs) == 0 {
			cr, rerrs := bindReference(a, nil, "", d, params, nil, o)
			errs = append(errs, rerrs...)
			if cr != nil {
				ca.References = append(ca.References, cr)
			}
		}
	} else {
		errs = append(errs, errorf(CodePolicyDefinitionNotFound, "properties.policyDefinitionId", "the policy definition or set definition '%s' could not be found", a.PolicyDefinitionID))
	}
	if len(errs) > 0 {
		return nil, errs.err()
	}
	for _, cr := range ca.References {
		ca.Warnings = append(ca.Warnings, cr.Facts.Warnings...)
		if cr.types.any || len(cr.types.patterns) > 0 {
			ca.anyType = append(ca.anyType, cr)
		}
		for t := range cr.types.exact {
			ca.byType[t] = append(ca.byType[t], cr)
		}
		for _, t := range cr.dataPlane {
			ca.byType[t] = append(ca.byType[t], cr)
		}
	}
	return ca, nil
}

// effectiveParameters resolves declared parameters from given values and
// defaults, checking names, types and allowed values.
func effectiveParameters(decl []*ParameterDefinition, given map[string]any, path, owner string) (map[string]any, Errors) {
	var errs Errors
	out := map[string]any{}
	var undefined []string
	for name := range given {
		if _, ok := findParameter(decl, name); !ok {
			undefined = append(undefined, name)
		}
	}
	sort.Strings(undefined)
	for _, name := range undefined {
		errs = append(errs, errorf(CodeUndefinedPolicyParameter, path+"."+name, "the parameter '%s' is not defined in the %s", name, owner))
	}
	for _, pd := range decl {
		v, ok := lookupValue(given, pd.Name)
		if !ok {
			if !pd.HasDefault {
				errs = append(errs, errorf(CodeInvalidPolicyParameters, path+"."+pd.Name, "the %s requires parameter '%s', which has no default value and was not supplied", owner, pd.Name))
				continue
			}
			v = pd.DefaultValue
		} else if perr := checkParameterValue(pd, v); perr != nil {
			errs = append(errs, errorf(perr.Code, path+"."+pd.Name, "%s (in the %s)", perr.Message, owner))
			continue
		}
		out[strings.ToLower(pd.Name)] = v
	}
	return out, errs
}

func lookupValue(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// compileReference resolves one initiative member: its parameter values are
// the reference's expressions evaluated against the initiative's parameters.
func compileReference(a *Assignment, set *SetDefinition, ref *DefinitionReference, setParams map[string]any, reg *Registry, o CompileOptions, path string) (*CompiledReference, Errors) {
	d, ok := reg.Definition(ref.DefinitionID)
	if !ok {
		return nil, Errors{errorf(CodePolicyDefinitionNotFound, path+".policyDefinitionId", "the policy definition '%s' referenced by '%s' could not be found", ref.DefinitionID, ref.ReferenceID)}
	}
	values := map[string]any{}
	b := newBinder(setParams, o.Aliases, "")
	for name, e := range ref.paramExprs {
		if _, declared := d.Parameter(name); !declared && !versionMatches(ref.DefinitionVersion, d.Version) {
			continue // passed to a pinned older version; see ValidateSetDefinition
		}
		be, err := e.bind(b)
		if err != nil {
			return nil, Errors{errorf(CodeInvalidPolicyParameters, path+".parameters."+name, "%v", err)}
		}
		v, ok := constValue(be)
		if !ok {
			return nil, Errors{errorf(CodeInvalidPolicyParameters, path+".parameters."+name, "the value of parameter '%s' must not depend on the evaluated resource", name)}
		}
		values[name] = v
	}
	params, errs := effectiveParameters(d.Parameters, values, path+".parameters", "policy definition '"+d.Name+"' (reference '"+ref.ReferenceID+"')")
	if len(errs) > 0 {
		return nil, errs
	}
	return bindReference(a, set, ref.ReferenceID, d, params, ref.GroupNames, o)
}

// bindReference binds a definition's rule to its effective parameters.
func bindReference(a *Assignment, set *SetDefinition, refID string, d *Definition, params map[string]any, groups []string, o CompileOptions) (*CompiledReference, Errors) {
	cr := &CompiledReference{
		ReferenceID: refID,
		Definition:  d,
		Parameters:  params,
		GroupNames:  groups,
		Class:       d.Class,
		EnforceDeny: !strings.EqualFold(a.EnforcementMode, "DoNotEnforce"),
	}
	setID := ""
	if set != nil {
		setID = set.ID
	}
	cr.policyInfo = map[string]any{
		"assignmentId":          a.ID,
		"definitionId":          d.ID,
		"setDefinitionId":       setID,
		"definitionReferenceId": refID,
	}
	rule := d.rule
	bIf := newBinder(params, o.Aliases, "properties.policyRule")
	bIf.policyInfo = cr.policyInfo
	ifCond, err := rule.ifCond.bind(bIf)
	if err != nil {
		return nil, Errors{asError(err, refID)}
	}
	cr.ifCond = ifCond
	eff, err := rule.effectExpr.bind(bIf)
	if err != nil {
		return nil, Errors{asError(err, refID)}
	}
	ev, _ := constValue(eff)
	es, _ := ev.(string)
	effect, ok := ParseEffect(es)
	if !ok {
		return nil, Errors{errorf(CodeInvalidPolicyParameters, "properties.policyRule.then.effect", "%s (reference '%s')", effectError(ev), refID)}
	}
	cr.Effect = effect
	bDetails := newBinder(params, o.Aliases, "properties.policyRule.then.details")
	bDetails.policyInfo = cr.policyInfo
	if rule.details != nil {
		if cr.details, err = rule.details.bind(bDetails, ""); err != nil {
			return nil, Errors{asError(err, refID)}
		}
	}
	if effect.IfNotExists() && (cr.details == nil || cr.details.typeExpr == nil) {
		return nil, Errors{errorf(CodeInvalidPolicyRule, "properties.policyRule.then.details.type", "effect %s needs details.type (reference '%s')", effect, refID)}
	}
	if o, errs := referenceOverrides(a, refID, d, params); len(errs) > 0 {
		return nil, errs
	} else {
		cr.overrides = o
	}
	cr.types = analyzeTypes(ifCond, false)
	cr.applic = planApplicability(ifCond)
	if d.dataPlaneMode() {
		cr.dataPlane = dataPlaneHostTypes[strings.ToLower(d.Mode)]
		cr.types = typeFilter{exact: map[string]bool{}}
	}
	cr.Facts = buildFacts(cr, bIf, bDetails)
	return cr, nil
}

func asError(err error, refID string) *Error {
	if e, ok := err.(*Error); ok {
		if refID != "" {
			return &Error{Code: e.Code, Path: e.Path, Message: e.Message + " (reference '" + refID + "')"}
		}
		return e
	}
	return errorf(CodeInvalidPolicyRule, "properties.policyRule", "%v", err)
}

// referenceOverrides selects the effect overrides that apply to a reference
// and checks them against the definition's allowed effects.
func referenceOverrides(a *Assignment, refID string, d *Definition, params map[string]any) ([]refOverride, Errors) {
	var out []refOverride
	var errs Errors
	for i, o := range a.Overrides {
		if !strings.EqualFold(o.Kind, "policyEffect") {
			continue
		}
		applies := true
		var locs []Selector
		for _, s := range o.Selectors {
			switch strings.ToLower(s.Kind) {
			case "policydefinitionreferenceid":
				if !s.matches(refID, strings.ToLower) {
					applies = false
				}
			case "resourcelocation":
				locs = append(locs, s)
			}
		}
		if !applies {
			continue
		}
		eff, _ := ParseEffect(o.Value)
		if len(d.EffectValues) > 1 || isParameterizedEffect(d) {
			allowed := false
			for _, e := range d.EffectValues {
				if e == eff {
					allowed = true
				}
			}
			if !allowed {
				errs = append(errs, errorf(CodeParameterValueNotAllowed, fmt.Sprintf("properties.overrides[%d].value", i),
					"the override effect '%s' is not allowed for policy definition '%s' (reference '%s'); the allowed effects are %v", o.Value, d.Name, refID, d.EffectValues))
				continue
			}
		}
		out = append(out, refOverride{effect: eff, locations: locs})
	}
	return out, errs
}

func isParameterizedEffect(d *Definition) bool {
	_, ok := d.rule.effectExpr.(*paramExpr)
	return ok
}

// effectFor returns the effect for a resource after location-dependent
// overrides, applied in order (a later matching override wins).
func (cr *CompiledReference) effectFor(r *Resource) Effect {
	e := cr.Effect
	for _, o := range cr.overrides {
		match := true
		for _, s := range o.locations {
			if !s.matches(r.Location, normalizeLocation) {
				match = false
			}
		}
		if match {
			e = o.effect
		}
	}
	return e
}

// candidates returns the references that can apply to a resource type.
func (ca *CompiledAssignment) candidates(typeKey string) []*CompiledReference {
	if v, ok := ca.cache.Load(typeKey); ok {
		return v.([]*CompiledReference)
	}
	var out []*CompiledReference
	seen := map[*CompiledReference]bool{}
	for _, cr := range ca.byType[typeKey] {
		if !seen[cr] {
			seen[cr] = true
			out = append(out, cr)
		}
	}
	for _, cr := range ca.anyType {
		if !seen[cr] && cr.types.matches(typeKey) {
			seen[cr] = true
			out = append(out, cr)
		}
	}
	// Keep initiative order for stable output.
	order := map[*CompiledReference]int{}
	for i, cr := range ca.References {
		order[cr] = i
	}
	sort.Slice(out, func(i, j int) bool { return order[out[i]] < order[out[j]] })
	ca.cache.Store(typeKey, out)
	return out
}

// Reference returns the compiled reference with the given id.
func (ca *CompiledAssignment) Reference(referenceID string) (*CompiledReference, bool) {
	for _, cr := range ca.References {
		if strings.EqualFold(cr.ReferenceID, referenceID) {
			return cr, true
		}
	}
	return nil, false
}

// AppliesToType reports whether some reference of the assignment can apply
// to resources of the lower-case type, so that a caller can skip decoding
// documents no reference will read.
func (ca *CompiledAssignment) AppliesToType(typeKey string) bool {
	return len(ca.candidates(typeKey)) > 0
}
