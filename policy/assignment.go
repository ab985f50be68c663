package policy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Assignment is a policy assignment: a definition or initiative applied at
// a scope with parameter values.
type Assignment struct {
	ID                 string             `json:"id,omitempty"`
	Name               string             `json:"name,omitempty"`
	Scope              string             `json:"scope,omitempty"` // management group, subscription, resource group or resource id
	PolicyDefinitionID string             `json:"policyDefinitionId"`
	DefinitionVersion  string             `json:"definitionVersion,omitempty"` // accepted, not honoured: the registry holds one version per id
	Parameters         map[string]any     `json:"parameters,omitempty"`        // plain values or ARM's {"value": x}
	NotScopes          []string           `json:"notScopes,omitempty"`
	EnforcementMode    string             `json:"enforcementMode,omitempty"` // Default or DoNotEnforce
	Overrides          []Override         `json:"overrides,omitempty"`
	ResourceSelectors  []ResourceSelector `json:"resourceSelectors,omitempty"`
}

// Override changes the effect of some references (kind policyEffect).
// policyVersion overrides are accepted and ignored, like DefinitionVersion.
type Override struct {
	Kind      string     `json:"kind"`
	Value     string     `json:"value"`
	Selectors []Selector `json:"selectors,omitempty"`
}

// ResourceSelector narrows the resources an assignment evaluates: a
// resource is in scope when it satisfies every selector of at least one
// resource selector.
type ResourceSelector struct {
	Name      string     `json:"name"`
	Selectors []Selector `json:"selectors"`
}

// Selector is one kind/in/notIn test. Kinds: resourceLocation,
// resourceType, resourceWithoutLocation (resource selectors),
// policyDefinitionReferenceId and resourceLocation (overrides).
type Selector struct {
	Kind  string   `json:"kind"`
	In    []string `json:"in,omitempty"`
	NotIn []string `json:"notIn,omitempty"`
}

// ParseAssignment reads an assignment in ARM's shape ({"properties": {...},
// "id", "name"}) or the bare properties.
func ParseAssignment(data []byte) (*Assignment, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, Errors{errorf(CodeInvalidPolicyAssignment, "", "the assignment is not valid JSON: %v", err)}
	}
	props, top, prefix, err := unwrapProperties(v, "policyDefinitionId")
	if err != nil {
		return nil, Errors{errorf(CodeInvalidPolicyAssignment, "", "%v", err)}
	}
	raw, _ := json.Marshal(props)
	a := &Assignment{}
	if err := json.Unmarshal(raw, a); err != nil {
		return nil, Errors{errorf(CodeInvalidPolicyAssignment, prefix, "%v", err)}
	}
	if top != nil {
		a.ID = getString(top, "id")
		a.Name = getString(top, "name")
	}
	if a.PolicyDefinitionID == "" {
		return nil, Errors{errorf(CodeInvalidPolicyAssignment, prefix+"policyDefinitionId", "the assignment has no policyDefinitionId")}
	}
	return a, nil
}

