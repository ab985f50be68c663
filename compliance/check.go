package compliance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/policy"
)

// Problems a state check reports.
const (
	ProblemMissing   = "missing"   // a fresh evaluation gives the state; the store has none
	ProblemExtra     = "extra"     // the store has a state a fresh evaluation does not give
	ProblemState     = "state"     // the rule's result differs
	ProblemEffect    = "effect"    // the effect differs
	ProblemExemption = "exemption" // the exemption stamped on it differs (id, category or end)
)

// StateDiff is one state on which the store and a fresh evaluation
// disagree.
type StateDiff struct {
	ResourceKey   string `json:"resource"`
	AssignmentKey string `json:"assignment"`
	ReferenceID   string `json:"referenceId"`
	Problem       string `json:"problem"`
	Stored        string `json:"stored,omitempty"`
	Fresh         string `json:"fresh,omitempty"`
}

func (d StateDiff) String() string {
	s := fmt.Sprintf("%s: %s of %s", d.Problem, d.ResourceKey, d.AssignmentKey)
	if d.ReferenceID != "" {
		s += " (" + d.ReferenceID + ")"
	}
	switch d.Problem {
	case ProblemMissing:
		s += fmt.Sprintf(": fresh %q", d.Fresh)
	case ProblemExtra:
		s += fmt.Sprintf(": stored %q", d.Stored)
	default:
		s += fmt.Sprintf(": stored %q, fresh %q", d.Stored, d.Fresh)
	}
	return s
}

// StateCheck is what Check found.
type StateCheck struct {
	Assignments int      `json:"assignments"` // assignments evaluated
	Uncompiled  []string `json:"uncompiled,omitempty"`
	Resources   int      `json:"resources"` // resources evaluated, once per assignment covering them
	Rows        int      `json:"rows"`      // stored (resource, assignment) rows
	States      int      `json:"states"`    // stored states
	Exemptions  int      `json:"exemptions"`
	// Stale says that the store is marked stale (an offline import): the
	// server re-evaluates everything when it starts, and until then
	// disagreements are expected.
	Stale bool `json:"stale,omitempty"`
	// Pending counts the queued evaluation jobs (of a large scope, see
	// EvalJobs) not done yet: until they run, the states of their ranges
	// are expected to disagree.
	Pending int `json:"pendingEvaluations,omitempty"`
	// Disagreements counts every state that differs; Diffs lists the first
	// CheckOptions.Limit of them, by assignment, resource and reference.
	Disagreements int         `json:"disagreements"`
	Diffs         []StateDiff `json:"diffs,omitempty"`
	// Fresh holds, for each (resource, assignment) pair on which the store
	// disagrees, the row a fresh evaluation gives (no states: none), with
	// the stored times of the states the store has: stored rows patched
	// with them are the from-scratch states.
	Fresh []*posture.ResourceStates `json:"-"`
}

// CheckOptions tune Check.
type CheckOptions struct {
	// Limit bounds the disagreements listed (all are counted); 0: 100.
	Limit int
}

// Check recomputes every policy state from scratch inside tx and compares
// it with the stored one: the assignments, definitions, hierarchy and
// exemptions are read from tx (not from a running service's memory),
// related documents come straight from the store rather than from the
// index that writes maintain, and each state is compared on its rule's
// result, its effect and the exemption stamped on it. Times are not
// compared: they record when the server evaluated.
//
// s must be a Service that was not started, with a Registry of the
// built-in definitions (and those the server loads with --policies); Check
// loads the custom ones into it, and leaves s holding the assignments it
// read (InitiativeOf and DefinitionOf answer for them). It never writes, so
// tx may be a read transaction, and a snapshot of a store that a server is
// writing gives a consistent answer.
func (s *Service) Check(ctx context.Context, tx posture.Tx, opts CheckOptions) (*StateCheck, error) {
	if opts.Limit <= 0 {
		opts.Limit = 100
	}
	now := s.now()
	rep := &StateCheck{}
	if err := s.loadForCheck(tx, rep); err != nil {
		return nil, err
	}
	as, hier, _, _ := s.snapshot()
	c := &checker{rep: rep, limit: opts.Limit, now: now}
	for _, a := range sortedAssignments(as) {
		if err := s.checkAssignment(ctx, tx, a, hier, now, c); err != nil {
			return nil, fmt.Errorf("checking %s: %w", a.key, err)
		}
	}
	// Every stored row: counted, and those of assignments that are not
	// evaluated (deleted or not compiling) are extra.
	f := posture.PolicyStateFilter{Limit: 5000}
	for {
		rows, err := tx.PolicyStates(f)
		if err != nil {
			return nil, err
		}
		for _, o := range rows {
			rep.Rows++
			rep.States += len(o.States)
			if as[o.AssignmentKey] == nil {
				c.compare(o, nil)
			}
		}
		if len(rows) < f.Limit {
			break
		}
		last := rows[len(rows)-1]
		f.After = last.ResourceKey + "\x00" + last.AssignmentKey
	}
	slices.SortStableFunc(rep.Diffs, func(a, b StateDiff) int {
		return strings.Compare(a.AssignmentKey+"\x00"+a.ResourceKey+"\x00"+a.ReferenceID, b.AssignmentKey+"\x00"+b.ResourceKey+"\x00"+b.ReferenceID)
	})
	return rep, nil
}

