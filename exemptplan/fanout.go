package exemptplan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posture/posture/desired"
	"github.com/posture/posture/exemption"
)

// Desired is one exemption the files ask for.
type Desired struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Scope        string   `json:"scope"`
	AssignmentID string   `json:"policyAssignmentId"`
	ReferenceIDs []string `json:"policyDefinitionReferenceIds,omitempty"`
	// AssignmentDefinitionID is what the assignment assigns.
	AssignmentDefinitionID    string          `json:"-"`
	Category                  string          `json:"exemptionCategory"`
	ExpiresOn                 time.Time       `json:"expiresOn,omitzero"`
	DisplayName               string          `json:"displayName,omitempty"`
	Description               string          `json:"description,omitempty"`
	Metadata                  map[string]any  `json:"metadata"`
	ResourceSelectors         json.RawMessage `json:"resourceSelectors,omitempty"`
	ResourceFilter            json.RawMessage `json:"resourceFilter,omitempty"`
	AssignmentScopeValidation string          `json:"assignmentScopeValidation,omitempty"`
	// Kept are the current exemption's properties the files cannot set,
	// written back as they are.
	Kept map[string]json.RawMessage `json:"kept,omitempty"`
	// Entry is the entry it comes from.
	Entry *desired.Entry `json:"-"`
	// field is the entry's field that chose the assignment, for problems.
	field string
}

// Properties is the exemption's properties object for a PUT.
func (d *Desired) Properties() map[string]any {
	p := map[string]any{"policyAssignmentId": d.AssignmentID, "exemptionCategory": d.Category, "metadata": d.Metadata}
	if len(d.ReferenceIDs) > 0 {
		p["policyDefinitionReferenceIds"] = d.ReferenceIDs
	}
	if !d.ExpiresOn.IsZero() {
		p["expiresOn"] = d.ExpiresOn.UTC().Format(time.RFC3339Nano)
	}
	for k, v := range map[string]string{"displayName": d.DisplayName, "description": d.Description, "assignmentScopeValidation": d.AssignmentScopeValidation} {
		if v != "" {
			p[k] = v
		}
	}
	if len(d.ResourceSelectors) > 0 {
		p["resourceSelectors"] = d.ResourceSelectors
	}
	if len(d.ResourceFilter) > 0 {
		p["resourceFilter"] = d.ResourceFilter
	}
	for k, v := range d.Kept {
		p[k] = v
	}
	return p
}

// fanout turns entries into desired exemptions.
type fanout struct {
	ix   *index
	opts Options
	plan *Result
	list []*Desired
	byID map[string]*Desired
}

// target is one assignment an entry exempts from, with its references.
type target struct {
	a    *Assignment
	refs []string
}

