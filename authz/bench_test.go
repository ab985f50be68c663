package authz

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// benchEstate is a tenant of 10,000 role assignments: 6 management groups,
// 60 subscriptions of 10 resource groups of 20 resources, 2,000 users in
// 200 groups. Assignments go to users and groups at every kind of scope,
// mostly resource groups and resources, as in a real tenant.
type benchEstate struct {
	a          *Authorizer
	data       Data
	principals []string
	resources  []string
	actions    []string
}

func newBenchEstate(tb testing.TB, assignments int) *benchEstate {
	tb.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	h := HierarchyMap{}
	mgs := []string{key(mg("root-mg"))}
	for i := 1; i < 6; i++ {
		k := key(mg(fmt.Sprintf("mg%d", i)))
		h[k] = mgs[rng.IntN(len(mgs))]
		mgs = append(mgs, k)
	}
	var subs, rgs, resources []string
	types := []string{"Microsoft.Compute/virtualMachines", "Microsoft.Storage/storageAccounts", "Microsoft.Network/virtualNetworks", "Microsoft.KeyVault/vaults"}
	for s := 0; s < 60; s++ {
		sub := fmt.Sprintf("/subscriptions/%08d-0000-0000-0000-000000000000", s)
		h[strings.ToLower(sub)] = mgs[rng.IntN(len(mgs))]
		subs = append(subs, sub)
		for r := 0; r < 10; r++ {
			rg := fmt.Sprintf("%s/resourceGroups/rg-%d", sub, r)
			rgs = append(rgs, rg)
			for x := 0; x < 20; x++ {
				resources = append(resources, fmt.Sprintf("%s/providers/%s/res-%d", rg, types[x%len(types)], x))
			}
		}
	}
	e := &benchEstate{resources: resources}
	users := make([]string, 2000)
	for i := range users {
		users[i] = fmt.Sprintf("%08x-1111-2222-3333-444455556666", i)
	}
	groups := make([]string, 200)
	for i := range groups {
		groups[i] = fmt.Sprintf("%08x-9999-8888-7777-666655554444", i)
	}
	e.principals = users
	e.data.Memberships = map[string][]string{}
	for _, u := range users {
		for n := rng.IntN(4); n > 0; n-- {
			e.data.Memberships[u] = append(e.data.Memberships[u], groups[rng.IntN(len(groups))])
		}
	}
	roles := []string{RoleReader, RoleReader, RoleReader, RoleContributor, RoleContributor, RoleOwner, RoleSecurityReader, RoleSecurityAdmin, RoleResourcePolicyContributor, RoleUserAccessAdministrator}
	for i := 0; i < assignments; i++ {
		var scope string
		switch p := rng.IntN(100); {
		case p < 1:
			scope = "/"
		case p < 5:
			scope = mgs[rng.IntN(len(mgs))]
		case p < 30:
			scope = subs[rng.IntN(len(subs))]
		case p < 70:
			scope = rgs[rng.IntN(len(rgs))]
		default:
			scope = resources[rng.IntN(len(resources))]
		}
		principal := users[rng.IntN(len(users))]
		if rng.IntN(4) == 0 {
			principal = groups[rng.IntN(len(groups))]
		}
		e.data.RoleAssignments = append(e.data.RoleAssignments, posture.RoleAssignment{
			ID:               fmt.Sprintf("%s/providers/Microsoft.Authorization/roleAssignments/%08x-aaaa-bbbb-cccc-dddddddddddd", strings.TrimSuffix(scope, "/"), i),
			Scope:            scope,
			PrincipalID:      principal,
			RoleDefinitionID: RoleDefinitionID(roles[rng.IntN(len(roles))]),
		})
	}
	e.actions = []string{
		"Microsoft.Compute/virtualMachines/read", "Microsoft.Storage/storageAccounts/write",
		ActionPolicyExemptionWrite, ActionPolicyAssignmentExempt, "Microsoft.Security/assessments/read",
		ActionRoleAssignmentWrite, "Microsoft.Network/virtualNetworks/subnets/write",
	}
	e.a = New(e.data, h)
	if ig := e.a.Ignored(); len(ig) > 0 {
		tb.Fatalf("bench estate has ignored entries: %v", ig[0])
	}
	return e
}

type query struct{ principal, action, scope string }