// loadForCheck loads s from tx as Start does, without writing anything:
// custom definitions, assignments, the hierarchy and the exemptions.
func (s *Service) loadForCheck(tx posture.Tx, rep *StateCheck) error {
	hier := newHierarchy()
	assignments := map[string]*assignment{}
	if err := s.loadObjects(tx, DefinitionType, func(r *posture.Resource) error { return s.registerDefinition(r) }); err != nil {
		return err
	}
	if err := s.loadObjects(tx, SetDefinitionType, func(r *posture.Resource) error { return s.registerSet(r) }); err != nil {
		return err
	}
	if err := s.loadObjects(tx, AssignmentType, func(r *posture.Resource) error {
		a, err := s.compile(r)
		if err != nil {
			// The server does not evaluate it either; its stored states,
			// if any, are reported as extra.
			rep.Uncompiled = append(rep.Uncompiled, r.Key)
			return nil
		}
		assignments[a.key] = a
		return nil
	}); err != nil {
		return err
	}
	for _, typ := range []string{armid.ManagementGroupType, armid.SubscriptionType} {
		if err := eachResource(tx, posture.ResourceFilter{Types: []string{typ}}, func(r *posture.Resource) error {
			hier.apply(r)
			return nil
		}); err != nil {
			return err
		}
	}
	v, err := tx.Setting(staleSetting)
	if err != nil {
		return err
	}
	rep.Stale = v != ""
	for _, kind := range []string{KindEvaluatePlan, KindEvaluate} {
		for _, state := range []string{posture.JobPending, posture.JobRunning} {
			f := posture.JobFilter{Kind: kind, State: state, Limit: 1000}
			for {
				jobs, err := tx.Jobs(f)
				if err != nil {
					return err
				}
				rep.Pending += len(jobs)
				if len(jobs) < f.Limit {
					break
				}
				f.After = jobs[len(jobs)-1].ID
			}
		}
	}
	exemptions, err := s.loadExemptions(tx)
	if err != nil {
		return err
	}
	rep.Exemptions = len(exemptions.byKey)
	rep.Assignments = len(assignments)
	s.mu.Lock()
	s.hier, s.assignments, s.related, s.kept = hier, assignments, newRelatedIndex(), map[string]nameSet{}
	s.exemptions = exemptions
	s.mu.Unlock()
	return nil
}

