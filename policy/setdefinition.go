package policy

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SetDefinition is a parsed initiative (policy set definition).
type SetDefinition struct {
	ID          string
	Name        string
	DisplayName string
	Description string
	PolicyType  string
	Version     string
	Category    string
	Metadata    map[string]any
	Parameters  []*ParameterDefinition
	References  []*DefinitionReference
	Groups      []DefinitionGroup
	Raw         json.RawMessage
	// Warnings found by Registry.ValidateSetDefinition, such as parameters
	// passed to a pinned older version of a member.
	Warnings []Warning
}

// DefinitionReference is one member of an initiative.
type DefinitionReference struct {
	ReferenceID       string
	DefinitionID      string
	DefinitionVersion string
	GroupNames        []string
	// Parameters are the values passed to the member definition, usually
	// "[parameters('setParam')]" expressions, as written.
	Parameters map[string]any

	paramExprs map[string]expr // parsed Parameters, by declared name
}

// DefinitionGroup is one entry of policyDefinitionGroups.
type DefinitionGroup struct {
	Name                 string `json:"name"`
	Category             string `json:"category,omitempty"`
	DisplayName          string `json:"displayName,omitempty"`
	Description          string `json:"description,omitempty"`
	AdditionalMetadataID string `json:"additionalMetadataId,omitempty"`
}

// Parameter returns the initiative parameter called name.
func (s *SetDefinition) Parameter(name string) (*ParameterDefinition, bool) {
	return findParameter(s.Parameters, name)
}

// Reference returns the member with the given policyDefinitionReferenceId.
func (s *SetDefinition) Reference(referenceID string) (*DefinitionReference, bool) {
	for _, r := range s.References {
		if strings.EqualFold(r.ReferenceID, referenceID) {
			return r, true
		}
	}
	return nil, false
}

