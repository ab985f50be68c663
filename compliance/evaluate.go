package compliance

import (
	"context"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/policy"
)

// assignment is a compiled assignment with what evaluation needs to know.
type assignment struct {
	key      string // lower-case id
	scope    string // lower-case scope key
	compiled *policy.CompiledAssignment
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
}

// evaluated is the outcome of one resource against the assignments asked.
type evaluated struct {
	r      *posture.Resource
	states []*posture.PolicyState
}

// run evaluates rs against as and replaces, for those assignments only,
// the stored states of rs: new pairs are added, changed ones updated (their
// first evaluation kept), pairs that no longer apply deleted. States that did
// not change are not written.
func (e *evaluation) run(rs []*posture.Resource, as []*assignment) error {
	if len(rs) == 0 || len(as) == 0 {
		return nil
	}
	results := make([]evaluated, 0, len(rs))
	for _, r := range rs {
		if err := e.ctx.Err(); err != nil {
			return err
		}
		results = append(results, evaluated{r: r, states: e.evaluate(r, as)})
	}
	return e.write(results, as)
}

// evaluate returns the states of one resource for the assignments that
// cover it.
func (e *evaluation) evaluate(r *posture.Resource, as []*assignment) []*posture.PolicyState {
	var pr *policy.Resource
	var states []*posture.PolicyState
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
		for _, res := range a.compiled.EvaluateWithOptions(e.ctx, pr, e.lookup, e.opts) {
			s := &posture.PolicyState{
				ResourceKey:    r.Key,
				ResourceType:   strings.ToLower(pr.Type),
				SubscriptionID: r.SubscriptionID,
				AssignmentKey:  a.key,
				ReferenceID:    res.ReferenceID,
				State:          string(res.State),
				Effect:         string(res.Effect),
				Error:          res.Message,
			}
			states = append(states, s)
		}
	}
	return states
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

// write diffs new states against stored ones and writes the difference.
func (e *evaluation) write(results []evaluated, as []*assignment) error {
	asked := make(map[string]bool, len(as))
	for _, a := range as {
		asked[a.key] = true
	}
	var put, del []*posture.PolicyState
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
		prev := make(map[string]*posture.PolicyState, len(old))
		for _, s := range old {
			if asked[s.AssignmentKey] {
				prev[s.ResourceKey+"\x00"+s.StateKey()] = s
			}
		}
		for _, ev := range chunk {
			for _, s := range ev.states {
				k := s.ResourceKey + "\x00" + s.StateKey()
				o := prev[k]
				delete(prev, k)
				switch {
				case o == nil:
					s.FirstEvaluated, s.ChangedAt = e.now, e.now
				case o.State == s.State && o.Effect == s.Effect && o.Error == s.Error && o.ResourceType == s.ResourceType:
					continue // unchanged: nothing to write
				default:
					s.FirstEvaluated, s.ChangedAt = o.FirstEvaluated, o.ChangedAt
					if o.State != s.State {
						s.ChangedAt = e.now
					}
				}
				put = append(put, s)
			}
		}
		for _, o := range prev {
			del = append(del, o)
		}
	}
	if err := e.tx.DeletePolicyStates(del); err != nil {
		return err
	}
	return e.tx.PutPolicyStates(put)
}
