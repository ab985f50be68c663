package authz

import (
	"testing"

	"github.com/posture/posture/armid"
)

func TestActionFor(t *testing.T) {
	const sub = "/subscriptions/00000000-0000-0000-0000-000000000000"
	tests := []struct {
		method, path, want string
	}{
		{"GET", sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "Microsoft.Compute/virtualMachines/read"},
		{"HEAD", sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "Microsoft.Compute/virtualMachines/read"},
		{"PUT", sub + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s1", "Microsoft.Network/virtualNetworks/subnets/write"},
		{"PATCH", sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "Microsoft.Compute/virtualMachines/write"},
		{"DELETE", sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "Microsoft.Compute/virtualMachines/delete"},
		{"POST", sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/restart", "Microsoft.Compute/virtualMachines/restart/action"},
		// Resource groups and subscriptions, spelled as in Security Admin,
		// Security Reader and App Compliance Automation Administrator.
		{"GET", sub + "/resourcegroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/read"},
		{"PUT", sub + "/resourceGroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/write"},
		{"DELETE", sub + "/resourceGroups/rg", "Microsoft.Resources/subscriptions/resourceGroups/delete"},
		{"GET", sub + "/resourcegroups", "Microsoft.Resources/subscriptions/resourceGroups/read"},
		{"GET", sub + "/resourceGroups/rg/resources", "Microsoft.Resources/subscriptions/resourceGroups/resources/read"},
		{"POST", sub + "/resourceGroups/rg/exportTemplate", "Microsoft.Resources/subscriptions/resourceGroups/exportTemplate/action"},
		{"GET", sub, "Microsoft.Resources/subscriptions/read"},
		{"GET", "/subscriptions", "Microsoft.Resources/subscriptions/read"},
		{"GET", sub + "/resources", "Microsoft.Resources/subscriptions/resources/read"},
		{"GET", sub + "/locations/westus", "Microsoft.Resources/subscriptions/locations/read"},
		{"GET", sub + "/providers/Microsoft.Compute", "Microsoft.Resources/subscriptions/providers/read"},
		{"POST", sub + "/providers/Microsoft.Compute/register", "Microsoft.Compute/register/action"},
		{"GET", "/providers/Microsoft.Management/managementGroups/mg1", "Microsoft.Management/managementGroups/read"},
		{"GET", "/providers/Microsoft.Management/managementGroups", "Microsoft.Management/managementGroups/read"},
		{"PUT", "/providers/Microsoft.Management/managementGroups/mg1/subscriptions/s1", "Microsoft.Management/managementGroups/subscriptions/write"},
		{"PUT", sub + "/providers/Microsoft.Authorization/policyExemptions/ex1", "Microsoft.Authorization/policyExemptions/write"},
		{"PUT", sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Authorization/policyExemptions/ex1", "Microsoft.Authorization/policyExemptions/write"},
		{"DELETE", "/providers/Microsoft.Management/managementGroups/mg1/providers/Microsoft.Authorization/policyExemptions/ex1", "Microsoft.Authorization/policyExemptions/delete"},
		{"GET", sub + "/providers/Microsoft.Authorization/policyExemptions", "Microsoft.Authorization/policyExemptions/read"},
		{"GET", sub + "/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Security/assessments/21300918-b2e3-0346-785f-c77ff57d243b", "Microsoft.Security/assessments/read"},
		{"GET", sub + "/providers/Microsoft.Security/assessments", "Microsoft.Security/assessments/read"},
		{"PUT", sub + "/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/ra1", "Microsoft.Authorization/roleAssignments/write"},
		{"DELETE", sub + "/providers/Microsoft.Authorization/roleAssignments/ra1", "Microsoft.Authorization/roleAssignments/delete"},
		{"PUT", sub + "/providers/Microsoft.Authorization/roleDefinitions/88888888-8888-8888-8888-888888888888", "Microsoft.Authorization/roleDefinitions/write"},
		{"POST", "/providers/Microsoft.ResourceGraph/resources", "Microsoft.ResourceGraph/resources/read"},
		{"post", "/providers/Posture.Estate/import", "Posture.Estate/import/action"},
	}
	for _, tt := range tests {
		p, err := armid.ParsePath(tt.path)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", tt.path, err)
		}
		got, err := ActionFor(tt.method, p)
		if err != nil || got != tt.want {
			t.Errorf("ActionFor(%s %s) = %q, %v; want %q", tt.method, tt.path, got, err, tt.want)
		}
	}
	for _, bad := range []struct{ method, path string }{
		{"OPTIONS", "/subscriptions/s"},
		{"PUT", "/subscriptions/s/resourcegroups"},
		{"POST", "/subscriptions/s/resourceGroups/rg"},
	} {
		p, _ := armid.ParsePath(bad.path)
		if got, err := ActionFor(bad.method, p); err == nil {
			t.Errorf("ActionFor(%s %s) = %q, want an error", bad.method, bad.path, got)
		}
	}
}

func TestActionForMatchesTheRoles(t *testing.T) {
	// The names ActionFor produces are the ones the built-in roles grant:
	// Security Reader reads resource groups and management groups by these
	// spellings, and Reader's */read covers them all.
	reader, _ := BuiltinRole(RoleSecurityReader)
	for _, path := range []string{"/subscriptions/s/resourceGroups/rg", "/providers/Microsoft.Management/managementGroups/mg"} {
		p, _ := armid.ParsePath(path)
		action, _ := ActionFor("GET", p)
		if !reader.Allows(action) {
			t.Errorf("Security Reader does not allow %q", action)
		}
	}
	if got := ReadAction(armid.MustParse("/subscriptions/s/resourceGroups/rg")); got != ActionResourceGroupRead {
		t.Errorf("ReadAction(resource group) = %q", got)
	}
}
