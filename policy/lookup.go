package policy

import (
	"context"
	"strings"
	"sync"
)

// RelatedScope says where an existence check looks for related resources.
type RelatedScope int

const (
	// ScopeChildren: resources of the related type under the evaluated
	// resource (Microsoft.Web/sites/config under a site).
	ScopeChildren RelatedScope = iota + 1
	// ScopeExtension: extension resources attached to the evaluated
	// resource (Microsoft.Insights/diagnosticSettings,
	// Microsoft.Security/assessments ...).
	ScopeExtension
	// ScopeResourceGroup: resources of the related type in one resource
	// group (the evaluated resource's, or details.resourceGroupName). An
	// empty ResourceGroup means subscription-level resources.
	ScopeResourceGroup
	// ScopeSubscription: resources of the related type anywhere in the
	// subscription.
	ScopeSubscription
)

func (s RelatedScope) String() string {
	switch s {
	case ScopeChildren:
		return "children"
	case ScopeExtension:
		return "extension"
	case ScopeResourceGroup:
		return "resourceGroup"
	case ScopeSubscription:
		return "subscription"
	}
	return "unknown"
}

// RelatedQuery asks for the candidates of an existence check.
type RelatedQuery struct {
	Type           string       // related resource type, as written in details.type
	Scope          RelatedScope //
	ParentID       string       // the evaluated resource (children, extension)
	SubscriptionID string       // resource group and subscription scopes
	ResourceGroup  string       // resource group scope; "" = subscription-level resources
	// Name narrows the candidates: a name, a "parent/child" full name, with
	// "?" standing for any last segment; "" means any. Implementations may
	// ignore it: the engine filters the candidates again.
	Name string
}

// Lookup finds related resources for existence checks. Implementations
// must return resources whose type matches q.Type (case-insensitively) in
// q's scope; returning a superset is fine.
type Lookup interface {
	Related(ctx context.Context, q RelatedQuery) ([]*Resource, error)
}

// Index is an in-memory Lookup over a set of resources. It is safe for
// concurrent reads; Add must not race with lookups.
type Index struct {
	mu         sync.RWMutex
	all        []*Resource
	byAncestor map[pairKey][]*Resource // (ancestor id, type) -> resources under that resource
	byGroup    map[groupKey][]*Resource
	bySub      map[pairKey][]*Resource // (subscription, type)
}

// Index keys are lower case; struct keys avoid building strings per query.
type pairKey struct{ a, t string }

type groupKey struct{ sub, rg, t string }

// NewIndex indexes resources for related-resource queries.
func NewIndex(resources ...*Resource) *Index {
	ix := &Index{byAncestor: map[pairKey][]*Resource{}, byGroup: map[groupKey][]*Resource{}, bySub: map[pairKey][]*Resource{}}
	for _, r := range resources {
		ix.Add(r)
	}
	return ix
}

// Add indexes one more resource.
func (ix *Index) Add(r *Resource) {
	if r == nil {
		return
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.all = append(ix.all, r)
	t := r.typeKey
	// Every resource above r in its id (its parent chain and, for an
	// extension resource, the resource it extends) can find it as a child
	// or extension.
	for _, anc := range ancestorKeys(r.ID) {
		k := pairKey{anc, t}
		ix.byAncestor[k] = append(ix.byAncestor[k], r)
	}
	sub := strings.ToLower(r.SubscriptionID)
	gk := groupKey{sub, strings.ToLower(r.ResourceGroup), t}
	ix.byGroup[gk] = append(ix.byGroup[gk], r)
	sk := pairKey{sub, t}
	ix.bySub[sk] = append(ix.bySub[sk], r)
}

// Resources returns the indexed resources in insertion order.
func (ix *Index) Resources() []*Resource {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return append([]*Resource(nil), ix.all...)
}

// Related implements Lookup.
func (ix *Index) Related(_ context.Context, q RelatedQuery) ([]*Resource, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t := strings.ToLower(q.Type)
	switch q.Scope {
	case ScopeChildren, ScopeExtension:
		return ix.byAncestor[pairKey{idKey(q.ParentID), t}], nil
	case ScopeResourceGroup:
		return ix.byGroup[groupKey{strings.ToLower(q.SubscriptionID), strings.ToLower(q.ResourceGroup), t}], nil
	case ScopeSubscription:
		return ix.bySub[pairKey{strings.ToLower(q.SubscriptionID), t}], nil
	}
	return nil, nil
}

// ancestorKeys lists the lower-case ids of the resources an id lies under:
// for ".../sites/a/config/web" that is ".../sites/a"; for
// ".../vaults/v/providers/Microsoft.Insights/diagnosticSettings/d" it is
// ".../vaults/v". Subscriptions and resource groups are included so that
// extension resources of a subscription are found too.
func ancestorKeys(id string) []string {
	segs := splitID(id)
	var out []string
	// Walk backwards over name/type pairs; stop at the top.
	for n := len(segs) - 2; n >= 2; n -= 2 {
		// Skip "providers/<Namespace>" blocks: they are not resources.
		if n >= 2 && strings.EqualFold(segs[n-2], "providers") {
			n -= 2
			if n < 2 {
				break
			}
		}
		out = append(out, strings.ToLower("/"+strings.Join(segs[:n], "/")))
	}
	return out
}
