package defender

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/posture/posture"
)

func TestExemptionOf(t *testing.T) {
	id := "/subscriptions/s1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1/providers/microsoft.authorization/policyexemptions/ex1"
	for _, c := range []struct{ desc, category, until string }{
		{"Exempted by the policy exemption " + id + " (Waiver) until 2026-12-20T00:00:00Z.", "Waiver", "2026-12-20T00:00:00Z"},
		{"Exempted by the policy exemption " + id + " (Mitigated).", "Mitigated", ""},
	} {
		gotID, cat, until, ok := ExemptionOf(c.desc)
		if !ok || gotID != id || cat != c.category || until != c.until {
			t.Errorf("ExemptionOf(%q) = %q %q %q %v", c.desc, gotID, cat, until, ok)
		}
	}
	if _, _, _, ok := ExemptionOf("The policy exemption x (Waiver) expired at 2026-01-01T00:00:00Z; the resource is assessed again."); ok {
		t.Error("an ended exemption's description read as a live one")
	}
}

// TestInternExemptionCopies: the index keeps its own copy of an exemption's
// id. The store hands states over as slices of the row's whole text (a
// kilobyte or more); a kept slice would keep that text alive for as long
// as the exemption stamps anything (68 MB at 100,000 resources once).
func TestInternExemptionCopies(t *testing.T) {
	id := "/subscriptions/s1/providers/microsoft.authorization/policyexemptions/ex1"
	row := strings.Repeat("x", 4096) + id + "Waiver"
	st := &posture.PolicyState{Exemption: row[4096 : 4096+len(id)], ExemptionCategory: row[4096+len(id):]}
	var s Service
	n := s.internExemption(st)
	got := s.exemptionOf(entry{exm: n})
	if got.id != id || got.category != "Waiver" {
		t.Fatalf("exemptionOf = %+v", got)
	}
	for _, kept := range []string{got.id, got.category} {
		p, lo := uintptr(unsafe.Pointer(unsafe.StringData(kept))), uintptr(unsafe.Pointer(unsafe.StringData(row)))
		if p >= lo && p < lo+uintptr(len(row)) {
			t.Errorf("%q is kept as a slice of the store's row", kept)
		}
	}
	if again := s.internExemption(st); again != n {
		t.Errorf("the same exemption interned twice: %d, then %d", n, again)
	}
}
