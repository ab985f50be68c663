package kql

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// A typical 30-line query: the real "join assessment with secure score"
// query plus a few lines.
var typicalQuery = `securityresources
| where type == "microsoft.security/assessments"
| extend resourceId=id,
    assessmentKey=name,
    recommendationName=properties.displayName,
    source=properties.resourceDetails.Source,
    recommendationState=properties.status.code,
    description=properties.metadata.description,
    assessmentType=properties.metadata.assessmentType,
    remediationDescription=properties.metadata.remediationDescription,
    policyDefinitionId=properties.metadata.policyDefinitionId,
    implementationEffort=properties.metadata.implementationEffort,
    recommendationSeverity=properties.metadata.severity,
    category=properties.metadata.categories,
    userImpact=properties.metadata.userImpact,
    threats=properties.metadata.threats,
    portalLink=properties.links.azurePortal
| project tenantId, subscriptionId, resourceId, recommendationName, assessmentKey, recommendationState, recommendationSeverity, description, remediationDescription, assessmentType, policyDefinitionId, implementationEffort, userImpact, category, threats, source, portalLink
| join kind=leftouter (
    securityresources
    | where type == "microsoft.security/securescores/securescorecontrols"
    | extend controlName = tostring(properties.displayName)
    | extend controlKey = tostring(name)
    | extend assessmentDefinitions = properties.definition.properties.assessmentDefinitions
    | mvexpand assessmentDefinitions
    | parse assessmentDefinitions with '{"id":"/providers/Microsoft.Security/assessmentMetadata/'assessmentKey'"}'
    | summarize controlName= max(controlName) by controlKey, assessmentKey, subscriptionId
    | extend packControls = pack(controlName, controlKey)
    | summarize controls = make_bag(packControls) by assessmentKey,subscriptionId
) on assessmentKey, subscriptionId
| where recommendationState in~ ("Unhealthy", "Healthy") and isnotempty(recommendationName)
| order by recommendationSeverity asc, recommendationName asc`

func BenchmarkParse(b *testing.B) {
	b.SetBytes(int64(len(typicalQuery)))
	for b.Loop() {
		if _, err := Parse(typicalQuery, ParseOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

var (
	benchOnce sync.Once
	benchDB   *Database
)

// benchEstate builds 100k assessment rows shaped like Defender's.
func benchEstate(b *testing.B) *Snapshot {
	benchOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		db := NewDatabase()
		var batch [][]byte
		for i := 0; i < 100_000; i++ {
			code := []string{"Healthy", "Unhealthy", "NotApplicable"}[r.IntN(3)]
			cause := ""
			if r.IntN(20) == 0 {
				cause = `,"cause":"Exempt","description":"Waiver approved"`
			}
			sub := fmt.Sprintf("sub-%02d", r.IntN(50))
			rid := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg%d/providers/Microsoft.Compute/virtualMachines/vm%d", sub, r.IntN(40), i)
			key := fmt.Sprintf("key-%03d", r.IntN(250))
			row := fmt.Sprintf(`{"id":"%s/providers/Microsoft.Security/assessments/%s","name":"%s","type":"microsoft.security/assessments","subscriptionId":"%s","resourceGroup":"rg","properties":{"resourceDetails":{"Source":"Azure","Id":"%s"},"displayName":"Recommendation %s","status":{"code":"%s"%s,"firstEvaluationDate":"2024-01-01T00:00:00Z"},"metadata":{"displayName":"Recommendation %s","severity":"%s","description":"A long description of the recommendation %s that repeats."}}}`,
				rid, key, key, sub, rid, key, code, cause, key, []string{"High", "Medium", "Low"}[r.IntN(3)], key)
			batch = append(batch, []byte(row))
			if len(batch) == 10000 {
				if err := db.Upsert("SecurityResources", batch...); err != nil {
					panic(err)
				}
				batch = batch[:0]
			}
		}
		benchDB = db
	})
	return benchDB.Snapshot()
}

func benchQuery(b *testing.B, text string) {
	snap := benchEstate(b)
	q, err := Parse(text, ParseOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := q.Run(context.Background(), snap, RunOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < res.Len(); i++ {
			for j := range res.Columns() {
				_ = res.Value(i, j)
			}
		}
	}
}

func BenchmarkQ1Exemptions100k(b *testing.B) {
	benchQuery(b, `SecurityResources
| where type == 'microsoft.security/assessments' and properties.status.cause == 'Exempt'
| extend assessmentKey = name, resourceId = tolower(trim(' ',tostring(properties.resourceDetails.Id))), healthStatus = properties.status.code, cause = properties.status.cause, reason = properties.status.description, displayName = properties.displayName
| project assessmentKey, id, name, displayName, resourceId, healthStatus, cause, reason`)
}

func BenchmarkQ2CountByStatus100k(b *testing.B) {
	benchQuery(b, `SecurityResources | summarize count() by tostring(properties.status.code)`)
}

func BenchmarkQ3FilteredCount100k(b *testing.B) {
	benchQuery(b, `SecurityResources | where subscriptionId == 'sub-07' and properties.metadata.severity == 'High' and properties.status.code == 'Unhealthy' | count`)
}

func BenchmarkTake10(b *testing.B) {
	benchQuery(b, `SecurityResources | take 10`)
}
