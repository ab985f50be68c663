package match_test

import (
	"strings"
	"testing"

	"github.com/posture/posture/match"
)

// A filter of five leaves (two tags, a like, an equals and a regex) and a
// resource that satisfies all of them, so that Match evaluates every leaf.
const benchFilter = `{"allOf": [
	{"field": "tags['env']", "in": ["dev", "test"]},
	{"field": "tags['owner']", "exists": true},
	{"field": "type", "equals": "Microsoft.Web/sites"},
	{"field": "name", "like": "app-*"},
	{"field": "name", "regex": "app-[a-z]+-[0-9]+"}]}`

var benchResource = &match.Resource{
	ID:             "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-web/providers/Microsoft.Web/sites/app-billing-01",
	Name:           "app-billing-01",
	Type:           "Microsoft.Web/sites",
	Location:       "westeurope",
	ResourceGroup:  "rg-web",
	SubscriptionID: "00000000-0000-0000-0000-000000000001",
	Tags:           map[string]string{"env": "Dev", "owner": "team-billing", "cost-center": "4711", "app": "billing", "tier": "web", "created-by": "terraform"},
}

func mustParse(tb testing.TB, s string) *match.Filter {
	tb.Helper()
	f, err := match.Parse([]byte(s), prefix)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func BenchmarkMatch(b *testing.B) {
	f := mustParse(b, benchFilter)
	if !f.Match(benchResource) {
		b.Fatal("the benchmark resource does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		f.Match(benchResource)
	}
}

// BenchmarkMatchNoRegex is the same filter with a second like in place of
// the regex, to show what the regex costs.
func BenchmarkMatchNoRegex(b *testing.B) {
	f := mustParse(b, strings.Replace(benchFilter, `"regex": "app-[a-z]+-[0-9]+"`, `"like": "*-billing-*"`, 1))
	if !f.Match(benchResource) {
		b.Fatal("the benchmark resource does not match")
	}
	b.ReportAllocs()
	for b.Loop() {
		f.Match(benchResource)
	}
}

// BenchmarkMatchMiss is the common case in an estate: a resource the
// filter does not select, decided by a cheap leaf.
func BenchmarkMatchMiss(b *testing.B) {
	f := mustParse(b, benchFilter)
	r := *benchResource
	r.Type = "Microsoft.Storage/storageAccounts"
	b.ReportAllocs()
	for b.Loop() {
		f.Match(&r)
	}
}

// BenchmarkLeaf shows what each kind of leaf costs on the benchmark
// resource; a filter costs about the sum of the leaves it evaluates.
func BenchmarkLeaf(b *testing.B) {
	for _, s := range []string{
		`{"field": "type", "equals": "Microsoft.Web/sites"}`,
		`{"field": "name", "like": "app-*"}`,
		`{"field": "tags['owner']", "exists": true}`,
		`{"allOf": [{"field": "tags['owner']", "exists": true}, {"field": "tags['env']", "in": ["dev", "test"]}]}`,
		`{"field": "name", "regex": "app-[a-z]+-[0-9]+"}`,
	} {
		f := mustParse(b, s)
		b.Run(f.String(), func(b *testing.B) {
			for b.Loop() {
				f.Match(benchResource)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	raw := []byte(benchFilter)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := match.Parse(raw, prefix); err != nil {
			b.Fatal(err)
		}
	}
}

// Match must not allocate: it runs for every resource and exemption.
func TestMatchDoesNotAllocate(t *testing.T) {
	f := mustParse(t, benchFilter)
	r := *benchResource
	r.Location = "West Europe" // the one case that may allocate; not read by this filter
	if n := testing.AllocsPerRun(100, func() { f.Match(&r) }); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
	g := mustParse(t, `{"anyOf": [{"field": "location", "like": "west*"}, {"field": "tags['x']", "regex": "y"}, {"field": "tags['a']", "notIn": ["b"]}]}`)
	r.Location = "westeurope"
	if n := testing.AllocsPerRun(100, func() { g.Match(&r) }); n != 0 {
		t.Errorf("Match allocates %v times on a normal location", n)
	}
}

// A Filter is shared by every goroutine that evaluates its exemption.
func TestMatchConcurrently(t *testing.T) {
	f := mustParse(t, benchFilter)
	done := make(chan bool)
	for range 4 {
		go func() {
			ok := true
			for range 1000 {
				ok = ok && f.Match(benchResource) && f.Explain(benchResource).Matched
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Error("a concurrent Match or Explain gave false")
		}
	}
}
