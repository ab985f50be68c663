package authz

import (
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// The methods below apply one change each. They validate it against the
// current data, copy the data with the change applied, rebuild the indexes
// and swap the new snapshot in; readers keep using the old one until then.
// A rebuild costs milliseconds for tens of thousands of assignments, which
// suits the rate at which people change access.

func (a *Authorizer) update(change func(st *state, cur *snapshot) error) error {
	a.write.Lock()
	defer a.write.Unlock()
	cur := a.snap.Load()
	st := cur.st.clone()
	if err := change(&st, cur); err != nil {
		return err
	}
	a.snap.Store(build(st, a.hier))
	return nil
}

// PutRoleDefinition creates or replaces a custom role. It returns the
// validation errors of Validate, BuiltInRoleNotModifiable for a built-in
// role's GUID, and RoleDefinitionWithSameNameExists when another role
// already has the name (role names are unique in a tenant,
// custom-roles.md).
func (a *Authorizer) PutRoleDefinition(def RoleDefinition) error {
	if err := def.Validate(); err != nil {
		return err
	}
	guid := def.GUID()
	if builtins[guid] != nil {
		return posture.Errorf(posture.EINVALID, CodeBuiltInRoleNotModifiable, "The built-in role '%s' cannot be modified.", guid)
	}
	return a.update(func(st *state, cur *snapshot) error {
		for other, r := range cur.roles {
			if other != guid && strings.EqualFold(strings.TrimSpace(r.def.Properties.RoleName), strings.TrimSpace(def.Properties.RoleName)) {
				return posture.Errorf(posture.ECONFLICT, CodeRoleDefinitionWithSameNameExists, "A role definition cannot be updated with a name that already exists.")
			}
		}
		st.roles[guid] = def.clone()
		return nil
	})
}

// DeleteRoleDefinition deletes a custom role. It returns
// RoleDefinitionDoesNotExist, BuiltInRoleNotModifiable, or
// RoleDefinitionHasAssignments while assignments still use the role.
func (a *Authorizer) DeleteRoleDefinition(idOrGUID string) error {
	guid := RoleDefinitionGUID(idOrGUID)
	if builtins[guid] != nil {
		return posture.Errorf(posture.EINVALID, CodeBuiltInRoleNotModifiable, "The built-in role '%s' cannot be deleted.", guid)
	}
	return a.update(func(st *state, cur *snapshot) error {
		if _, ok := st.roles[guid]; !ok {
			return RoleDefinitionNotFound(idOrGUID)
		}
		for _, e := range st.assignments {
			if e.roleGUID == guid {
				return RoleDefinitionHasAssignments()
			}
		}
		delete(st.roles, guid)
		return nil
	})
}

// ValidateRoleAssignment checks a new role assignment against the current
// data: a principal, an id and scope that agree, an existing role, a scope
// inside the role's assignable scopes (management groups cover their
// subscriptions), no custom role with data actions at a management group,
// and no other assignment of the same role to the same principal at the same
// scope.
func (a *Authorizer) ValidateRoleAssignment(ra posture.RoleAssignment) error {
	return a.snap.Load().validateAssignment(ra)
}

func (s *snapshot) validateAssignment(ra posture.RoleAssignment) error {
	scope, err := assignmentScope(ra)
	if err != nil {
		return err
	}
	if ra.PrincipalID == "" {
		return invalidf(CodeInvalidCreateRoleAssignmentRequest, "properties.principalId", "The role assignment has no principal id.")
	}
	role := s.roles[RoleDefinitionGUID(ra.RoleDefinitionID)]
	if role == nil {
		return roleDefinitionDoesNotExist(posture.EINVALID, ra.RoleDefinitionID).WithTarget("properties.roleDefinitionId")
	}
	if !s.assignableAt(role, scope.Key()) {
		return invalidf(CodeInvalidCreateRoleAssignmentRequest, "properties.scope",
			"The role '%s' is not assignable at the scope '%s'; its assignable scopes are %s.", role.def.Properties.RoleName, scope, strings.Join(role.def.Properties.AssignableScopes, ", "))
	}
	if !role.def.IsBuiltIn() && role.hasData && scope.Kind() == armid.ManagementGroup {
		return invalidf(CodeInvalidCreateRoleAssignmentRequest, "properties.scope", "Role assignments to Management Groups can not be made to custom role definitions with DataActions")
	}
	principal, key := strings.ToLower(ra.PrincipalID), scope.Key()
	for _, g := range s.byPrincipal[principal][key] {
		if g.role == role && !strings.EqualFold(g.assignment.ID, ra.ID) {
			return posture.Errorf(posture.ECONFLICT, CodeRoleAssignmentExists, "The role assignment already exists.")
		}
	}
	return nil
}

// assignableAt reports whether one of the role's assignable scopes is at or
// above key.
func (s *snapshot) assignableAt(role *compiledRole, key string) bool {
	var buf [32]string
	above := appendScopesAbove(buf[:0], key, s.anc)
	for _, as := range role.def.Properties.AssignableScopes {
		ak, err := scopeKey(as)
		if err != nil {
			continue
		}
		for _, k := range above {
			if k == ak {
				return true
			}
		}
	}
	return false
}

// PutRoleAssignment creates or replaces a role assignment after
// ValidateRoleAssignment.
func (a *Authorizer) PutRoleAssignment(ra posture.RoleAssignment) error {
	if ra.ID == "" {
		return invalidf(CodeInvalidCreateRoleAssignmentRequest, "id", "The role assignment has no id.")
	}
	return a.update(func(st *state, cur *snapshot) error {
		if err := cur.validateAssignment(ra); err != nil {
			return err
		}
		if ra.Scope == "" {
			scope, _ := assignmentScope(ra) // validated above
			ra.Scope = scope.String()
		}
		st.assignments[strings.ToLower(ra.ID)] = newAssignmentEntry(ra)
		return nil
	})
}

// DeleteRoleAssignment removes a role assignment by id and reports whether
// there was one.
func (a *Authorizer) DeleteRoleAssignment(id string) bool {
	found := false
	_ = a.update(func(st *state, _ *snapshot) error {
		key := strings.ToLower(id)
		_, found = st.assignments[key]
		delete(st.assignments, key)
		return nil
	})
	return found
}

// SetMemberships records the groups a principal is a direct member of
// (nil or empty: none), replacing what was recorded before.
func (a *Authorizer) SetMemberships(principalID string, groupIDs []string) {
	_ = a.update(func(st *state, _ *snapshot) error {
		p := strings.ToLower(principalID)
		if len(groupIDs) == 0 {
			delete(st.memberships, p)
		} else {
			st.memberships[p] = lowerAll(groupIDs)
		}
		return nil
	})
}