// ParseSetDefinition parses and validates an initiative on its own (use
// Registry.ValidateSetDefinition to check it against its members).
func ParseSetDefinition(data []byte) (*SetDefinition, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, Errors{errorf(CodeInvalidPolicySetDefinition, "", "the set definition is not valid JSON: %v", err)}
	}
	props, top, prefix, err := unwrapProperties(v, "policyDefinitions")
	if err != nil {
		return nil, Errors{errorf(CodeInvalidPolicySetDefinition, "", "%v", err)}
	}
	s := &SetDefinition{Raw: append(json.RawMessage(nil), data...)}
	if top != nil {
		s.ID = getString(top, "id")
		s.Name = getString(top, "name")
	}
	if s.Name == "" && s.ID != "" {
		s.Name = parseARMID(s.ID).name()
	}
	if s.ID == "" && s.Name != "" {
		s.ID = BuiltinSetDefinitionID(s.Name)
	}
	s.DisplayName = getString(props, "displayName")
	s.Description = getString(props, "description")
	s.PolicyType = getString(props, "policyType")
	s.Version = getString(props, "version")
	s.Metadata = getObject(props, "metadata")
	if s.Metadata != nil {
		s.Category = getString(s.Metadata, "category")
		if s.Version == "" {
			s.Version = getString(s.Metadata, "version")
		}
	}
	var errs Errors
	s.Parameters, errs = parseParameterDefinitions(getObjectOrNil(props, "parameters"), prefix+"parameters", errs)

	if gv, ok := getKey(props, "policyDefinitionGroups"); ok && gv != nil {
		raw, _ := json.Marshal(gv)
		if err := json.Unmarshal(raw, &s.Groups); err != nil {
			errs = append(errs, errorf(CodeInvalidPolicySetDefinition, prefix+"policyDefinitionGroups", "policyDefinitionGroups must be an array of groups: %v", err))
		}
	}
	groupNames := map[string]bool{}
	for _, g := range s.Groups {
		groupNames[strings.ToLower(g.Name)] = true
	}

	refKey, refVal, ok := getKeyName(props, "policyDefinitions")
	list, isArr := refVal.([]any)
	switch {
	case !ok:
		errs = append(errs, errorf(CodeInvalidPolicySetDefinition, prefix+"policyDefinitions", "the set definition has no policyDefinitions"))
	case !isArr || len(list) == 0:
		errs = append(errs, errorf(CodeInvalidPolicySetDefinition, prefix+refKey, "policyDefinitions must be a non-empty array"))
	}
	seenRefs := map[string]bool{}
	p := &ruleParser{}
	for i, item := range list {
		rpath := fmt.Sprintf("%s%s[%d]", prefix, refKey, i)
		m, ok := item.(map[string]any)
		if !ok {
			errs = append(errs, errorf(CodeInvalidPolicySetDefinition, rpath, "a policy definition reference must be an object"))
			continue
		}
		ref := &DefinitionReference{
			ReferenceID:       getString(m, "policyDefinitionReferenceId"),
			DefinitionID:      getString(m, "policyDefinitionId"),
			DefinitionVersion: getString(m, "definitionVersion"),
			paramExprs:        map[string]expr{},
			Parameters:        map[string]any{},
		}
		if ref.DefinitionID == "" {
			errs = append(errs, errorf(CodeInvalidPolicySetDefinition, rpath+".policyDefinitionId", "the reference has no policyDefinitionId"))
		} else if !strings.Contains(strings.ToLower(ref.DefinitionID), "/policydefinitions/") {
			errs = append(errs, errorf(CodeInvalidPolicySetDefinition, rpath+".policyDefinitionId", "referenced policy definitions must be of type 'Microsoft.Authorization/policyDefinitions'"))
		}
		if ref.ReferenceID == "" {
			// Azure generates one; a stable one derived from the position
			// keeps results addressable.
			ref.ReferenceID = fmt.Sprintf("%s_%d", parseARMID(ref.DefinitionID).name(), i)
		}
		if seenRefs[strings.ToLower(ref.ReferenceID)] {
			errs = append(errs, errorf(CodeInvalidPolicySetDefinition, rpath+".policyDefinitionReferenceId", "policyDefinitionReferenceId '%s' is used more than once", ref.ReferenceID))
		}
		seenRefs[strings.ToLower(ref.ReferenceID)] = true
		if gv, ok := getKey(m, "groupNames"); ok {
			gl, _ := gv.([]any)
			for _, g := range gl {
				gs, _ := g.(string)
				ref.GroupNames = append(ref.GroupNames, gs)
				if len(s.Groups) > 0 && !groupNames[strings.ToLower(gs)] {
					errs = append(errs, errorf(CodeInvalidPolicySetDefinition, rpath+".groupNames", "group '%s' is not defined in policyDefinitionGroups", gs))
				}
			}
		}
		if pv, ok := getKey(m, "parameters"); ok && pv != nil {
			pm, isObj := pv.(map[string]any)
			if !isObj {
				errs = append(errs, errorf(CodeInvalidPolicySetDefinition, rpath+".parameters", "parameters must be an object"))
			}
			for _, name := range sortedKeys(pm) {
				val := unwrapParameterValue(pm[name])
				ref.Parameters[name] = val
				ref.paramExprs[name] = p.parseValueExpr(val, rpath+".parameters."+name+".value")
			}
		}
		s.References = append(s.References, ref)
	}
	errs = append(errs, p.errs...)
	// Every parameters('x') in a reference must name a set parameter.
	for i, ref := range s.References {
		for name, e := range ref.paramExprs {
			walkExpr(e, func(x expr) {
				if pe, ok := x.(*paramExpr); ok {
					if _, found := s.Parameter(pe.name); !found {
						errs = append(errs, errorf(CodeInvalidPolicyParameters, fmt.Sprintf("%s%s[%d].parameters.%s", prefix, refKey, i, name),
							"the set definition has undefined parameter '%s' which is used by reference '%s'", pe.name, ref.ReferenceID))
					}
				}
			})
		}
	}
	if len(errs) > 0 {
		return nil, errs.err()
	}
	return s, nil
}

// unwrapParameterValue accepts ARM's {"value": x} form and plain values.
func unwrapParameterValue(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if inner, ok := getKey(m, "value"); ok {
			return inner
		}
	}
	return v
}
