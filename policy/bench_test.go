package policy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// Benchmarks: compile the MCSB initiatives, and scan 100,000 generated
// resources (varied types built from the testdata GET bodies, with their
// related children and extensions) against MCSB v1.
//
//	go test ./policy -run '^$' -bench . -benchtime 3x

// benchUnit are the documents of one generated "unit": a resource of each
// example type, plus the related documents existence checks read.
type benchBase struct {
	file   string
	doc    map[string]any
	prefix string // the example's own id, replaced per unit
}

func loadBenchBases(tb testing.TB) []benchBase {
	tb.Helper()
	files := []string{
		"Microsoft.Storage_storageAccounts.json", "Microsoft.KeyVault_vaults.json", "Microsoft.Compute_virtualMachines.json",
		"Microsoft.Compute_disks.json", "Microsoft.Network_networkSecurityGroups.json", "Microsoft.Network_virtualNetworks.json",
		"Microsoft.Network_publicIPAddresses.json", "Microsoft.Sql_servers.json", "Microsoft.Web_sites.json",
		"Microsoft.ContainerService_managedClusters.json", "Microsoft.ContainerRegistry_registries.json",
		"Microsoft.DocumentDB_databaseAccounts.json", "Microsoft.Cache_Redis.json", "Microsoft.DBforMySQL_servers.json",
		"Microsoft.DBforPostgreSQL_servers.json", "synthetic/Microsoft.CognitiveServices_accounts.json",
		"synthetic/Microsoft.Databricks_workspaces.json", "synthetic/Microsoft.Compute_virtualMachineScaleSets.json",
	}
	var out []benchBase
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("testdata", "resources", f))
		if err != nil {
			tb.Fatal(err)
		}
		v, err := decodeJSON(data)
		if err != nil {
			tb.Fatal(err)
		}
		doc := v.(map[string]any)
		out = append(out, benchBase{file: f, doc: doc, prefix: getString(doc, "id")})
	}
	return out
}

// generateResources builds n resources: units of one resource per base
// type, each top-level resource in its own subscription and resource group
// slot, with children (site config, SQL auditing settings) and extensions
// (diagnostic settings) for some. A few properties vary per unit so that the
// results mix Compliant and NonCompliant.
func generateResources(tb testing.TB, n int) []*Resource {
	tb.Helper()
	bases := loadBenchBases(tb)
	readDoc := func(name string) map[string]any {
		data, err := os.ReadFile(filepath.Join("testdata", "resources", name))
		if err != nil {
			tb.Fatal(err)
		}
		v, _ := decodeJSON(data)
		return v.(map[string]any)
	}
	config := readDoc("Microsoft.Web_sites_config.json")
	auditing := readDoc("Microsoft.Sql_servers_auditingSettings.json")
	diag := readDoc("Microsoft.Insights_diagnosticSettings.json")
	var out []*Resource
	add := func(doc map[string]any) {
		r, err := NewResource(doc)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, r)
	}
	for unit := 0; len(out) < n; unit++ {
		sub := fmt.Sprintf("00000000-0000-0000-0000-%012d", unit%20)
		rg := fmt.Sprintf("rg-%03d", unit%500)
		for _, b := range bases {
			if len(out) >= n {
				break
			}
			doc := deepCopy(b.doc).(map[string]any)
			a := parseARMID(b.prefix)
			name := fmt.Sprintf("%s-%d", a.name(), unit)
			id := fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s/%s", sub, rg, a.namespace, strings.Join(a.types, "/"), name)
			doc["id"], doc["name"] = id, name
			props, _ := doc["properties"].(map[string]any)
			if props != nil && unit%2 == 0 {
				props["publicNetworkAccess"] = "Disabled"
				props["httpsOnly"] = true
				props["minimalTlsVersion"] = "1.2"
			}
			add(doc)
			switch {
			case strings.HasSuffix(b.file, "Web_sites.json") && len(out) < n:
				c := deepCopy(config).(map[string]any)
				c["id"] = id + "/config/web"
				if unit%3 == 0 {
					c["properties"].(map[string]any)["ftpsState"] = "FtpsOnly"
				}
				add(c)
			case strings.HasSuffix(b.file, "Sql_servers.json") && len(out) < n:
				c := deepCopy(auditing).(map[string]any)
				c["id"] = id + "/auditingSettings/default"
				add(c)
			case (strings.HasSuffix(b.file, "KeyVault_vaults.json") || strings.HasSuffix(b.file, "managedClusters.json")) && unit%2 == 1 && len(out) < n:
				c := deepCopy(diag).(map[string]any)
				c["id"] = id + "/providers/Microsoft.Insights/diagnosticSettings/toLogAnalytics"
				add(c)
			}
		}
	}
	return out
}