// checkAssignment evaluates every resource an assignment covers, as
// evaluateAssignment does, and compares the rows with the stored ones.
func (s *Service) checkAssignment(ctx context.Context, tx posture.Tx, a *assignment, hier *hierarchy, now time.Time, c *checker) error {
	seen := map[string]bool{}
	page := func(rs []*posture.Resource) error {
		// A lookup per page: it caches what it decodes, and the estate may
		// be large. No index: related documents come from the store.
		e := &evaluation{ctx: ctx, tx: tx, now: now, hier: hier, lookup: &lookup{tx: tx},
			opts:  policy.EvalOptions{Now: now, Reasons: policy.ReasonsNone, ReportDisabled: true},
			stamp: &stamper{ix: s.exemptions, hier: hier}}
		keys := make([]string, len(rs))
		fresh := map[string]*posture.ResourceStates{}
		for i, r := range rs {
			if err := ctx.Err(); err != nil {
				return err
			}
			seen[r.Key] = true
			keys[i] = r.Key
			for _, row := range e.evaluate(r, []*assignment{a}) {
				fresh[row.ResourceKey] = row
			}
		}
		c.rep.Resources += len(rs)
		stored, err := tx.PolicyStates(posture.PolicyStateFilter{ResourceKeys: keys, AssignmentKey: a.key})
		if err != nil {
			return err
		}
		for _, o := range stored {
			c.compare(o, fresh[o.ResourceKey])
			delete(fresh, o.ResourceKey)
		}
		for _, k := range keys { // in key order
			if row := fresh[k]; row != nil {
				c.compare(nil, row)
			}
		}
		return nil
	}
	for _, root := range hier.scopeRoots(a.scope) {
		if r, err := tx.Resource(root); err == nil {
			if err := page([]*posture.Resource{r}); err != nil {
				return err
			}
		} else if !posture.IsNotFound(err) {
			return err
		}
		if err := eachPage(tx, posture.ResourceFilter{Under: root}, page); err != nil {
			return err
		}
	}
	// Stored rows of resources the assignment does not reach (or that no
	// longer exist).
	had, err := tx.PolicyStateResources(a.key)
	if err != nil {
		return err
	}
	var gone []string
	for _, k := range had {
		if !seen[k] {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for i := 0; i < len(gone); i += 2000 {
		rows, err := tx.PolicyStates(posture.PolicyStateFilter{ResourceKeys: gone[i:min(i+2000, len(gone))], AssignmentKey: a.key})
		if err != nil {
			return err
		}
		for _, o := range rows {
			c.compare(o, nil)
		}
	}
	return nil
}

// checker compares stored rows with fresh ones and records what differs.
type checker struct {
	rep   *StateCheck
	limit int
	now   time.Time
}

// compare compares a stored row o with a fresh row (either may be nil) of
// the same resource and assignment.
func (c *checker) compare(o, row *posture.ResourceStates) {
	var res, asg string
	stored := map[string]*posture.PolicyState{}
	if o != nil {
		res, asg = o.ResourceKey, o.AssignmentKey
		for i := range o.States {
			stored[o.States[i].ReferenceID] = &o.States[i]
		}
	}
	var fresh []posture.PolicyState
	if row != nil {
		res, asg = row.ResourceKey, row.AssignmentKey
		fresh = row.States
	}
	n := 0
	add := func(ref, problem, was, is string) {
		n++
		c.rep.Disagreements++
		if len(c.rep.Diffs) < c.limit {
			c.rep.Diffs = append(c.rep.Diffs, StateDiff{ResourceKey: res, AssignmentKey: asg, ReferenceID: ref, Problem: problem, Stored: was, Fresh: is})
		}
	}
	for i := range fresh {
		f := &fresh[i]
		p := stored[f.ReferenceID]
		delete(stored, f.ReferenceID)
		if p == nil {
			add(f.ReferenceID, ProblemMissing, "", f.State)
			f.FirstEvaluated, f.ChangedAt = c.now, c.now
			continue
		}
		f.FirstEvaluated, f.ChangedAt = p.FirstEvaluated, p.ChangedAt
		switch {
		case p.State != f.State:
			add(f.ReferenceID, ProblemState, p.State, f.State)
		case p.Effect != f.Effect:
			add(f.ReferenceID, ProblemEffect, p.Effect, f.Effect)
		case p.Exemption != f.Exemption || p.ExemptionCategory != f.ExemptionCategory || !p.ExemptUntil.Equal(f.ExemptUntil):
			add(f.ReferenceID, ProblemExemption, stampText(p), stampText(f))
		}
	}
	for _, ref := range slices.Sorted(func(yield func(string) bool) {
		for k := range stored {
			if !yield(k) {
				return
			}
		}
	}) {
		add(ref, ProblemExtra, stored[ref].State, "")
	}
	if n > 0 {
		if row == nil {
			row = &posture.ResourceStates{ResourceKey: res, AssignmentKey: asg}
		}
		c.rep.Fresh = append(c.rep.Fresh, row)
	}
}

// stampText renders the exemption stamped on a state.
func stampText(p *posture.PolicyState) string {
	if p.Exemption == "" {
		return "none"
	}
	s := p.Exemption + " " + p.ExemptionCategory
	if !p.ExemptUntil.IsZero() {
		s += " until " + p.ExemptUntil.UTC().Format(time.RFC3339)
	}
	return s
}
