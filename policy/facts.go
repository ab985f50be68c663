package policy

import (
	"sort"
	"strings"
)

// Facts are static facts about a compiled reference, for incremental
// re-evaluation and change fingerprinting:
//
//   - Types: the resource types the if-condition can match (lower-case),
//     unless AnyType. A resource of another type never needs evaluating.
//   - Related: what an existence check reads. When a document of such a
//     type changes, re-evaluate the resources it relates to (the parent for
//     children and extensions, every resource of the evaluated types in the
//     resource group or subscription otherwise).
//   - Fields: every field the rule reads, with its resolved document path.
type Facts struct {
	AnyType      bool         `json:"anyType,omitempty"`
	Types        []string     `json:"types,omitempty"`
	TypePatterns []string     `json:"typePatterns,omitempty"`
	Related      *RelatedFact `json:"related,omitempty"`
	Fields       []FieldFact  `json:"fields,omitempty"`
	Warnings     []Warning    `json:"warnings,omitempty"`
}

// RelatedFact describes an existence check's target.
type RelatedFact struct {
	Type  string       `json:"type"`  // lower-case related type; "" when computed per resource
	Scope RelatedScope `json:"scope"` // Children/Extension when the type sits under the evaluated resource
	// ScopeFixed is false when the scope depends on the evaluated type (a
	// definition matching several types whose children differ) or on
	// details computed per resource.
	ScopeFixed bool `json:"scopeFixed"`
	// Name is the one name the check reads, lower case, when details.name
	// is a plain name (an assessment's key, a site's "web" config); "" when
	// it is absent, computed, or a path or pattern.
	Name string `json:"name,omitempty"`
}

// FieldFact is one field read by the rule.
type FieldFact struct {
	Name    string `json:"name"`              // as written
	Path    string `json:"path"`              // resolved document path (or built-in field)
	Derived bool   `json:"derived,omitempty"` // resolved by the fallback heuristic
	// Related is set for fields read from the related resource in an
	// existenceCondition.
	Related bool `json:"related,omitempty"`
}

func buildFacts(cr *CompiledReference, bIf, bDetails *binder) Facts {
	f := Facts{AnyType: cr.types.any}
	if !cr.types.any {
		f.Types = cr.types.types()
		f.TypePatterns = cr.types.raw
	}
	if cr.dataPlane != nil {
		f.Types = append([]string(nil), cr.dataPlane...)
	}
	for _, name := range bIf.fieldNames {
		spec := bIf.fields[strings.ToLower(name)]
		f.Fields = append(f.Fields, FieldFact{Name: name, Path: spec.resolvedPath(), Derived: spec.derived})
	}
	for _, name := range bDetails.fieldNames {
		spec := bDetails.fields[strings.ToLower(name)]
		f.Fields = append(f.Fields, FieldFact{Name: name, Path: spec.resolvedPath(), Derived: spec.derived, Related: true})
	}
	sort.SliceStable(f.Fields, func(i, j int) bool {
		if f.Fields[i].Related != f.Fields[j].Related {
			return !f.Fields[i].Related
		}
		return false
	})
	f.Warnings = append(append([]Warning(nil), bIf.warnings...), bDetails.warnings...)
	if cr.details != nil && cr.details.typeExpr != nil && (cr.Effect.IfNotExists() || cr.Definition.Class != ClassSelfContained) {
		rf := &RelatedFact{Type: strings.ToLower(cr.details.relatedType)}
		if rf.Type != "" && !f.AnyType && len(f.Types) > 0 {
			scope, fixed := ScopeChildren, true
			for i, t := range f.Types {
				s := relatedScopeFor(t, rf.Type, cr.details.scopeExpr)
				if i == 0 {
					scope = s
				} else if s != scope {
					fixed = false
				}
			}
			rf.Scope, rf.ScopeFixed = scope, fixed && isConstOrNil(cr.details.scopeExpr)
		}
		if v, ok := constValue(cr.details.nameExpr); ok {
			if name, _ := v.(string); name != "?" && !strings.Contains(name, "/") {
				rf.Name = strings.ToLower(name)
			}
		}
		f.Related = rf
	}
	return f
}

func isConstOrNil(e expr) bool {
	if e == nil {
		return true
	}
	_, ok := constValue(e)
	return ok
}

// extensionTypes are related types that Azure looks up as extension
// resources of the evaluated resource ({id}/providers/{type}/{name}) rather
// than in its resource group.
var extensionTypes = map[string]bool{
	"microsoft.insights/diagnosticsettings":                      true,
	"microsoft.security/assessments":                             true,
	"microsoft.security/subassessments":                          true,
	"microsoft.security/advancedthreatprotectionsettings":        true,
	"microsoft.security/defenderforstoragesettings":              true,
	"microsoft.guestconfiguration/guestconfigurationassignments": true,
	"microsoft.recoveryservices/backupprotecteditems":            true,
	"microsoft.kubernetesconfiguration/extensions":               true,
	"microsoft.kubernetesconfiguration/fluxconfigurations":       true,
	"microsoft.authorization/locks":                              true,
	"microsoft.authorization/roleassignments":                    true,
	"microsoft.maintenance/configurationassignments":             true,
	"microsoft.insights/datacollectionruleassociations":          true,
	"microsoft.advisor/recommendations":                          true,
}

// relatedScopeFor decides where an existence check on relatedType looks
// when the evaluated resource has evaluatedType: children when the related
// type is nested under it, the extension scope for extension types, else
// the resource group or subscription (existenceScope).
func relatedScopeFor(evaluatedType, relatedType string, scopeExpr expr) RelatedScope {
	return relatedScopeForKeys(strings.ToLower(evaluatedType), strings.ToLower(relatedType), scopeExpr)
}

// relatedScopeForKeys is relatedScopeFor on lower-case types.
func relatedScopeForKeys(et, rt string, scopeExpr expr) RelatedScope {
	if len(rt) > len(et) && rt[len(et)] == '/' && rt[:len(et)] == et {
		return ScopeChildren
	}
	if extensionTypes[rt] {
		return ScopeExtension
	}
	if scopeExpr != nil {
		if v, ok := constValue(scopeExpr); ok {
			if s, _ := v.(string); strings.EqualFold(s, "Subscription") {
				return ScopeSubscription
			}
		}
	}
	return ScopeResourceGroup
}
