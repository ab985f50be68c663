package authz

import (
	"github.com/posture/posture"
)

// Granting access follows Azure: whoever holds
// Microsoft.Authorization/roleAssignments/write at a scope (Owner, User
// Access Administrator, Role Based Access Control Administrator) may assign
// any role assignable there, including roles with more permissions than
// their own. A User Access Administrator can therefore make anyone, itself
// included, an Owner; Azure documents UAA as able to manage all access, and
// posture keeps that so that Azure tools, scripts and habits work unchanged.
// Narrowing who may grant is done by not handing out those three roles (or
// custom roles with roleAssignments/write) rather than by a rule Azure does
// not have. The check is on the role assignment's own id, as Azure reports
// it in its AuthorizationFailed message.

// AuthorizeRoleAssignmentWrite returns nil when the caller may create the
// role assignment: the caller needs
// Microsoft.Authorization/roleAssignments/write at the assignment (403
// AuthorizationFailed otherwise, decided before anything about the request
// is revealed), and the assignment must pass ValidateRoleAssignment.
func (a *Authorizer) AuthorizeRoleAssignmentWrite(caller *posture.Principal, ra posture.RoleAssignment) error {
	target := ra.ID
	if target == "" {
		target = ra.Scope
	}
	if err := a.Authorize(caller, ActionRoleAssignmentWrite, target); err != nil {
		return err
	}
	return a.ValidateRoleAssignment(ra)
}

// AuthorizeRoleDefinitionWrite returns nil when the caller may create or
// update the custom role: Microsoft.Authorization/roleDefinitions/write is
// needed at every assignable scope of the role (custom-roles.md, "Who can
// create, delete, update, or view a custom role"); the 403 names the first
// scope that lacks it. The caller also needs it at the scopes of the role's
// current version, so that nobody can take a role away from where others
// manage it; pass the current version as old, or nil for a new role.
func (a *Authorizer) AuthorizeRoleDefinitionWrite(caller *posture.Principal, def RoleDefinition, old *RoleDefinition) error {
	scopes := def.Properties.AssignableScopes
	if old != nil {
		scopes = append(append([]string(nil), scopes...), old.Properties.AssignableScopes...)
	}
	for _, s := range scopes {
		if err := a.Authorize(caller, ActionRoleDefinitionWrite, s); err != nil {
			return err
		}
	}
	return nil
}

// AuthorizeExemptionWrite returns nil when the caller may create or update
// the policy exemption exemptionID for the policy assignment assignmentID.
// Azure checks two permissions: Microsoft.Authorization/policyExemptions/write
// over the exemption (403 AuthorizationFailed) and
// Microsoft.Authorization/policyAssignments/exempt/action over the
// assignment, the linked scope (403 LinkedAuthorizationFailed).
func (a *Authorizer) AuthorizeExemptionWrite(caller *posture.Principal, exemptionID, assignmentID string) error {
	if err := a.Authorize(caller, ActionPolicyExemptionWrite, exemptionID); err != nil {
		return err
	}
	if !a.Allowed(caller.ID, ActionPolicyAssignmentExempt, assignmentID) {
		return LinkedDeny(caller, ActionPolicyExemptionWrite, exemptionID, ActionPolicyAssignmentExempt, assignmentID)
	}
	return nil
}
