package defender

import "testing"

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
