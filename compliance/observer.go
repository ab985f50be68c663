package compliance

import (
	"context"
	"maps"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/policy"
)

// Changed implements posture.ChangeObserver: it evaluates what an estate
// write put, re-evaluates the resources whose existence checks read what it
// put or deleted, assigns the benchmark to new subscriptions, and drops the
// states of what it deleted, all inside the write's transaction. The caller
// holds WriteMu.
func (s *Service) Changed(ctx context.Context, tx posture.Tx, c *posture.Change) (func(), error) {
	start := time.Now()
	as, hier, related, kept := s.snapshot()
	now := s.now()
	put := c.Put // the documents of the write; default assignments are added to c below

	// The hierarchy as the change leaves it.
	newHier := hier
	for _, r := range c.Put {
		if isContainer(r.Key) {
			if newHier == hier {
				newHier = hier.clone()
			}
			newHier.apply(r)
		}
	}
	for _, d := range c.Deleted {
		if newHier == hier {
			newHier = hier.clone()
		}
		newHier.remove(d)
	}

	// Related documents the change puts, for the existence checks.
	overlay := newRelatedIndex()
	for _, r := range c.Put {
		if keeps(kept, r.TypeKey(), r.Key) {
			d := docOf(r)
			if pr, err := decode(r); err == nil {
				d.doc = pr
			}
			overlay.put(d)
		}
	}
	l := &lookup{tx: tx, base: related, overlay: overlay, deleted: c.Deleted, kept: kept}

	// Deleted resources take their states, and the assignments at their
	// scopes (with those assignments' states), with them.
	newAs, cloned := as, false
	own := func() {
		if !cloned {
			newAs, cloned = maps.Clone(as), true
		}
	}
	for _, d := range c.Deleted {
		if err := tx.DeletePolicyStatesUnder(d); err != nil {
			return nil, err
		}
		for k := range as {
			if k == d || strings.HasPrefix(k, d+"/") {
				own()
				delete(newAs, k)
				if err := tx.DeletePolicyStatesOfAssignment(k); err != nil {
					return nil, err
				}
				c.AssignmentsDropped = append(c.AssignmentsDropped, k)
			}
		}
	}

	// Exemptions at deleted scopes went with them: record it.
	var goneExemptions []string
	for _, d := range c.Deleted {
		for _, e := range s.exemptions.under(d) {
			goneExemptions = append(goneExemptions, e.key)
			before := exemption.Document(e.id, e.id[strings.LastIndexByte(e.id, '/')+1:], e.x, exemption.SystemData{}, storedVersion)
			ev := &posture.Event{Stream: e.key, Kind: posture.EventDeleted, At: now, Before: before,
				Action: "Microsoft.Authorization/policyExemptions/delete", Scope: e.id}
			ev.Actor, ev.ActorType = posture.ActorFromContext(ctx)
			if err := tx.AppendEvent(ev); err != nil {
				return nil, err
			}
		}
	}

	// New subscriptions get the benchmark assigned.
	if s.DefaultAssignment {
		for _, r := range c.Put {
			if _, known := hier.parent[r.Key]; known || !strings.HasPrefix(r.Key, "/subscriptions/") || !isContainer(r.Key) {
				continue
			}
			a, doc, err := s.ensureDefaultAssignment(tx, r, now)
			if err != nil {
				return nil, err
			}
			if a != nil {
				own()
				newAs[a.key] = a
				c.Put = append(c.Put, doc)
			}
		}
	}

	// Exemptions of the resources put whose drift review changes: the
	// write's states are stamped with them.
	reviewed, err := s.reviewPut(ctx, tx, put, now, c)
	if err != nil {
		return nil, err
	}
	e := &evaluation{ctx: ctx, tx: tx, now: now, hier: newHier, lookup: l, opts: policy.EvalOptions{Now: now, Reasons: policy.ReasonsNone, ReportDisabled: true}, change: c,
		stamp: &stamper{ix: s.exemptions, hier: newHier, over: reviewed}}
	defer s.observe(ctx, EvaluateWrite, e, start)
	all := sortedAssignments(newAs)
	if err := e.run(put, all); err != nil {
		return nil, err
	}
	deps, err := s.dependents(tx, c, all, kept)
	if err != nil {
		return nil, err
	}
	if err := e.run(deps, all); err != nil {
		return nil, err
	}
	if err := s.restampMoved(tx, hier, newHier, c); err != nil {
		return nil, err
	}

	after := func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.HierarchyChanged != nil && !maps.Equal(hier.parent, newHier.parent) {
			defer s.HierarchyChanged() // after the unlock: it reads Ancestors
		}
		s.hier, s.assignments = newHier, newAs
		for _, d := range c.Deleted {
			s.related.removeUnder(d)
		}
		for _, d := range overlay.byKey {
			s.related.put(d)
		}
		if len(goneExemptions) > 0 || len(reviewed) > 0 {
			for _, k := range goneExemptions {
				s.exemptions.remove(k)
			}
			for _, entry := range reviewed {
				entry.noted = !entry.x.Active(now)
				s.exemptions.put(entry)
			}
			s.setDue()
		}
	}
	return after, nil
}

