package compliance

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/match"
	"github.com/posture/posture/policy"
)

// assignment is a compiled assignment with what evaluation needs to know.
type assignment struct {
	key      string // lower-case id
	scope    string // lower-case scope key
	compiled *policy.CompiledAssignment
	refIDs   []string // lower-case reference ids, in compiled.References order
}

// newAssignment returns a compiled assignment with its lower-case
// reference ids (a follower compares them with every row it re-reads).
func newAssignment(key, scope string, ca *policy.CompiledAssignment) *assignment {
	a := &assignment{key: key, scope: scope, compiled: ca, refIDs: make([]string, len(ca.References))}
	for i, ref := range ca.References {
		a.refIDs[i] = strings.ToLower(ref.ReferenceID)
	}
	return a
}

// evaluation evaluates resources against assignments inside one write
// transaction and writes the states that changed.
type evaluation struct {
	ctx    context.Context
	tx     posture.Tx
	now    time.Time
	hier   *hierarchy
	lookup policy.Lookup
	opts   policy.EvalOptions
	// stamp stamps new states with the exemptions covering them.
	stamp *stamper
	// change records what was written, for the change feed.
	change *posture.Change
	// resources counts the resources run evaluated, for OnEvaluate.
	resources int
}

// Kinds of evaluation that Service.OnEvaluate reports.
const (
	// EvaluateWrite is the evaluation inside one estate write: what it put
	// and the resources whose existence checks read it.
	EvaluateWrite = "write"
	// EvaluateAssignment is the evaluation of every resource one assignment
	// covers (a new or changed assignment, a definition it uses).
	EvaluateAssignment = "assignment"
)

// observe reports an evaluation that began at start to OnEvaluate.
func (s *Service) observe(ctx context.Context, kind string, e *evaluation, start time.Time) {
	if s.OnEvaluate != nil {
		s.OnEvaluate(ctx, kind, e.resources, time.Since(start))
	}
}

// evaluated is the outcome of one resource against the assignments asked.
type evaluated struct {
	r    *posture.Resource
	rows []*posture.ResourceStates
}

// run evaluates rs against as and replaces, for those assignments only,
// the stored states of rs: new pairs are added, changed ones updated (their
// first evaluation kept), pairs that no longer apply deleted. Rows that did
// not change are not written.
func (e *evaluation) run(rs []*posture.Resource, as []*assignment) error {
	if len(rs) == 0 || len(as) == 0 {
		return nil
	}
	e.resources += len(rs)
	results := make([]evaluated, 0, len(rs))
	for _, r := range rs {
		if err := e.ctx.Err(); err != nil {
			return err
		}
		results = append(results, evaluated{r: r, rows: e.evaluate(r, as)})
	}
	return e.write(results, as)
}

// evaluate returns the states of one resource for the assignments that
// cover it, one row per assignment with at least one applicable definition.
func (e *evaluation) evaluate(r *posture.Resource, as []*assignment) []*posture.ResourceStates {
	var pr *policy.Resource
	var subject *match.Resource
	var rows []*posture.ResourceStates
	typeKey := policyTypeKey(r)
	for _, a := range as {
		if !a.compiled.AppliesToType(typeKey) || !e.hier.covers(a.scope, r) {
			continue
		}
		if pr == nil {
			var err error
			if pr, err = decode(r); err != nil {
				// A stored document the engine cannot read: nothing applies.
				return nil
			}
		}
		results := a.compiled.EvaluateWithOptions(e.ctx, pr, e.lookup, e.opts)
		if len(results) == 0 {
			continue
		}
		row := &posture.ResourceStates{ResourceKey: r.Key, ResourceType: typeKey, SubscriptionID: r.SubscriptionID, AssignmentKey: a.key,
			States: make([]posture.PolicyState, len(results))}
		for i, res := range results {
			row.States[i] = posture.PolicyState{ReferenceID: res.ReferenceID, State: string(res.State), Effect: string(res.Effect), Error: res.Message}
		}
		slices.SortFunc(row.States, func(a, b posture.PolicyState) int { return strings.Compare(a.ReferenceID, b.ReferenceID) })
		if e.stamp != nil {
			if subject == nil {
				subject = subjectOf(r)
			}
			e.stamp.stamp(row, subject)
		}
		rows = append(rows, row)
	}
	return rows
}