// validate checks the assignment's own fields.
func (a *Assignment) validate() Errors {
	var errs Errors
	switch strings.ToLower(a.EnforcementMode) {
	case "", "default", "donotenforce":
	default:
		errs = append(errs, errorf(CodeInvalidPolicyAssignment, "properties.enforcementMode", "enforcementMode must be Default or DoNotEnforce, got %q", a.EnforcementMode))
	}
	if len(a.ResourceSelectors) > 10 {
		errs = append(errs, errorf(CodeInvalidPolicyAssignment, "properties.resourceSelectors", "at most 10 resource selectors are allowed"))
	}
	if len(a.Overrides) > 10 {
		errs = append(errs, errorf(CodeInvalidPolicyAssignment, "properties.overrides", "at most 10 overrides are allowed"))
	}
	for i, rs := range a.ResourceSelectors {
		kinds := map[string]bool{}
		for j, s := range rs.Selectors {
			path := fmt.Sprintf("properties.resourceSelectors[%d].selectors[%d]", i, j)
			k := strings.ToLower(s.Kind)
			switch k {
			case "resourcelocation", "resourcetype", "resourcewithoutlocation", "userprincipalid", "groupprincipalid":
			default:
				errs = append(errs, errorf(CodeInvalidPolicyAssignment, path+".kind", "unknown resource selector kind %q", s.Kind))
			}
			if kinds[k] {
				errs = append(errs, errorf(CodeInvalidPolicyAssignment, path+".kind", "selector kind %q is used twice in one resource selector", s.Kind))
			}
			kinds[k] = true
			errs = append(errs, checkInNotIn(s, path)...)
		}
		if kinds["resourcelocation"] && kinds["resourcewithoutlocation"] {
			errs = append(errs, errorf(CodeInvalidPolicyAssignment, fmt.Sprintf("properties.resourceSelectors[%d]", i), "resourceLocation and resourceWithoutLocation cannot be combined"))
		}
	}
	for i, o := range a.Overrides {
		path := fmt.Sprintf("properties.overrides[%d]", i)
		switch strings.ToLower(o.Kind) {
		case "policyeffect":
			if _, ok := ParseEffect(o.Value); !ok {
				errs = append(errs, errorf(CodeInvalidPolicyAssignment, path+".value", "%s", effectError(o.Value)))
			}
		case "policyversion":
		default:
			errs = append(errs, errorf(CodeInvalidPolicyAssignment, path+".kind", "unknown override kind %q", o.Kind))
		}
		for j, s := range o.Selectors {
			spath := fmt.Sprintf("%s.selectors[%d]", path, j)
			switch strings.ToLower(s.Kind) {
			case "policydefinitionreferenceid", "resourcelocation":
			default:
				errs = append(errs, errorf(CodeInvalidPolicyAssignment, spath+".kind", "unknown override selector kind %q", s.Kind))
			}
			errs = append(errs, checkInNotIn(s, spath)...)
		}
	}
	return errs
}

func checkInNotIn(s Selector, path string) Errors {
	var errs Errors
	if len(s.In) > 0 && len(s.NotIn) > 0 {
		errs = append(errs, errorf(CodeInvalidPolicyAssignment, path, "a selector takes 'in' or 'notIn', not both"))
	}
	if len(s.In) > 50 || len(s.NotIn) > 50 {
		errs = append(errs, errorf(CodeInvalidPolicyAssignment, path, "a selector lists at most 50 values"))
	}
	return errs
}

// matches reports whether value passes a selector's in/notIn lists
// (case-insensitive; locations are compared normalised).
func (s Selector) matches(value string, normalize func(string) string) bool {
	v := normalize(value)
	if len(s.In) > 0 {
		for _, x := range s.In {
			if normalize(x) == v {
				return true
			}
		}
		return false
	}
	for _, x := range s.NotIn {
		if normalize(x) == v {
			return false
		}
	}
	return true
}

// selectsResource reports whether a resource satisfies one resource
// selector (all of its selectors).
func (rs ResourceSelector) selectsResource(r *Resource) bool {
	for _, s := range rs.Selectors {
		switch strings.ToLower(s.Kind) {
		case "resourcelocation":
			if r.Location == "" || !s.matches(r.Location, normalizeLocation) {
				return false
			}
		case "resourcetype":
			if !s.matches(r.Type, strings.ToLower) {
				return false
			}
		case "resourcewithoutlocation":
			// Only "subscriptionLevelResources" is defined: resources at the
			// subscription level that have no location.
			without := r.ResourceGroup == "" && normalizeLocation(r.Location) == ""
			value := ""
			if without {
				value = "subscriptionLevelResources"
			}
			if !s.matches(value, strings.ToLower) {
				return false
			}
		}
		// userPrincipalId / groupPrincipalId concern request-time callers
		// and never exclude a resource from a compliance scan.
	}
	return true
}
