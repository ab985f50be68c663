package authz

import (
	"fmt"
	"maps"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// Data is what an Authorizer decides from. The server loads it from the
// store; ids compare case-insensitively throughout.
type Data struct {
	// RoleDefinitions are the custom roles. Built-in roles are always
	// present and need not (must not) be listed.
	RoleDefinitions []RoleDefinition
	RoleAssignments []posture.RoleAssignment
	// Memberships maps a principal id to the ids of the groups it is a
	// direct member of. Membership is transitive: a member of a group that
	// is a member of another group gets the assignments of both.
	Memberships map[string][]string
}

// Decision is the answer to one question.
type Decision struct {
	Allowed     bool
	PrincipalID string
	Action      string
	Scope       string
	// The assignment that allowed it (unset for a denial). Via is the
	// group that holds the assignment, "" when the principal holds it.
	AssignmentID     string
	AssignmentScope  string
	RoleDefinitionID string
	RoleName         string
	Via              string
}

// Authorizer answers authorization questions from an immutable snapshot of
// the data. Reads never block on writes: every change builds a new snapshot
// and swaps it in atomically, which also empties the decision cache. All
// methods are safe for concurrent use.
type Authorizer struct {
	write sync.Mutex // serialises changes
	snap  atomic.Pointer[snapshot]
	hier  Hierarchy
}

// New builds an Authorizer. h may be nil when there are no management
// groups. Entries that cannot take effect (an assignment whose scope does
// not parse or whose role does not exist, a custom role that breaks the
// rules) grant nothing; Ignored lists them so that the server can log them.
func New(data Data, h Hierarchy) *Authorizer {
	a := &Authorizer{hier: h}
	a.snap.Store(build(stateOf(data), h))
	return a
}

// Ignored lists the entries of the current data that grant nothing because
// they are invalid.
func (a *Authorizer) Ignored() []error { return a.snap.Load().ignored }

// Replace swaps in a snapshot of entirely new data.
func (a *Authorizer) Replace(data Data) {
	a.write.Lock()
	defer a.write.Unlock()
	a.snap.Store(build(stateOf(data), a.hier))
}

// InvalidateHierarchy forgets what the Hierarchy said (and every cached
// decision). Call it when a subscription or management group moves.
func (a *Authorizer) InvalidateHierarchy() {
	a.write.Lock()
	defer a.write.Unlock()
	cur := *a.snap.Load()
	cur.anc = &ancestorCache{h: a.hier}
	cur.cache = newDecisionCache()
	a.snap.Store(&cur)
}

// Check answers whether the principal (an object id) may perform the
// control-plane action at scope, an ARM id (the id the request addresses,
// so that an assignment on the resource itself counts). The action may
// carry one wildcard, as in "*/read": the answer is then whether one role
// grants every action it stands for. It returns an EINVALID error for a
// malformed action or scope.
func (a *Authorizer) Check(principalID, action, scope string) (Decision, error) {
	return a.snap.Load().check(principalID, action, scope, false)
}

// CheckData is Check for a data action (dataActions/notDataActions).
func (a *Authorizer) CheckData(principalID, dataAction, scope string) (Decision, error) {
	return a.snap.Load().check(principalID, dataAction, scope, true)
}

// Allowed is Check reduced to yes or no; malformed input is a no.
func (a *Authorizer) Allowed(principalID, action, scope string) bool {
	d, err := a.Check(principalID, action, scope)
	return err == nil && d.Allowed
}

// Authorize returns nil when the principal may perform action at scope,
// and otherwise Azure's 403 AuthorizationFailed. As in Azure, a scope that
// does not parse gets the same 403 ("…or the scope is invalid").
func (a *Authorizer) Authorize(p *posture.Principal, action, scope string) error {
	d, err := a.Check(p.ID, action, scope)
	if err != nil && posture.ErrorCode(err) == CodeInvalidAction {
		return err
	}
	if err != nil || !d.Allowed {
		return Deny(p, action, scope)
	}
	return nil
}

// ReadableScopes returns where the principal holds action (which may carry
// a wildcard, e.g. "*/read"), for filtering lists and Resource Graph rows.
func (a *Authorizer) ReadableScopes(principalID, action string) (*ScopeSet, error) {
	return a.snap.Load().scopesFor(strings.ToLower(principalID), action)
}

// AssignmentsAt returns the role assignments that apply at scope: those at
// the scope and above it, nearest first (Azure's $filter=atScope()).
func (a *Authorizer) AssignmentsAt(scope string) ([]posture.RoleAssignment, error) {
	s := a.snap.Load()
	id, err := armid.Parse(scope)
	if err != nil {
		return nil, invalidScope(scope, err)
	}
	var out []posture.RoleAssignment
	for _, sk := range appendScopesAbove(nil, id.Key(), s.anc) {
		for _, g := range s.byScope[sk] {
			out = append(out, *g.assignment)
		}
	}
	return out, nil
}

// RoleDefinition returns the built-in or custom role with the given id or
// GUID, or RoleDefinitionDoesNotExist.
func (a *Authorizer) RoleDefinition(idOrGUID string) (RoleDefinition, error) {
	r := a.snap.Load().roles[RoleDefinitionGUID(idOrGUID)]
	if r == nil {
		return RoleDefinition{}, RoleDefinitionNotFound(idOrGUID)
	}
	return r.def.clone(), nil
}

// RoleDefinitions returns every role: the built-ins in their stable order,
// then the custom roles by name.
func (a *Authorizer) RoleDefinitions() []RoleDefinition {
	s := a.snap.Load()
	out := BuiltinRoles()
	var custom []RoleDefinition
	for _, d := range s.st.roles {
		custom = append(custom, d.clone())
	}
	sort.Slice(custom, func(i, j int) bool { return custom[i].Properties.RoleName < custom[j].Properties.RoleName })
	return append(out, custom...)
}

// state is the data in maps, so that one change copies maps instead of
// re-reading everything.
type state struct {
	roles       map[string]RoleDefinition   // custom roles by GUID
	assignments map[string]*assignmentEntry // by lower-case id (or a synthetic key)
	memberships map[string][]string         // lower-case ids
}

// assignmentEntry is an assignment with its scope resolved once, when it
// enters the data: parsing ids is most of the cost of a rebuild, and entries
// are shared, unchanged, by every later snapshot.
type assignmentEntry struct {
	ra        posture.RoleAssignment
	scopeKey  string
	principal string // lower case
	roleGUID  string
	err       error // why the scope does not resolve
}

func newAssignmentEntry(ra posture.RoleAssignment) *assignmentEntry {
	e := &assignmentEntry{ra: ra, principal: strings.ToLower(ra.PrincipalID), roleGUID: RoleDefinitionGUID(ra.RoleDefinitionID)}
	scope, err := assignmentScope(ra)
	if err != nil {
		e.err = err
	} else {
		e.scopeKey = scope.Key()
	}
	return e
}

func stateOf(d Data) state {
	st := state{
		roles:       make(map[string]RoleDefinition, len(d.RoleDefinitions)),
		assignments: make(map[string]*assignmentEntry, len(d.RoleAssignments)),
		memberships: make(map[string][]string, len(d.Memberships)),
	}
	for _, r := range d.RoleDefinitions {
		st.roles[r.GUID()] = r.clone()
	}
	for i, ra := range d.RoleAssignments {
		st.assignments[assignmentKey(ra, i)] = newAssignmentEntry(ra)
	}
	for p, gs := range d.Memberships {
		st.memberships[strings.ToLower(p)] = lowerAll(gs)
	}
	return st
}

func (st state) clone() state {
	return state{roles: maps.Clone(st.roles), assignments: maps.Clone(st.assignments), memberships: maps.Clone(st.memberships)}
}

// assignmentKey keys an assignment by its id; assignments without one (in
// tests, say) get a key that cannot collide with an id.
func assignmentKey(ra posture.RoleAssignment, i int) string {
	if ra.ID != "" {
		return strings.ToLower(ra.ID)
	}
	return fmt.Sprintf("#%d", i)
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// grant is an assignment ready for checks.
type grant struct {
	assignment *posture.RoleAssignment
	scopeKey   string
	principal  string // lower case
	role       *compiledRole
}

// snapshot is one immutable version of the data with its indexes. Only the
// caches inside change, under their own locks.
type snapshot struct {
	st          state
	roles       map[string]*compiledRole       // built-in and custom, by GUID
	byPrincipal map[string]map[string][]*grant // principal → scope key → grants
	byScope     map[string][]*grant            // scope key → grants
	groups      map[string][]string            // principal → groups (transitively) that hold grants
	ignored     []error
	anc         *ancestorCache
	cache       *decisionCache
}

func build(st state, h Hierarchy) *snapshot {
	s := &snapshot{
		st:          st,
		roles:       maps.Clone(builtins),
		byPrincipal: map[string]map[string][]*grant{},
		byScope:     map[string][]*grant{},
		anc:         &ancestorCache{h: h},
		cache:       newDecisionCache(),
	}
	for guid, d := range st.roles {
		if builtins[guid] != nil {
			s.ignored = append(s.ignored, fmt.Errorf("role definition %s: a custom role cannot take a built-in role's GUID", d.ID))
			continue
		}
		if err := d.Validate(); err != nil {
			s.ignored = append(s.ignored, fmt.Errorf("role definition %s: %w", d.ID, err))
			continue
		}
		s.roles[guid] = compileRole(&d)
	}
	grants := make([]grant, 0, len(st.assignments))
	for _, e := range st.assignments {
		role, err := s.resolve(e)
		if err != nil {
			s.ignored = append(s.ignored, fmt.Errorf("role assignment %s: %w", e.ra.ID, err))
			continue
		}
		grants = append(grants, grant{assignment: &e.ra, scopeKey: e.scopeKey, principal: e.principal, role: role})
		g := &grants[len(grants)-1]
		byScope := s.byPrincipal[g.principal]
		if byScope == nil {
			byScope = map[string][]*grant{}
			s.byPrincipal[g.principal] = byScope
		}
		byScope[g.scopeKey] = append(byScope[g.scopeKey], g)
		s.byScope[g.scopeKey] = append(s.byScope[g.scopeKey], g)
	}
	// Map order is random; ordering each (small) bucket by id makes
	// decisions and AssignmentsAt deterministic.
	for _, byScope := range s.byPrincipal {
		for _, gs := range byScope {
			sortGrants(gs)
		}
	}
	for _, gs := range s.byScope {
		sortGrants(gs)
	}
	sort.Slice(s.ignored, func(i, j int) bool { return s.ignored[i].Error() < s.ignored[j].Error() })
	s.groups = closeGroups(st.memberships, s.byPrincipal)
	return s
}

func sortGrants(gs []*grant) {
	if len(gs) > 1 {
		sort.Slice(gs, func(i, j int) bool { return gs[i].assignment.ID < gs[j].assignment.ID })
	}
}

// resolve returns the role of an assignment, or why it grants nothing.
func (s *snapshot) resolve(e *assignmentEntry) (*compiledRole, error) {
	if e.err != nil {
		return nil, e.err
	}
	role := s.roles[e.roleGUID]
	if role == nil {
		return nil, roleDefinitionDoesNotExist(posture.EINVALID, e.ra.RoleDefinitionID)
	}
	if e.principal == "" {
		return nil, invalidf(CodeInvalidCreateRoleAssignmentRequest, "properties.principalId", "The role assignment has no principal id.")
	}
	return role, nil
}

// assignmentScope returns the scope an assignment applies at: its Scope,
// or the scope its id sits on. When both are set they must agree.
func assignmentScope(ra posture.RoleAssignment) (armid.ID, error) {
	var fromID armid.ID
	if ra.ID != "" {
		id, err := armid.Parse(ra.ID)
		if err != nil || !strings.EqualFold(id.Type(), "Microsoft.Authorization/roleAssignments") {
			return armid.ID{}, invalidf(CodeInvalidCreateRoleAssignmentRequest, "id", "The role assignment id '%s' is not {scope}/providers/Microsoft.Authorization/roleAssignments/{name}.", ra.ID)
		}
		fromID = id.Scope()
		if ra.Scope == "" {
			return fromID, nil
		}
	}
	scope, err := armid.Parse(ra.Scope)
	if err != nil {
		return armid.ID{}, invalidf(CodeInvalidCreateRoleAssignmentRequest, "properties.scope", "The scope '%s' is not a valid scope: %v.", ra.Scope, err)
	}
	if ra.ID != "" && !scope.Equal(fromID) {
		return armid.ID{}, invalidf(CodeInvalidCreateRoleAssignmentRequest, "properties.scope", "The scope '%s' is not the scope of the role assignment id '%s'.", ra.Scope, ra.ID)
	}
	return scope, nil
}

// closeGroups returns, for each principal with memberships, the groups it
// belongs to directly or through other groups, keeping only groups that
// hold assignments (the others cannot change a decision). Cycles end the
// walk.
func closeGroups(direct map[string][]string, holders map[string]map[string][]*grant) map[string][]string {
	out := make(map[string][]string, len(direct))
	for p := range direct {
		seen := map[string]bool{p: true}
		stack := append([]string(nil), direct[p]...)
		var held []string
		for len(stack) > 0 {
			g := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if seen[g] {
				continue
			}
			seen[g] = true
			if holders[g] != nil {
				held = append(held, g)
			}
			stack = append(stack, direct[g]...)
		}
		if len(held) > 0 {
			sort.Strings(held)
			out[p] = held
		}
	}
	return out
}

func (s *snapshot) check(principal, action, scope string, data bool) (Decision, error) {
	k := decisionKey{principal: principal, action: action, scope: scope, data: data}
	if d, ok := s.cache.get(k); ok {
		return d.decision(k), nil
	}
	w, err := actionPattern(action)
	if err != nil {
		return Decision{}, err
	}
	id, err := armid.Parse(scope)
	if err != nil {
		return Decision{}, invalidScope(scope, err)
	}
	d := s.decide(strings.ToLower(principal), w, id.Key(), data)
	s.cache.put(k, d)
	return d.decision(k), nil
}

// decide walks the scopes at and above key, nearest first, and returns the
// first assignment of the principal or one of its groups whose role grants
// w. Nearest first makes the reported assignment the most specific one.
func (s *snapshot) decide(principal string, w pattern, key string, data bool) decided {
	own := s.byPrincipal[principal]
	groups := s.groups[principal]
	if own == nil && len(groups) == 0 {
		return decided{}
	}
	var buf [32]string
	for _, sk := range appendScopesAbove(buf[:0], key, s.anc) {
		if g := firstGrant(own[sk], w, data); g != nil {
			return decided{allowed: true, grant: g}
		}
		for _, grp := range groups {
			if g := firstGrant(s.byPrincipal[grp][sk], w, data); g != nil {
				return decided{allowed: true, grant: g}
			}
		}
	}
	return decided{}
}

func firstGrant(gs []*grant, w pattern, data bool) *grant {
	for _, g := range gs {
		if g.role.grants(w, data) {
			return g
		}
	}
	return nil
}

func (d decided) decision(k decisionKey) Decision {
	out := Decision{Allowed: d.allowed, PrincipalID: k.principal, Action: k.action, Scope: k.scope}
	if g := d.grant; g != nil {
		out.AssignmentID = g.assignment.ID
		out.AssignmentScope = g.assignment.Scope
		if out.AssignmentScope == "" {
			out.AssignmentScope = g.scopeKey
		}
		out.RoleDefinitionID = g.role.def.ID
		out.RoleName = g.role.def.Properties.RoleName
		if !strings.EqualFold(g.principal, k.principal) {
			out.Via = g.assignment.PrincipalID
		}
	}
	return out
}

func (s *snapshot) scopesFor(principal, action string) (*ScopeSet, error) {
	w, err := actionPattern(action)
	if err != nil {
		return nil, err
	}
	var keys []string
	collect := func(byScope map[string][]*grant) {
		for sk, gs := range byScope {
			if firstGrant(gs, w, false) != nil {
				keys = append(keys, sk)
			}
		}
	}
	collect(s.byPrincipal[principal])
	for _, grp := range s.groups[principal] {
		collect(s.byPrincipal[grp])
	}
	return newScopeSet(keys, s.anc), nil
}

// actionPattern checks an action a caller asks about and compiles it.
func actionPattern(action string) (pattern, error) {
	if reason := actionProblem(action, 1); reason != "" {
		return pattern{}, posture.Errorf(posture.EINVALID, CodeInvalidAction, "The action '%s' is not valid: %s.", action, reason)
	}
	return compilePattern(action), nil
}

func invalidScope(scope string, err error) *posture.Error {
	return &posture.Error{Kind: posture.EINVALID, Code: CodeInvalidScope, Message: fmt.Sprintf("The scope '%s' is not valid.", scope), Err: err}
}