// policyTypeKey is the lower-case type Azure Policy sees for a stored
// document.
func policyTypeKey(r *posture.Resource) string {
	t := r.TypeKey()
	if t == "microsoft.resources/resourcegroups" {
		return "microsoft.resources/subscriptions/resourcegroups"
	}
	return t
}

// write diffs new rows against stored ones and writes the difference.
func (e *evaluation) write(results []evaluated, as []*assignment) error {
	asked := make(map[string]bool, len(as))
	for _, a := range as {
		asked[a.key] = true
	}
	var put []*posture.ResourceStates
	for i := 0; i < len(results); i += 2000 {
		chunk := results[i:min(i+2000, len(results))]
		keys := make([]string, len(chunk))
		for j, ev := range chunk {
			keys[j] = ev.r.Key
		}
		old, err := e.tx.PolicyStates(posture.PolicyStateFilter{ResourceKeys: keys})
		if err != nil {
			return err
		}
		prev := make(map[string]*posture.ResourceStates, len(old))
		for _, o := range old {
			if asked[o.AssignmentKey] {
				prev[o.ResourceKey+"\x00"+o.AssignmentKey] = o
			}
		}
		for _, ev := range chunk {
			for _, row := range ev.rows {
				k := row.ResourceKey + "\x00" + row.AssignmentKey
				o := prev[k]
				delete(prev, k)
				if carryTimes(row, o, e.now) {
					put = append(put, row)
					e.removed(o, row)
				}
			}
		}
		for _, o := range prev { // pairs that no longer apply
			put = append(put, &posture.ResourceStates{ResourceKey: o.ResourceKey, AssignmentKey: o.AssignmentKey})
			e.removed(o, nil)
		}
	}
	if e.change != nil {
		e.change.States = append(e.change.States, put...)
	}
	return e.tx.PutPolicyStates(put)
}

// removed records the states of o that row (nil: none) no longer has.
func (e *evaluation) removed(o, row *posture.ResourceStates) {
	if e.change == nil || o == nil {
		return
	}
	keep := map[string]bool{}
	if row != nil {
		for _, s := range row.States {
			keep[s.ReferenceID] = true
		}
	}
	for _, s := range o.States {
		if !keep[s.ReferenceID] {
			e.change.StatesRemoved = append(e.change.StatesRemoved, posture.StateRef{ResourceKey: o.ResourceKey, AssignmentKey: o.AssignmentKey, ReferenceID: s.ReferenceID})
		}
	}
}

// carryTimes sets the times of row's states from the stored row o (nil when
// new): a state keeps its first evaluation, and its change time unless the
// state changed. It reports whether row differs from o.
func carryTimes(row, o *posture.ResourceStates, now time.Time) bool {
	changed := o == nil || len(o.States) != len(row.States) || o.ResourceType != row.ResourceType
	old := map[string]posture.PolicyState{}
	if o != nil {
		for _, s := range o.States {
			old[s.ReferenceID] = s
		}
	}
	for i := range row.States {
		s := &row.States[i]
		p, ok := old[s.ReferenceID]
		switch {
		case !ok:
			s.FirstEvaluated, s.ChangedAt = now, now
			changed = true
		case p.State != s.State:
			s.FirstEvaluated, s.ChangedAt = p.FirstEvaluated, now
			changed = true
		default:
			s.FirstEvaluated, s.ChangedAt = p.FirstEvaluated, p.ChangedAt
			changed = changed || p.Effect != s.Effect || p.Error != s.Error
		}
		if p.Exemption != s.Exemption || p.ExemptionCategory != s.ExemptionCategory || !p.ExemptUntil.Equal(s.ExemptUntil) {
			changed = true
		}
	}
	return changed
}