func (f *fanout) problem(e *desired.Entry, field, code, format string, args ...any) {
	f.plan.Problems = append(f.plan.Problems, desired.Problem{Pos: posOf(e, field), Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

func (f *fanout) warn(e *desired.Entry, field, code, format string, args ...any) {
	f.plan.Warnings = append(f.plan.Warnings, desired.Problem{Pos: posOf(e, field), Field: field, Code: code, Message: fmt.Sprintf(format, args...)})
}

// posOf is the position of an entry's field, the entry's when the field
// has none.
func posOf(e *desired.Entry, field string) desired.Pos {
	if p, ok := e.Fields[field]; ok {
		return p
	}
	if i := strings.IndexAny(field, "[."); i > 0 {
		if p, ok := e.Fields[field[:i]]; ok {
			return p
		}
	}
	return e.Pos
}

// reserved are metadata keys the plan writes itself.
var reserved = []string{KeyManagedBy, KeyOwnerID, KeyAssignmentDef}

// entry expands one entry.
func (f *fanout) entry(e *desired.Entry) {
	for _, k := range reserved {
		if _, ok := e.Metadata[k]; ok {
			f.problem(e, "metadata."+k, "ReservedMetadata", "metadata.%s is written by posture exemptions (ownership); remove it from the file", k)
			return
		}
	}
	category, ok := canonicalCategory(e.Category)
	if !ok {
		f.problem(e, "category", "InvalidCategory", "category %q: use Waiver or Mitigated", e.Category)
		return
	}
	if len(e.Scopes) == 0 {
		f.problem(e, "scopes", "MissingScope", "the entry has no scope")
		return
	}
	meta, err := normalize(e.Metadata)
	if err != nil {
		f.problem(e, "metadata", "InvalidMetadata", "metadata is not JSON-shaped: %v", err)
		return
	}
	for i, scope := range e.Scopes {
		field := "scopes"
		if len(e.Scopes) > 1 {
			field = fmt.Sprintf("scopes[%d]", i)
		}
		if !f.ix.exists(scope) {
			f.problem(e, field, "ScopeNotFound", "the scope %s does not exist", scope)
			continue
		}
		targets, tfield, ok := f.targets(e, scope, field)
		if !ok {
			continue
		}
		for _, t := range targets {
			name := e.Name
			if len(targets) > 1 {
				name = fanName(e.Name, t.a.ID)
			}
			if err := exemption.ValidateName(name); err != nil {
				f.problem(e, "name", "InvalidName", "the exemption name %q is not valid: it must have 1 to 64 characters, none of <>*%%&:\\?.+/", name)
				continue
			}
			d := &Desired{
				ID: strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/policyExemptions/" + name, Name: name, Scope: scope,
				AssignmentID: t.a.ID, ReferenceIDs: t.refs, AssignmentDefinitionID: t.a.PolicyDefinitionID,
				Category: category, ExpiresOn: e.ExpiresOn.UTC(), DisplayName: e.DisplayName, Description: e.Description,
				ResourceSelectors: e.ResourceSelectors, ResourceFilter: e.ResourceFilter,
				AssignmentScopeValidation: e.AssignmentScopeValidation, Entry: e, field: tfield,
				Metadata: f.metadata(e, meta, t.a),
			}
			k := key(d.ID)
			if prev := f.byID[k]; prev != nil {
				if prev.Entry.Name == e.Name && len(targets) == 1 {
					continue // the same name at the same scope: the parser reports it
				}
				f.problem(e, "name", "DuplicateExemption", "the exemption %s is also what the entry at %s yields", d.ID, posString(prev.Entry.Pos))
				continue
			}
			f.byID[k] = d
			f.list = append(f.list, d)
		}
	}
}

// metadata is the metadata an exemption of e is written with.
func (f *fanout) metadata(e *desired.Entry, base map[string]any, a *Assignment) map[string]any {
	m := make(map[string]any, len(base)+5)
	maps.Copy(m, base)
	if e.Owner != "" {
		m[KeyOwner] = e.Owner
	}
	if e.Ticket != "" {
		m[KeyTicket] = e.Ticket
	}
	m[KeyManagedBy] = ManagedBy
	m[KeyOwnerID] = f.opts.OwnerID
	m[KeyAssignmentDef] = a.PolicyDefinitionID
	return m
}

// targets resolves what an entry exempts from at one scope.
func (f *fanout) targets(e *desired.Entry, scope, scopeField string) ([]target, string, bool) {
	ix := f.ix
	def, defField := "", ""
	switch {
	case e.Recommendation != "":
		defField = "recommendation"
		r := f.recommendation(e)
		if r == nil {
			return nil, defField, false
		}
		def = r.DefinitionID
	case e.PolicyDefinitionID != "":
		defField = "policyDefinitionId"
		if def = f.resolve(e, e.PolicyDefinitionID, defField, false); def == "" {
			return nil, defField, false
		}
	}
	if def != "" && len(e.ReferenceIDs) > 0 {
		f.problem(e, "policyDefinitionReferenceIds", "ReferencesWithDefinition", "policyDefinitionReferenceIds go with an assignment or a policySetDefinitionId; a %s already chooses the references", defField)
		return nil, defField, false
	}
	if e.Assignment != "" {
		a := f.assignment(e, scope)
		if a == nil {
			return nil, "assignment", false
		}
		if !f.checkScope(e, a, scope, scopeField) {
			return nil, "assignment", false
		}
		refs := e.ReferenceIDs
		if def != "" {
			var ok bool
			if refs, ok = ix.refsOf(a, def); !ok {
				f.problem(e, defField, "NotAssigned", "the assignment %s does not assign the policy definition %s", a.ID, def)
				return nil, defField, false
			}
		} else if refs = f.checkRefs(e, a, refs); refs == nil && len(e.ReferenceIDs) > 0 {
			return nil, "policyDefinitionReferenceIds", false
		}
		return []target{{a, slices.Clone(refs)}}, "assignment", true
	}
	set := ""
	if def == "" {
		if e.PolicySetDefinitionID == "" {
			f.problem(e, "assignment", "MissingTarget", "the entry names no assignment, recommendation, policyDefinitionId or policySetDefinitionId")
			return nil, "", false
		}
		defField = "policySetDefinitionId"
		if set = f.resolve(e, e.PolicySetDefinitionID, defField, true); set == "" {
			return nil, defField, false
		}
	}
	var out []target
	bad := false
	for _, a := range ix.applying(scope) {
		var refs []string
		if set != "" {
			if key(a.PolicyDefinitionID) != key(set) {
				continue
			}
			if refs = f.checkRefs(e, a, e.ReferenceIDs); refs == nil && len(e.ReferenceIDs) > 0 {
				return nil, "policyDefinitionReferenceIds", false
			}
		} else {
			var ok bool
			if refs, ok = ix.refsOf(a, def); !ok {
				continue
			}
		}
		if n := ix.excludedBy(a, scope); n != "" {
			f.problem(e, scopeField, "ScopeInNotScopes", "the scope %s is in the notScopes (%s) of the assignment %s, which %s: an exemption there would have no effect", scope, n, a.ID, "assigns "+what(def, set))
			bad = true
			continue
		}
		out = append(out, target{a, slices.Clone(refs)})
	}
	if bad {
		return nil, defField, false
	}
	if len(out) == 0 {
		f.problem(e, defField, "NoAssignment", "no assignment at or above %s assigns %s", scope, what(def, set))
		return nil, defField, false
	}
	return out, defField, true
}

func what(def, set string) string {
	if set != "" {
		return "the initiative " + set
	}
	return "the policy definition " + def
}

// resolve turns a policy definition or initiative id or name into the id
// the estate knows it by; "" (and a problem) when it knows none.
func (f *fanout) resolve(e *desired.Entry, v, field string, set bool) string {
	known := f.ix.definitions
	if set {
		known = f.ix.sets
	}
	if strings.HasPrefix(v, "/") {
		if id, ok := known[key(v)]; ok {
			return id
		}
	} else {
		switch ids := f.ix.byName(v, set); len(ids) {
		case 1:
			return ids[0]
		case 0:
		default:
			f.problem(e, field, "AmbiguousDefinition", "%q names %d definitions (%s, %s): give the id", v, len(ids), ids[0], ids[1])
			return ""
		}
	}
	what := "policy definition"
	if set {
		what = "initiative"
	}
	f.problem(e, field, "UnknownDefinition", "no assignment, initiative or recommendation of the server has the %s %s", what, v)
	return ""
}

// recommendation resolves an entry's recommendation: an assessment key, a
// policy definition id or a display name.
func (f *fanout) recommendation(e *desired.Entry) *Recommendation {
	ix, v := f.ix, e.Recommendation
	if r := ix.recByKey[key(v)]; r != nil {
		return r
	}
	if r := ix.recByDef[key(v)]; r != nil {
		return r
	}
	switch rs := ix.recByName[key(v)]; len(rs) {
	case 1:
		return rs[0]
	case 0:
		f.problem(e, "recommendation", "UnknownRecommendation", "no recommendation has the key, policy definition id or display name %q", v)
	default:
		f.problem(e, "recommendation", "AmbiguousRecommendation", "%d recommendations are named %q; give the assessment key (%s or %s)", len(rs), v, rs[0].Key, rs[1].Key)
	}
	return nil
}

// assignment resolves an entry's assignment. One that no longer exists is
// followed to its replacement when this owner's exemption of the entry
// records what it assigned.
func (f *fanout) assignment(e *desired.Entry, scope string) *Assignment {
	ix := f.ix
	if a := ix.assignments[key(e.Assignment)]; a != nil {
		return a
	}
	id := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/policyExemptions/" + e.Name
	if cur := ix.exemptions[key(id)]; cur != nil && key(cur.AssignmentID) == key(e.Assignment) {
		if m, owner := ownership(cur); m && owner == f.opts.OwnerID {
			def, _ := cur.Metadata[KeyAssignmentDef].(string)
			switch as := ix.replacements(e.Assignment, def); len(as) {
			case 1:
				f.warn(e, "assignment", "AssignmentRecreated", "the assignment %s no longer exists; %s assigns the same %s at its scope and the exemption is re-bound to it: update the file", e.Assignment, as[0].ID, def)
				return as[0]
			case 0:
			default:
				f.problem(e, "assignment", "UnknownAssignment", "the policy assignment %s does not exist, and %d assignments (%s, %s) assign the same %s at its scope: name the one to re-bind to", e.Assignment, len(as), as[0].ID, as[1].ID, def)
				return nil
			}
		}
	}
	f.problem(e, "assignment", "UnknownAssignment", "the policy assignment %s does not exist", e.Assignment)
	return nil
}

// checkScope checks an exemption scope against an assignment's scope and
// notScopes.
func (f *fanout) checkScope(e *desired.Entry, a *Assignment, scope, field string) bool {
	if n := f.ix.excludedBy(a, scope); n != "" {
		f.problem(e, field, "ScopeInNotScopes", "the scope %s is in the notScopes (%s) of the assignment %s: an exemption there would have no effect", scope, n, a.ID)
		return false
	}
	if !strings.EqualFold(e.AssignmentScopeValidation, "DoNotValidate") && !f.ix.under(scope, a.Scope) {
		f.problem(e, field, "ScopeNotUnderAssignment", "the scope %s is not at or under the scope %s of the assignment %s (set assignmentScopeValidation: DoNotValidate to exempt anyway)", scope, a.Scope, a.ID)
		return false
	}
	return true
}

// checkRefs checks reference ids against the assignment's initiative and
// returns them in the initiative's case; nil on a problem.
func (f *fanout) checkRefs(e *desired.Entry, a *Assignment, refs []string) []string {
	if len(refs) == 0 {
		return nil
	}
	members, ok := f.ix.members[key(a.PolicyDefinitionID)]
	if !ok {
		f.problem(e, "policyDefinitionReferenceIds", "NotAnInitiative", "the assignment %s assigns %s, not an initiative the server has: referenceIds do not apply", a.ID, a.PolicyDefinitionID)
		return nil
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		canon, ok := members[key(r)]
		if !ok {
			f.problem(e, fmt.Sprintf("policyDefinitionReferenceIds[%d]", i), "UnknownReference", "%q is not a policyDefinitionReferenceId of %s", r, a.PolicyDefinitionID)
			return nil
		}
		out[i] = canon
	}
	return out
}

// fanName names one of several exemptions an entry yields at a scope.
func fanName(name, assignmentID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(assignmentID)))
	for utf8.RuneCountInString(name) > 55 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	return strings.TrimRight(name, " ") + "-" + hex.EncodeToString(sum[:4])
}

func canonicalCategory(c string) (string, bool) {
	for _, v := range []string{string(exemption.Waiver), string(exemption.Mitigated)} {
		if strings.EqualFold(c, v) {
			return v, true
		}
	}
	return "", false
}

// normalize gives metadata values the types JSON decoding gives
// (float64, map[string]any, []any), so they compare with the server's.
func normalize(m map[string]any) (map[string]any, error) {
	if len(m) == 0 {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	err = json.Unmarshal(b, &out)
	return out, err
}

func posString(p desired.Pos) string {
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}