func BenchmarkCompileMCSB(b *testing.B) {
	reg, err := Builtins()
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range []string{MCSBv1ID, MCSBv2ID} {
		b.Run(parseARMID(id).name()[:8], func(b *testing.B) {
			for b.Loop() {
				if _, err := Compile(&Assignment{PolicyDefinitionID: id}, reg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkScanMCSBv1(b *testing.B) {
	const n = 100_000
	reg, err := Builtins()
	if err != nil {
		b.Fatal(err)
	}
	ca, err := Compile(&Assignment{PolicyDefinitionID: MCSBv1ID}, reg)
	if err != nil {
		b.Fatal(err)
	}
	resources := generateResources(b, n)
	ix := NewIndex(resources...)
	ctx := context.Background()
	for _, mode := range []struct {
		name    string
		reasons ReasonMode
		workers int
	}{
		{"reasons=none/workers=1", ReasonsNone, 1},
		{"reasons=noncompliant/workers=1", ReasonsNonCompliant, 1},
		{"reasons=none/workers=GOMAXPROCS", ReasonsNone, runtime.GOMAXPROCS(0)},
	} {
		b.Run(mode.name, func(b *testing.B) {
			opts := EvalOptions{Reasons: mode.reasons}
			var results, evaluated int
			loops := 0
			for b.Loop() {
				loops++
				results, evaluated = scan(ctx, ca, resources, ix, opts, mode.workers)
			}
			sec := b.Elapsed().Seconds() / float64(loops)
			b.ReportMetric(float64(n)/sec, "resources/s")
			b.ReportMetric(sec*1e9/float64(n*len(ca.References)), "ns/pair")
			b.ReportMetric(sec*1e9/float64(evaluated), "ns/evaluated-pair")
			b.ReportMetric(float64(results), "results")
		})
	}
}

// scan evaluates every resource, split over workers; it returns the number
// of results and of (reference, resource) pairs that passed the type index.
func scan(ctx context.Context, ca *CompiledAssignment, resources []*Resource, ix Lookup, opts EvalOptions, workers int) (int, int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	results, evaluated := 0, 0
	chunk := (len(resources) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(resources))
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, ev := 0, 0
			for _, r := range resources[lo:hi] {
				ev += len(ca.candidates(r.typeKey))
				res += len(ca.EvaluateWithOptions(ctx, r, ix, opts))
			}
			mu.Lock()
			results += res
			evaluated += ev
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results, evaluated
}

// TestScanSmoke runs a small scan so the benchmark's generator and the
// parallel path are exercised by the default test run.
func TestScanSmoke(t *testing.T) {
	reg := mustBuiltins(t)
	ca := mustCompile(t, &Assignment{PolicyDefinitionID: MCSBv1ID}, reg)
	resources := generateResources(t, 500)
	ix := NewIndex(resources...)
	r1, e1 := scan(context.Background(), ca, resources, ix, EvalOptions{Reasons: ReasonsNone}, 1)
	r2, e2 := scan(context.Background(), ca, resources, ix, EvalOptions{Reasons: ReasonsNone}, 3)
	if r1 == 0 || r1 != r2 || e1 != e2 {
		t.Fatalf("scan results differ: %d/%d vs %d/%d", r1, e1, r2, e2)
	}
	states := StateCounts{}
	for _, r := range resources {
		for _, res := range ca.Evaluate(context.Background(), r, ix) {
			states[res.State]++
			if res.State == StateError {
				t.Errorf("%s on %s: %v", res.ReferenceID, res.ResourceID, res.Err)
			}
		}
	}
	if states[StateCompliant] == 0 || states[StateNonCompliant] == 0 {
		t.Errorf("expected a mix of states, got %v", states)
	}
}
