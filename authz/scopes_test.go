package authz

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"pgregory.net/rapid"
)

// The estate the scope tests walk:
//
//	/ ── mgA ─┬─ mgB ─┬─ s1 ─┬─ rg1 ─┬─ vm1 ── extensions/ext
//	          │       │      │       ├─ vm2
//	          │       │      │       └─ vm10
//	          │       │      ├─ rg1x
//	          │       │      └─ rg2
//	          │       └─ mgD
//	          ├─ mgC
//	          └─ s2
//	  s1x, s3 (directly under the root)
func mg(name string) string { return "/providers/Microsoft.Management/managementGroups/" + name }

var (
	hier = HierarchyMap{
		key(mg("mgB")):      key(mg("mgA")),
		key(mg("mgC")):      key(mg("mgA")),
		key(mg("mgD")):      key(mg("mgB")),
		"/subscriptions/s1": key(mg("mgB")),
		"/subscriptions/s2": key(mg("mgA")),
	}
	rg1 = "/subscriptions/s1/resourceGroups/rg1"
	vm1 = rg1 + "/providers/Microsoft.Compute/virtualMachines/vm1"
)

func key(id string) string { return armid.MustParse(id).Key() }

const vmRead = "Microsoft.Compute/virtualMachines/read"

func readerAt(principal, scope string, n int) posture.RoleAssignment {
	return posture.RoleAssignment{
		ID:               fmt.Sprintf("%s/providers/Microsoft.Authorization/roleAssignments/00000000-0000-0000-0000-%012d", strings.TrimSuffix(scope, "/"), n),
		Scope:            scope,
		PrincipalID:      principal,
		RoleDefinitionID: RoleDefinitionID(RoleReader),
	}
}

// TestScopeWalk assigns Reader at each kind of scope and checks the scope
// itself, its parent, a sibling, look-alikes that share a name prefix, and
// what lies below it.
func TestScopeWalk(t *testing.T) {
	type row struct {
		relation string
		scope    string
		want     bool
	}
	tests := []struct {
		at   string
		rows []row
	}{
		{"/", []row{
			{"own", "/", true},
			{"child subscription", "/subscriptions/s3", true},
			{"child management group", mg("mgA"), true},
			{"grandchild resource", vm1, true},
		}},
		{mg("mgB"), []row{
			{"own", mg("mgB"), true},
			{"own, other case", "/PROVIDERS/microsoft.management/MANAGEMENTGROUPS/MGB", true},
			{"parent", mg("mgA"), false},
			{"root", "/", false},
			{"sibling", mg("mgC"), false},
			{"child management group", mg("mgD"), true},
			{"child subscription (by data)", "/subscriptions/s1", true},
			{"subscription of the parent", "/subscriptions/s2", false},
			{"subscription under the root", "/subscriptions/s3", false},
			{"grandchild resource", vm1, true},
			{"extension on the management group", mg("mgB") + "/providers/Microsoft.Authorization/policyExemptions/e1", true},
		}},
		{"/subscriptions/s1", []row{
			{"own", "/subscriptions/s1", true},
			{"parent", mg("mgB"), false},
			{"sibling", "/subscriptions/s2", false},
			{"name-prefix look-alike", "/subscriptions/s1x", false},
			{"child", rg1, true},
			{"child, other case", "/SUBSCRIPTIONS/S1/resourcegroups/RG1", true},
			{"extension on the subscription", "/subscriptions/s1/providers/Microsoft.Authorization/policyExemptions/e1", true},
			{"grandchild", vm1, true},
		}},
		{rg1, []row{
			{"own", rg1, true},
			{"parent", "/subscriptions/s1", false},
			{"sibling", "/subscriptions/s1/resourceGroups/rg2", false},
			{"name-prefix look-alike", "/subscriptions/s1/resourceGroups/rg1x", false},
			{"child", vm1, true},
			{"grandchild", vm1 + "/extensions/ext", true},
		}},
		{vm1, []row{
			{"own", vm1, true},
			{"parent", rg1, false},
			{"sibling", rg1 + "/providers/Microsoft.Compute/virtualMachines/vm2", false},
			{"name-prefix look-alike", rg1 + "/providers/Microsoft.Compute/virtualMachines/vm10", false},
			{"child", vm1 + "/extensions/ext", true},
			{"extension resource", vm1 + "/providers/Microsoft.Authorization/policyExemptions/e1", true},
		}},
	}
	for _, tt := range tests {
		a := New(Data{RoleAssignments: []posture.RoleAssignment{readerAt("p1", tt.at, 1)}}, hier)
		if ig := a.Ignored(); len(ig) > 0 {
			t.Fatalf("assignment at %s ignored: %v", tt.at, ig)
		}
		for _, r := range tt.rows {
			d, err := a.Check("p1", vmRead, r.scope)
			if err != nil {
				t.Fatalf("at %s, check %s: %v", tt.at, r.scope, err)
			}
			if d.Allowed != r.want {
				t.Errorf("Reader at %s, checked at %s (%s): allowed %v, want %v", tt.at, r.scope, r.relation, d.Allowed, r.want)
			}
			if other := a.Allowed("p2", vmRead, r.scope); other {
				t.Errorf("a principal without assignments is allowed at %s", r.scope)
			}
		}
	}
}

