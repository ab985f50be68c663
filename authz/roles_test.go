package authz

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/posture/posture"
)

// TestBuiltinRoleActions asserts what each shipped built-in role allows and
// denies, as its actions and notActions lists read in the Azure built-in
// roles reference (SOURCE.md). A line that says "denied" is denied by the
// lists, even where a how-to page suggests otherwise (Contributor and
// exemption writes: Microsoft.Authorization/*/Write is in its notActions).
func TestBuiltinRoleActions(t *testing.T) {
	const (
		vmRead           = "Microsoft.Compute/virtualMachines/read"
		vmWrite          = "Microsoft.Compute/virtualMachines/write"
		exemptionRead    = "Microsoft.Authorization/policyExemptions/read"
		exemptionWrite   = ActionPolicyExemptionWrite
		exemptionDelete  = ActionPolicyExemptionDelete
		exempt           = ActionPolicyAssignmentExempt
		assignmentWrite  = "Microsoft.Authorization/policyAssignments/write"
		roleAssignWrite  = ActionRoleAssignmentWrite
		roleAssignDelete = ActionRoleAssignmentDelete
		roleAssignRead   = "Microsoft.Authorization/roleAssignments/read"
		roleDefWrite     = ActionRoleDefinitionWrite
		assessmentRead   = "Microsoft.Security/assessments/read"
		assessmentWrite  = "Microsoft.Security/assessments/write"
		subRead          = ActionSubscriptionRead
		rgRead           = ActionResourceGroupRead
		mgRead           = ActionManagementGroupRead
		graphRead        = ActionResourceGraphRead
		blobRead         = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
	)
	type check struct {
		action string
		data   bool
		want   bool
	}
	allow := func(a string) check { return check{action: a, want: true} }
	deny := func(a string) check { return check{action: a} }
	tests := map[string][]check{
		RoleOwner: {allow(vmWrite), allow(roleAssignWrite), allow(exemptionWrite), allow(exempt), allow("*"), allow(ActionReadAll),
			{action: blobRead, data: true, want: false}}, // "*" in actions grants no data action
		RoleContributor: {allow(vmWrite), allow(vmRead), allow(roleAssignRead), allow(exempt), allow(ActionReadAll),
			deny(roleAssignWrite), deny(roleAssignDelete), deny(roleDefWrite), deny(exemptionWrite), deny(exemptionDelete), deny(assignmentWrite),
			deny("Microsoft.Authorization/elevateAccess/Action"), deny("Microsoft.Compute/galleries/share/action"),
			deny("Microsoft.Subscription/cancel/action"), deny("Microsoft.Blueprint/blueprintAssignments/write"), deny("*")},
		RoleReader: {allow(vmRead), allow(exemptionRead), allow(subRead), allow(rgRead), allow(mgRead), allow(graphRead), allow(ActionReadAll),
			deny(vmWrite), deny(exemptionWrite), deny(exempt), deny(roleAssignWrite), deny("Microsoft.Compute/virtualMachines/start/action")},
		RoleUserAccessAdministrator: {allow(roleAssignWrite), allow(roleAssignDelete), allow(roleDefWrite), allow(exemptionWrite), allow(exempt),
			allow(vmRead), allow(ActionReadAll), allow("Microsoft.Support/supportTickets/write"), deny(vmWrite)},
		RoleRBACAdministrator: {allow(roleAssignWrite), allow(roleAssignDelete), allow(vmRead),
			deny(roleDefWrite), deny(exemptionWrite), deny(exempt), deny(vmWrite)},
		RoleSecurityAdmin: {allow(exemptionWrite), allow(exemptionDelete), allow(exempt), allow(assignmentWrite), allow(assessmentRead), allow(assessmentWrite),
			allow(rgRead), allow(mgRead), allow(roleAssignRead), allow("Microsoft.Resources/deployments/write"),
			deny(roleAssignWrite), deny(vmWrite), deny(vmRead), deny(subRead), deny(graphRead), deny(ActionReadAll)},
		RoleSecurityReader: {allow(assessmentRead), allow(exemptionRead), allow(rgRead), allow(mgRead), allow("Microsoft.Security/iotSensors/downloadResetPassword/action"),
			deny(assessmentWrite), deny(exemptionWrite), deny(exempt), deny(subRead), deny(vmRead), deny(ActionReadAll)},
		RoleSecurityAssessmentContributor: {allow(assessmentWrite), deny(assessmentRead), deny(exemptionWrite)},
		RoleResourcePolicyContributor: {allow(exemptionWrite), allow(exemptionDelete), allow(exempt), allow(assignmentWrite), allow(vmRead), allow(ActionReadAll),
			allow("Microsoft.PolicyInsights/policyStates/queryResults/action"), allow("Microsoft.Resources/deployments/write"),
			deny(roleAssignWrite), deny(vmWrite), deny("Microsoft.Authorization/roleDefinitions/write")},
		RolePolicyInsightsDataWriter: {allow(exemptionRead), allow("Microsoft.Authorization/policyAssignments/read"),
			deny(exemptionWrite), deny(exempt), deny(vmRead),
			{action: "Microsoft.PolicyInsights/policyEvents/logDataEvents/action", data: true, want: true},
			{action: "Microsoft.PolicyInsights/policyEvents/logDataEvents/action", want: false}},
	}
	for guid, checks := range tests {
		role, ok := BuiltinRole(guid)
		if !ok {
			t.Fatalf("built-in role %s missing", guid)
		}
		for _, c := range checks {
			got := role.Allows(c.action)
			if c.data {
				got = role.AllowsData(c.action)
			}
			if got != c.want {
				t.Errorf("%s: %q (data %v) allowed = %v, want %v", role.Properties.RoleName, c.action, c.data, got, c.want)
			}
		}
	}
	if len(tests) != len(BuiltinRoles()) {
		t.Errorf("table covers %d roles, %d are shipped", len(tests), len(BuiltinRoles()))
	}
}

