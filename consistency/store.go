package consistency

import (
	"context"
	"slices"
	"strings"

	"github.com/posture/posture"
)

// snapshot is a posture.Store over one open transaction: the services the
// check runs read through it, so they all see the same snapshot. It does
// not write.
type snapshot struct{ tx posture.Tx }

var _ posture.Store = snapshot{}

func (s snapshot) Read(_ context.Context, fn func(posture.Tx) error) error { return fn(s.tx) }

func (s snapshot) Write(context.Context, func(posture.Tx) error) error {
	return posture.Errorf(posture.EINTERNAL, "ReadOnly", "The consistency check does not write.")
}

func (s snapshot) Ping(context.Context) error { return nil }
func (s snapshot) Close() error               { return nil }

// patchedTx is a transaction whose policy states are the stored ones with
// some (resource, assignment) rows replaced: the from-scratch states, when
// the rows are those on which the store and a fresh evaluation disagree.
// It holds only the differences, so its cost follows them, not the estate.
type patchedTx struct {
	posture.Tx
	replaced map[string]bool           // "resource\x00assignment" of every patched row
	rows     []*posture.ResourceStates // the patched rows that have states, in key order
}

func newPatchedTx(tx posture.Tx, fresh []*posture.ResourceStates) *patchedTx {
	p := &patchedTx{Tx: tx, replaced: map[string]bool{}}
	for _, r := range fresh {
		p.replaced[rowKey(r)] = true
		if len(r.States) > 0 {
			p.rows = append(p.rows, r)
		}
	}
	slices.SortFunc(p.rows, compareRows)
	return p
}

func rowKey(r *posture.ResourceStates) string { return r.ResourceKey + "\x00" + r.AssignmentKey }

func compareRows(a, b *posture.ResourceStates) int {
	if c := strings.Compare(a.ResourceKey, b.ResourceKey); c != 0 {
		return c
	}
	return strings.Compare(a.AssignmentKey, b.AssignmentKey)
}

// PolicyStates implements posture.Tx: the stored rows f selects, less the
// replaced ones, plus the patched rows f selects, in key order.
func (p *patchedTx) PolicyStates(f posture.PolicyStateFilter) ([]*posture.ResourceStates, error) {
	g := f
	if f.Limit > 0 {
		// Every replaced row may fall in the page: read enough that what is
		// left still fills it.
		g.Limit = f.Limit + len(p.replaced)
	}
	base, err := p.Tx.PolicyStates(g)
	if err != nil {
		return nil, err
	}
	out := make([]*posture.ResourceStates, 0, len(base))
	for _, r := range base {
		if !p.replaced[rowKey(r)] {
			out = append(out, r)
		}
	}
	for _, r := range p.rows {
		if selects(f, r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, compareRows)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// selects reports whether f selects row r, as the store's query does.
func selects(f posture.PolicyStateFilter, r *posture.ResourceStates) bool {
	if f.Under != "" && f.Under != "/" && r.ResourceKey != f.Under && !strings.HasPrefix(r.ResourceKey, f.Under+"/") {
		return false
	}
	if f.ResourceKey != "" && r.ResourceKey != f.ResourceKey {
		return false
	}
	if len(f.ResourceKeys) > 0 && !slices.Contains(f.ResourceKeys, r.ResourceKey) {
		return false
	}
	if f.AssignmentKey != "" && r.AssignmentKey != f.AssignmentKey {
		return false
	}
	if f.After != "" {
		res, asg, _ := strings.Cut(f.After, "\x00")
		if r.ResourceKey < res || r.ResourceKey == res && r.AssignmentKey <= asg {
			return false
		}
	}
	return true
}