// scopeGen draws ids of every kind from a small name alphabet, so that
// look-alike names ("a" and "ab") and shared ancestors are common.
func scopeGen() *rapid.Generator[armid.ID] {
	name := rapid.SampledFrom([]string{"a", "ab", "b"})
	return rapid.Custom(func(t *rapid.T) armid.ID {
		switch rapid.IntRange(0, 6).Draw(t, "kind") {
		case 0:
			return armid.Root
		case 1:
			return armid.MustParse(mg("m" + name.Draw(t, "mg")))
		}
		s := "/subscriptions/" + name.Draw(t, "sub")
		depth := rapid.IntRange(0, 4).Draw(t, "depth")
		if depth > 0 {
			s += "/resourceGroups/" + name.Draw(t, "rg")
		}
		if depth > 1 {
			s += "/providers/Microsoft.Compute/virtualMachines/" + name.Draw(t, "vm")
		}
		if depth > 2 {
			s += "/extensions/" + name.Draw(t, "ext")
		}
		if depth > 3 {
			s += "/providers/Microsoft.Authorization/policyExemptions/" + name.Draw(t, "ex")
		}
		return armid.MustParse(s)
	})
}

// TestPropertyScopeInheritance: an assignment at S allows at T exactly when
// T is S or lies below it, where "below" follows the id (armid.Contains)
// and, for management groups, the hierarchy data.
func TestPropertyScopeInheritance(t *testing.T) {
	h := HierarchyMap{
		"/subscriptions/a":  key(mg("ma")),
		"/subscriptions/ab": key(mg("mab")),
		key(mg("mab")):      key(mg("ma")),
		"/subscriptions/b":  key(mg("mb")),
	}
	rapid.Check(t, func(t *rapid.T) {
		s, target := scopeGen().Draw(t, "assigned"), scopeGen().Draw(t, "checked")
		a := New(Data{RoleAssignments: []posture.RoleAssignment{readerAt("p", s.String(), 1)}}, h)
		want := s.Contains(target)
		if s.Kind() == armid.ManagementGroup {
			var container string
			if target.SubscriptionID() != "" {
				container = "/subscriptions/" + target.SubscriptionID()
			} else if target.ManagementGroup() != "" {
				container = key(mg(target.ManagementGroup()))
			}
			for _, anc := range h.Ancestors(container) {
				want = want || anc == s.Key()
			}
		}
		scope := target.String()
		if rapid.Bool().Draw(t, "upper") {
			scope = strings.ToUpper(scope)
		}
		if got := a.Allowed("p", vmRead, scope); got != want {
			t.Fatalf("Reader at %s, checked at %s: allowed %v, want %v", s, scope, got, want)
		}
	})
}

// TestPropertyScopeSet: a ScopeSet of narrow keys contains an id exactly
// when one of the keys is the id or a segment-wise ancestor of it.
func TestPropertyScopeSet(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var keys []string
		for _, id := range rapid.SliceOfN(scopeGen(), 0, 6).Draw(t, "held") {
			if id.Kind() == armid.ResourceGroup || id.Kind() == armid.Resource {
				keys = append(keys, id.Key())
			}
		}
		set := newScopeSet(keys, &ancestorCache{})
		target := scopeGen().Draw(t, "checked")
		want := false
		for _, k := range keys {
			want = want || armid.MustParse(k).Contains(target)
		}
		if got := set.Contains(target.String()); got != want {
			t.Fatalf("set %v contains %s = %v, want %v", keys, target, got, want)
		}
	})
}

func TestScopeSetLookAlikes(t *testing.T) {
	// "/a/b.c" sorts between "/a/b" and "/a/b/x"; the trailing slash keeps
	// the binary search from stopping on it.
	set := newScopeSet([]string{"/subscriptions/s/resourcegroups/rg", "/subscriptions/s/resourcegroups/rg.c", "/subscriptions/s/resourcegroups/rg-1"}, &ancestorCache{})
	for id, want := range map[string]bool{
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/v": true,
		"/subscriptions/s/resourceGroups/rg.c":                                             true,
		"/subscriptions/s/resourceGroups/rg-":                                              false,
		"/subscriptions/s/resourceGroups/rg0":                                              false,
		"/subscriptions/s":                                                                 false,
		"not an id":                                                                        false,
	} {
		if got := set.Contains(id); got != want {
			t.Errorf("Contains(%q) = %v, want %v", id, got, want)
		}
	}
	if got := set.Narrower(); !sort.StringsAreSorted(got) || len(got) != 3 {
		t.Errorf("Narrower() = %v", got)
	}
}

func TestHierarchyMapStopsOnCycles(t *testing.T) {
	h := HierarchyMap{"x": "y", "y": "z", "z": "x"}
	if got := h.Ancestors("x"); len(got) != 2 {
		t.Errorf("Ancestors(x) = %v, want [y z]", got)
	}
}
