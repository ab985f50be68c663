package authz

import (
	"fmt"
	"strings"

	"github.com/posture/posture/armid"
)

// Actions posture checks by name. The spellings are Azure's, as they appear
// in the built-in role definitions and the resource provider operations
// reference (see SOURCE.md).
const (
	ActionReadAll                = "*/read"
	ActionPolicyExemptionWrite   = "Microsoft.Authorization/policyExemptions/write"
	ActionPolicyExemptionDelete  = "Microsoft.Authorization/policyExemptions/delete"
	ActionPolicyAssignmentExempt = "Microsoft.Authorization/policyAssignments/exempt/action"
	ActionRoleAssignmentWrite    = "Microsoft.Authorization/roleAssignments/write"
	ActionRoleAssignmentDelete   = "Microsoft.Authorization/roleAssignments/delete"
	ActionRoleDefinitionWrite    = "Microsoft.Authorization/roleDefinitions/write"
	ActionRoleDefinitionDelete   = "Microsoft.Authorization/roleDefinitions/delete"
	ActionResourceGraphRead      = "Microsoft.ResourceGraph/resources/read"
	ActionSubscriptionRead       = "Microsoft.Resources/subscriptions/read"
	ActionResourceGroupRead      = "Microsoft.Resources/subscriptions/resourceGroups/read"
	ActionManagementGroupRead    = "Microsoft.Management/managementGroups/read"
)

// resourceGroupsType is the type armid reports for resource groups; Azure's
// actions name them under subscriptions, as in
// "Microsoft.Resources/subscriptions/resourceGroups/read" (Security Admin,
// Security Reader) and ".../resourceGroups/resources/read".
const (
	resourceGroupsType       = "Microsoft.Resources/resourceGroups"
	resourceGroupsActionType = "Microsoft.Resources/subscriptions/resourceGroups"
)

// ActionFor names the action Azure checks for an HTTP request to an ARM
// path: "{type}/read" for GET and HEAD, "/write" for PUT and PATCH,
// "/delete" for DELETE, and for POST to an action path
// "{type of the id}/{action}/action". The type is the full type path of the
// addressed resource, child types included
// ("Microsoft.Network/virtualNetworks/subnets/write"); for a collection it is
// the type of its items (listing virtual machines is
// "Microsoft.Compute/virtualMachines/read"). Resource groups are named under
// subscriptions as Azure does. A Resource Graph query
// (POST /providers/Microsoft.ResourceGraph/resources) is
// "Microsoft.ResourceGraph/resources/read".
func ActionFor(method string, p armid.Path) (string, error) {
	var verb string
	switch strings.ToUpper(method) {
	case "GET", "HEAD":
		verb = "read"
	case "PUT", "PATCH":
		verb = "write"
	case "DELETE":
		verb = "delete"
	case "POST":
		return postAction(p)
	default:
		return "", fmt.Errorf("authz: no ARM action for method %s", method)
	}
	var typ string
	switch {
	case !p.IsCollection():
		typ = p.ID.Type()
	case verb != "read":
		return "", fmt.Errorf("authz: %s is not an ARM operation on a collection", method)
	case p.Collection == "":
		// GET {scope}/providers/{namespace}: the provider's registration.
		// Azure names it under subscriptions; the tenant-level spelling is
		// ours.
		if p.ID.Kind() == armid.Subscription {
			return "Microsoft.Resources/subscriptions/providers/read", nil
		}
		return "Microsoft.Resources/providers/read", nil
	default:
		typ = p.ItemType()
	}
	return actionType(typ) + "/" + verb, nil
}

func postAction(p armid.Path) (string, error) {
	switch {
	case p.Collection == "":
		return "", fmt.Errorf("authz: POST to %s names no action", p.ID)
	case p.Namespace != "":
		if strings.EqualFold(p.Namespace, "Microsoft.ResourceGraph") && strings.EqualFold(p.Collection, "resources") {
			return ActionResourceGraphRead, nil
		}
		// e.g. POST /subscriptions/{s}/providers/Microsoft.Compute/register
		return p.Namespace + "/" + p.Collection + "/action", nil
	}
	return actionType(p.ID.Type()) + "/" + p.Collection + "/action", nil
}

// actionType turns an ARM type into the type path actions use.
func actionType(typ string) string {
	if len(typ) >= len(resourceGroupsType) && strings.EqualFold(typ[:len(resourceGroupsType)], resourceGroupsType) &&
		(len(typ) == len(resourceGroupsType) || typ[len(resourceGroupsType)] == '/') {
		return resourceGroupsActionType + typ[len(resourceGroupsType):]
	}
	return typ
}

// ReadAction names the action needed to read the resource with the given
// id (what a list or a Resource Graph row needs).
func ReadAction(id armid.ID) string {
	return actionType(id.Type()) + "/read"
}