// queries draws n checks: a user, an action, and the id of a resource (or
// of an exemption on one), as a request would carry.
func (e *benchEstate) queries(n int, seed uint64) []query {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]query, n)
	for i := range out {
		scope := e.resources[rng.IntN(len(e.resources))]
		if rng.IntN(3) == 0 {
			scope += "/providers/Microsoft.Authorization/policyExemptions/ex"
		}
		out[i] = query{e.principals[rng.IntN(len(e.principals))], e.actions[rng.IntN(len(e.actions))], scope}
	}
	return out
}

// uncached answers as Check does on a cache miss, without filling the
// cache: the cost of a first question.
func (e *benchEstate) uncached(q query) bool {
	s := e.a.snap.Load()
	w, err := actionPattern(q.action)
	if err != nil {
		panic(err)
	}
	id, err := armid.Parse(q.scope)
	if err != nil {
		panic(err)
	}
	return s.decide(strings.ToLower(q.principal), w, id.Key(), false).allowed
}

// p99 times each query separately and returns the 99th percentile.
func p99(qs []query, f func(query) bool) time.Duration {
	d := make([]time.Duration, len(qs))
	for i, q := range qs {
		start := time.Now()
		f(q)
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d[len(d)*99/100]
}

func BenchmarkCheck(b *testing.B) {
	e := newBenchEstate(b, 10_000)
	cached := func(q query) bool { return e.a.Allowed(q.principal, q.action, q.scope) }
	b.Run("uncached", func(b *testing.B) {
		qs := e.queries(1<<14, 1)
		i := 0
		for b.Loop() {
			e.uncached(qs[i%len(qs)])
			i++
		}
		b.ReportMetric(float64(p99(e.queries(20_000, 2), e.uncached).Nanoseconds()), "p99-ns")
	})
	b.Run("cached", func(b *testing.B) {
		qs := e.queries(1<<12, 3) // fits the cache
		for _, q := range qs {
			cached(q)
		}
		i := 0
		for b.Loop() {
			cached(qs[i%len(qs)])
			i++
		}
		b.ReportMetric(float64(p99(qs, cached).Nanoseconds()), "p99-ns")
	})
	b.Run("mixed", func(b *testing.B) {
		// A stream of 200,000 distinct questions overflows the cache, so
		// most calls pay for a miss and a cache insert.
		qs := e.queries(200_000, 4)
		i := 0
		for b.Loop() {
			cached(qs[i%len(qs)])
			i++
		}
		b.ReportMetric(float64(p99(e.queries(20_000, 5), cached).Nanoseconds()), "p99-ns")
	})
}

func BenchmarkReadableScopes(b *testing.B) {
	e := newBenchEstate(b, 10_000)
	i := 0
	for b.Loop() {
		set, _ := e.a.ReadableScopes(e.principals[i%len(e.principals)], ActionReadAll)
		set.Contains(e.resources[i%len(e.resources)])
		i++
	}
}

func BenchmarkReadFilterRow(b *testing.B) {
	e := newBenchEstate(b, 10_000)
	f := e.a.ReadFilter(e.principals[0])
	i := 0
	for b.Loop() {
		f.Allows(e.resources[i%len(e.resources)])
		i++
	}
}

func BenchmarkPutRoleAssignment(b *testing.B) {
	// One change rebuilds the indexes of all 10,000 assignments.
	e := newBenchEstate(b, 10_000)
	ra := e.data.RoleAssignments[0]
	ra.ID = strings.Replace(ra.ID, "aaaa-bbbb", "eeee-ffff", 1)
	ra.PrincipalID = "new-principal"
	for b.Loop() {
		if err := e.a.PutRoleAssignment(ra); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchEstateDecisions keeps the benchmark honest: the estate allows
// some questions and denies others, and the cached path agrees with the
// uncached one on every question.
func TestBenchEstateDecisions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-assignment estate")
	}
	e := newBenchEstate(t, 10_000)
	allowed := 0
	for _, q := range e.queries(5_000, 9) {
		got, want := e.a.Allowed(q.principal, q.action, q.scope), e.uncached(q)
		if got != want {
			t.Fatalf("%+v: cached %v, uncached %v", q, got, want)
		}
		if got {
			allowed++
		}
	}
	if allowed < 100 || allowed > 4_900 {
		t.Errorf("%d of 5000 questions allowed; the estate does not exercise both answers", allowed)
	}
	t.Logf("%d of 5000 questions allowed", allowed)
}
