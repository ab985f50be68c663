package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/demo"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/graph"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/sqlite"
)

// env is the demo estate with evaluation and the graph fed by writes.
type env struct {
	graph  *graph.Service
	estate *estate.Service
	policy *compliance.Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var mu posture.LocalWriteLock
	g := &graph.Service{Store: store, Registry: reg, TenantID: demo.TenantID}
	pol := &compliance.Service{Store: store, Registry: reg, WriteMu: &mu, DefaultAssignment: true, Feed: g}
	g.Definitions = pol.DefinitionOf
	es := &estate.Service{Store: store, Observer: pol, WriteMu: &mu, Feed: g}
	if _, err := es.EnsureTenant(ctx, demo.TenantID); err != nil {
		t.Fatal(err)
	}
	if err := pol.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var docs []*posture.Resource
	if err := demo.Demo().Each(func(raw []byte) error {
		r, err := armdoc.Normalize(raw)
		docs = append(docs, r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Half before the graph starts (loaded from the store), half after (fed
	// by the change feed): both paths must give the same tables.
	half := len(docs) / 2
	if _, err := es.ImportResources(ctx, docs[:half]); err != nil {
		t.Fatal(err)
	}
	if err := g.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := es.ImportResources(ctx, docs[half:]); err != nil {
		t.Fatal(err)
	}
	return &env{graph: g, estate: es, policy: pol}
}

func (e *env) query(t *testing.T, q *posture.GraphQuery) *posture.GraphResult {
	t.Helper()
	res, err := e.graph.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q.Query, err)
	}
	return res
}

func rows(t *testing.T, res *posture.GraphResult) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(res.Data, &out); err != nil {
		t.Fatalf("data is not an object array: %v\n%s", err, res.Data)
	}
	return out
}

func TestTablesHoldTheEstate(t *testing.T) {
	e := newEnv(t)
	// The demo has 320 top-level resources in Resources (plus their children).
	res := e.query(t, &posture.GraphQuery{Query: "resources | where type !contains '/subnets' and type !contains '/config' and type !contains '/auditingsettings' and type !contains '/diagnosticsettings' | count"})
	if n := rows(t, res)[0]["Count"]; n != float64(320) {
		t.Errorf("top-level resources: %v", n)
	}
	res = e.query(t, &posture.GraphQuery{Query: "resourcecontainers | summarize count() by type | order by type asc"})
	got := map[string]any{}
	for _, r := range rows(t, res) {
		got[r["type"].(string)] = r["count_"]
	}
	if got["microsoft.resources/subscriptions"] != float64(3) || got["microsoft.management/managementgroups"] != float64(4) || got["microsoft.resources/subscriptions/resourcegroups"] == nil {
		t.Errorf("containers: %v", got)
	}
	// Rows have ARG's columns and conventions: lower-case type, normalised
	// location, resourceGroup and subscriptionId from the id.
	res = e.query(t, &posture.GraphQuery{Query: "resources | where type == 'microsoft.keyvault/vaults' | take 1"})
	r := rows(t, res)[0]
	for _, col := range []string{"id", "name", "type", "tenantId", "kind", "location", "resourceGroup", "subscriptionId", "managedBy", "sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"} {
		if _, ok := r[col]; !ok {
			t.Errorf("row lacks column %s: %v", col, r)
		}
	}
	if r["tenantId"] != demo.TenantID || !strings.HasPrefix(r["id"].(string), "/subscriptions/"+r["subscriptionId"].(string)+"/resourceGroups/"+r["resourceGroup"].(string)+"/") {
		t.Errorf("row: %v", r)
	}
	// Subscriptions are named by display name and carry their ancestors.
	res = e.query(t, &posture.GraphQuery{Query: "resourcecontainers | where type == 'microsoft.resources/subscriptions' and name == 'Contoso Platform' | project chain = properties.managementGroupAncestorsChain"})
	chain, _ := rows(t, res)[0]["chain"].([]any)
	if len(chain) != 3 || chain[0].(map[string]any)["name"] != "contoso-platform" {
		t.Errorf("ancestors of the platform subscription: %v", chain)
	}
	// Policy states and built-in definitions are in PolicyResources.
	res = e.query(t, &posture.GraphQuery{Query: `policyresources | where type =~ 'Microsoft.PolicyInsights/PolicyStates'
		| where properties.policyAssignmentName == 'securitycenterbuiltin' | summarize count() by tostring(properties.complianceState)`})
	states := map[string]float64{}
	for _, r := range rows(t, res) {
		states[r["properties_complianceState"].(string)] = r["count_"].(float64)
	}
	if states["Compliant"] == 0 || states["NonCompliant"] == 0 {
		t.Errorf("policy states by state: %v", states)
	}
	res = e.query(t, &posture.GraphQuery{Query: "policyresources | where type == 'microsoft.authorization/policysetdefinitions' and name == '1f3afdf9-d0c9-4c3d-847f-89da613e70a8' | project properties.displayName"})
	if rows(t, res)[0]["properties_displayName"] != "Microsoft cloud security benchmark" {
		t.Errorf("the benchmark initiative: %s", res.Data)
	}
}

func TestWritesReachTheTables(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	count := func(q string) float64 {
		return rows(t, e.query(t, &posture.GraphQuery{Query: q + " | count"}))[0]["Count"].(float64)
	}
	rg := e.query(t, &posture.GraphQuery{Query: "resourcecontainers | where type == 'microsoft.resources/subscriptions/resourcegroups' | take 1 | project id"})
	rgID := rows(t, rg)[0]["id"].(string)
	doc := `{"id":"` + rgID + `/providers/Microsoft.Storage/storageAccounts/stnew","type":"Microsoft.Storage/storageAccounts","location":"westeurope","properties":{"supportsHttpsTrafficOnly":false}}`
	r, err := armdoc.Normalize([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.estate.PutResource(ctx, r, posture.PutStrict, ""); err != nil {
		t.Fatal(err)
	}
	if n := count("resources | where name == 'stnew'"); n != 1 {
		t.Errorf("new resource in Resources: %v", n)
	}
	states := "policyresources | where type == 'microsoft.policyinsights/policystates' and properties.resourceId == '" + strings.ToLower(r.ID) + "'"
	if n := count(states + " and properties.policyDefinitionReferenceId == 'securetransfertostorageaccountmonitoring' and properties.complianceState == 'NonCompliant'"); n != 1 {
		t.Errorf("the new account's secure-transfer state: %v", n)
	}
	// Delete the resource group: its resources and their states go.
	if _, err := e.estate.DeleteResource(ctx, rgID, ""); err != nil {
		t.Fatal(err)
	}
	if n := count("resources | where tolower(id) startswith '" + strings.ToLower(rgID) + "/'"); n != 0 {
		t.Errorf("%v resources left in a deleted group", n)
	}
	if n := count(states); n != 0 {
		t.Errorf("%v states left of a deleted resource", n)
	}
}

func TestPagingIsStable(t *testing.T) {
	e := newEnv(t)
	q := &posture.GraphQuery{Query: "resources | project id | order by id asc", Top: 100}
	seen := map[string]bool{}
	var total int64
	for pages := 0; ; pages++ {
		res := e.query(t, q)
		total = res.TotalRecords
		for _, r := range rows(t, res) {
			id := r["id"].(string)
			if seen[id] {
				t.Fatalf("%s on two pages", id)
			}
			seen[id] = true
		}
		if res.SkipToken == "" {
			break
		}
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		q.SkipToken = res.SkipToken
	}
	if int64(len(seen)) != total || total < 400 {
		t.Errorf("paged %d of %d rows", len(seen), total)
	}
	// A token does not carry to another query.
	_, err := e.graph.Query(context.Background(), &posture.GraphQuery{Query: "resources | project name", SkipToken: q.SkipToken})
	if posture.ErrorCode(err) != "BadRequest" {
		t.Errorf("foreign skip token: %v", err)
	}
	// take/limit disable paging: no token, truncation flagged instead.
	res := e.query(t, &posture.GraphQuery{Query: "resources | take 50", Top: 10})
	if res.SkipToken != "" || !res.Truncated || res.Count != 10 {
		t.Errorf("take with a smaller $top: token %q truncated %v count %d", res.SkipToken, res.Truncated, res.Count)
	}
}

func TestScopesAndFacets(t *testing.T) {
	e := newEnv(t)
	subs := rows(t, e.query(t, &posture.GraphQuery{Query: "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project subscriptionId, name"}))
	var prod, platform string
	for _, s := range subs {
		switch s["name"] {
		case "Contoso Production":
			prod = s["subscriptionId"].(string)
		case "Contoso Platform":
			platform = s["subscriptionId"].(string)
		}
	}
	onlyProd := rows(t, e.query(t, &posture.GraphQuery{Query: "resources | summarize count() by subscriptionId", Subscriptions: []string{strings.ToUpper(prod)}}))
	if len(onlyProd) != 1 || onlyProd[0]["subscriptionId"] != prod {
		t.Errorf("subscriptions scope: %v", onlyProd)
	}
	platformOnly := rows(t, e.query(t, &posture.GraphQuery{Query: "resources | summarize count() by subscriptionId", ManagementGroups: []string{"contoso-platform"}}))
	if len(platformOnly) != 1 || platformOnly[0]["subscriptionId"] != platform {
		t.Errorf("management group scope: %v", platformOnly)
	}
	// A principal who may read one subscription sees only it.
	readable := rows(t, e.query(t, &posture.GraphQuery{Query: "resources | summarize count() by subscriptionId", Readable: &posture.ReadableScopes{Subscriptions: []string{platform}}}))
	if len(readable) != 1 || readable[0]["subscriptionId"] != platform {
		t.Errorf("readable scopes: %v", readable)
	}
	res := e.query(t, &posture.GraphQuery{Query: "resources", Top: 1, Facets: []posture.GraphFacet{{Expression: "type", Top: 3}, {Expression: "nosuchcolumn"}}})
	var f0, f1 map[string]any
	json.Unmarshal(res.Facets[0], &f0)
	json.Unmarshal(res.Facets[1], &f1)
	if f0["resultType"] != "FacetResult" || len(f0["data"].([]any)) != 3 {
		t.Errorf("facet: %v", f0)
	}
	if f1["resultType"] != "FacetError" {
		t.Errorf("facet on an unknown column: %v", f1)
	}
}

func TestQueryErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct{ query, detail string }{
		{"resources | where", "ParserFailure"},
		{"resources | where nosuch == 1", "InvalidQuery"},
		{"let x = 1; resources", "UnsupportedLetStatement"},
		{"resources | join kind=leftanti (resources) on id", "UnsupportedJoinFlavor"},
		{"nosuchtable", "UnknownTable"},
	}
	for _, tt := range tests {
		_, err := e.graph.Query(context.Background(), &posture.GraphQuery{Query: tt.query})
		var pe *posture.Error
		if !errors.As(err, &pe) || pe.Kind != posture.EINVALID || pe.Code != "BadRequest" || len(pe.Details) != 2 ||
			pe.Details[0].Code != "InvalidQuery" || pe.Details[1].Code != tt.detail {
			t.Errorf("%s: %v", tt.query, err)
		}
	}
	_, err := e.graph.Query(context.Background(), &posture.GraphQuery{Query: "resources | where", Top: 5000})
	if posture.ErrorKind(err) != posture.EINVALID {
		t.Errorf("$top 5000: %v", err)
	}
}

// TestRealQueries runs the public ARG queries collected in
// kql/testdata/real against the demo estate: each must run, and those over
// tables the demo fills must find rows.
func TestRealQueries(t *testing.T) {
	e := newEnv(t)
	data, err := os.ReadFile("../kql/testdata/real/queries.kql")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split("\n"+string(data), "\n### source:")
	n := 0
	for _, b := range blocks[1:] {
		source, query, _ := strings.Cut(b, "\n")
		query = strings.TrimSpace(query)
		if query == "" {
			continue
		}
		n++
		res, err := e.graph.Query(context.Background(), &posture.GraphQuery{Query: query})
		if err != nil {
			t.Errorf("%s:\n%v", strings.TrimSpace(source), err)
			continue
		}
		if strings.HasPrefix(strings.ToLower(query), "resources") && !strings.Contains(query, "microsoft.security") && res.TotalRecords == 0 {
			t.Logf("no rows for %s", strings.TrimSpace(source))
		}
	}
	if n < 15 {
		t.Errorf("only %d real queries", n)
	}
}
