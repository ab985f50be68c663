package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// StateNotApplicable is reported by EvalOffline when the definition does not
// apply to the resource (wrong type or mode, if-condition false for an
// -IfNotExists effect, Disabled effect). Azure stores no state in that case
// and Evaluate returns no result; it is not a compliance state.
const StateNotApplicable ComplianceState = "NotApplicable"

// OfflineInput is what `posture policy eval` passes.
type OfflineInput struct {
	Definition  []byte   // the definition file (repository layout or bare properties)
	Initiative  []byte   // optional initiative file; then ReferenceID picks the member
	ReferenceID string   // policyDefinitionReferenceId within Initiative
	Resource    []byte   // the ARM document to evaluate
	Related     [][]byte // related documents: one document, an array, or an ARM list {"value": [...]}
	// Params are parameter values as a JSON object, plain values
	// ({"effect": "Audit"}) or ARM's form ({"effect": {"value": "Audit"}}).
	// With an initiative they are the initiative's parameters.
	Params  []byte
	Options EvalOptions
}

// OfflineResult is the stable JSON output of EvalOffline.
type OfflineResult struct {
	ComplianceState ComplianceState `json:"complianceState"`
	Effect          Effect          `json:"effect,omitempty"`
	Reasons         []Reason        `json:"reasons"`
	Error           *Error          `json:"error,omitempty"`
	Warnings        []Warning       `json:"warnings,omitempty"`
	Class           Class           `json:"class,omitempty"`
}

// EvalOffline evaluates one definition (or one member of an initiative)
// against one resource and its related documents, with the same engine the
// server uses. Input problems (unparsable files, invalid definitions or
// parameters) are returned as errors carrying codes and JSON paths; an
// evaluation failure is an Error state in the result.
func EvalOffline(ctx context.Context, in OfflineInput) (*OfflineResult, error) {
	def, err := ParseDefinition(in.Definition)
	if err != nil {
		return nil, fmt.Errorf("definition: %w", err)
	}
	if def.ID == "" {
		def.ID = BuiltinDefinitionID("offline")
	}
	res, err := NewResourceJSON(in.Resource)
	if err != nil {
		return nil, err
	}
	related := []*Resource{res}
	for i, data := range in.Related {
		docs, err := decodeDocuments(data)
		if err != nil {
			return nil, fmt.Errorf("related document %d: %w", i+1, err)
		}
		for _, doc := range docs {
			r, err := NewResource(doc)
			if err != nil {
				return nil, fmt.Errorf("related document %d: %w", i+1, err)
			}
			related = append(related, r)
		}
	}
	params := map[string]any{}
	if len(strings.TrimSpace(string(in.Params))) > 0 {
		v, err := decodeJSON(in.Params)
		if err != nil {
			return nil, fmt.Errorf("params: %w", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("params: must be a JSON object of parameter values")
		}
		for k, pv := range m {
			params[k] = pv
		}
	}
	reg := NewRegistry()
	if err := reg.AddDefinition(def); err != nil {
		return nil, err
	}
	a := &Assignment{ID: "/offline/providers/Microsoft.Authorization/policyAssignments/offline", Name: "offline", PolicyDefinitionID: def.ID, Parameters: params}
	var ca *CompiledAssignment
	if len(in.Initiative) > 0 {
		set, err := ParseSetDefinition(in.Initiative)
		if err != nil {
			return nil, fmt.Errorf("initiative: %w", err)
		}
		ref, ok := set.Reference(in.ReferenceID)
		if !ok {
			return nil, Errors{errorf(CodeInvalidPolicySetDefinition, "properties.policyDefinitions", "the initiative has no reference '%s'", in.ReferenceID)}
		}
		if !strings.EqualFold(parseARMID(ref.DefinitionID).name(), def.Name) {
			return nil, Errors{errorf(CodeInvalidPolicySetDefinition, "properties.policyDefinitions", "reference '%s' points to %s, not to the given definition %s", in.ReferenceID, ref.DefinitionID, def.ID)}
		}
		// Only the chosen member is compiled; the others are not needed.
		single := *set
		r := *ref
		r.DefinitionID = def.ID
		single.References = []*DefinitionReference{&r}
		if err := reg.AddSetDefinition(&single); err != nil {
			return nil, err
		}
		a.PolicyDefinitionID = single.ID
		if ca, err = Compile(a, reg); err != nil {
			return nil, err
		}
	} else {
		if ca, err = Compile(a, reg); err != nil {
			return nil, err
		}
	}
	opts := in.Options
	opts.Reasons = ReasonsAll
	cr := ca.References[0]
	out := &OfflineResult{Warnings: def.Warnings, Class: def.Class, Reasons: []Reason{}}
	result, ok := ca.EvaluateReference(ctx, cr, res, NewIndex(related...), opts)
	if !ok {
		out.ComplianceState = StateNotApplicable
		out.Effect = cr.effectFor(res)
		out.Reasons = []Reason{{Condition: "properties.policyRule.if", Message: notApplicableReason(cr, res)}}
		return out, nil
	}
	out.ComplianceState = result.State
	out.Effect = result.Effect
	if result.Reasons != nil {
		out.Reasons = result.Reasons
	}
	if result.Err != nil {
		code := CodeEvaluationError
		var pe *Error
		if errors.As(result.Err, &pe) {
			code = pe.Code
		}
		path := ""
		var ee *evalError
		if errors.As(result.Err, &ee) {
			path = ee.path
		}
		out.Error = &Error{Code: code, Path: path, Message: result.Message}
	}
	return out, nil
}

func notApplicableReason(cr *CompiledReference, r *Resource) string {
	switch {
	case !cr.types.matches(r.typeKey) && cr.dataPlane == nil:
		return fmt.Sprintf("the if-condition cannot match resources of type %s", r.Type)
	case !modeApplies(cr.Definition.Mode, r):
		return fmt.Sprintf("mode %q does not evaluate this resource (Indexed evaluates only types that support tags and location)", cr.Definition.Mode)
	case cr.effectFor(r) == EffectDisabled:
		return "the effect is Disabled"
	case cr.Effect.IfNotExists():
		return "the if-condition is false, so the existence check does not apply"
	}
	return "the type, name and kind conditions of the if-condition do not select this resource"
}

// decodeDocuments reads one document, an array of documents or an ARM list.
func decodeDocuments(data []byte) ([]map[string]any, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	if m, ok := v.(map[string]any); ok {
		if list, ok := getKey(m, "value"); ok {
			if _, hasID := getKey(m, "id"); !hasID {
				v = list
			}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		return []map[string]any{x}, nil
	case []any:
		out := make([]map[string]any, 0, len(x))
		for i, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("element %d is not an object", i)
			}
			out = append(out, m)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a JSON object or array, got %s", typeName(v))
}
