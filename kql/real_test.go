package kql

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

type realQuery struct {
	source, text string
}

func loadRealQueries(t testing.TB) []realQuery {
	data, err := os.ReadFile("testdata/real/queries.kql")
	if err != nil {
		t.Fatal(err)
	}
	var out []realQuery
	for _, block := range strings.Split("\n"+string(data), "\n### ")[1:] {
		src, text, _ := strings.Cut(block, "\n")
		out = append(out, realQuery{source: strings.TrimPrefix(src, "source: "), text: strings.TrimSpace(text)})
	}
	return out
}

// syntheticEstate is a small estate in the ARG row shape, written from the
// REST shapes of the resource types the real queries read.
func syntheticEstate(t testing.TB) *Database {
	db := NewDatabase()
	must := func(table string, rows ...string) {
		bs := make([][]byte, len(rows))
		for i, r := range rows {
			bs[i] = []byte(r)
		}
		if err := db.Upsert(table, bs...); err != nil {
			t.Fatal(err)
		}
	}
	must("Resources",
		`{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/Contoso1","name":"Contoso1","type":"microsoft.compute/virtualmachines","location":"westeurope","resourceGroup":"rg1","subscriptionId":"s1","tenantId":"t1","apiVersion":"2023-03-01","properties":{"storageProfile":{"osDisk":{"osType":"Linux"}}},"tags":{"env":"prod","owner":"alice"}}`,
		`{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachineScaleSets/contoso-ss","name":"contoso-ss","type":"microsoft.compute/virtualmachinescalesets","location":"westeurope","resourceGroup":"rg1","subscriptionId":"s1","tenantId":"t1","sku":{"name":"Standard_D2","capacity":3},"properties":{}}`,
		`{"id":"/subscriptions/s2/resourceGroups/rg2/providers/Microsoft.DocumentDB/databaseAccounts/db1","name":"db1","type":"microsoft.documentdb/databaseaccounts","location":"eastus","resourceGroup":"rg2","subscriptionId":"s2","tenantId":"t1","properties":{"writeLocations":[{"locationName":"East US"},{"locationName":"North Europe"}]},"tags":{"env":"dev"}}`,
	)
	must("ResourceContainers",
		`{"id":"/subscriptions/s1","name":"Production","type":"microsoft.resources/subscriptions","subscriptionId":"s1","tenantId":"t1","properties":{}}`,
		`{"id":"/subscriptions/s2","name":"Development","type":"microsoft.resources/subscriptions","subscriptionId":"s2","tenantId":"t1","properties":{}}`,
	)
	must("SecurityResources",
		`{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/Contoso1/providers/Microsoft.Security/assessments/a-1","name":"a-1","type":"microsoft.security/assessments","subscriptionId":"s1","resourceGroup":"rg1","tenantId":"t1","properties":{"resourceDetails":{"Source":"Azure","Id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/Contoso1 "},"displayName":"Enable MFA","status":{"code":"Unhealthy","cause":"Exempt","description":"Waiver until Q3","firstEvaluationDate":"2024-01-01T00:00:00Z","statusChangeDate":"2024-01-05T00:00:00Z"},"metadata":{"displayName":"Enable MFA","severity":"High","categories":["IdentityAndAccess"]},"links":{"azurePortal":"portal.azure.com/#x"}}}`,
		`{"id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/Contoso1/providers/Microsoft.Security/assessments/a-2","name":"a-2","type":"microsoft.security/assessments","subscriptionId":"s1","resourceGroup":"rg1","tenantId":"t1","properties":{"resourceDetails":{"Source":"Azure","Id":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/Contoso1"},"displayName":"Install endpoint protection","status":{"code":"Unhealthy","firstEvaluationDate":"2024-01-01T00:00:00Z","statusChangeDate":"2024-01-01T00:00:00Z"},"metadata":{"displayName":"Install endpoint protection","severity":"Medium"}}}`,
		`{"id":"/subscriptions/s2/providers/Microsoft.Security/secureScores/ascScore/secureScoreControls/ctl-1","name":"ctl-1","type":"microsoft.security/securescores/securescorecontrols","subscriptionId":"s2","tenantId":"t1","properties":{"displayName":"Enable MFA","score":{"current":1,"max":10,"percentage":0.1},"definition":{"name":"ctl-1","properties":{"maxScore":10,"source":{"sourceType":"BuiltIn"},"assessmentDefinitions":[{"id":"/providers/Microsoft.Security/assessmentMetadata/a-1"}]}},"healthyResourceCount":1,"unhealthyResourceCount":2,"notApplicableResourceCount":0,"weight":3}}`,
		`{"id":"/subscriptions/s1/providers/Microsoft.Security/iotalerts/x","name":"x","type":"microsoft.security/iotalerts","subscriptionId":"s1","properties":{"alertType":"{alert_type}"}}`,
	)
	must("PolicyResources",
		`{"id":"/subscriptions/s1/providers/Microsoft.Authorization/policyExemptions/ex1","name":"ex1","type":"microsoft.authorization/policyexemptions","subscriptionId":"s1","properties":{"policyAssignmentId":"/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/pa1","expiresOn":"2024-02-01T00:00:00Z","exemptionCategory":"Waiver"}}`,
		`{"id":"/subscriptions/s1/providers/Microsoft.Authorization/policyExemptions/ex2","name":"ex2","type":"microsoft.authorization/policyexemptions","subscriptionId":"s1","properties":{"policyAssignmentId":"/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/pa1","expiresOn":"2025-06-01T00:00:00Z","exemptionCategory":"Mitigated"}}`,
		`{"id":"/subscriptions/s1/providers/Microsoft.PolicyInsights/policyStates/ps1","name":"ps1","type":"microsoft.policyinsights/policystates","subscriptionId":"s1","properties":{"resourceId":"/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/Contoso1","subscriptionId":"s1","policyAssignmentId":"pa1","policyAssignmentName":"pa1","policyDefinitionId":"/providers/microsoft.authorization/policydefinitions/pd1","policyDefinitionName":"pd1","timestamp":"2024-01-10T00:00:00Z","complianceState":"NonCompliant"}}`,
		`{"id":"/providers/Microsoft.Authorization/policyDefinitions/pd1","name":"pd1","type":"microsoft.authorization/policydefinitions","properties":{"description":"Audit VMs","displayName":"Audit VMs"}}`,
	)
	return db
}

