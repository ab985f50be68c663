package authz

import (
	"strings"
	"testing"

	"github.com/posture/posture"
)

func TestDenialMessages(t *testing.T) {
	user := &posture.Principal{ID: "11b1042e-d5b6-4f65-b308-d69565f16f1e", DisplayName: "alice@contoso.com"}
	err := Deny(user, "Microsoft.Authorization/roleAssignments/write", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/ra1")
	// The wording of Azure's message, e.g. Azure/azure-powershell#10917.
	want := "The client 'alice@contoso.com' with object id '11b1042e-d5b6-4f65-b308-d69565f16f1e' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/ra1' or the scope is invalid. If access was recently granted, please refresh your credentials."
	if err.Kind != posture.EFORBIDDEN || err.Code != "AuthorizationFailed" || err.Message != want {
		t.Errorf("Deny = %+v\nwant message %s", err, want)
	}
	sp := &posture.Principal{ID: "24bd450f-6acd-4c09-8eba-9a43207e2bdc"}
	if got := Deny(sp, "a/b/read", "/").Message; !strings.HasPrefix(got, "The client '24bd450f-6acd-4c09-8eba-9a43207e2bdc' with object id '24bd450f-6acd-4c09-8eba-9a43207e2bdc' does not") {
		t.Errorf("a principal without a name is named by its id: %s", got)
	}
	linked := LinkedDeny(user, ActionPolicyExemptionWrite, "/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e", ActionPolicyAssignmentExempt, "/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/policyAssignments/a")
	wantLinked := "The client 'alice@contoso.com' with object id '11b1042e-d5b6-4f65-b308-d69565f16f1e' has permission to perform action 'Microsoft.Authorization/policyExemptions/write' on scope '/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e'; however, it does not have permission to perform action 'Microsoft.Authorization/policyAssignments/exempt/action' on the linked scope(s) '/providers/Microsoft.Management/managementGroups/mg/providers/Microsoft.Authorization/policyAssignments/a' or the linked scope(s) are invalid."
	if linked.Kind != posture.EFORBIDDEN || linked.Code != "LinkedAuthorizationFailed" || linked.Message != wantLinked {
		t.Errorf("LinkedDeny = %+v\nwant message %s", linked, wantLinked)
	}
	nf := RoleDefinitionNotFound("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/ABC")
	if nf.Kind != posture.ENOTFOUND || nf.Message != "The specified role definition with ID 'abc' does not exist." {
		t.Errorf("RoleDefinitionNotFound = %+v", nf)
	}
}
