package authz

import (
	"errors"
	"fmt"

	"github.com/posture/posture"
)

// ARM error codes this package returns. Where a code is Azure's, the comment
// names a public place that shows Azure returning it; the others are ours,
// chosen where no public source shows Azure's code.
const (
	// CodeAuthorizationFailed: 403 for a missing permission. Message text
	// seen in Azure/azure-powershell#10917, Azure/azure-rest-api-specs#25873,
	// pulumi/pulumi-azure#595.
	CodeAuthorizationFailed = "AuthorizationFailed"
	// CodeLinkedAuthorizationFailed: 403 when the permission on the request
	// scope is there but the one on a linked scope is not. Message text seen
	// in Azure/aad-pod-identity#443 and #613.
	CodeLinkedAuthorizationFailed = "LinkedAuthorizationFailed"
	// CodeRoleDefinitionDoesNotExist: message seen in the
	// Azure/terraform-azurerm-caf-enterprise-scale troubleshooting wiki
	// (404 on GET); JulianHayward/AzAPICall#23 handles the code.
	CodeRoleDefinitionDoesNotExist = "RoleDefinitionDoesNotExist"
	// CodeInvalidActionOrNotAction: 400 for an action Azure does not know,
	// MicrosoftDocs/azure-docs#102571, Azure/azure-cli#4187. posture knows
	// no provider catalogue, so it rejects only malformed action strings.
	CodeInvalidActionOrNotAction = "InvalidActionOrNotAction"
	// CodeRoleDefinitionWithSameNameExists: 409 with "A role definition
	// cannot be updated with a name that already exists.", Azure/ARO-RP#1346.
	CodeRoleDefinitionWithSameNameExists = "RoleDefinitionWithSameNameExists"
	// CodeRoleDefinitionHasAssignments: "There are existing role assignments
	// referencing role", azure-docs custom-roles.md and troubleshooting.md.
	CodeRoleDefinitionHasAssignments = "RoleDefinitionHasAssignments"
	// CodeInvalidCreateRoleAssignmentRequest: 400 with "Role assignments to
	// Management Groups can not be made to custom role definitions with
	// DataActions", netr0m/az-pim-cli#97. posture uses it for every rule a
	// new role assignment breaks.
	CodeInvalidCreateRoleAssignmentRequest = "InvalidCreateRoleAssignmentRequest"
	// CodeRoleAssignmentExists: 409 "The role assignment already exists.",
	// MicrosoftDocs/azure-docs#24423.
	CodeRoleAssignmentExists = "RoleAssignmentExists"
	// CodeInvalidRequestContent: ARM's code for a body that is not the
	// expected JSON (shared/docs/azure-api-spec.md §1.5).
	CodeInvalidRequestContent = "InvalidRequestContent"

	// CodeInvalidAssignableScope is ours: Azure documents the rules (no
	// root, no wildcard, one management group at most) but no public
	// source shows its code.
	CodeInvalidAssignableScope = "InvalidAssignableScope"
	// CodeInvalidRoleDefinition is ours, for the other rules a custom role
	// breaks (name, description, id, permissions present).
	CodeInvalidRoleDefinition = "InvalidRoleDefinition"
	// CodeBuiltInRoleNotModifiable is ours: built-in roles cannot be
	// written or deleted.
	CodeBuiltInRoleNotModifiable = "BuiltInRoleNotModifiable"
	// CodeInvalidAction is ours: a check asked about a malformed action,
	// which is a bug in the caller.
	CodeInvalidAction = "InvalidAction"
	// CodeInvalidScope is ours: a check or listing named a scope that is
	// not an ARM id.
	CodeInvalidScope = "InvalidScope"
)

// ClientName is the name Azure puts first in an AuthorizationFailed
// message: the display name (a user's UPN in Azure) when there is one,
// otherwise the object id.
func ClientName(p *posture.Principal) string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.ID
}

// AuthorizationFailed returns Azure's 403 for a client that lacks action
// over scope. scope should be the id the request addresses (Azure reports
// the full id, e.g. a role assignment's id, not its parent scope).
func AuthorizationFailed(client, objectID, action, scope string) *posture.Error {
	e := posture.Errorf(posture.EFORBIDDEN, CodeAuthorizationFailed,
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		client, objectID, action, scope)
	e.Err = &Denial{Action: action, Scope: scope}
	return e
}

// Denial is the cause of a 403 from this package: what was refused where,
// for the audit ledger.
type Denial struct{ Action, Scope string }

func (d *Denial) Error() string { return "denied " + d.Action + " over " + d.Scope }

// DeniedActionScope returns the action and scope of a 403 made by this
// package ("", "" for another error).
func DeniedActionScope(err error) (action, scope string) {
	var d *Denial
	if errors.As(err, &d) {
		return d.Action, d.Scope
	}
	return "", ""
}

// Deny is AuthorizationFailed for a principal.
func Deny(p *posture.Principal, action, scope string) *posture.Error {
	return AuthorizationFailed(ClientName(p), p.ID, action, scope)
}

// LinkedDeny returns Azure's 403 for a principal that may perform action
// over scope but not linkedAction over linkedScope, such as an exemption
// write whose author may not exempt the policy assignment.
func LinkedDeny(p *posture.Principal, action, scope, linkedAction, linkedScope string) *posture.Error {
	e := posture.Errorf(posture.EFORBIDDEN, CodeLinkedAuthorizationFailed,
		"The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action '%s' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
		ClientName(p), p.ID, action, scope, linkedAction, linkedScope)
	e.Err = &Denial{Action: linkedAction, Scope: linkedScope}
	return e
}

// RoleDefinitionNotFound returns the 404 for a role definition id that
// names no role.
func RoleDefinitionNotFound(id string) *posture.Error {
	return roleDefinitionDoesNotExist(posture.ENOTFOUND, id)
}

func roleDefinitionDoesNotExist(kind posture.Kind, id string) *posture.Error {
	return posture.Errorf(kind, CodeRoleDefinitionDoesNotExist, "The specified role definition with ID '%s' does not exist.", RoleDefinitionGUID(id))
}

// RoleDefinitionHasAssignments returns the 409 for deleting a custom role
// that role assignments still use. (409 is our choice of status.)
func RoleDefinitionHasAssignments() *posture.Error {
	return posture.Errorf(posture.ECONFLICT, CodeRoleDefinitionHasAssignments, "There are existing role assignments referencing role.")
}

func invalidf(code, target, format string, args ...any) *posture.Error {
	return posture.Errorf(posture.EINVALID, code, format, args...).WithTarget(target)
}

func invalidAction(target, action, reason string) *posture.Error {
	return invalidf(CodeInvalidActionOrNotAction, target, "The action '%s' is not valid: %s.", action, reason)
}

func fieldf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