func TestBuiltinRolesData(t *testing.T) {
	roles := BuiltinRoles()
	names := map[string]string{}
	for _, r := range roles {
		names[r.Properties.RoleName] = r.Name
		if r.ID != RoleDefinitionID(r.Name) || r.Type != RoleDefinitionType || r.Properties.RoleType != BuiltInRole {
			t.Errorf("%s: id %q, type %q, role type %q", r.Properties.RoleName, r.ID, r.Type, r.Properties.RoleType)
		}
		if diff := cmp.Diff([]string{"/"}, r.Properties.AssignableScopes); diff != "" {
			t.Errorf("%s assignable scopes (-want +got):\n%s", r.Properties.RoleName, diff)
		}
	}
	want := map[string]string{
		"Owner":                     RoleOwner,
		"Contributor":               RoleContributor,
		"Reader":                    RoleReader,
		"User Access Administrator": RoleUserAccessAdministrator,
		"Role Based Access Control Administrator": RoleRBACAdministrator,
		"Security Admin":                        RoleSecurityAdmin,
		"Security Reader":                       RoleSecurityReader,
		"Security Assessment Contributor":       RoleSecurityAssessmentContributor,
		"Resource Policy Contributor":           RoleResourcePolicyContributor,
		"Policy Insights Data Writer (Preview)": RolePolicyInsightsDataWriter,
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("built-in role names and GUIDs (-want +got):\n%s", diff)
	}
	if RoleOwner != posture.RoleOwner {
		t.Errorf("RoleOwner %s differs from posture.RoleOwner %s", RoleOwner, posture.RoleOwner)
	}
	// The lists are copied entry for entry; their lengths catch a dropped line.
	lengths := map[string][4]int{ // actions, notActions, dataActions, notDataActions
		RoleContributor:               {1, 11, 0, 0},
		RoleSecurityAdmin:             {14, 0, 0, 0},
		RoleSecurityReader:            {14, 0, 0, 0},
		RoleResourcePolicyContributor: {8, 0, 0, 0},
		RolePolicyInsightsDataWriter:  {4, 0, 2, 0},
	}
	for guid, n := range lengths {
		r, _ := BuiltinRole(guid)
		p := r.Properties.Permissions[0]
		if got := [4]int{len(p.Actions), len(p.NotActions), len(p.DataActions), len(p.NotDataActions)}; got != n {
			t.Errorf("%s list lengths %v, want %v", r.Properties.RoleName, got, n)
		}
	}
}

func TestRoleDefinitionJSONShape(t *testing.T) {
	r, _ := BuiltinRole("/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/" + RoleReader)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id":   "/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7",
		"name": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
		"type": "Microsoft.Authorization/roleDefinitions",
		"properties": map[string]any{
			"roleName":    "Reader",
			"description": "View all resources, but does not allow you to make any changes.",
			"type":        "BuiltInRole",
			"permissions": []any{map[string]any{
				"actions": []any{"*/read"}, "notActions": []any{}, "dataActions": []any{}, "notDataActions": []any{},
			}},
			"assignableScopes": []any{"/"},
			"createdOn":        nil, "updatedOn": nil, "createdBy": nil, "updatedBy": nil,
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Reader as JSON (-want +got):\n%s", diff)
	}
}

func TestBuiltinRolesAreCopies(t *testing.T) {
	r, _ := BuiltinRole(RoleReader)
	r.Properties.Permissions[0].Actions[0] = "*"
	again, _ := BuiltinRole(RoleReader)
	if again.Properties.Permissions[0].Actions[0] != "*/read" {
		t.Fatal("changing a returned role changed the shipped one")
	}
}

func TestRoleDefinitionGUID(t *testing.T) {
	for in, want := range map[string]string{
		"/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/ACDD72A7-3385-48EF-BD42-F606FBA81AE7": RoleReader,
		"/providers/Microsoft.Authorization/roleDefinitions/" + RoleOwner + "/":                                   RoleOwner,
		RoleContributor: RoleContributor,
	} {
		if got := RoleDefinitionGUID(in); got != want {
			t.Errorf("RoleDefinitionGUID(%q) = %q, want %q", in, got, want)
		}
	}
}
