package exemptplan

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Assignment is a policy assignment as the plan needs it.
type Assignment struct {
	ID        string
	Scope     string
	NotScopes []string
	// PolicyDefinitionID is the assigned policy definition or initiative.
	PolicyDefinitionID string
}

// Member is one policy definition of an initiative.
type Member struct {
	ReferenceID  string
	DefinitionID string
}

// Recommendation is a Defender recommendation (assessment metadata).
type Recommendation struct {
	Key          string // the assessment key, the metadata's name
	DisplayName  string
	DefinitionID string
}

// Exemption is an exemption the server holds.
type Exemption struct {
	ID                        string
	AssignmentID              string
	ReferenceIDs              []string // nil: the whole assignment
	Category                  string
	ExpiresOn                 time.Time // zero: never
	DisplayName, Description  string
	Metadata                  map[string]any
	ResourceSelectors         json.RawMessage
	ResourceFilter            json.RawMessage
	AssignmentScopeValidation string
	// Kept are properties a desired file cannot set (evidence,
	// exemptionManagementMode), by name: writes of the exemption keep them.
	Kept map[string]json.RawMessage
	// ETag is the exemption's ETag when the caller read one (a GET);
	// lists do not give it.
	ETag string
	// Status is the server's postureStatus (Active, Expired).
	Status string
}

// Scope is the scope the exemption sits on.
func (x *Exemption) Scope() string { return scopeOf(x.ID) }

// Name is the exemption's name, the last segment of its id.
func (x *Exemption) Name() string { return x.ID[strings.LastIndexByte(x.ID, '/')+1:] }

// Estate is what the plan compares the files with.
type Estate struct {
	Assignments []Assignment
	// Initiatives are the members of each initiative an assignment assigns,
	// by initiative id (any case).
	Initiatives     map[string][]Member
	Recommendations []Recommendation
	Exemptions      []Exemption
	// Parents maps a subscription or management group id to its parent
	// management group id (any case); the ids alone do not say it.
	Parents map[string]string
	// Scopes says which scopes exist: true exists, false is known to be
	// gone. A scope not in the map is taken to exist.
	Scopes map[string]bool
}

// index is an Estate prepared for lookups; keys are lower-case ids.
type index struct {
	est         *Estate
	assignments map[string]*Assignment
	byScope     map[string][]*Assignment
	// refs maps an initiative to, per member definition, its reference ids.
	refs map[string]map[string][]string
	// members maps an initiative to its reference ids (lower → own case).
	members    map[string]map[string]string
	recByKey   map[string]*Recommendation
	recByDef   map[string]*Recommendation
	recByName  map[string][]*Recommendation
	exemptions map[string]*Exemption
	exKeys     []string // the keys of est.Exemptions, in order
	parents    map[string]string
	scopes     map[string]bool
	chains     map[string][]string
	// known memoizes whether an assignment id (as written) exists.
	known map[string]bool
	// definitions and sets are the definition and initiative ids the
	// estate mentions (lower → own case).
	definitions, sets map[string]string
}

func newIndex(est *Estate) *index {
	ix := &index{
		est:         est,
		assignments: make(map[string]*Assignment, len(est.Assignments)),
		byScope:     map[string][]*Assignment{},
		refs:        map[string]map[string][]string{},
		members:     map[string]map[string]string{},
		recByKey:    map[string]*Recommendation{},
		recByDef:    map[string]*Recommendation{},
		recByName:   map[string][]*Recommendation{},
		exemptions:  make(map[string]*Exemption, len(est.Exemptions)),
		parents:     map[string]string{},
		scopes:      map[string]bool{},
		chains:      map[string][]string{},
		known:       map[string]bool{},
		definitions: map[string]string{},
		sets:        map[string]string{},
	}
	note := func(id string) {
		if strings.Contains(key(id), "/policysetdefinitions/") {
			ix.sets[key(id)] = id
		} else if id != "" {
			ix.definitions[key(id)] = id
		}
	}
	for i := range est.Assignments {
		a := &est.Assignments[i]
		ix.assignments[key(a.ID)] = a
		s := key(a.Scope)
		ix.byScope[s] = append(ix.byScope[s], a)
		note(a.PolicyDefinitionID)
	}
	for set, ms := range est.Initiatives {
		byDef, refs := map[string][]string{}, map[string]string{}
		for _, m := range ms {
			d := key(m.DefinitionID)
			byDef[d] = append(byDef[d], m.ReferenceID)
			refs[key(m.ReferenceID)] = m.ReferenceID
			note(m.DefinitionID)
		}
		ix.sets[key(set)] = set
		ix.refs[key(set)], ix.members[key(set)] = byDef, refs
	}
	for i := range est.Recommendations {
		r := &est.Recommendations[i]
		ix.recByKey[key(r.Key)] = r
		ix.recByDef[key(r.DefinitionID)] = r
		note(r.DefinitionID)
		n := key(r.DisplayName)
		ix.recByName[n] = append(ix.recByName[n], r)
	}
	ix.exKeys = make([]string, len(est.Exemptions))
	for i := range est.Exemptions {
		k := key(est.Exemptions[i].ID)
		ix.exKeys[i] = k
		ix.exemptions[k] = &est.Exemptions[i]
	}
	for k, v := range est.Parents {
		ix.parents[key(k)] = key(v)
	}
	for k, v := range est.Scopes {
		ix.scopes[key(k)] = v
	}
	return ix
}

