package compliance

import (
	"context"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/policy"
)

// relatedIndex holds, decoded, the documents of the types that existence
// checks read (diagnostic settings, site config, extensions, Defender
// settings ...), so that evaluating a resource never waits on the database
// for them. Documents of other types are not kept: the estate may be large.
type relatedIndex struct {
	byKey      map[string]*policy.Resource
	byAncestor map[pairKey]map[string]*policy.Resource // (ancestor key, type) -> resources under it
	byGroup    map[groupKey]map[string]*policy.Resource
	bySub      map[pairKey]map[string]*policy.Resource
}

type pairKey struct{ a, t string }

type groupKey struct{ sub, rg, t string }

func newRelatedIndex() *relatedIndex {
	return &relatedIndex{
		byKey:      map[string]*policy.Resource{},
		byAncestor: map[pairKey]map[string]*policy.Resource{},
		byGroup:    map[groupKey]map[string]*policy.Resource{},
		bySub:      map[pairKey]map[string]*policy.Resource{},
	}
}

func addTo[K comparable](m map[K]map[string]*policy.Resource, k K, key string, r *policy.Resource) {
	set := m[k]
	if set == nil {
		set = map[string]*policy.Resource{}
		m[k] = set
	}
	set[key] = r
}

func removeFrom[K comparable](m map[K]map[string]*policy.Resource, k K, key string) {
	if set := m[k]; set != nil {
		delete(set, key)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// keys of the places an indexed resource can be found from.
func placesOf(key string, r *policy.Resource) (ancestors []string, g groupKey, s pairKey) {
	t := r.TypeKey()
	if id, err := armid.Parse(key); err == nil {
		for _, a := range id.Ancestors() {
			if a.Kind() != armid.Resource {
				break
			}
			ancestors = append(ancestors, a.Key())
		}
	}
	sub := strings.ToLower(r.SubscriptionID)
	return ancestors, groupKey{sub, strings.ToLower(r.ResourceGroup), t}, pairKey{sub, t}
}

func (ix *relatedIndex) put(key string, r *policy.Resource) {
	ix.remove(key)
	ix.byKey[key] = r
	anc, g, s := placesOf(key, r)
	for _, a := range anc {
		addTo(ix.byAncestor, pairKey{a, r.TypeKey()}, key, r)
	}
	addTo(ix.byGroup, g, key, r)
	addTo(ix.bySub, s, key, r)
}

func (ix *relatedIndex) remove(key string) {
	r, ok := ix.byKey[key]
	if !ok {
		return
	}
	delete(ix.byKey, key)
	anc, g, s := placesOf(key, r)
	for _, a := range anc {
		removeFrom(ix.byAncestor, pairKey{a, r.TypeKey()}, key)
	}
	removeFrom(ix.byGroup, g, key)
	removeFrom(ix.bySub, s, key)
}

// removeUnder removes key and everything under it.
func (ix *relatedIndex) removeUnder(key string) {
	for k := range ix.byKey {
		if k == key || strings.HasPrefix(k, key+"/") {
			ix.remove(k)
		}
	}
}

// related returns the indexed candidates of q, by key.
func (ix *relatedIndex) related(q policy.RelatedQuery) map[string]*policy.Resource {
	t := strings.ToLower(q.Type)
	switch q.Scope {
	case policy.ScopeChildren, policy.ScopeExtension:
		return ix.byAncestor[pairKey{strings.ToLower(q.ParentID), t}]
	case policy.ScopeResourceGroup:
		return ix.byGroup[groupKey{strings.ToLower(q.SubscriptionID), strings.ToLower(q.ResourceGroup), t}]
	case policy.ScopeSubscription:
		return ix.bySub[pairKey{strings.ToLower(q.SubscriptionID), t}]
	}
	return nil
}

// lookup answers the existence checks of one evaluation: the committed
// index, overlaid with what the write being evaluated changes, and the
// database for related types the index does not keep.
type lookup struct {
	tx      posture.Tx
	base    *relatedIndex
	overlay *relatedIndex               // related documents put by the change
	deleted []string                    // keys deleted (with their subtrees) by the change
	kept    map[string]bool             // related types the index keeps
	decoded map[string]*policy.Resource // documents read from the database in this evaluation
}

var _ policy.Lookup = (*lookup)(nil)

func (l *lookup) gone(key string) bool {
	for _, d := range l.deleted {
		if key == d || strings.HasPrefix(key, d+"/") {
			return true
		}
	}
	return false
}

// Related implements policy.Lookup.
func (l *lookup) Related(ctx context.Context, q policy.RelatedQuery) ([]*policy.Resource, error) {
	if !l.kept[strings.ToLower(q.Type)] {
		return l.fromStore(q)
	}
	var out []*policy.Resource
	for k, r := range l.base.related(q) {
		if l.overlay != nil && l.overlay.byKey[k] != nil || l.gone(k) {
			continue // replaced or deleted by the change
		}
		out = append(out, r)
	}
	if l.overlay != nil {
		for _, r := range l.overlay.related(q) {
			out = append(out, r)
		}
	}
	return out, nil
}

// fromStore answers a query for a type the index does not keep (a related
// type computed per resource) from the transaction, which sees the change.
func (l *lookup) fromStore(q policy.RelatedQuery) ([]*policy.Resource, error) {
	f := posture.ResourceFilter{Types: []string{q.Type}, Limit: 1000}
	switch q.Scope {
	case policy.ScopeChildren, policy.ScopeExtension:
		f.Under = strings.ToLower(q.ParentID)
	case policy.ScopeResourceGroup:
		if q.ResourceGroup == "" {
			f.Parent = "/subscriptions/" + strings.ToLower(q.SubscriptionID)
		} else {
			f.Under = "/subscriptions/" + strings.ToLower(q.SubscriptionID) + "/resourcegroups/" + strings.ToLower(q.ResourceGroup)
		}
	case policy.ScopeSubscription:
		f.Under = "/subscriptions/" + strings.ToLower(q.SubscriptionID)
	default:
		return nil, nil
	}
	rs, err := l.tx.ListResources(f)
	if err != nil {
		return nil, err
	}
	out := make([]*policy.Resource, 0, len(rs))
	for _, r := range rs {
		if pr := l.decoded[r.Key]; pr != nil {
			out = append(out, pr)
			continue
		}
		pr, err := decode(r)
		if err != nil {
			continue // a document the engine cannot read relates to nothing
		}
		if l.decoded == nil {
			l.decoded = map[string]*policy.Resource{}
		}
		l.decoded[r.Key] = pr
		out = append(out, pr)
	}
	return out, nil
}

// decode prepares a stored document for the policy engine, with the type
// Azure Policy sees (resource groups are Microsoft.Resources/subscriptions/resourceGroups).
func decode(r *posture.Resource) (*policy.Resource, error) {
	pr, err := policy.NewResourceJSON(r.Body)
	if err != nil {
		return nil, err
	}
	typ := r.Type
	if strings.EqualFold(typ, armid.ResourceGroupType) {
		typ = "Microsoft.Resources/subscriptions/resourceGroups"
	}
	if pr.Type != typ {
		pr.Type = typ
		pr.Refresh()
	}
	return pr, nil
}
