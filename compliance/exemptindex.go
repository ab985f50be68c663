package compliance

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/drift"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/match"
)

// exemptionEntry is an exemption as evaluation needs it.
type exemptionEntry struct {
	key        string // lower-case id
	id         string
	scope      string // lower-case scope key
	assignment string // lower-case assignment key
	x          *exemption.Exemption
	// evidence is x's evidence condition, compiled once: resource writes
	// check it. nil when there is none (or it does not compile: the write
	// that stored it checked that it does).
	evidence *drift.Evidence
	// noted says its expiry was recorded (an Expired event written and the
	// feeds told).
	noted bool
}

// expires returns the expiry as a sort key: the zero time (none) last.
func (e *exemptionEntry) outlasts(o *exemptionEntry) bool {
	a, b := e.x.EndsAt(), o.x.EndsAt()
	switch {
	case a.IsZero() != b.IsZero():
		return a.IsZero()
	case !a.Equal(b):
		return a.After(b)
	case e.x.Category != o.x.Category:
		return e.x.Category == exemption.Waiver // a Waiver says more than a Mitigated
	}
	return e.key < o.key
}

// exemptIndex finds the exemptions covering a policy state by looking up
// the state's assignment and each scope above the resource: the cost per
// state does not grow with the number of exemptions.
type exemptIndex struct {
	mu           sync.RWMutex
	byKey        map[string]*exemptionEntry
	byAssignment map[string]map[string][]*exemptionEntry // assignment -> scope -> exemptions
	// writes are the exemption writes waiting to be committed and put
	// here, a batch at a time (exemptcommit.go).
	writes writeQueue
}

func newExemptIndex() *exemptIndex {
	return &exemptIndex{byKey: map[string]*exemptionEntry{}, byAssignment: map[string]map[string][]*exemptionEntry{}}
}

func (ix *exemptIndex) get(key string) *exemptionEntry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.byKey[key]
}

func (ix *exemptIndex) put(e *exemptionEntry) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeLocked(e.key)
	ix.byKey[e.key] = e
	scopes := ix.byAssignment[e.assignment]
	if scopes == nil {
		scopes = map[string][]*exemptionEntry{}
		ix.byAssignment[e.assignment] = scopes
	}
	scopes[e.scope] = append(scopes[e.scope], e)
}

func (ix *exemptIndex) remove(key string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.removeLocked(key)
}

func (ix *exemptIndex) removeLocked(key string) {
	old := ix.byKey[key]
	if old == nil {
		return
	}
	delete(ix.byKey, key)
	scopes := ix.byAssignment[old.assignment]
	list := slices.DeleteFunc(scopes[old.scope], func(e *exemptionEntry) bool { return e.key == key })
	if len(list) == 0 {
		delete(scopes, old.scope)
	} else {
		scopes[old.scope] = list
	}
	if len(scopes) == 0 {
		delete(ix.byAssignment, old.assignment)
	}
}

// under returns the exemptions at or under key (a deleted resource takes
// them with it).
func (ix *exemptIndex) under(key string) []*exemptionEntry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []*exemptionEntry
	for _, e := range ix.byKey {
		if e.scope == key || strings.HasPrefix(e.scope, key+"/") {
			out = append(out, e)
		}
	}
	return out
}

// atScope returns the exemptions whose scope is key.
func (ix *exemptIndex) atScope(key string) []*exemptionEntry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []*exemptionEntry
	for _, scopes := range ix.byAssignment {
		out = append(out, scopes[key]...)
	}
	return out
}

// all returns every exemption.
func (ix *exemptIndex) all() []*exemptionEntry {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]*exemptionEntry, 0, len(ix.byKey))
	for _, e := range ix.byKey {
		out = append(out, e)
	}
	return out
}

