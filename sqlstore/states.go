package sqlstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/posture/posture"
)

const stateColumns = `resource_key, assignment_key, resource_type, subscription_id, states`

// encodeStates writes the states of a row as
// [[referenceId, state, effect, error, firstEvaluated, changedAt], ...];
// a state with an exemption has three more items: exemption, category,
// exemptUntil.
func encodeStates(ss []posture.PolicyState) string {
	rows := make([][]any, len(ss))
	for i, s := range ss {
		rows[i] = []any{s.ReferenceID, s.State, s.Effect, s.Error, micros(s.FirstEvaluated), micros(s.ChangedAt)}
		if s.Exemption != "" {
			rows[i] = append(rows[i], s.Exemption, s.ExemptionCategory, micros(s.ExemptUntil))
		}
	}
	b, _ := json.Marshal(rows) // strings and integers always marshal
	return string(b)
}

func decodeStates(text string) ([]posture.PolicyState, error) {
	if out, ok := scanStates(text); ok {
		return out, nil
	}
	return decodeStatesJSON(text)
}

func decodeStatesJSON(text string) ([]posture.PolicyState, error) {
	// Unix microseconds are below 2^53, so float64 holds them exactly.
	var rows [][]any
	if err := json.Unmarshal([]byte(text), &rows); err != nil {
		return nil, err
	}
	out := make([]posture.PolicyState, len(rows))
	for i, r := range rows {
		if len(r) != 6 && len(r) != 9 {
			return nil, fmt.Errorf("malformed policy state %v", r)
		}
		ref, ok1 := r[0].(string)
		state, ok2 := r[1].(string)
		effect, ok3 := r[2].(string)
		msg, ok4 := r[3].(string)
		first, ok5 := r[4].(float64)
		changed, ok6 := r[5].(float64)
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
			return nil, fmt.Errorf("malformed policy state %v", r)
		}
		out[i] = posture.PolicyState{ReferenceID: ref, State: state, Effect: effect, Error: msg,
			FirstEvaluated: fromMicros(int64(first)), ChangedAt: fromMicros(int64(changed))}
		if len(r) == 9 {
			exm, ok1 := r[6].(string)
			cat, ok2 := r[7].(string)
			until, ok3 := r[8].(float64)
			if !(ok1 && ok2 && ok3) || exm == "" {
				return nil, fmt.Errorf("malformed policy state %v", r)
			}
			out[i].Exemption, out[i].ExemptionCategory, out[i].ExemptUntil = exm, cat, fromMicros(int64(until))
		}
	}
	return out, nil
}

func byStatesKey(a, b *posture.ResourceStates) int {
	if c := strings.Compare(a.ResourceKey, b.ResourceKey); c != 0 {
		return c
	}
	return strings.Compare(a.AssignmentKey, b.AssignmentKey)
}

// PolicyStates implements posture.Tx.
func (t *Tx) PolicyStates(f posture.PolicyStateFilter) ([]*posture.ResourceStates, error) {
	var conds []string
	var args []any
	afterRes, _, _ := strings.Cut(f.After, "\x00")
	switch {
	case f.Under != "" && f.After != "" && afterRes >= f.Under+"/":
		// Past the root of the subtree the cursor is the lower bound: a
		// plain range the index walks. (The OR form below makes the
		// planner sort the whole subtree for every page.)
		_, hi := subtree(f.Under)
		conds = append(conds, `resource_key < ?`)
		args = append(args, hi)
	case f.Under != "":
		// One key range, then the subtree's own test: with an OR of two
		// ranges SQLite's planner took the assignment index and read every
		// state row of the assignment (3,000 for one resource of a
		// 10,000-resource estate: an exemption write grew with the estate).
		lo, hi := subtree(f.Under)
		conds = append(conds, `resource_key >= ? AND resource_key < ? AND (resource_key = ? OR resource_key > ?)`)
		args = append(args, f.Under, hi, f.Under, lo)
	}
	if f.ResourceKey != "" {
		conds = append(conds, `resource_key = ?`)
		args = append(args, f.ResourceKey)
	}
	if len(f.ResourceKeys) > 0 {
		if len(f.ResourceKeys) > 5000 {
			return nil, posture.Errorf(posture.EINTERNAL, "InternalServerError", "policy states asked for %d resources at once", len(f.ResourceKeys))
		}
		conds = append(conds, `resource_key IN (`+placeholders(len(f.ResourceKeys))+`)`)
		for _, k := range f.ResourceKeys {
			args = append(args, k)
		}
	}
	if f.AssignmentKey != "" {
		conds = append(conds, `assignment_key = ?`)
		args = append(args, f.AssignmentKey)
	}
	if f.After != "" {
		res, asg, _ := strings.Cut(f.After, "\x00")
		conds = append(conds, `(resource_key, assignment_key) > (?, ?)`)
		args = append(args, res, asg)
	}
	q := `SELECT ` + stateColumns + ` FROM policy_states`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	q += ` ORDER BY resource_key, assignment_key`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*posture.ResourceStates
	for rows.Next() {
		var r posture.ResourceStates
		var states string
		if err := rows.Scan(&r.ResourceKey, &r.AssignmentKey, &r.ResourceType, &r.SubscriptionID, &states); err != nil {
			return nil, t.s.wrap(err)
		}
		if r.States, err = decodeStates(states); err != nil {
			return nil, t.s.wrap(fmt.Errorf("policy states of %s: %w", r.ResourceKey, err))
		}
		out = append(out, &r)
	}
	return out, t.s.wrap(rows.Err())
}

