package compliance

import (
	"context"
	"maps"
	"strings"
	"unique"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/policy"
)

// relatedIndex knows where the documents of the types that existence checks
// read (diagnostic settings, site config, extensions, Defender settings ...)
// are, so that evaluating a resource asks the database only for documents
// that exist. Documents are decoded when first needed and kept up to
// maxDecoded; the estate may be large. It is used under the write mutex.
type relatedIndex struct {
	byKey      map[string]*relatedDoc
	byAncestor map[pairKey]map[string]*relatedDoc // (ancestor key, type) -> documents under it
	byGroup    map[groupKey]map[string]*relatedDoc
	bySub      map[pairKey]map[string]*relatedDoc
	decoded    int
}

// relatedDoc is one indexed document.
type relatedDoc struct {
	key, typeKey, sub, rg string
	doc                   *policy.Resource // nil until needed
}

// maxDecoded bounds the decoded documents the index keeps.
const maxDecoded = 50_000

type pairKey struct{ a, t string }

type groupKey struct{ sub, rg, t string }

func newRelatedIndex() *relatedIndex {
	return &relatedIndex{
		byKey:      map[string]*relatedDoc{},
		byAncestor: map[pairKey]map[string]*relatedDoc{},
		byGroup:    map[groupKey]map[string]*relatedDoc{},
		bySub:      map[pairKey]map[string]*relatedDoc{},
	}
}

func addTo[K comparable](m map[K]map[string]*relatedDoc, k K, d *relatedDoc) {
	set := m[k]
	if set == nil {
		set = map[string]*relatedDoc{}
		m[k] = set
	}
	set[d.key] = d
}

func removeFrom[K comparable](m map[K]map[string]*relatedDoc, k K, key string) {
	if set := m[k]; set != nil {
		delete(set, key)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

// ancestorsOf returns the keys of the resources above key (its parents and,
// for an extension, the resource it extends).
func ancestorsOf(key string) []string {
	id, err := armid.Parse(key)
	if err != nil {
		return nil
	}
	var out []string
	for _, a := range id.Ancestors() {
		if a.Kind() != armid.Resource {
			break
		}
		out = append(out, a.Key())
	}
	return out
}

// docOf indexes r. The type, subscription and resource group are shared by
// many documents: one copy of each serves them all, where the store's rows
// bring a copy each (130 bytes a document, most of the index's memory
// next to the key).
func docOf(r *posture.Resource) *relatedDoc {
	return &relatedDoc{key: r.Key, typeKey: unique.Make(r.TypeKey()).Value(),
		sub: unique.Make(r.SubscriptionID).Value(), rg: unique.Make(r.ResourceGroup).Value()}
}

func (ix *relatedIndex) put(d *relatedDoc) {
	ix.remove(d.key)
	ix.byKey[d.key] = d
	if d.doc != nil {
		ix.decoded++
	}
	for _, a := range ancestorsOf(d.key) {
		addTo(ix.byAncestor, pairKey{a, d.typeKey}, d)
	}
	addTo(ix.byGroup, groupKey{d.sub, d.rg, d.typeKey}, d)
	addTo(ix.bySub, pairKey{d.sub, d.typeKey}, d)
}

func (ix *relatedIndex) remove(key string) {
	d, ok := ix.byKey[key]
	if !ok {
		return
	}
	delete(ix.byKey, key)
	if d.doc != nil {
		ix.decoded--
	}
	for _, a := range ancestorsOf(key) {
		removeFrom(ix.byAncestor, pairKey{a, d.typeKey}, key)
	}
	removeFrom(ix.byGroup, groupKey{d.sub, d.rg, d.typeKey}, key)
	removeFrom(ix.bySub, pairKey{d.sub, d.typeKey}, key)
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
func (ix *relatedIndex) related(q policy.RelatedQuery) map[string]*relatedDoc {
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
	overlay *relatedIndex      // related documents put by the change (decoded)
	deleted []string           // keys deleted (with their subtrees) by the change
	kept    map[string]nameSet // related types the index keeps, and which of their documents
	decoded map[string]*policy.Resource
	queries map[policy.RelatedQuery][]*policy.Resource // database answers, for this evaluation
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
	if names, ok := l.kept[strings.ToLower(q.Type)]; !ok || names != nil && !names[strings.ToLower(q.Name)] {
		return l.fromStore(q)
	}
	var out []*policy.Resource
	var missing []*relatedDoc
	for k, d := range l.base.related(q) {
		if l.overlay != nil && l.overlay.byKey[k] != nil || l.gone(k) {
			continue // replaced or deleted by the change
		}
		if d.doc == nil {
			missing = append(missing, d)
			continue
		}
		out = append(out, d.doc)
	}
	if len(missing) > 0 {
		loaded, err := l.load(missing)
		if err != nil {
			return nil, err
		}
		out = append(out, loaded...)
	}
	if l.overlay != nil {
		for _, d := range l.overlay.related(q) {
			if d.doc != nil {
				out = append(out, d.doc)
			}
		}
	}
	return out, nil
}

// load decodes indexed documents from the transaction and keeps them. These
// documents are not part of the change being evaluated, so what the
// transaction reads for them is what is committed.
func (l *lookup) load(ds []*relatedDoc) ([]*policy.Resource, error) {
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = d.key
	}
	found, err := l.tx.Resources(keys)
	if err != nil {
		return nil, err
	}
	if l.base.decoded+len(ds) > maxDecoded {
		for _, d := range l.base.byKey {
			d.doc = nil
		}
		l.base.decoded = 0
	}
	out := make([]*policy.Resource, 0, len(ds))
	for _, d := range ds {
		r := found[d.key]
		if r == nil {
			continue
		}
		pr, err := decode(r)
		if err != nil {
			continue // a document the engine cannot read relates to nothing
		}
		d.doc = pr
		l.base.decoded++
		out = append(out, pr)
	}
	return out, nil
}

// fromStore answers a query for a type the index does not keep from the
// transaction, which sees the change.
func (l *lookup) fromStore(q policy.RelatedQuery) ([]*policy.Resource, error) {
	// Many resources of a resource group ask the same question; the answer
	// does not change while one write is evaluated.
	memo := q
	memo.Name, memo.Type = "", strings.ToLower(q.Type)
	if memo.Scope != policy.ScopeChildren && memo.Scope != policy.ScopeExtension {
		memo.ParentID = ""
	}
	if out, ok := l.queries[memo]; ok {
		return out, nil
	}
	out, err := l.queryStore(q)
	if err != nil {
		return nil, err
	}
	if l.queries == nil {
		l.queries = map[policy.RelatedQuery][]*policy.Resource{}
	}
	l.queries[memo] = out
	return out, nil
}

func (l *lookup) queryStore(q policy.RelatedQuery) ([]*policy.Resource, error) {
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
			continue
		}
		if l.decoded == nil {
			l.decoded = map[string]*policy.Resource{}
		}
		l.decoded[r.Key] = pr
		out = append(out, pr)
	}
	return out, nil
}