// groupAssignments returns the assignments with an exemption at a
// management group.
func (ix *exemptIndex) groupAssignments() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var out []string
	for a, scopes := range ix.byAssignment {
		for scope := range scopes {
			if isGroup(scope) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// nextDue returns the earliest expiry not yet recorded; zero when none.
func (ix *exemptIndex) nextDue() time.Time {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var next time.Time
	for _, e := range ix.byKey {
		if end := e.x.EndsAt(); !e.noted && !end.IsZero() && (next.IsZero() || end.Before(next)) {
			next = end
		}
	}
	return next
}

// override replaces, for one write's evaluation, an exemption of the index
// (nil: deleted) before the write commits.
type override map[string]*exemptionEntry

// stamper stamps policy state rows with the exemptions covering them.
type stamper struct {
	ix   *exemptIndex
	hier *hierarchy
	over override
}

// has reports whether any exemption concerns the assignment, so rows of
// the others skip the lookup.
func (st *stamper) has(assignment string) bool {
	for _, e := range st.over {
		if e != nil && e.assignment == assignment {
			return true
		}
	}
	st.ix.mu.RLock()
	defer st.ix.mu.RUnlock()
	return len(st.ix.byAssignment[assignment]) > 0
}

// candidates returns the exemptions of an assignment at the resource's
// scopes: the resource key and each of its prefixes, and the management
// groups above its subscription.
func (st *stamper) candidates(row *posture.ResourceStates) []*exemptionEntry {
	var out []*exemptionEntry
	st.ix.mu.RLock()
	scopes := st.ix.byAssignment[row.AssignmentKey]
	if len(scopes) > 0 {
		key := row.ResourceKey
		for i := len(key); i > 0; i = strings.LastIndexByte(key[:i], '/') {
			out = append(out, scopes[key[:i]]...)
		}
		if row.SubscriptionID != "" {
			for p, hops := st.hier.parent["/subscriptions/"+row.SubscriptionID], 0; p != "" && hops < 64; p, hops = st.hier.parent[p], hops+1 {
				out = append(out, scopes[p]...)
			}
		}
	}
	st.ix.mu.RUnlock()
	if len(st.over) == 0 {
		return out
	}
	out = slices.DeleteFunc(out, func(e *exemptionEntry) bool { _, ok := st.over[e.key]; return ok })
	for _, e := range st.over {
		if e != nil && e.assignment == row.AssignmentKey && st.hier.coversKey(e.scope, row.ResourceKey, row.SubscriptionID) {
			out = append(out, e)
		}
	}
	return out
}

// stamp sets the exemption of each state of row; r is the resource (type
// only, unless an exemption of the assignment NeedsResource). It reports
// whether a stamp changed.
func (st *stamper) stamp(row *posture.ResourceStates, r *match.Resource) bool {
	if !st.has(row.AssignmentKey) {
		return clearStamps(row)
	}
	cands := st.candidates(row)
	changed := false
	for i := range row.States {
		s := &row.States[i]
		var best *exemptionEntry
		for _, e := range cands {
			if e.x.Selects(s.ReferenceID, row.ResourceType, r) && (best == nil || e.outlasts(best)) {
				best = e
			}
		}
		var key, cat string
		var until time.Time
		if best != nil {
			key, cat, until = best.key, string(best.x.Category), best.x.EndsAt()
		}
		if s.Exemption != key || s.ExemptionCategory != cat || !s.ExemptUntil.Equal(until) {
			s.Exemption, s.ExemptionCategory, s.ExemptUntil = key, cat, until
			changed = true
		}
	}
	return changed
}

func clearStamps(row *posture.ResourceStates) bool {
	changed := false
	for i := range row.States {
		s := &row.States[i]
		if s.Exemption != "" {
			s.Exemption, s.ExemptionCategory, s.ExemptUntil = "", "", time.Time{}
			changed = true
		}
	}
	return changed
}

// needsResource reports whether an exemption of the assignment reads more
// of a resource than its type (location, name, tags), so the stamping of
// its states must load the resources.
func (st *stamper) needsResource(assignment string) bool {
	for _, e := range st.over {
		if e != nil && e.assignment == assignment && e.x.NeedsResource() {
			return true
		}
	}
	st.ix.mu.RLock()
	defer st.ix.mu.RUnlock()
	for _, list := range st.ix.byAssignment[assignment] {
		for _, e := range list {
			if e.x.NeedsResource() {
				return true
			}
		}
	}
	return false
}

// subjectOf is what resource filters read of a resource.
func subjectOf(r *posture.Resource) *match.Resource {
	return &match.Resource{ID: r.ID, Name: r.Name, Type: r.Type, Location: r.Location,
		ResourceGroup: r.ResourceGroup, SubscriptionID: r.SubscriptionID, Tags: r.Tags}
}

// typeOnly is a subject for a row whose resource was not loaded: only its
// type is known (enough when no exemption NeedsResource).
func typeOnly(row *posture.ResourceStates) *match.Resource {
	return &match.Resource{ID: row.ResourceKey, Type: row.ResourceType, SubscriptionID: row.SubscriptionID}
}