// dependents returns the resources, not in the change, whose existence
// checks read a document the change put or deleted: the parent of a child
// or extension document, or every resource of the evaluated types in the
// document's resource group or subscription.
func (s *Service) dependents(tx posture.Tx, c *posture.Change, as []*assignment, kept map[string]nameSet) ([]*posture.Resource, error) {
	type target struct {
		scope policy.RelatedScope
		types []string
	}
	byType := map[string][]target{}
	for _, a := range as {
		for _, ref := range a.compiled.References {
			rel := ref.Facts.Related
			if rel == nil || rel.Type == "" {
				continue
			}
			byType[rel.Type] = append(byType[rel.Type], target{rel.Scope, ref.Facts.Types})
		}
	}
	if len(byType) == 0 {
		return nil, nil
	}
	inChange := map[string]bool{}
	for _, r := range c.Put {
		inChange[r.Key] = true
	}
	want := map[string]bool{}
	var filters []posture.ResourceFilter
	consider := func(key, typeKey string) {
		for _, tg := range byType[typeKey] {
			id, err := armid.Parse(key)
			if err != nil {
				return
			}
			switch tg.scope {
			case policy.ScopeChildren, policy.ScopeExtension:
				for _, anc := range id.Ancestors() {
					if anc.Kind() != armid.Resource {
						break
					}
					want[anc.Key()] = true
				}
			case policy.ScopeResourceGroup:
				under := "/subscriptions/" + strings.ToLower(id.SubscriptionID())
				if rg := id.ResourceGroup(); rg != "" {
					under += "/resourcegroups/" + strings.ToLower(rg)
				}
				filters = append(filters, posture.ResourceFilter{Under: under, Types: storedTypes(tg.types)})
			case policy.ScopeSubscription:
				sub := "/subscriptions/" + strings.ToLower(id.SubscriptionID())
				want[sub] = true
				filters = append(filters, posture.ResourceFilter{Under: sub, Types: storedTypes(tg.types)})
			}
		}
	}
	for _, r := range c.Put {
		consider(r.Key, r.TypeKey())
	}
	for _, d := range c.Deleted {
		if id, err := armid.Parse(d); err == nil {
			consider(d, strings.ToLower(id.Type()))
		}
	}
	for _, f := range filters {
		if err := eachResource(tx, f, func(r *posture.Resource) error {
			want[r.Key] = true
			return nil
		}); err != nil {
			return nil, err
		}
	}
	var keys []string
	for k := range want {
		if !inChange[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	found, err := tx.Resources(keys)
	if err != nil {
		return nil, err
	}
	out := make([]*posture.Resource, 0, len(found))
	for _, r := range found {
		out = append(out, r)
	}
	return out, nil
}

// storedTypes maps policy type names to the stored ones (resource groups).
func storedTypes(types []string) []string {
	out := append([]string(nil), types...)
	for _, t := range types {
		if t == "microsoft.resources/subscriptions/resourcegroups" {
			out = append(out, strings.ToLower(armid.ResourceGroupType))
		}
	}
	return out
}