// nameSet is the names of the documents of a type the index keeps: those
// the existence checks name (details.name, lower case). nil means every
// document, for checks that name none or compute the name. Scanner
// findings are custom assessments no benchmark check names, and there may
// be millions: they stay out of the index (the store answers for them).
type nameSet map[string]bool

// with adds name ("" for any) to s; seen says s is in the map already (a
// nil s then means every name, not none yet).
func (s nameSet) with(name string, seen bool) nameSet {
	if name == "" || seen && s == nil {
		return nil
	}
	if s == nil {
		s = nameSet{}
	}
	s[name] = true
	return s
}

// covers reports whether documents kept for s include those for t.
func (s nameSet) covers(t nameSet) bool {
	if s == nil {
		return true
	}
	if t == nil {
		return false
	}
	for n := range t {
		if !s[n] {
			return false
		}
	}
	return true
}

// union returns the names of s and t.
func (s nameSet) union(t nameSet) nameSet {
	if s == nil || t == nil {
		return nil
	}
	u := maps.Clone(s)
	maps.Copy(u, t)
	return u
}

// keeps reports whether the index keeps the document of type typeKey at
// key: its type is kept and its name (the last segment of its id) is one
// the checks read.
func keeps(kept map[string]nameSet, typeKey, key string) bool {
	names, ok := kept[typeKey]
	if !ok {
		return false
	}
	return names == nil || names[key[strings.LastIndexByte(key, '/')+1:]]
}

// indexedType reports whether the index keeps documents of a related type
// read at scope: the children, extensions and Defender settings of a
// resource are few; every virtual machine of a resource group is not, and
// those queries go to the database.
func indexedType(typeKey string, scope policy.RelatedScope) bool {
	return scope == policy.ScopeChildren || scope == policy.ScopeExtension || strings.HasPrefix(typeKey, "microsoft.security/")
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