// TestRealQueries parses, round-trips and runs every collected real query.
func TestRealQueries(t *testing.T) {
	db := syntheticEstate(t)
	now := time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)
	queries := loadRealQueries(t)
	if len(queries) < 10 {
		t.Fatalf("only %d real queries", len(queries))
	}
	for i, rq := range queries {
		q, err := Parse(rq.text, ParseOptions{})
		if err != nil {
			t.Errorf("query %d (%s): parse: %v", i, rq.source, err)
			continue
		}
		printed := q.String()
		q2, err := Parse(printed, ParseOptions{})
		if err != nil || q2.String() != printed {
			t.Errorf("query %d: print/re-parse mismatch: %v\n%s", i, err, printed)
		}
		res, err := q.Run(context.Background(), db.Snapshot(), RunOptions{Now: func() time.Time { return now }})
		if err != nil {
			t.Errorf("query %d (%s): run: %v", i, rq.source, err)
			continue
		}
		t.Logf("query %d: %d rows x %d columns", i, res.Len(), len(res.Columns()))
	}
}

// TestSeedExemptionQuery checks the seed query's columns and rows against
// the estate: only a-1 is exempt; resourceId is trimmed and lower-cased.
func TestSeedExemptionQuery(t *testing.T) {
	db := syntheticEstate(t)
	var text string
	for _, rq := range loadRealQueries(t) {
		if strings.Contains(rq.text, "properties.status.cause == 'Exempt'") {
			text = rq.text
		}
	}
	q, err := Parse(text, ParseOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := q.Run(context.Background(), db.Snapshot(), RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range res.Columns() {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "assessmentKey,id,name,displayName,resourceId,healthStatus,cause,reason" {
		t.Fatalf("columns %s", got)
	}
	if res.Len() != 1 {
		t.Fatalf("%d rows", res.Len())
	}
	row := res.Row(0)
	if row[0] != "a-1" || row[4] != "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/contoso1" || row[7] != "Waiver until Q3" {
		t.Fatalf("row %v", row)
	}
}
