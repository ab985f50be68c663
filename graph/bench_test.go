package graph

import (
	"testing"
	"time"

	"github.com/posture/posture"
)

// BenchmarkStateRow measures building one policy state row (a full load
// builds one per resource and definition): go test ./graph -bench StateRow
func BenchmarkStateRow(b *testing.B) {
	g := &Service{TenantID: "t"}
	row := &posture.ResourceStates{ResourceKey: "/subscriptions/0e20e63c-e30e-4971-8e4c-0225c7b06595/resourcegroups/rg-web-prod-01/providers/microsoft.storage/storageaccounts/stwebprod001",
		AssignmentKey: "/subscriptions/0e20e63c-e30e-4971-8e4c-0225c7b06595/providers/microsoft.authorization/policyassignments/securitycenterbuiltin",
		ResourceType:  "microsoft.storage/storageaccounts", SubscriptionID: "0e20e63c-e30e-4971-8e4c-0225c7b06595"}
	st := posture.PolicyState{ReferenceID: "secureTransferToStorageAccountMonitoring", State: "NonCompliant", Effect: "Audit", FirstEvaluated: time.Now(), ChangedAt: time.Now()}
	for b.Loop() {
		g.stateRow(row, st)
	}
}

// BenchmarkResourceRow measures the row of one document as a write
// publishes it: an assessment Defender derived and an exemption (which
// gets its status first): go test ./graph -bench ResourceRow
func BenchmarkResourceRow(b *testing.B) {
	g := &Service{TenantID: "t", Now: time.Now}
	for _, r := range benchDocs() {
		b.Run(r.Name, func(b *testing.B) {
			for b.Loop() {
				g.resourceRow(r)
			}
		})
	}
}

func benchDocs() []*posture.Resource {
	sa := "/subscriptions/0e20e63c-e30e-4971-8e4c-0225c7b06595/resourceGroups/rg-web-prod-01/providers/Microsoft.Storage/storageAccounts/stwebprod001"
	assessment := &posture.Resource{ID: sa + "/providers/Microsoft.Security/assessments/1c5de8e1-f68d-6a17-e0d2-ec259c42768c", Name: "1c5de8e1-f68d-6a17-e0d2-ec259c42768c",
		Type: "Microsoft.Security/assessments", Body: []byte(`{"id":"` + sa + `/providers/Microsoft.Security/assessments/1c5de8e1-f68d-6a17-e0d2-ec259c42768c","name":"1c5de8e1-f68d-6a17-e0d2-ec259c42768c","type":"Microsoft.Security/assessments",` +
			`"properties":{"resourceDetails":{"Source":"Azure","Id":"` + sa + `","ResourceName":"stwebprod001","ResourceType":"Microsoft.Storage/storageAccounts"},"displayName":"Secure transfer to storage accounts should be enabled",` +
			`"status":{"code":"NotApplicable","cause":"Exempt","description":"Exempted by waive-sa (Waiver)","firstEvaluationDate":"2026-11-01T00:00:00Z","statusChangeDate":"2026-11-24T12:00:00Z"},` +
			`"metadata":{"displayName":"Secure transfer to storage accounts should be enabled","severity":"High","categories":["Data"],"assessmentType":"BuiltIn","policyDefinitionId":"/providers/Microsoft.Authorization/policyDefinitions/404c3081-a854-4457-ae30-26a93ef643f9","implementationEffort":"Low","userImpact":"Low","threats":["DataExfiltration"]},` +
			`"links":{"azurePortal":"portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/1c5de8e1-f68d-6a17-e0d2-ec259c42768c"},"additionalData":{"policyDefinitionReferenceId":"secureTransferToStorageAccountMonitoring"}}}`)}
	exemption := &posture.Resource{ID: sa + "/providers/Microsoft.Authorization/policyExemptions/waive-sa", Name: "waive-sa", Type: "Microsoft.Authorization/policyExemptions",
		Body: []byte(`{"properties":{"policyAssignmentId":"/subscriptions/0e20e63c-e30e-4971-8e4c-0225c7b06595/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn","policyDefinitionReferenceIds":["secureTransferToStorageAccountMonitoring"],` +
			`"exemptionCategory":"Waiver","expiresOn":"2027-01-01T00:00:00Z","displayName":"Load test exemption","description":"Risk accepted until the vendor's fix ships.","metadata":{"ticketRef":"CHG-1","owner":"ann@contoso.com"},"assignmentScopeValidation":"Default"},` +
			`"systemData":{"createdBy":"ann","createdByType":"User","createdAt":"2026-11-24T12:00:00Z","lastModifiedBy":"ann","lastModifiedByType":"User","lastModifiedAt":"2026-11-24T12:00:00Z"},"id":"` + sa + `/providers/Microsoft.Authorization/policyExemptions/waive-sa","type":"Microsoft.Authorization/policyExemptions","name":"waive-sa"}`)}
	tagged := &posture.Resource{ID: sa, Name: "stwebprod001", Type: "Microsoft.Storage/storageAccounts", Location: "westeurope",
		Body: []byte(`{"id":"` + sa + `","name":"stwebprod001","type":"Microsoft.Storage/storageAccounts","location":"westeurope","kind":"StorageV2","sku":{"name":"Standard_LRS","tier":"Standard"},"tags":{"env":"prod","owner":"web"},` +
			`"identity":{"type":"SystemAssigned"},"properties":{"supportsHttpsTrafficOnly":false,"minimumTlsVersion":"TLS1_0","allowBlobPublicAccess":true,"networkAcls":{"defaultAction":"Allow","bypass":"AzureServices"}}}`)}
	assessment.Name, exemption.Name, tagged.Name = "assessment", "exemption", "resource"
	return []*posture.Resource{assessment, exemption, tagged}
}
