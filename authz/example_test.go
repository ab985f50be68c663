package authz_test

import (
	"fmt"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/authz"
)

func Example() {
	// Where subscriptions sit is data: sub-1 is in management group "corp".
	corp := armid.ManagementGroupScope("corp")
	hierarchy := authz.HierarchyMap{"/subscriptions/sub-1": corp.Key()}

	a := authz.New(authz.Data{
		RoleAssignments: []posture.RoleAssignment{{
			ID:               corp.String() + "/providers/Microsoft.Authorization/roleAssignments/ra-1",
			PrincipalID:      "sec-team",
			RoleDefinitionID: authz.RoleDefinitionID(authz.RoleSecurityAdmin),
		}},
		Memberships: map[string][]string{"alice": {"sec-team"}},
	}, hierarchy)

	vm := "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
	exemption := vm + "/providers/Microsoft.Authorization/policyExemptions/ex1"
	assignment := corp.String() + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"

	// The action an HTTP request needs.
	path, _ := armid.ParsePath(exemption)
	action, _ := authz.ActionFor("PUT", path)
	fmt.Println(action)

	d, _ := a.Check("alice", action, exemption)
	fmt.Println(d.Allowed, d.RoleName, "via", d.Via)

	alice := &posture.Principal{ID: "alice", DisplayName: "alice@contoso.com"}
	fmt.Println(a.AuthorizeExemptionWrite(alice, exemption, assignment))

	// Security Admin does not read virtual machines.
	err := a.Authorize(alice, "Microsoft.Compute/virtualMachines/read", vm)
	fmt.Println(posture.ErrorCode(err))

	// Filtering rows: where may alice read assessments?
	set, _ := a.ReadableScopes("alice", "Microsoft.Security/assessments/read")
	fmt.Println(set.ManagementGroups(), set.ContainsSubscription("sub-1"), set.ContainsSubscription("sub-2"))
	// Output:
	// Microsoft.Authorization/policyExemptions/write
	// true Security Admin via sec-team
	// <nil>
	// AuthorizationFailed
	// [/providers/microsoft.management/managementgroups/corp] true false
}
