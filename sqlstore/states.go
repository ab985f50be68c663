package sqlstore

import (
	"slices"
	"strings"

	"github.com/posture/posture"
)

const stateColumns = `resource_key, assignment_key, reference_id, resource_type, subscription_id, state, effect, error, first_evaluated, changed_at`

func stateRow(s *posture.PolicyState) []any {
	return []any{s.ResourceKey, s.AssignmentKey, s.ReferenceID, s.ResourceType, s.SubscriptionID,
		s.State, s.Effect, s.Error, micros(s.FirstEvaluated), micros(s.ChangedAt)}
}

func byStateKey(a, b *posture.PolicyState) int {
	if c := strings.Compare(a.ResourceKey, b.ResourceKey); c != 0 {
		return c
	}
	if c := strings.Compare(a.AssignmentKey, b.AssignmentKey); c != 0 {
		return c
	}
	return strings.Compare(a.ReferenceID, b.ReferenceID)
}

// PolicyStates implements posture.Tx.
func (t *Tx) PolicyStates(f posture.PolicyStateFilter) ([]*posture.PolicyState, error) {
	var conds []string
	var args []any
	if f.Under != "" {
		lo, hi := subtree(f.Under)
		conds = append(conds, `(resource_key = ? OR (resource_key > ? AND resource_key < ?))`)
		args = append(args, f.Under, lo, hi)
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
	if f.ReferenceID != "" {
		conds = append(conds, `reference_id = ?`)
		args = append(args, f.ReferenceID)
	}
	if f.After != "" {
		parts := strings.SplitN(f.After, "\x00", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		conds = append(conds, `(resource_key, assignment_key, reference_id) > (?, ?, ?)`)
		args = append(args, parts[0], parts[1], parts[2])
	}
	q := `SELECT ` + stateColumns + ` FROM policy_states`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, ` AND `)
	}
	q += ` ORDER BY resource_key, assignment_key, reference_id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*posture.PolicyState
	for rows.Next() {
		var s posture.PolicyState
		var first, changed int64
		if err := rows.Scan(&s.ResourceKey, &s.AssignmentKey, &s.ReferenceID, &s.ResourceType, &s.SubscriptionID,
			&s.State, &s.Effect, &s.Error, &first, &changed); err != nil {
			return nil, t.s.wrap(err)
		}
		s.FirstEvaluated, s.ChangedAt = fromMicros(first), fromMicros(changed)
		out = append(out, &s)
	}
	return out, t.s.wrap(rows.Err())
}

// PutPolicyStates implements posture.Tx.
func (t *Tx) PutPolicyStates(states []*posture.PolicyState) error {
	if !slices.IsSortedFunc(states, byStateKey) {
		states = slices.SortedFunc(slices.Values(states), byStateKey)
	}
	const rowsPer = 1000 // 10 columns: 10,000 parameters a statement
	for len(states) > 0 {
		n := min(len(states), rowsPer)
		args := make([]any, 0, n*10)
		for _, s := range states[:n] {
			args = append(args, stateRow(s)...)
		}
		q := `INSERT INTO policy_states (` + stateColumns + `) VALUES ` + repeatTuple(`(?,?,?,?,?,?,?,?,?,?)`, n) +
			` ON CONFLICT (resource_key, assignment_key, reference_id) DO UPDATE SET resource_type = excluded.resource_type,
			subscription_id = excluded.subscription_id, state = excluded.state, effect = excluded.effect, error = excluded.error,
			first_evaluated = excluded.first_evaluated, changed_at = excluded.changed_at`
		if _, err := t.exec(q, args...); err != nil {
			return err
		}
		states = states[n:]
	}
	return nil
}

// DeletePolicyStates implements posture.Tx.
func (t *Tx) DeletePolicyStates(states []*posture.PolicyState) error {
	const rowsPer = 1000
	for len(states) > 0 {
		n := min(len(states), rowsPer)
		args := make([]any, 0, n*3)
		for _, s := range states[:n] {
			args = append(args, s.ResourceKey, s.AssignmentKey, s.ReferenceID)
		}
		q := `DELETE FROM policy_states WHERE (resource_key, assignment_key, reference_id) IN (VALUES ` + repeatTuple(`(?,?,?)`, n) + `)`
		if _, err := t.exec(q, args...); err != nil {
			return err
		}
		states = states[n:]
	}
	return nil
}

// DeletePolicyStatesUnder implements posture.Tx.
func (t *Tx) DeletePolicyStatesUnder(key string) error {
	lo, hi := subtree(key)
	_, err := t.exec(`DELETE FROM policy_states WHERE resource_key = ? OR (resource_key > ? AND resource_key < ?)`, key, lo, hi)
	return err
}

// DeletePolicyStatesOfAssignment implements posture.Tx.
func (t *Tx) DeletePolicyStatesOfAssignment(assignmentKey string) error {
	_, err := t.exec(`DELETE FROM policy_states WHERE assignment_key = ?`, assignmentKey)
	return err
}

// DeleteAssignmentStatesOf implements posture.Tx.
func (t *Tx) DeleteAssignmentStatesOf(assignmentKey string, resourceKeys []string) error {
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
// reference_id, resource_key) index answers it without reading the table.
func (t *Tx) PolicyStateResources(assignmentKey string) ([]string, error) {
	rows, err := t.query(`SELECT DISTINCT resource_key FROM policy_states WHERE assignment_key = ?`, assignmentKey)
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
