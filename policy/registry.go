package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Registry holds definitions and initiatives by id. Ids compare
// case-insensitively. Built-ins live at
// /providers/Microsoft.Authorization/policyDefinitions/{name}; custom
// definitions at a subscription or management group scope. A Registry is
// safe for concurrent use.
type Registry struct {
	mu   sync.RWMutex
	defs map[string]*Definition
	sets map[string]*SetDefinition
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{defs: map[string]*Definition{}, sets: map[string]*SetDefinition{}}
}

// AddDefinition adds or replaces a definition. It needs an id.
func (r *Registry) AddDefinition(d *Definition) error {
	if d == nil || d.ID == "" {
		return errors.New("policy: a definition needs an id to be registered")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.defs[idKey(d.ID)] = d
	return nil
}

// AddSetDefinition adds or replaces an initiative. It does not check the
// members; call ValidateSetDefinition first when accepting user input.
func (r *Registry) AddSetDefinition(s *SetDefinition) error {
	if s == nil || s.ID == "" {
		return errors.New("policy: a set definition needs an id to be registered")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sets[idKey(s.ID)] = s
	return nil
}

// RemoveDefinition deletes a definition by id.
func (r *Registry) RemoveDefinition(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.defs, idKey(id))
}

// RemoveSetDefinition deletes an initiative by id.
func (r *Registry) RemoveSetDefinition(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sets, idKey(id))
}

// Definition returns the definition with the given id. A bare name (a
// built-in GUID) is also accepted.
func (r *Registry) Definition(id string) (*Definition, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if d, ok := r.defs[idKey(id)]; ok {
		return d, true
	}
	if !strings.Contains(id, "/") {
		d, ok := r.defs[idKey(BuiltinDefinitionID(id))]
		return d, ok
	}
	return nil, false
}

// SetDefinition returns the initiative with the given id or built-in name.
func (r *Registry) SetDefinition(id string) (*SetDefinition, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if s, ok := r.sets[idKey(id)]; ok {
		return s, true
	}
	if !strings.Contains(id, "/") {
		s, ok := r.sets[idKey(BuiltinSetDefinitionID(id))]
		return s, ok
	}
	return nil, false
}

// Definitions returns all definitions sorted by id.
func (r *Registry) Definitions() []*Definition {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Definition, 0, len(r.defs))
	for _, d := range r.defs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return idKey(out[i].ID) < idKey(out[j].ID) })
	return out
}

// SetDefinitions returns all initiatives sorted by id.
func (r *Registry) SetDefinitions() []*SetDefinition {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*SetDefinition, 0, len(r.sets))
	for _, s := range r.sets {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return idKey(out[i].ID) < idKey(out[j].ID) })
	return out
}

// ValidateSetDefinition checks an initiative against the registry: every
// member exists, passes only parameters the member declares, supplies the
// parameters the member requires, and the initiative's defaults are valid
// for the members (Azure rejects a set whose default is not in a member's
// allowedValues with InvalidPolicyParameters).
func (r *Registry) ValidateSetDefinition(s *SetDefinition) error {
	var errs Errors
	setParams := map[string]any{}
	for _, p := range s.Parameters {
		if p.HasDefault {
			setParams[strings.ToLower(p.Name)] = p.DefaultValue
		}
	}
	for i, ref := range s.References {
		path := fmt.Sprintf("properties.policyDefinitions[%d]", i)
		d, ok := r.Definition(ref.DefinitionID)
		if !ok {
			errs = append(errs, errorf(CodePolicyDefinitionNotFound, path+".policyDefinitionId", "the policy definition '%s' referenced by '%s' could not be found", ref.DefinitionID, ref.ReferenceID))
			continue
		}
		for _, name := range sortedExprKeys(ref.paramExprs) {
			if _, ok := d.Parameter(name); ok {
				continue
			}
			if !versionMatches(ref.DefinitionVersion, d.Version) {
				// The reference pins another version of the definition than
				// the registry holds (the repository only carries the latest):
				// the parameter existed in the pinned version. It is ignored.
				s.Warnings = append(s.Warnings, Warning{Code: CodeUndefinedPolicyParameter, Path: path + ".parameters." + name,
					Message: fmt.Sprintf("parameter '%s' is not declared by version %s of policy definition '%s' (the reference pins %s); it is ignored", name, d.Version, d.Name, ref.DefinitionVersion)})
				continue
			}
			errs = append(errs, errorf(CodeUndefinedPolicyParameter, path+".parameters."+name,
				"the policy set definition is attempting to assign the parameter '%s' which is not defined in the policy definition '%s'", name, d.Name))
		}
		for _, pd := range d.Parameters {
			e, passed := lookupExpr(ref.paramExprs, pd.Name)
			if !passed {
				if !pd.HasDefault {
					errs = append(errs, errorf(CodeInvalidPolicyParameters, path+".parameters", "the policy definition '%s' requires parameter '%s', which reference '%s' does not pass", d.Name, pd.Name, ref.ReferenceID))
				}
				continue
			}
			b := newBinder(setParams, nil, "")
			be, err := e.bind(b)
			if err != nil {
				continue // a set parameter without default: checked at assignment
			}
			if v, ok := constValue(be); ok {
				if perr := checkParameterValue(pd, v); perr != nil {
					errs = append(errs, errorf(CodeInvalidPolicyParameters, path+".parameters."+pd.Name,
						"the policy set could not be parameterized because the default value of a set parameter referenced by policy definition %s is not valid for it: %s", d.Name, perr.Message))
				}
			}
		}
	}
	return errs.err()
}

func sortedExprKeys(m map[string]expr) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// versionMatches reports whether a version such as "7.0.0" satisfies a
// definitionVersion pattern such as "6.*.*" or "1.2.*". An empty pattern or
// version matches.
func versionMatches(pattern, version string) bool {
	if pattern == "" || version == "" {
		return true
	}
	ps := strings.Split(pattern, ".")
	vs := strings.Split(strings.SplitN(version, "-", 2)[0], ".")
	for i, p := range ps {
		if p == "*" || i >= len(vs) {
			continue
		}
		if p != vs[i] {
			return false
		}
	}
	return true
}

func lookupExpr(m map[string]expr, name string) (expr, bool) {
	if e, ok := m[name]; ok {
		return e, true
	}
	for k, e := range m {
		if strings.EqualFold(k, name) {
			return e, true
		}
	}
	return nil, false
}