// NoteStateRefs implements posture.Tx.
func (t *Tx) NoteStateRefs(refs map[string]bool) {
	if k := t.noted(); k != nil {
		k.StateRefs = slices.Sorted(maps.Keys(refs))
	}
}

// PutPolicyStates implements posture.Tx.
func (t *Tx) PutPolicyStates(rs []*posture.ResourceStates) error {
	if k := t.noted(); k != nil {
		for _, r := range rs {
			k.States = append(k.States, [2]string{r.ResourceKey, r.AssignmentKey})
		}
	}
	if !slices.IsSortedFunc(rs, byStatesKey) {
		rs = slices.SortedFunc(slices.Values(rs), byStatesKey)
	}
	var put, del []*posture.ResourceStates
	for _, r := range rs {
		if len(r.States) == 0 {
			del = append(del, r)
		} else {
			put = append(put, r)
		}
	}
	const rowsPer = 1000
	for len(del) > 0 {
		n := min(len(del), rowsPer)
		args := make([]any, 0, n*2)
		for _, r := range del[:n] {
			args = append(args, r.ResourceKey, r.AssignmentKey)
		}
		if _, err := t.exec(`DELETE FROM policy_states WHERE (resource_key, assignment_key) IN (VALUES `+repeatTuple(`(?,?)`, n)+`)`, args...); err != nil {
			return err
		}
		del = del[n:]
	}
	for len(put) > 0 {
		n := min(len(put), rowsPer)
		args := make([]any, 0, n*5)
		for _, r := range put[:n] {
			args = append(args, r.ResourceKey, r.AssignmentKey, r.ResourceType, r.SubscriptionID, encodeStates(r.States))
		}
		q := `INSERT INTO policy_states (` + stateColumns + `) VALUES ` + repeatTuple(`(?,?,?,?,?)`, n) +
			` ON CONFLICT (resource_key, assignment_key) DO UPDATE SET resource_type = excluded.resource_type,
			subscription_id = excluded.subscription_id, states = excluded.states`
		if _, err := t.exec(q, args...); err != nil {
			return err
		}
		put = put[n:]
	}
	return nil
}

// DeletePolicyStatesUnder implements posture.Tx.
func (t *Tx) DeletePolicyStatesUnder(key string) error {
	// Only deleted resources lose their states this way: the change log has
	// their keys (DeleteResources).
	lo, hi := subtree(key)
	_, err := t.exec(`DELETE FROM policy_states WHERE resource_key = ? OR (resource_key > ? AND resource_key < ?)`, key, lo, hi)
	return err
}

// DeletePolicyStatesOfAssignment implements posture.Tx.
func (t *Tx) DeletePolicyStatesOfAssignment(assignmentKey string) error {
	if k := t.noted(); k != nil {
		k.AssignmentsDropped = append(k.AssignmentsDropped, assignmentKey)
	}
	_, err := t.exec(`DELETE FROM policy_states WHERE assignment_key = ?`, assignmentKey)
	return err
}

// DeleteAssignmentStatesOf implements posture.Tx.
func (t *Tx) DeleteAssignmentStatesOf(assignmentKey string, resourceKeys []string) error {
	if k := t.noted(); k != nil {
		for _, r := range resourceKeys {
			k.States = append(k.States, [2]string{r, assignmentKey})
		}
	}
	for len(resourceKeys) > 0 {
		n := min(len(resourceKeys), 5000)
		args := make([]any, 0, n+1)
		args = append(args, assignmentKey)
		for _, k := range resourceKeys[:n] {
			args = append(args, k)
		}
		if _, err := t.exec(`DELETE FROM policy_states WHERE assignment_key = ? AND resource_key IN (`+placeholders(n)+`)`, args...); err != nil {
			return err
		}
		resourceKeys = resourceKeys[n:]
	}
	return nil
}

// PolicyStateResources implements posture.Tx. The (assignment_key,
// resource_key) index answers it without reading the table.
func (t *Tx) PolicyStateResources(assignmentKey string) ([]string, error) {
	rows, err := t.query(`SELECT resource_key FROM policy_states WHERE assignment_key = ?`, assignmentKey)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, t.s.wrap(err)
		}
		out = append(out, k)
	}
	return out, t.s.wrap(rows.Err())
}
