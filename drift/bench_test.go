package drift_test

import (
	"testing"

	"github.com/posture/posture/drift"
)

// BenchmarkTake fingerprints the storage account example with the
// public-access rule's fields (id, name, allowBlobPublicAccess, type): the
// work drift review adds per exempted resource and scan.
func BenchmarkTake(b *testing.B) {
	fields := drift.Fields(reference(b, defStoragePublicAccess))
	r := resource(b, storageDoc(b, false))
	b.ReportAllocs()
	for b.Loop() {
		drift.Take(fields, r)
	}
}

// BenchmarkTakeWide reads larger values: whole objects and a [*] path.
func BenchmarkTakeWide(b *testing.B) {
	fields := []string{"properties.encryption", "properties.networkAcls", "properties.networkAcls.resourceAccessRules[*].tenantId", "properties.primaryEndpoints", "tags", "type"}
	r := resource(b, storageDoc(b, false))
	b.ReportAllocs()
	for b.Loop() {
		drift.Take(fields, r)
	}
}

func BenchmarkChanged(b *testing.B) {
	fields := drift.Fields(reference(b, defStoragePublicAccess))
	old := drift.Take(fields, resource(b, storageDoc(b, false)))
	cur := drift.Take(fields, resource(b, storageDoc(b, true)))
	b.ReportAllocs()
	for b.Loop() {
		drift.Changed(old, cur)
	}
}