// byName returns the ids of the definitions (or initiatives) named name,
// sorted.
func (ix *index) byName(name string, set bool) []string {
	known := ix.definitions
	if set {
		known = ix.sets
	}
	var out []string
	suffix := "/" + strings.ToLower(name)
	for k, id := range known {
		if strings.HasSuffix(k, suffix) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// key is the case-insensitive form of an id, without a trailing slash.
func key(id string) string {
	id = strings.TrimSuffix(id, "/")
	if id == "" {
		return "/"
	}
	return strings.ToLower(id)
}

// scopeOf is the scope of an exemption id: what comes before its
// /providers/Microsoft.Authorization/policyExemptions/{name}. It cuts at
// the fourth slash from the end (a name has no slash) without lowering the
// id: this runs once per exemption of the estate.
func scopeOf(id string) string {
	const seg = "/providers/microsoft.authorization/policyexemptions/"
	i := len(id)
	for range 4 {
		if i = strings.LastIndexByte(id[:i], '/'); i < 0 {
			return id
		}
	}
	if len(id)-i <= len(seg) || !strings.EqualFold(id[i:i+len(seg)], seg) {
		return id
	}
	if i == 0 {
		return "/"
	}
	return id[:i]
}

// assignmentScopeOf is the scope an assignment id sits on.
func assignmentScopeOf(id string) string {
	const seg = "/providers/microsoft.authorization/policyassignments/"
	if i := strings.LastIndex(strings.ToLower(id), seg); i > 0 {
		return id[:i]
	}
	return "/"
}

// walk calls yield with the key of a scope (lower case) and of every
// scope above it, nearest first: parent resources, resource group,
// subscription, then the management groups the hierarchy puts it under,
// and last the root "/". It cuts the id at its slashes rather than parse
// it, so it also yields prefixes that are no scope ("…/providers"); they
// match nothing. It stops when yield returns false.
func (ix *index) walk(k string, yield func(string) bool) {
	for hops := 0; k != "/" && hops < 64; hops++ { // hops: a cycle in Parents ends
		if !yield(k) {
			return
		}
		if container(k) {
			p, ok := ix.parents[k]
			if !ok {
				break
			}
			k = p
			continue
		}
		i := strings.LastIndexByte(k, '/')
		if i <= 0 {
			break
		}
		k = k[:i]
	}
	yield("/")
}

// container reports whether a key is a subscription or a management group,
// whose parents only the hierarchy knows.
func container(k string) bool {
	for _, prefix := range []string{"/subscriptions/", "/providers/microsoft.management/managementgroups/"} {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			return rest != "" && !strings.Contains(rest, "/")
		}
	}
	return false
}

// chain returns what walk yields for scope, cached.
func (ix *index) chain(scope string) []string {
	k := key(scope)
	if c, ok := ix.chains[k]; ok {
		return c
	}
	var out []string
	ix.walk(k, func(c string) bool { out = append(out, c); return true })
	ix.chains[k] = out
	return out
}

// under reports whether scope is at or under above in the hierarchy.
func (ix *index) under(scope, above string) bool {
	a := key(above)
	for _, c := range ix.chain(scope) {
		if c == a {
			return true
		}
	}
	return false
}

// excludedBy returns the notScope of a that holds scope, or "".
func (ix *index) excludedBy(a *Assignment, scope string) string {
	for _, n := range a.NotScopes {
		if ix.under(scope, n) {
			return n
		}
	}
	return ""
}

// applying returns the assignments at or above scope, nearest scope first.
func (ix *index) applying(scope string) []*Assignment {
	var out []*Assignment
	for _, c := range ix.chain(scope) {
		out = append(out, ix.byScope[c]...)
	}
	return out
}

// refsOf returns the reference ids under which assignment a assigns the
// definition def: nil and true for an assignment of def itself, the
// members for an initiative that has it, false when a does not assign it.
func (ix *index) refsOf(a *Assignment, def string) ([]string, bool) {
	d := key(def)
	if key(a.PolicyDefinitionID) == d {
		return nil, true
	}
	refs := ix.refs[key(a.PolicyDefinitionID)][d]
	return refs, len(refs) > 0
}

// isSet reports whether the assignment assigns an initiative the estate
// knows.
func (ix *index) isSet(a *Assignment) bool {
	_, ok := ix.members[key(a.PolicyDefinitionID)]
	return ok
}

// hasAssignment reports whether an assignment exists; ids repeat across
// exemptions, so the answer is kept by the id as written.
func (ix *index) hasAssignment(id string) bool {
	ok, seen := ix.known[id]
	if !seen {
		ok = ix.assignments[key(id)] != nil
		ix.known[id] = ok
	}
	return ok
}

// exists reports whether a scope exists, as far as the estate knows.
func (ix *index) exists(scope string) bool {
	ok, known := ix.scopes[key(scope)]
	return !known || ok
}

// replacements are the assignments that may have replaced a deleted one:
// at the same scope, assigning the same definition or initiative. Only a
// single one is followed; with several, re-binding would be a guess (the
// estate does not say when each was created).
func (ix *index) replacements(oldID, definition string) []*Assignment {
	if definition == "" {
		return nil
	}
	var out []*Assignment
	for _, a := range ix.byScope[key(assignmentScopeOf(oldID))] {
		if key(a.PolicyDefinitionID) == key(definition) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *Assignment) int { return strings.Compare(key(a.ID), key(b.ID)) })
	return out
}

// replacement is the one assignment that replaced a deleted one, or nil.
func (ix *index) replacement(oldID, definition string) *Assignment {
	if as := ix.replacements(oldID, definition); len(as) == 1 {
		return as[0]
	}
	return nil
}
