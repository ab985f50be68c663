// Package storetest is the conformance suite every posture.Store passes. The
// sqlite tests run it always and the postgres tests when
// POSTURE_TEST_POSTGRES_URL is set, so both engines behave the same through
// the services built on them.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/demo"
	"github.com/posture/posture/estate"
)

// Backend opens stores for the suite.
type Backend struct {
	// Open returns a new, empty store.
	Open func(t testing.TB) posture.Store
	// Reopen closes s and opens the same database again.
	Reopen func(t testing.TB, s posture.Store) posture.Store
}

// Run runs the suite.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"PutGetUpdate", testPutGetUpdate},
		{"Containers", testContainers},
		{"DeleteCascades", testDeleteCascades},
		{"ListFiltersAndPaging", testListFiltersAndPaging},
		{"Import", testImport},
		{"BulkImport", testBulkImport},
		{"IfMatch", testIfMatch},
		{"ConcurrentIfMatch", testConcurrentIfMatch},
		{"ManagementGroups", testManagementGroups},
		{"Identity", testIdentity},
		{"PolicyStates", testPolicyStates},
		{"ExemptedStates", testExemptedStates},
		{"Events", testEvents},
		{"Principals", testPrincipals},
		{"RoleAssignments", testRoleAssignments},
		{"RoleDefinitionDocs", testRoleDefinitionDocs},
		{"LedgerChain", testLedgerChain},
		{"LedgerCheckpoints", testLedgerCheckpoints},
		{"ConcurrentAppends", testConcurrentAppends},
		{"EventFilters", testEventFilters},
		{"PruneEvents", testPruneEvents},
		{"PruneOutOfOrderTimes", testPruneOutOfOrderTimes},
		{"LedgerSealing", testLedgerSealing},
		{"CloseReleasesConnections", testCloseReleasesConnections},
		{"RollbackKeepsNothing", testRollback},
		{"Durable", testDurable},
		{"Jobs", testJobs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, b) })
	}
}

const tenant = "00000000-0000-0000-0000-0000000000aa"

var clockBase = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

func service(s posture.Store) *estate.Service {
	var mu sync.Mutex
	now := clockBase
	return &estate.Service{Store: s, TenantID: tenant, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}}
}

func doc(t testing.TB, format string, args ...any) *posture.Resource {
	t.Helper()
	r, err := armdoc.Normalize([]byte(fmt.Sprintf(format, args...)))
	if err != nil {
		t.Fatalf("test document: %v", err)
	}
	return r
}

func put(t testing.TB, svc *estate.Service, r *posture.Resource) posture.PutResult {
	t.Helper()
	res, err := svc.PutResource(context.Background(), r, posture.PutStrict, "")
	if err != nil {
		t.Fatalf("put %s: %v", r.ID, err)
	}
	return res
}

