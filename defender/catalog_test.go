package defender_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/posture/posture/defender"
	"github.com/posture/posture/policy"
)

func TestCatalog(t *testing.T) {
	reg, err := policy.Builtins()
	if err != nil {
		t.Fatal(err)
	}
	c, err := defender.NewCatalog(reg)
	if err != nil {
		t.Fatal(err)
	}
	// One recommendation per member of the initiative (223 in v1).
	if len(c.Recommendations) != 223 {
		t.Errorf("%d recommendations, want 223", len(c.Recommendations))
	}
	derived := 0
	for _, r := range c.Recommendations {
		if len(r.Controls) == 0 || r.Severity == "" || r.DisplayName == "" || r.Description == "" || r.Remediation == "" {
			t.Errorf("%s is incomplete: %+v", r.ReferenceID, r)
		}
		if got, ok := c.Recommendation(strings.ToUpper(r.Key)); !ok || got != r {
			t.Errorf("%s: lookup by key %s fails", r.ReferenceID, r.Key)
		}
		if r.KeySource == "posture" {
			derived++
			u, err := uuid.Parse(r.Key)
			if err != nil || u.Version() != 5 || r.Key != defender.DerivedKey(strings.ToUpper(r.PolicyDefinitionID)) {
				t.Errorf("%s: derived key %s is not the v5 UUID of its definition id", r.ReferenceID, r.Key)
			}
		}
	}
	// defender/data names Defender's key for 164 of the 223 (its SOURCE.md).
	if derived != 223-164 {
		t.Errorf("%d derived keys, want %d", derived, 223-164)
	}
	// Defender's docs: "Key Vault secrets should have an expiration date" is
	// assessment 14257785-9437-97fa-11ae-898cfb24302b, severity High.
	r, ok := c.ByReference("secretsExpirationSet")
	if !ok || r.Key != "14257785-9437-97fa-11ae-898cfb24302b" || r.Severity != "High" || r.KeySource != "Defender" {
		t.Errorf("secretsExpirationSet: %+v", r)
	}
	// The classic controls and their points (azure-api-spec.md §3.2).
	want := map[string]int{
		"Enable MFA": 10, "Secure management ports": 8, "Apply system updates": 6, "Remediate vulnerabilities": 6,
		"Remediate security configurations": 4, "Manage access and permissions": 4, "Enable encryption at rest": 4,
		"Encrypt data in transit": 4, "Restrict unauthorized network access": 4, "Apply adaptive application control": 3,
		"Enable DDoS protection": 2, "Enable endpoint protection": 2, "Enable auditing and logging": 1,
		"Enable enhanced security features": 0, "Implement security best practices": 0,
	}
	if len(c.Controls) != len(want) {
		t.Errorf("%d controls, want %d", len(c.Controls), len(want))
	}
	for _, ctl := range c.Controls {
		if m, ok := want[ctl.DisplayName]; !ok || m != ctl.MaxScore {
			t.Errorf("control %s max %d, want %d (%v)", ctl.DisplayName, ctl.MaxScore, m, ok)
		}
		if _, err := uuid.Parse(ctl.Name); err != nil {
			t.Errorf("control %s: name %q is not a GUID", ctl.DisplayName, ctl.Name)
		}
	}
	if ctl, ok := c.Control("34A42FB3-E6DB-409C-B56B-7B1DB6B8AEE0"); !ok || ctl.DisplayName != "Enable MFA" {
		t.Errorf("Enable MFA by its API GUID: %v %v", ctl, ok)
	}
}

func TestDerivedKeyIsStable(t *testing.T) {
	a := defender.DerivedKey("/providers/Microsoft.Authorization/policyDefinitions/abc")
	if a != defender.DerivedKey("/PROVIDERS/microsoft.authorization/policydefinitions/ABC") {
		t.Error("the derived key depends on case")
	}
	if a == defender.DerivedKey("/providers/Microsoft.Authorization/policyDefinitions/abd") {
		t.Error("two definitions share a derived key")
	}
}
