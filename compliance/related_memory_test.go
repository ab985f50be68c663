package compliance

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/policy"
)

// TestRelatedIndexMemory: what the index of existence checks holds per
// document, as the store hands documents over (every field a string of its
// own). Scanner findings put 15 assessments under every resource: at a
// million resources that is 15 million documents in this index.
func TestRelatedIndexMemory(t *testing.T) {
	const resources, per = 2000, 15
	live := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	resource := func(r int) (res, sub, rg string) {
		sub, rg = fmt.Sprintf("%08d-0000-4000-8000-000000000000", r%7), fmt.Sprintf("rg-%d", r%40)
		return fmt.Sprintf("/subscriptions/%s/resourcegroups/%s/providers/microsoft.storage/storageaccounts/st%d", sub, rg, r), sub, rg
	}
	before := live()
	var docs []*posture.Resource
	for r := range resources {
		res, sub, rg := resource(r)
		for i := range per {
			docs = append(docs, &posture.Resource{
				Key:            fmt.Sprintf("%s/providers/microsoft.security/assessments/%08d-aaaa-4bbb-8ccc-%012d", res, i, i),
				Type:           strings.Clone("Microsoft.Security/assessments"),
				SubscriptionID: strings.Clone(sub), ResourceGroup: strings.Clone(rg),
			})
		}
	}
	ix := newRelatedIndex()
	for _, r := range docs {
		ix.put(docOf(r))
	}
	docs = nil // the index keeps what it needs
	held := int64(live()) - int64(before)
	perDoc := held / (resources * per)
	t.Logf("%d documents: %d bytes held, %d a document", resources*per, held, perDoc)
	// The key (about 190 bytes here), the document and its entries in four
	// maps: 512 bytes. A copy of the type, subscription and resource group
	// per document made it 597.
	if perDoc > 540 {
		t.Errorf("the index holds %d bytes a document", perDoc)
	}
	last, sub, rg := resource(resources - 1)
	if got := len(ix.related(policy.RelatedQuery{Type: "Microsoft.Security/assessments", Scope: policy.ScopeExtension, ParentID: last})); got != per {
		t.Errorf("%d documents under the last resource, want %d", got, per)
	}
	inGroup := 0
	for r := range resources {
		if r%7 == (resources-1)%7 && r%40 == (resources-1)%40 {
			inGroup += per
		}
	}
	if got := len(ix.related(policy.RelatedQuery{Type: "microsoft.security/assessments", Scope: policy.ScopeResourceGroup, SubscriptionID: sub, ResourceGroup: rg})); got != inGroup {
		t.Errorf("%d documents in %s/%s, want %d", got, sub, rg, inGroup)
	}
	runtime.KeepAlive(ix)
}

// TestNameSet: the names a type's checks read merge into one set; a check
// that names none (or computes its name) makes it every name, whatever
// order the checks come in.
func TestNameSet(t *testing.T) {
	merge := func(names ...string) (nameSet, bool) {
		m := map[string]nameSet{}
		for _, n := range names {
			s, seen := m["t"]
			m["t"] = s.with(n, seen)
		}
		s, ok := m["t"]
		return s, ok
	}
	if s, _ := merge("a", "b", "a"); len(s) != 2 || !s["a"] || !s["b"] {
		t.Errorf("a, b, a: %v", s)
	}
	for _, order := range [][]string{{"a", ""}, {"", "a"}, {"a", "", "b"}} {
		if s, ok := merge(order...); !ok || s != nil {
			t.Errorf("%q: %v (present %v), want nil: every name", order, s, ok)
		}
	}
	all, some := nameSet(nil), nameSet{"a": true}
	if !all.covers(some) || some.covers(all) || !some.covers(nameSet{"a": true}) || some.covers(nameSet{"b": true}) {
		t.Error("covers")
	}
	if u := some.union(nameSet{"b": true}); len(u) != 2 || some.union(nil) != nil {
		t.Errorf("union: %v", u)
	}
	kept := map[string]nameSet{"x/y": some, "x/z": nil}
	if !keeps(kept, "x/y", "/s/r/providers/x/y/a") || keeps(kept, "x/y", "/s/r/providers/x/y/b") ||
		!keeps(kept, "x/z", "/s/r/providers/x/z/q") || keeps(kept, "x/w", "/s/r/providers/x/w/a") {
		t.Error("keeps")
	}
}
