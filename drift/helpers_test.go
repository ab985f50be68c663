package drift_test

import (
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/posture/posture/policy"
)

var (
	mcsbOnce sync.Once
	mcsb     []*policy.CompiledAssignment // v1, v2
	mcsbErr  error
)

// mcsbAssignments compiles the MCSB v1 and v2 assignments once, as
// policy/doc.go shows.
func mcsbAssignments(t testing.TB) []*policy.CompiledAssignment {
	t.Helper()
	mcsbOnce.Do(func() {
		reg, err := policy.Builtins()
		if err != nil {
			mcsbErr = err
			return
		}
		for _, id := range []string{policy.MCSBv1ID, policy.MCSBv2ID} {
			ca, err := policy.Compile(&policy.Assignment{PolicyDefinitionID: id, Scope: "/subscriptions/s"}, reg)
			if err != nil {
				mcsbErr = err
				return
			}
			mcsb = append(mcsb, ca)
		}
	})
	if mcsbErr != nil {
		t.Fatal(mcsbErr)
	}
	return mcsb
}

// reference finds the MCSB member (v1 first, then v2) whose definition has
// the given name (the GUID of the built-in definition).
func reference(t testing.TB, definitionName string) *policy.CompiledReference {
	t.Helper()
	for _, ca := range mcsbAssignments(t) {
		for _, cr := range ca.References {
			if cr.Definition.Name == definitionName {
				return cr
			}
		}
	}
	t.Fatalf("MCSB has no member for definition %s", definitionName)
	return nil
}

// Built-in definitions used by the tests (policy/builtin).
const (
	// Storage/ASC_Storage_DisallowPublicBlobAccess_Audit.json, "Storage
	// account public access should be disallowed".
	defStoragePublicAccess = "4fa4b6c0-31ca-4c0d-b10d-24b96f62a751"
	// SQL/SqlServerAuditing_Audit.json, "Auditing on SQL server should be
	// enabled" (AuditIfNotExists on servers/auditingSettings).
	defSQLAuditing = "a6fb4358-5bf4-4ad7-ba82-2cd2f41ce5e9"
	// Key Vault/Recoverable_Audit.json, "Key vaults should have deletion
	// protection enabled".
	defKeyVaultPurge = "0b60c0b2-2dc2-4e1c-b5c9-abbed971de53"
	// Key Vault/FirewallEnabled_Audit.json, "Azure Key Vault should have
	// firewall enabled or public network access disabled".
	defKeyVaultFirewall = "55615ac9-af46-4a59-874e-391cc3dfb490"
	// Security Center/ASC_InstallLinuxGAExtOnVmss_Audit.json, "Guest
	// Attestation extension should be installed on supported Linux virtual
	// machines scale sets".
	defVMSSGuestAttestation = "a21f8c92-9e22-4f09-b759-50500d1d2dda"
)

// storageDoc returns the storage account example, decoded, with
// properties.allowBlobPublicAccess set to allow (nil: left absent).
func storageDoc(t testing.TB, allow any) map[string]any {
	t.Helper()
	data, err := os.ReadFile("testdata/storageAccount.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if allow != nil {
		doc["properties"].(map[string]any)["allowBlobPublicAccess"] = allow
	}
	return doc
}

func resource(t testing.TB, doc map[string]any) *policy.Resource {
	t.Helper()
	r, err := policy.NewResource(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func resourceJSON(t testing.TB, data string) *policy.Resource {
	t.Helper()
	r, err := policy.NewResourceJSON([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
