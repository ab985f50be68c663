package policy

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// ReasonMode says which results carry reasons. Reasons cost a second,
// tracing pass over the rule, so a server scanning many resources asks for
// them only where it shows them.
type ReasonMode int

const (
	// ReasonsNonCompliant explains every result that is not Compliant
	// (the default).
	ReasonsNonCompliant ReasonMode = iota
	// ReasonsAll explains every result.
	ReasonsAll
	// ReasonsNone explains nothing.
	ReasonsNone
)

// EvalOptions tune evaluation. The zero value is ready to use.
type EvalOptions struct {
	// Now is the time utcNow() returns; zero means time.Now().
	Now time.Time
	// APIVersion is requestContext().apiVersion. Empty means "the latest
	// API version", which Azure uses for compliance scans; it sorts after
	// every dated version.
	APIVersion string
	Reasons    ReasonMode
	// IsExempt lets the caller apply exemptions. Evaluation still runs (as
	// Azure does); an exempt pair gets state Exempt and keeps the evaluated
	// state in Result.EvaluatedState.
	IsExempt func(a *CompiledAssignment, ref *CompiledReference, r *Resource) bool
	// Budget bounds the work of one (reference, resource) evaluation;
	// zero means the default.
	Budget int
	// ReportDisabled reports a reference whose effect is Disabled with
	// state Disabled for the resources its rule's type, name and kind
	// conditions select, instead of not at all, so that Defender's view can
	// show them as off by policy.
	ReportDisabled bool
}

// Result is the compliance of one resource against one reference of an
// assignment.
type Result struct {
	AssignmentID string          `json:"assignmentId,omitempty"`
	ReferenceID  string          `json:"policyDefinitionReferenceId,omitempty"`
	DefinitionID string          `json:"policyDefinitionId"`
	ResourceID   string          `json:"resourceId"`
	ResourceType string          `json:"resourceType"`
	State        ComplianceState `json:"complianceState"`
	Effect       Effect          `json:"effect"`
	// Enforced is false under enforcementMode DoNotEnforce: the state is
	// the same, but Deny/Modify/DINE would not act on requests.
	Enforced bool `json:"enforced"`
	// EvaluatedState is the state before an exemption replaced it.
	EvaluatedState ComplianceState `json:"evaluatedState,omitempty"`
	Reasons        []Reason        `json:"reasons,omitempty"`
	// RelatedIDs are the related resources an existence check read.
	RelatedIDs []string `json:"relatedResources,omitempty"`
	// Err is the evaluation error behind an Error state.
	Err     error  `json:"-"`
	Message string `json:"error,omitempty"`
}

// Evaluate evaluates a resource against every reference of the assignment
// that can apply to it. Resources outside the assignment's scope, in
// notScopes, outside its resource selectors, or not applicable to a
// reference get no result for it. lookup may be nil when no existence check
// is expected (existence checks then find nothing).
func (ca *CompiledAssignment) Evaluate(ctx context.Context, r *Resource, lookup Lookup) []Result {
	return ca.EvaluateWithOptions(ctx, r, lookup, EvalOptions{})
}

// EvaluateWithOptions is Evaluate with options.
func (ca *CompiledAssignment) EvaluateWithOptions(ctx context.Context, r *Resource, lookup Lookup, opts EvalOptions) []Result {
	if !ca.inScope(r) {
		return nil
	}
	refs := ca.candidates(r.typeKey)
	if len(refs) == 0 {
		return nil
	}
	opts = opts.withDefaults()
	// One evaluation context serves every reference of this resource:
	// evaluation allocates as little as possible, since a scan runs it for
	// every (reference, resource) pair.
	scratch := &evalCtx{}
	out := make([]Result, 0, len(refs))
	for _, cr := range refs {
		if res, ok := ca.evaluateReference(ctx, cr, r, lookup, opts, scratch); ok {
			out = append(out, res)
		}
	}
	return out
}

// withDefaults resolves the zero values of the options once per call.
func (o EvalOptions) withDefaults() EvalOptions {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.APIVersion == "" {
		o.APIVersion = latestAPIVersion
	}
	if o.Budget <= 0 {
		o.Budget = defaultBudget
	}
	return o
}

