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
