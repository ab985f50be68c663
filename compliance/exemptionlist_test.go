package compliance_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/demo"
	"github.com/posture/posture/exemption"
)

// exemptionEstate is the demo estate with n exemptions written straight
// into the store at scopes drawn from every level (management groups,
// subscriptions, resource groups, resources), some expired, some of a
// second assignment, and a service started over it.
type exemptionEstate struct {
	*jobEnv
	scopes  []string            // the scopes exemptions were put at, lower case
	byScope map[string][]string // scope -> exemption keys
	expired map[string]bool
	other   map[string]bool // of the second assignment
	groups  map[string][]string
}

const (
	mgPrefix    = "/providers/microsoft.management/managementgroups/"
	otherAssign = "/providers/microsoft.management/managementgroups/contoso/providers/microsoft.authorization/policyassignments/other"
)

func newExemptionEstate(tb testing.TB, engine string, n int) *exemptionEstate {
	x := &exemptionEstate{byScope: map[string][]string{}, expired: map[string]bool{}, other: map[string]bool{}}
	x.jobEnv = newJobEnvOn(tb, engine, compliance.EvalJobs{}, 150)
	ctx := context.Background()
	root := mgPrefix + strings.ToLower(demo.TenantID)
	x.groups = map[string][]string{ // management group -> its ancestors and itself
		root:                              {root},
		mgPrefix + "contoso":              {root, mgPrefix + "contoso"},
		mgPrefix + "contoso-platform":     {root, mgPrefix + "contoso", mgPrefix + "contoso-platform"},
		mgPrefix + "contoso-landingzones": {root, mgPrefix + "contoso", mgPrefix + "contoso-landingzones"},
	}
	for g := range x.groups {
		x.scopes = append(x.scopes, g)
	}
	err := x.store.Read(ctx, func(tx posture.Tx) error {
		rs, err := tx.ListResources(posture.ResourceFilter{Under: "/subscriptions", KeysOnly: true})
		for _, r := range rs {
			// Subscriptions, resource groups and top-level resources.
			if strings.Count(r.Key, "/") <= 8 {
				x.scopes = append(x.scopes, r.Key)
			}
		}
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	slices.Sort(x.scopes)
	rnd := rand.New(rand.NewPCG(1, 2))
	now := x.clock.Now()
	var batch []*posture.Resource
	flush := func() {
		if err := x.store.Write(ctx, func(tx posture.Tx) error { return tx.PutResources(batch) }); err != nil {
			tb.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range n {
		scope := x.scopes[rnd.IntN(len(x.scopes))]
		name := fmt.Sprintf("x%07d", i)
		assignment := landingZones + "/providers/Microsoft.Authorization/policyAssignments/bench"
		if i%7 == 3 {
			assignment = otherAssign
		}
		expires := now.Add(24 * time.Hour)
		if i%5 == 1 {
			expires = now.Add(-time.Hour)
		}
		body := fmt.Sprintf(`{"properties":{"policyAssignmentId":"%s","exemptionCategory":"Waiver","expiresOn":"%s"}}`, assignment, expires.Format(time.RFC3339))
		ex, err := exemption.Parse([]byte(body), exemption.StoredVersion)
		if err != nil {
			tb.Fatal(err)
		}
		id := scope + "/providers/Microsoft.Authorization/policyExemptions/" + name
		pid, err := armid.Parse(id)
		if err != nil {
			tb.Fatal(err)
		}
		key := pid.Key()
		x.byScope[scope] = append(x.byScope[scope], key)
		x.expired[key] = i%5 == 1
		x.other[key] = i%7 == 3
		batch = append(batch, &posture.Resource{ID: pid.String(), Key: key, Type: exemption.Type, Name: name,
			SubscriptionID: strings.ToLower(pid.SubscriptionID()), ResourceGroup: strings.ToLower(pid.ResourceGroup()), ParentKey: scope,
			Body: exemption.Document(pid.String(), name, ex, exemption.SystemData{CreatedAt: now, LastModifiedAt: now}, exemption.StoredVersion),
			ETag: `"` + strconv.Itoa(i) + `"`, CreatedAt: now, ChangedAt: now})
		if len(batch) == 5000 {
			flush()
		}
	}
	flush()
	// A new service over the store loads the exemptions into its index.
	var mu posture.LocalWriteLock
	x.svc = &compliance.Service{Store: x.store, Registry: x.svc.Registry, Now: x.clock.Now, WriteMu: &mu, Logger: slog.New(slog.DiscardHandler)}
	if err := x.svc.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	return x
}

// chain returns the scopes at or above a scope: its path prefixes among
// the scopes, and the management groups above its subscription.
func (x *exemptionEstate) chain(scope string) map[string]bool {
	out := map[string]bool{}
	if g, ok := x.groups[scope]; ok {
		for _, s := range g {
			out[s] = true
		}
		return out
	}
	for _, s := range x.scopes {
		if scope == s || strings.HasPrefix(scope, s+"/") {
			out[s] = true
		}
	}
	// Every demo subscription of 2 lies under the landing zones.
	for _, s := range x.groups[mgPrefix+"contoso-landingzones"] {
		out[s] = true
	}
	return out
}

// want is the oracle: the keys a list at scope with a filter returns.
func (x *exemptionEstate) want(scope string, f exemption.Filter) []string {
	above := x.chain(scope)
	var out []string
	for s, keys := range x.byScope {
		var in bool
		switch {
		case f.AtExactScope:
			in = s == scope
		case f.AtScope:
			in = above[s]
		default:
			in = above[s] || x.chain(s)[scope]
		}
		if !in {
			continue
		}
		for _, k := range keys {
			if f.ExcludeExpired && x.expired[k] || f.PolicyAssignmentID != "" && !x.other[k] {
				continue
			}
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// list pages through a list with pages of limit.
func (x *exemptionEstate) list(tb testing.TB, scope, filter string, limit int) []string {
	var out []string
	after := ""
	for pages := 0; ; pages++ {
		page, err := x.svc.ListExemptions(context.Background(), posture.ExemptionFilter{Scope: scope, Filter: filter, After: after, Limit: limit})
		if err != nil {
			tb.Fatalf("%s %q: %v", scope, filter, err)
		}
		if len(page.Resources) > limit || page.Next != "" && len(page.Resources) != limit {
			tb.Fatalf("%s %q: a page of %d (limit %d) with next %q", scope, filter, len(page.Resources), limit, page.Next)
		}
		for _, r := range page.Resources {
			out = append(out, r.Key)
		}
		if page.Next == "" {
			return out
		}
		after = page.Next
	}
}

// TestExemptionListPaging: at every kind of scope and with each filter,
// paging through the list returns each exemption the scope sees exactly
// once, in key order.
func TestExemptionListPaging(t *testing.T) {
	for _, engine := range engines() {
		t.Run(engine, func(t *testing.T) { testExemptionListPaging(t, engine) })
	}
}

func testExemptionListPaging(t *testing.T, engine string) {
	x := newExemptionEstate(t, engine, 600)
	scopes := []string{mgPrefix + strings.ToLower(demo.TenantID), mgPrefix + "contoso-landingzones", mgPrefix + "contoso-platform"}
	for i := 0; i < len(x.scopes); i += len(x.scopes) / 12 {
		scopes = append(scopes, x.scopes[i])
	}
	filters := map[string]exemption.Filter{
		"":                 {},
		"atScope()":        {AtScope: true},
		"atExactScope()":   {AtExactScope: true},
		"excludeExpired()": {ExcludeExpired: true},
		"policyAssignmentId eq '" + otherAssign + "'": {PolicyAssignmentID: otherAssign},
	}
	nonEmpty := 0
	for _, scope := range scopes {
		for text, f := range filters {
			want := x.want(scope, f)
			got := x.list(t, scope, text, 7)
			if !slices.Equal(got, want) {
				t.Errorf("%s %q: %d exemptions, want %d\n got %v\nwant %v", scope, text, len(got), len(want), got, want)
			}
			if len(want) > 7 {
				nonEmpty++
			}
		}
	}
	if nonEmpty < 10 {
		t.Errorf("only %d lists spanned pages; the test needs more", nonEmpty)
	}
	// An exemption in the store and not (yet) in this replica's index is
	// listed too.
	late := x.scopes[len(x.scopes)/2] + "/providers/Microsoft.Authorization/policyExemptions/late"
	pid, _ := armid.Parse(late)
	body := `{"properties":{"policyAssignmentId":"` + otherAssign + `","exemptionCategory":"Mitigated"}}`
	ex, err := exemption.Parse([]byte(body), exemption.StoredVersion)
	if err != nil {
		t.Fatal(err)
	}
	err = x.store.Write(context.Background(), func(tx posture.Tx) error {
		return tx.PutResources([]*posture.Resource{{ID: pid.String(), Key: pid.Key(), Type: exemption.Type, Name: "late",
			SubscriptionID: strings.ToLower(pid.SubscriptionID()), ResourceGroup: strings.ToLower(pid.ResourceGroup()),
			ParentKey: x.scopes[len(x.scopes)/2], Body: exemption.Document(pid.String(), "late", ex, exemption.SystemData{}, exemption.StoredVersion)}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := x.list(t, mgPrefix+strings.ToLower(demo.TenantID), "", 1000); !slices.Contains(got, pid.Key()) {
		t.Error("an exemption stored by another replica is not listed")
	}
}

// BenchmarkListExemptions pages through every exemption of the estate at
// its root management group and at a subscription, 1,000 a page.
// POSTURE_BENCH_EXEMPTIONS sets how many (default 10,000); with
// POSTURE_BENCH_POSTGRES set the store is PostgreSQL at
// POSTURE_TEST_POSTGRES_URL:
//
//	POSTURE_BENCH_EXEMPTIONS=100000 go test ./compliance -run '^$' -bench ListExemptions -benchtime 3x
func BenchmarkListExemptions(b *testing.B) {
	n := 10_000
	if v, _ := strconv.Atoi(os.Getenv("POSTURE_BENCH_EXEMPTIONS")); v > 0 {
		n = v
	}
	engine := "sqlite"
	if os.Getenv("POSTURE_BENCH_POSTGRES") != "" {
		engine = "postgres"
	}
	x := newExemptionEstate(b, engine, n)
	root := mgPrefix + strings.ToLower(demo.TenantID)
	var sub string
	for _, s := range x.scopes {
		if strings.Count(s, "/") == 2 {
			sub = s
			break
		}
	}
	for _, scope := range []string{root, sub} {
		b.Run(scopeKind(scope), func(b *testing.B) {
			want := len(x.want(scope, exemption.Filter{}))
			for b.Loop() {
				if got := len(x.list(b, scope, "", 1000)); got != want {
					b.Fatalf("listed %d, want %d", got, want)
				}
			}
			b.ReportMetric(float64(want), "exemptions")
		})
	}
}

func scopeKind(scope string) string {
	if strings.HasPrefix(scope, mgPrefix) {
		return "managementGroup"
	}
	return "subscription"
}