// seed creates a subscription s1 with resource group rg1.
func seed(t testing.TB, svc *estate.Service) {
	t.Helper()
	put(t, svc, doc(t, `{"id":"/providers/Microsoft.Management/managementGroups/%s","type":"Microsoft.Management/managementGroups","properties":{"displayName":"Tenant Root Group"}}`, tenant))
	put(t, svc, doc(t, `{"id":"/subscriptions/s1","displayName":"One","state":"Enabled"}`))
	put(t, svc, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1","location":"westeurope"}`))
}

func vm(t testing.TB, rg, name string, tags string) *posture.Resource {
	return doc(t, `{"id":"/subscriptions/s1/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s","location":"West Europe","tags":%s,"properties":{"vmId":"%s"}}`, rg, name, tags, name)
}

func wantCode(t testing.TB, err error, kind posture.Kind, code string) {
	t.Helper()
	var pe *posture.Error
	if !errors.As(err, &pe) || pe.Kind != kind || pe.Code != code {
		t.Fatalf("error %v, want %s %s", err, kind, code)
	}
}

func testPutGetUpdate(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	seed(t, svc)
	first := put(t, svc, vm(t, "rg1", "vm1", `{"Env":"prod"}`))
	if !first.Created || first.Resource.ETag == "" {
		t.Fatalf("first put: %+v", first)
	}
	got, err := svc.GetResource(ctx, "/SUBSCRIPTIONS/S1/resourcegroups/RG1/providers/microsoft.compute/virtualmachines/VM1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1" ||
		got.Location != "westeurope" || got.Tags["Env"] != "prod" || !got.Tracked || got.ETag != first.Resource.ETag {
		t.Errorf("got %+v", got)
	}
	if string(got.Body) != string(first.Resource.Body) {
		t.Errorf("body changed on the way through the store:\n%s\n%s", got.Body, first.Resource.Body)
	}
	second := put(t, svc, vm(t, "rg1", "vm1", `{"Env":"test"}`))
	if second.Created || second.Resource.ETag == first.Resource.ETag {
		t.Errorf("update: created=%v etag unchanged=%v", second.Created, second.Resource.ETag == first.Resource.ETag)
	}
	got, _ = svc.GetResource(ctx, got.ID)
	if !got.CreatedAt.Equal(first.Resource.CreatedAt) || !got.ChangedAt.After(got.CreatedAt) || got.Tags["Env"] != "test" {
		t.Errorf("after update: created %v changed %v tags %v", got.CreatedAt, got.ChangedAt, got.Tags)
	}
	if _, err := svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/nope"); err == nil {
		t.Fatal("missing resource found")
	} else {
		wantCode(t, err, posture.ENOTFOUND, "ResourceNotFound")
	}
	_, err = svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rg9/providers/Microsoft.Compute/virtualMachines/vm1")
	wantCode(t, err, posture.ENOTFOUND, "ResourceGroupNotFound")
	_, err = svc.GetResource(ctx, "/subscriptions/s9")
	wantCode(t, err, posture.ENOTFOUND, "SubscriptionNotFound")
}

func testContainers(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	_, err := svc.PutResource(ctx, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1","location":"x"}`), posture.PutStrict, "")
	wantCode(t, err, posture.ENOTFOUND, "SubscriptionNotFound")
	seed(t, svc)
	_, err = svc.PutResource(ctx, vm(t, "rg2", "vm1", `{}`), posture.PutStrict, "")
	wantCode(t, err, posture.ENOTFOUND, "ResourceGroupNotFound")
	subnet := doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/sn1","properties":{}}`)
	_, err = svc.PutResource(ctx, subnet, posture.PutStrict, "")
	wantCode(t, err, posture.ENOTFOUND, "ParentResourceNotFound")
	// Nothing of the refused writes was kept.
	if _, err := svc.GetResource(ctx, subnet.ID); !posture.IsNotFound(err) {
		t.Errorf("refused subnet exists: %v", err)
	}
	// Import mode accepts it and creates the containers it implies.
	res, err := svc.PutResource(ctx, vm(t, "rg2", "vm1", `{}`), posture.PutImport, "")
	if err != nil || !res.Created {
		t.Fatalf("import put: %v", err)
	}
	rg2, err := svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rg2")
	if err != nil || rg2.Tags["posture:implied"] != "true" || rg2.Location != "westeurope" {
		t.Errorf("implied resource group: %v %+v", err, rg2)
	}
}

func testDeleteCascades(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	seed(t, svc)
	put(t, svc, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1b","location":"x"}`))
	put(t, svc, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1","location":"x"}`))
	put(t, svc, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/a"}`))
	put(t, svc, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/providers/Microsoft.Insights/diagnosticSettings/d"}`))
	put(t, svc, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v10","location":"x"}`))
	put(t, svc, vm(t, "rg1b", "keep", `{}`))

	deleted, err := svc.DeleteResource(ctx, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1", "")
	if err != nil || !deleted {
		t.Fatalf("delete: %v %v", deleted, err)
	}
	for _, id := range []string{
		"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/subnets/a",
		"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1/providers/Microsoft.Insights/diagnosticSettings/d",
	} {
		if _, err := svc.GetResource(ctx, id); !posture.IsNotFound(err) {
			t.Errorf("%s survived its parent: %v", id, err)
		}
	}
	// A sibling whose name extends the deleted one's is not under it.
	if _, err := svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v10"); err != nil {
		t.Errorf("sibling v10 deleted: %v", err)
	}
	deleted, err = svc.DeleteResource(ctx, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v1", "")
	if err != nil || deleted {
		t.Errorf("second delete: %v %v", deleted, err)
	}
	if _, err := svc.DeleteResource(ctx, "/subscriptions/s1/resourceGroups/rg1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/v10"); !posture.IsNotFound(err) {
		t.Errorf("resource survived its resource group: %v", err)
	}
	if _, err := svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rg1b/providers/Microsoft.Compute/virtualMachines/keep"); err != nil {
		t.Errorf("resource of rg1b deleted with rg1: %v", err)
	}
}

func keysOf(rs []*posture.Resource) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func testListFiltersAndPaging(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	seed(t, svc)
	put(t, svc, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg2","location":"x"}`))
	var batch []*posture.Resource
	for i := range 25 {
		tags := `{"env":"prod"}`
		if i%2 == 1 {
			tags = `{"Env":"dev","owner":"ann"}`
		}
		batch = append(batch, vm(t, []string{"rg1", "rg2"}[i%2], fmt.Sprintf("vm%02d", i), tags))
	}
	batch = append(batch, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1","location":"eastus"}`))
	batch = append(batch, doc(t, `{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm00/extensions/ext"}`))
	if _, err := svc.ImportResources(ctx, batch); err != nil {
		t.Fatal(err)
	}
	list := func(f posture.ResourceFilter) []*posture.Resource {
		t.Helper()
		var all []*posture.Resource
		for pages := 0; ; pages++ {
			p, err := svc.ListResources(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, p.Resources...)
			if p.Next == "" {
				return all
			}
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			f.After = p.Next
		}
	}
	all := list(posture.ResourceFilter{Under: "/subscriptions/s1", TrackedOnly: true, Limit: 4})
	if len(all) != 26 {
		t.Errorf("tracked resources of s1: %d, want 26", len(all))
	}
	if !sort.SliceIsSorted(all, func(i, j int) bool { return all[i].Key < all[j].Key }) {
		t.Error("pages are not in key order")
	}
	seen := map[string]bool{}
	for _, r := range all {
		if seen[r.Key] {
			t.Errorf("%s listed twice across pages", r.Key)
		}
		seen[r.Key] = true
	}
	if got := list(posture.ResourceFilter{Under: "/subscriptions/s1/resourcegroups/rg1", TrackedOnly: true, Types: []string{"Microsoft.Storage/storageAccounts"}}); strings.Join(keysOf(got), ",") != "sa1" {
		t.Errorf("type filter: %v", keysOf(got))
	}
	if got := list(posture.ResourceFilter{Under: "/subscriptions/s1", TagName: "ENV", TagValue: "dev"}); len(got) != 12 {
		t.Errorf("tag filter env=dev: %d, want 12", len(got))
	}
	if got := list(posture.ResourceFilter{Under: "/subscriptions/s1", TagName: "owner"}); len(got) != 12 {
		t.Errorf("tag name filter: %d, want 12", len(got))
	}
	if got := list(posture.ResourceFilter{Under: "/subscriptions/s1", TagName: "env", TagValue: "Prod"}); len(got) != 0 {
		t.Errorf("tag values are case-sensitive, got %d", len(got))
	}
	if got := list(posture.ResourceFilter{Parent: "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/vm00"}); strings.Join(keysOf(got), ",") != "ext" {
		t.Errorf("children of vm00: %v", keysOf(got))
	}
	if got := list(posture.ResourceFilter{Parent: "/subscriptions/s1", Types: []string{"Microsoft.Resources/resourceGroups"}}); strings.Join(keysOf(got), ",") != "rg1,rg2" {
		t.Errorf("resource groups: %v", keysOf(got))
	}
	if got := list(posture.ResourceFilter{Under: "/subscriptions/s1", Location: "eastus"}); strings.Join(keysOf(got), ",") != "sa1" {
		t.Errorf("location filter: %v", keysOf(got))
	}
	var n int
	_ = b // the count is on the store itself
	if err := svc.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		n, err = tx.CountResources(posture.ResourceFilter{Under: "/subscriptions/s1/resourcegroups/rg2"})
		return err
	}); err != nil || n != 12 {
		t.Errorf("count under rg2: %d %v", n, err)
	}
}

func testImport(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	batch := []*posture.Resource{
		vm(t, "rgA", "a", `{}`),
		vm(t, "rgA", "b", `{}`),
		vm(t, "rgA", "a", `{"v":"2"}`), // later document of the same key wins
		doc(t, `{"id":"/subscriptions/s2/resourceGroups/rgB","location":"northeurope","tags":{"t":"1"}}`),
		doc(t, `{"id":"/subscriptions/s2/resourceGroups/rgB/providers/Microsoft.Storage/storageAccounts/x"}`),
	}
	sum, err := svc.ImportResources(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	// Implied: subscriptions s1 and s2 and resource group rgA (rgB is in the batch).
	if sum.Read != 5 || sum.Created != 4 || sum.Updated != 0 || sum.Implied != 3 {
		t.Errorf("summary %+v", sum)
	}
	a, err := svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rgA/providers/Microsoft.Compute/virtualMachines/a")
	if err != nil || a.Tags["v"] != "2" {
		t.Errorf("last document did not win: %v %v", err, a)
	}
	rgB, _ := svc.GetResource(ctx, "/subscriptions/s2/resourceGroups/rgB")
	if rgB == nil || rgB.Tags["t"] != "1" {
		t.Errorf("imported resource group replaced by an implied one: %+v", rgB)
	}
	sub, err := svc.GetResource(ctx, "/subscriptions/s2")
	if err != nil || sub.ParentKey != "/providers/microsoft.management/managementgroups/"+tenant {
		t.Errorf("implied subscription: %v %+v", err, sub)
	}
	sum, err = svc.ImportResources(ctx, batch[:2])
	if err != nil || sum.Created != 0 || sum.Updated != 2 || sum.Implied != 0 {
		t.Errorf("re-import: %+v %v", sum, err)
	}
}

// testBulkImport goes through the stores' bulk paths (COPY on PostgreSQL)
// with a batch of new documents and then the same keys updated.
func testBulkImport(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	seed(t, svc)
	batch := func(env string) []*posture.Resource {
		var rs []*posture.Resource
		for i := range 300 {
			rs = append(rs, vm(t, "rg1", fmt.Sprintf("bulk%03d", i), `{"env":"`+env+`"}`))
		}
		return rs
	}
	sum, err := svc.ImportResources(ctx, batch("one"))
	if err != nil || sum.Created != 300 {
		t.Fatalf("first import: %+v %v", sum, err)
	}
	before, _ := svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/bulk123")
	sum, err = svc.ImportResources(ctx, batch("two"))
	if err != nil || sum.Updated != 300 || sum.Created != 0 {
		t.Fatalf("second import: %+v %v", sum, err)
	}
	after, _ := svc.GetResource(ctx, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/bulk123")
	if after.Tags["env"] != "two" || !after.CreatedAt.Equal(before.CreatedAt) || after.ETag == before.ETag || !strings.Contains(string(after.Body), `"two"`) {
		t.Errorf("after bulk update: %+v", after)
	}
	var n int
	svc.Store.Read(ctx, func(tx posture.Tx) error {
		n, err = tx.CountResources(posture.ResourceFilter{Under: "/subscriptions/s1/resourcegroups/rg1", TrackedOnly: true})
		return err
	})
	if n != 300 {
		t.Errorf("%d resources after two bulk imports of the same 300", n)
	}
}

func testIfMatch(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	seed(t, svc)
	_, err := svc.PutResource(ctx, vm(t, "rg1", "vm1", `{}`), posture.PutStrict, "*")
	wantCode(t, err, posture.EPRECONDITION, "PreconditionFailed")
	first := put(t, svc, vm(t, "rg1", "vm1", `{}`))
	_, err = svc.PutResource(ctx, vm(t, "rg1", "vm1", `{"a":"1"}`), posture.PutStrict, `"stale"`)
	wantCode(t, err, posture.EPRECONDITION, "PreconditionFailed")
	if _, err := svc.PutResource(ctx, vm(t, "rg1", "vm1", `{"a":"1"}`), posture.PutStrict, first.Resource.ETag); err != nil {
		t.Fatalf("matching ETag refused: %v", err)
	}
	_, err = svc.DeleteResource(ctx, first.Resource.ID, first.Resource.ETag)
	wantCode(t, err, posture.EPRECONDITION, "PreconditionFailed")
}

// testConcurrentIfMatch races writers that all hold the same ETag: exactly
// one may win, the others must get 412, never a lost update.
func testConcurrentIfMatch(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	seed(t, svc)
	first := put(t, svc, vm(t, "rg1", "vm1", `{}`))
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			_, errs[i] = svc.PutResource(ctx, vm(t, "rg1", "vm1", fmt.Sprintf(`{"w":"%d"}`, i)), posture.PutStrict, first.Resource.ETag)
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case posture.ErrorKind(err) != posture.EPRECONDITION:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Errorf("%d writers won with the same ETag, want exactly 1", wins)
	}
}

func testManagementGroups(t *testing.T, b Backend) {
	svc := service(b.Open(t))
	ctx := context.Background()
	seed(t, svc)
	child := put(t, svc, doc(t, `{"id":"/providers/Microsoft.Management/managementGroups/child","properties":{"displayName":"Child"}}`))
	if child.Resource.ParentKey != "/providers/microsoft.management/managementgroups/"+tenant {
		t.Errorf("default parent %q", child.Resource.ParentKey)
	}
	put(t, svc, doc(t, `{"id":"/providers/Microsoft.Management/managementGroups/grandchild","properties":{"details":{"parent":{"id":"/providers/Microsoft.Management/managementGroups/child"}}}}`))
	_, err := svc.PutResource(ctx, doc(t, `{"id":"/providers/Microsoft.Management/managementGroups/child","properties":{"details":{"parent":{"id":"/providers/Microsoft.Management/managementGroups/grandchild"}}}}`), posture.PutStrict, "")
	wantCode(t, err, posture.EINVALID, "InvalidParent")
	_, err = svc.PutResource(ctx, doc(t, `{"id":"/providers/Microsoft.Management/managementGroups/x","properties":{"details":{"parent":{"id":"/providers/Microsoft.Management/managementGroups/nope"}}}}`), posture.PutStrict, "")
	wantCode(t, err, posture.ENOTFOUND, "ManagementGroupNotFound")
	_, err = svc.DeleteResource(ctx, "/providers/Microsoft.Management/managementGroups/child", "")
	wantCode(t, err, posture.ECONFLICT, "ManagementGroupHasChildren")
	if ok, err := svc.DeleteResource(ctx, "/providers/Microsoft.Management/managementGroups/grandchild", ""); !ok || err != nil {
		t.Errorf("delete leaf group: %v %v", ok, err)
	}
}

func testIdentity(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	now := clockBase
	err := s.Write(ctx, func(tx posture.Tx) error {
		if err := tx.PutSetting("tenant_id", tenant); err != nil {
			return err
		}
		if err := tx.PutPrincipal(&posture.Principal{ID: "p1", Type: posture.PrincipalUser, DisplayName: "Ann", CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.PutToken(&posture.Token{ID: "t1", PrincipalID: "p1", Name: "cli", Hash: "abc", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.PutRoleAssignment(&posture.RoleAssignment{ID: "/providers/Microsoft.Authorization/roleAssignments/r1", Scope: "/", PrincipalID: "p1", RoleDefinitionID: posture.RoleOwner, CreatedAt: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Read(ctx, func(tx posture.Tx) error {
		if v, err := tx.Setting("tenant_id"); err != nil || v != tenant {
			t.Errorf("setting: %q %v", v, err)
		}
		if v, err := tx.Setting("unset"); err != nil || v != "" {
			t.Errorf("unset setting: %q %v", v, err)
		}
		p, err := tx.Principal("p1")
		if err != nil || p.DisplayName != "Ann" || !p.CreatedAt.Equal(now) {
			t.Errorf("principal: %+v %v", p, err)
		}
		if n, err := tx.CountPrincipals(); n != 1 || err != nil {
			t.Errorf("count principals: %d %v", n, err)
		}
		tok, err := tx.TokenByHash("abc")
		if err != nil || tok.PrincipalID != "p1" || !tok.ExpiresAt.Equal(now.Add(time.Hour)) || !tok.RevokedAt.IsZero() {
			t.Errorf("token: %+v %v", tok, err)
		}
		if _, err := tx.TokenByHash("nope"); !posture.IsNotFound(err) {
			t.Errorf("unknown token: %v", err)
		}
		ras, err := tx.RoleAssignments("p1")
		if err != nil || len(ras) != 1 || ras[0].RoleDefinitionID != posture.RoleOwner || ras[0].Scope != "/" {
			t.Errorf("role assignments: %+v %v", ras, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testPolicyStates(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	const a1, a2 = "/subscriptions/s1/providers/microsoft.authorization/policyassignments/a1", "/subscriptions/s1/providers/microsoft.authorization/policyassignments/a2"
	vm := func(n string) string {
		return "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/" + n
	}
	var rows []*posture.ResourceStates
	for _, r := range []string{vm("b"), vm("a"), vm("a") + "/extensions/x", "/subscriptions/s1/resourcegroups/rg2/providers/microsoft.compute/virtualmachines/a"} {
		for _, a := range []string{a1, a2} {
			rows = append(rows, &posture.ResourceStates{ResourceKey: r, AssignmentKey: a, ResourceType: "microsoft.compute/virtualmachines", SubscriptionID: "s1",
				States: []posture.PolicyState{
					{ReferenceID: "r1", State: posture.StateCompliant, Effect: "Audit", FirstEvaluated: clockBase, ChangedAt: clockBase},
					{ReferenceID: "r2", State: posture.StateNonCompliant, Effect: "AuditIfNotExists", FirstEvaluated: clockBase, ChangedAt: clockBase},
				}})
		}
	}
	write := func(fn func(tx posture.Tx) error) {
		t.Helper()
		if err := s.Write(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	read := func(f posture.PolicyStateFilter) []*posture.ResourceStates {
		t.Helper()
		var out []*posture.ResourceStates
		if err := s.Read(ctx, func(tx posture.Tx) error {
			var err error
			out, err = tx.PolicyStates(f)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	write(func(tx posture.Tx) error { return tx.PutPolicyStates(rows) })
	if got := read(posture.PolicyStateFilter{}); len(got) != 8 {
		t.Fatalf("%d rows, want 8", len(got))
	}
	// A row round-trips, and replacing it replaces every state in it.
	changed := *rows[0]
	changed.States = []posture.PolicyState{{ReferenceID: "r3", State: posture.StateError, Effect: "Audit", Error: "boom \"quoted\"", FirstEvaluated: clockBase, ChangedAt: clockBase.Add(time.Hour)}}
	write(func(tx posture.Tx) error { return tx.PutPolicyStates([]*posture.ResourceStates{&changed}) })
	got := read(posture.PolicyStateFilter{ResourceKey: changed.ResourceKey, AssignmentKey: changed.AssignmentKey})
	if len(got) != 1 || len(got[0].States) != 1 || got[0].States[0] != changed.States[0] || got[0].ResourceType != changed.ResourceType {
		t.Errorf("after replacing a row: %+v", got)
	}
	if got := read(posture.PolicyStateFilter{ResourceKey: vm("a"), AssignmentKey: a2}); len(got) != 1 || got[0].States[1].State != posture.StateNonCompliant || !got[0].States[1].FirstEvaluated.Equal(clockBase) {
		t.Errorf("row vm a / a2: %+v", got)
	}
	// Cursor paging walks every row once, in order.
	var all []*posture.ResourceStates
	f := posture.PolicyStateFilter{Limit: 3}
	for {
		page := read(f)
		all = append(all, page...)
		if len(page) < 3 {
			break
		}
		last := page[len(page)-1]
		f.After = last.ResourceKey + "\x00" + last.AssignmentKey
	}
	if len(all) != 8 {
		t.Errorf("paged %d rows, want 8", len(all))
	}
	if got := read(posture.PolicyStateFilter{Under: vm("a")}); len(got) != 4 {
		t.Errorf("rows under vm a: %d, want 4 (vm and its extension)", len(got))
	}
	// Paging inside a subtree never leaves it, whatever the cursor.
	for _, tt := range []struct {
		after string
		want  int
	}{
		{vm("a") + "\x00" + a2, 2},                      // past the root: its extension's rows
		{vm("a") + "/extensions/x\x00" + a1, 1},         // inside: the rest of the subtree
		{vm("a-") + "\x00", 2},                          // between the root and its children
		{vm("b") + "\x00", 0},                           // past the subtree
		{"/subscriptions/s1/resourcegroups/rg0\x00", 4}, // before it
	} {
		got := read(posture.PolicyStateFilter{Under: vm("a"), After: tt.after, Limit: 10})
		for _, r := range got {
			if r.ResourceKey != vm("a") && !strings.HasPrefix(r.ResourceKey, vm("a")+"/") {
				t.Errorf("after %q: row of %s outside the subtree", tt.after, r.ResourceKey)
			}
		}
		if len(got) != tt.want {
			t.Errorf("under vm a after %q: %d rows, want %d", tt.after, len(got), tt.want)
		}
	}
	if got := read(posture.PolicyStateFilter{ResourceKeys: []string{vm("a"), vm("b"), vm("zz")}, AssignmentKey: a1}); len(got) != 2 {
		t.Errorf("rows of a1 for vm a and b: %d", len(got))
	}
	// A row without states is deleted.
	write(func(tx posture.Tx) error {
		return tx.PutPolicyStates([]*posture.ResourceStates{{ResourceKey: vm("b"), AssignmentKey: a1}})
	})
	if got := read(posture.PolicyStateFilter{}); len(got) != 7 {
		t.Errorf("after deleting a row: %d", len(got))
	}
	write(func(tx posture.Tx) error { return tx.DeletePolicyStatesUnder(vm("a")) })
	if got := read(posture.PolicyStateFilter{}); len(got) != 3 {
		t.Errorf("after deleting under vm a: %d, want 3", len(got))
	}
	var withA2 []string
	s.Read(ctx, func(tx posture.Tx) error {
		var err error
		withA2, err = tx.PolicyStateResources(a2)
		return err
	})
	if len(withA2) != 2 {
		t.Errorf("resources with states of a2: %v, want vm b and rg2 vm a", withA2)
	}
	write(func(tx posture.Tx) error { return tx.DeleteAssignmentStatesOf(a1, []string{vm("nope")}) })
	write(func(tx posture.Tx) error { return tx.DeleteAssignmentStatesOf(a1, nil) })
	if got := read(posture.PolicyStateFilter{}); len(got) != 3 {
		t.Errorf("deleting a1's states of another resource (or of none) deleted %d", 3-len(got))
	}
	write(func(tx posture.Tx) error { return tx.DeleteAssignmentStatesOf(a2, withA2[:1]) })
	if got := read(posture.PolicyStateFilter{}); len(got) != 2 {
		t.Errorf("after deleting one resource's a2 row: %d, want 2", len(got))
	}
	write(func(tx posture.Tx) error { return tx.DeletePolicyStatesOfAssignment(a1) })
	if got := read(posture.PolicyStateFilter{}); len(got) != 1 || got[0].AssignmentKey != a2 {
		t.Errorf("after deleting a1: %+v", got)
	}
}

func testRollback(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Write(ctx, func(tx posture.Tx) error {
		if err := tx.PutSetting("k", "v"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write returned %v, want fn's error", err)
	}
	_ = s.Read(ctx, func(tx posture.Tx) error {
		if v, _ := tx.Setting("k"); v != "" {
			t.Errorf("rolled back write is visible: %q", v)
		}
		return nil
	})
}

func testDurable(t *testing.T, b Backend) {
	s := b.Open(t)
	svc := service(s)
	seed(t, svc)
	put(t, svc, vm(t, "rg1", "vm1", `{}`))
	s = b.Reopen(t, s)
	if _, err := service(s).GetResource(context.Background(), "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"); err != nil {
		t.Errorf("acknowledged write lost over a reopen: %v", err)
	}
}

// BenchmarkImport measures estate.ImportResources of a generated estate of
// n top-level resources (about 1.4 documents each) into fresh stores from
// open, in batches as `posture import` writes them. It reports documents/s.
func BenchmarkImport(b *testing.B, n int, open func(testing.TB) posture.Store) {
	docs := generated(b, n)
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		svc := service(open(b))
		b.StartTimer()
		start := time.Now()
		for i := 0; i < len(docs); i += 5000 {
			if _, err := svc.ImportResources(ctx, docs[i:min(i+5000, len(docs))]); err != nil {
				b.Fatal(err)
			}
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(len(docs)*b.N)/total.Seconds(), "docs/s")
}

var (
	generatedMu   sync.Mutex
	generatedDocs = map[int][]*posture.Resource{}
)

// generated returns the normalised documents of a generated estate, made
// once per size.
func generated(tb testing.TB, n int) []*posture.Resource {
	generatedMu.Lock()
	defer generatedMu.Unlock()
	if docs, ok := generatedDocs[n]; ok {
		return docs
	}
	var docs []*posture.Resource
	err := (&demo.Generator{Seed: 7, Resources: n}).Each(func(raw []byte) error {
		r, err := armdoc.Normalize(raw)
		docs = append(docs, r)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	generatedDocs[n] = docs
	return docs
}

// testExemptedStates: a state's exemption, category and expiry round-trip.
func testExemptedStates(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	const exm = "/subscriptions/s1/providers/microsoft.authorization/policyexemptions/e1"
	row := &posture.ResourceStates{ResourceKey: "/subscriptions/s1/resourcegroups/rg", AssignmentKey: "/subscriptions/s1/providers/microsoft.authorization/policyassignments/a",
		ResourceType: "microsoft.resources/subscriptions/resourcegroups", SubscriptionID: "s1",
		States: []posture.PolicyState{
			{ReferenceID: "r1", State: posture.StateNonCompliant, Effect: "Audit", FirstEvaluated: clockBase, ChangedAt: clockBase,
				Exemption: exm, ExemptionCategory: "Waiver", ExemptUntil: clockBase.Add(time.Hour)},
			{ReferenceID: "r2", State: posture.StateCompliant, Effect: "Audit", FirstEvaluated: clockBase, ChangedAt: clockBase,
				Exemption: exm, ExemptionCategory: "Mitigated"},
			{ReferenceID: "r3", State: posture.StateCompliant, Effect: "Audit", FirstEvaluated: clockBase, ChangedAt: clockBase},
		}}
	if err := s.Write(ctx, func(tx posture.Tx) error { return tx.PutPolicyStates([]*posture.ResourceStates{row}) }); err != nil {
		t.Fatal(err)
	}
	var got []*posture.ResourceStates
	if err := s.Read(ctx, func(tx posture.Tx) error {
		var err error
		got, err = tx.PolicyStates(posture.PolicyStateFilter{ResourceKey: row.ResourceKey})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0].States, row.States) {
		t.Fatalf("got %+v\nwant %+v", got, row.States)
	}
	st := got[0].States
	if st[0].Effective(clockBase) != posture.StateExempt || st[0].Effective(clockBase.Add(time.Hour)) != posture.StateNonCompliant {
		t.Errorf("the exemption must hold before its expiry and not at it: %s %s", st[0].Effective(clockBase), st[0].Effective(clockBase.Add(time.Hour)))
	}
	if st[1].Effective(clockBase.Add(1000*time.Hour)) != posture.StateExempt || st[2].Effective(clockBase) != posture.StateCompliant {
		t.Errorf("no expiry: %s; none: %s", st[1].Effective(clockBase.Add(1000*time.Hour)), st[2].Effective(clockBase))
	}
}

// testEvents: events get increasing sequence numbers and read back by
// stream, in order, with their documents.
func testEvents(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	in := []*posture.Event{
		{Stream: "/e/1", Kind: posture.EventCreated, Actor: "u1", ActorType: "User", At: clockBase, After: json.RawMessage(`{"a":1}`)},
		{Stream: "/e/2", Kind: posture.EventCreated, Actor: "u2", ActorType: "Application", At: clockBase.Add(time.Second), After: json.RawMessage(`{"b":1}`)},
		{Stream: "/e/1", Kind: posture.EventDeleted, Actor: "u1", ActorType: "User", At: clockBase.Add(2 * time.Second), Before: json.RawMessage(`{"a":1}`)},
	}
	if err := s.Write(ctx, func(tx posture.Tx) error {
		for _, e := range in {
			if err := tx.AppendEvent(e); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !(in[0].Seq > 0 && in[1].Seq > in[0].Seq && in[2].Seq > in[1].Seq) {
		t.Fatalf("sequence numbers must increase: %d %d %d", in[0].Seq, in[1].Seq, in[2].Seq)
	}
	// A rolled-back append leaves nothing.
	_ = s.Write(ctx, func(tx posture.Tx) error {
		if err := tx.AppendEvent(&posture.Event{Stream: "/e/1", Kind: posture.EventUpdated, Actor: "u1", ActorType: "User", At: clockBase}); err != nil {
			return err
		}
		return posture.Errorf(posture.EINVALID, "Nope", "roll back")
	})
	var one, all, page []*posture.Event
	if err := s.Read(ctx, func(tx posture.Tx) error {
		var err error
		if one, err = tx.Events(posture.EventFilter{Stream: "/e/1"}); err != nil {
			return err
		}
		if all, err = tx.Events(posture.EventFilter{}); err != nil {
			return err
		}
		page, err = tx.Events(posture.EventFilter{After: in[0].Seq, Limit: 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(one) != 2 || one[0].Kind != posture.EventCreated || one[1].Kind != posture.EventDeleted ||
		string(one[0].After) != `{"a":1}` || one[0].Before != nil || string(one[1].Before) != `{"a":1}` || one[1].After != nil ||
		!one[1].At.Equal(clockBase.Add(2*time.Second)) || one[1].Actor != "u1" {
		t.Errorf("stream /e/1: %+v", one)
	}
	if len(all) != 3 {
		t.Errorf("all events: %d, want 3 (the rolled-back one must not be kept)", len(all))
	}
	if len(page) != 1 || page[0].Seq != in[1].Seq {
		t.Errorf("page after %d: %+v", in[0].Seq, page)
	}
}
