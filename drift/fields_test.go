package drift_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/posture/posture/drift"
)

// Each expectation is reasoned from the definition's policyRule in
// policy/builtin (file named in the constant's comment).
func TestFieldsBuiltins(t *testing.T) {
	tests := []struct {
		name, def string
		want      []string
	}{
		{
			// if: type equals storageAccounts; not(id contains
			// "/resourceGroups/aro-" and name like cluster*/imageregistry*);
			// not(allowBlobPublicAccess equals "false"). The ARO exclusion
			// reads id and name.
			"storage public access", defStoragePublicAccess,
			[]string{"id", "name", "properties.allowBlobPublicAccess", "type"},
		},
		{
			// if: type equals Microsoft.Sql/servers, kind notContains
			// "analytics". The existenceCondition's
			// Microsoft.Sql/auditingSettings.state is read from the
			// related auditingSettings resource, not the server.
			"SQL server auditing", defSQLAuditing,
			[]string{"kind", "type"},
		},
		{
			// if: type; createMode notEquals recover; enableSoftDelete
			// (equals false / exists false, chosen by
			// requestContext().apiVersion, which reads no field);
			// enablePurgeProtection exists false / equals false.
			"Key Vault purge protection", defKeyVaultPurge,
			[]string{"properties.createMode", "properties.enablePurgeProtection", "properties.enableSoftDelete", "type"},
		},
		{
			// Also reads fields inside counts: the ipRules[*] count, the
			// ipRules[*].value named by current(), and
			// length(field('…ipRules[*]')).
			"Key Vault firewall", defKeyVaultFirewall,
			[]string{
				"properties.createMode", "properties.networkAcls.defaultAction",
				"properties.networkAcls.ipRules[*]", "properties.networkAcls.ipRules[*].value",
				"properties.publicNetworkAccess", "type",
			},
		},
	}
	for _, tt := range tests {
		got := drift.Fields(reference(t, tt.def))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s (%s): Fields = %q, want %q", tt.name, tt.def, got, tt.want)
		}
	}
	if got := drift.Fields(nil); got != nil {
		t.Errorf("Fields(nil) = %q", got)
	}
}

// Microsoft.Compute/imagePublisher reads another path on scale sets than
// the default one Facts shows; Fields lists both, so a scale set's image
// change is not missed.
func TestFieldsPerTypeAliases(t *testing.T) {
	got := drift.Fields(reference(t, defVMSSGuestAttestation))
	for _, want := range []string{
		"properties.virtualMachineProfile.storageProfile.imageReference.publisher",
		"properties.virtualMachineProfile.storageProfile.imageReference.offer",
		"properties.virtualMachineProfile.storageProfile.imageReference.sku",
		"properties.virtualMachineProfile.securityProfile.uefiSettings.vTpmEnabled",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("Fields lacks %s: %q", want, got)
		}
	}
}

// Over every MCSB member: sorted ignoring case, without duplicates, and
// listing every field the if-condition reads.
func TestFieldsAllMembers(t *testing.T) {
	members := 0
	for _, ca := range mcsbAssignments(t) {
		for _, cr := range ca.References {
			got := drift.Fields(cr)
			for i := 1; i < len(got); i++ {
				if strings.ToLower(got[i-1]) >= strings.ToLower(got[i]) {
					t.Errorf("%s: not sorted and unique: %q", cr.ReferenceID, got)
				}
			}
			for _, f := range cr.Facts.Fields {
				if f.Related {
					continue
				}
				for _, p := range f.ReadPaths() {
					if !slices.ContainsFunc(got, func(g string) bool { return strings.EqualFold(g, p) }) {
						t.Errorf("%s: Fields lacks %s", cr.ReferenceID, p)
					}
				}
			}
			if len(got) > 0 {
				members++
			}
		}
	}
	if members < 500 {
		t.Errorf("only %d members read fields", members)
	}
}