// InScope reports whether the assignment evaluates r at all: under its
// scope, outside its notScopes and selected by its resource selectors.
func (ca *CompiledAssignment) InScope(r *Resource) bool { return ca.inScope(r) }

func (ca *CompiledAssignment) inScope(r *Resource) bool {
	if s := ca.Assignment.Scope; s != "" && !isManagementGroupScope(s) && !idHasPrefix(r.ID, s) {
		return false
	}
	for _, ns := range ca.notScopes {
		if idHasPrefix(r.ID, ns) {
			return false
		}
	}
	if len(ca.selectors) > 0 {
		for _, rs := range ca.selectors {
			if rs.selectsResource(r) {
				return true
			}
		}
		return false
	}
	return true
}

// isManagementGroupScope: resources cannot be placed under a management
// group from their id alone, so the caller decides membership.
func isManagementGroupScope(s string) bool {
	return strings.Contains(strings.ToLower(s), "/providers/microsoft.management/managementgroups/")
}

// EvaluateReference evaluates one reference; ok is false when the reference
// does not apply to the resource.
func (ca *CompiledAssignment) EvaluateReference(ctx context.Context, cr *CompiledReference, r *Resource, lookup Lookup, opts EvalOptions) (Result, bool) {
	if !ca.inScope(r) || !(cr.types.matches(r.typeKey) || containsString(cr.dataPlane, r.typeKey)) {
		return Result{}, false
	}
	return ca.evaluateReference(ctx, cr, r, lookup, opts.withDefaults(), &evalCtx{})
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (ca *CompiledAssignment) evaluateReference(ctx context.Context, cr *CompiledReference, r *Resource, lookup Lookup, opts EvalOptions, scratch *evalCtx) (res Result, ok bool) {
	res = Result{
		AssignmentID: ca.Assignment.ID,
		ReferenceID:  cr.ReferenceID,
		DefinitionID: cr.Definition.ID,
		ResourceID:   r.ID,
		ResourceType: r.Type,
		Enforced:     cr.EnforceDeny,
	}
	defer func() {
		// The evaluator must never take the server down: a bug becomes the
		// Error state for this pair only.
		if p := recover(); p != nil {
			res.State = StateError
			res.Err = fmt.Errorf("internal error evaluating %s: %v\n%s", cr.Definition.ID, p, debug.Stack())
			res.Message = fmt.Sprintf("internal error: %v", p)
			ok = true
		}
	}()
	o := cr.run(ctx, r, lookup, opts, false, scratch)
	if !o.applicable {
		return Result{}, false
	}
	res.Effect = o.effect
	res.State = o.state
	res.RelatedIDs = o.related
	if o.err != nil {
		res.State = StateError
		res.Err = o.err
		res.Message = o.err.Error()
	}
	wantReasons := opts.Reasons == ReasonsAll ||
		opts.Reasons == ReasonsNonCompliant && res.State != StateCompliant
	if wantReasons {
		reasons := o.reasons
		if o.err == nil {
			// Run again with tracing to collect what decided: the first
			// pass does not trace, so most resources never pay for it.
			reasons = cr.run(ctx, r, lookup, opts, true, scratch).reasons
		}
		res.Reasons = reasons
	}
	if opts.IsExempt != nil && opts.IsExempt(ca, cr, r) {
		res.EvaluatedState = res.State
		res.State = StateExempt
	}
	return res, true
}

// outcome is the result of running one reference's rule on one resource.
type outcome struct {
	applicable bool
	state      ComplianceState
	effect     Effect
	reasons    []Reason // collected when tracing, or when a message explains the state
	related    []string // related resources read by an existence check
	err        error
}

func notApplicable() outcome { return outcome{} }

// evaluate runs the rule with a fresh context (fuzz tests call it to see
// panics that Evaluate would recover from).
func (cr *CompiledReference) evaluate(ctx context.Context, r *Resource, lookup Lookup, opts EvalOptions, tracing bool) outcome {
	return cr.run(ctx, r, lookup, opts.withDefaults(), tracing, &evalCtx{})
}

// run runs the rule, reusing c. opts must have its defaults resolved.
func (cr *CompiledReference) run(ctx context.Context, r *Resource, lookup Lookup, opts EvalOptions, tracing bool, c *evalCtx) outcome {
	d := cr.Definition
	if cr.dataPlane != nil {
		if cr.effectFor(r) == EffectDisabled {
			return notApplicable()
		}
		msg := fmt.Sprintf("mode %s is evaluated inside the resource provider; posture does not evaluate data-plane components", d.Mode)
		return outcome{applicable: true, state: StateUnknown, effect: cr.Effect, reasons: []Reason{{Condition: "properties.mode", Message: msg}}}
	}
	if !modeApplies(d.Mode, r) {
		return notApplicable()
	}
	effect := cr.effectFor(r)
	if effect == EffectDisabled && !opts.ReportDisabled {
		// Disabled prevents evaluation altogether.
		return notApplicable()
	}
	*c = evalCtx{
		ctx:        ctx,
		res:        r,
		ifRes:      r,
		frames:     c.frames[:0],
		policyInfo: cr.policyInfo,
		now:        opts.Now,
		apiVersion: opts.APIVersion,
		budget:     opts.Budget,
	}
	fail := func(err error) outcome {
		return outcome{applicable: true, state: StateError, effect: effect, reasons: c.reasons, err: err}
	}
	if effect == EffectDisabled {
		// Only the applicability conditions run: the rule itself is off.
		if app, err := cr.applic.applicable(cr.ifCond, c, false); err != nil || !app {
			return notApplicable()
		}
		return outcome{applicable: true, state: StateDisabled, effect: effect}
	}
	if !effect.IfNotExists() {
		app, err := cr.applic.applicable(cr.ifCond, c, false)
		if err != nil {
			return fail(err)
		}
		if !app {
			return notApplicable()
		}
	}
	c.tracing = tracing
	matched, err := cr.ifCond.eval(c)
	if err != nil {
		return fail(err)
	}
	switch {
	case effect.IfNotExists():
		if !matched {
			// For -IfNotExists effects the whole if-condition decides
			// applicability.
			return notApplicable()
		}
		ifReasons := c.reasons
		st, exReasons, related, err := cr.checkExistence(c, lookup)
		o := outcome{applicable: true, state: st, effect: effect, related: related, err: err}
		if err != nil {
			o.state = StateError
		}
		if tracing || st != StateCompliant || err != nil {
			o.reasons = append(ifReasons, exReasons...)
		}
		return o
	case effect == EffectManual:
		if !matched {
			return outcome{applicable: true, state: StateCompliant, effect: effect, reasons: c.reasons}
		}
		st := StateUnknown
		if cr.details != nil {
			st = cr.details.defaultState
		}
		msg := fmt.Sprintf("manual policy: the state is the definition's defaultState (%s) until an attestation says otherwise", st)
		return outcome{applicable: true, state: st, effect: effect,
			reasons: append(c.reasons, Reason{Condition: "properties.policyRule.then.details.defaultState", Message: msg})}
	case effect.reportsCompliance():
		st := StateCompliant
		if matched {
			st = StateNonCompliant
		}
		return outcome{applicable: true, state: st, effect: effect, reasons: c.reasons}
	}
	msg := fmt.Sprintf("effect %s does not produce a compliance state in posture", effect)
	return outcome{applicable: true, state: StateUnknown, effect: effect,
		reasons: append(c.reasons, Reason{Condition: "properties.policyRule.then.effect", Message: msg})}
}

// modeApplies decides the resource manager modes: All evaluates everything
// (but Azure skips Microsoft.Resources types other than subscriptions and
// resource groups); Indexed (and a missing mode) evaluates only types that
// support tags and location.
func modeApplies(mode string, r *Resource) bool {
	if strings.HasPrefix(r.typeKey, "microsoft.resources/") && !r.isSubscriptionOrGroup() {
		return false
	}
	switch {
	case strings.EqualFold(mode, "all"):
		return true
	case mode == "", strings.EqualFold(mode, "indexed"):
		return r.indexedApplicable()
	}
	return false
}
