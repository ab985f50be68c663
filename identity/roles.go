package identity

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/authz"
)

// PutRoleDefinition creates or updates a custom role. The caller needs
// roleDefinitions/write at every assignable scope of the role, old and new
// (authz.AuthorizeRoleDefinitionWrite); id is the role's id as addressed.
func (s *Service) PutRoleDefinition(ctx context.Context, def authz.RoleDefinition) (authz.RoleDefinition, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var old *authz.RoleDefinition
	if cur, err := s.Authz.RoleDefinition(def.GUID()); err == nil {
		if cur.IsBuiltIn() {
			return def, false, posture.Errorf(posture.EINVALID, authz.CodeBuiltInRoleNotModifiable, "The built-in role '%s' cannot be modified.", cur.Properties.RoleName)
		}
		old = &cur
	}
	if p := posture.PrincipalFromContext(ctx); p != nil {
		if err := s.Authz.AuthorizeRoleDefinitionWrite(p, def, old); err != nil {
			return def, false, err
		}
	}
	now := s.now()
	who, _ := posture.ActorFromContext(ctx)
	def.Properties.UpdatedOn, def.Properties.UpdatedBy = &now, &who
	if old != nil {
		def.Properties.CreatedOn, def.Properties.CreatedBy = old.Properties.CreatedOn, old.Properties.CreatedBy
	} else {
		def.Properties.CreatedOn, def.Properties.CreatedBy = &now, &who
	}
	// The stored and returned id is tenant-wide: GUIDs are unique in a
	// tenant, and the role is the same whichever scope addresses it.
	def.ID = authz.RoleDefinitionID(def.GUID())
	// Validate against the Authorizer before writing (name clashes, rules).
	if err := s.Authz.PutRoleDefinition(def); err != nil {
		return def, false, err
	}
	doc, _ := json.Marshal(def)
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		if err := tx.PutRoleDefinitionDoc(def.GUID(), doc); err != nil {
			return err
		}
		kind, before := posture.EventCreated, json.RawMessage(nil)
		if old != nil {
			b, _ := json.Marshal(old)
			kind, before = posture.EventUpdated, b
		}
		return tx.AppendEvent(event(ctx, kind, authz.ActionRoleDefinitionWrite, def.ID, before, doc, now))
	})
	if err != nil {
		// The Authorizer took the role first; put it back as it was.
		if old != nil {
			_ = s.Authz.PutRoleDefinition(*old)
		} else {
			_ = s.Authz.DeleteRoleDefinition(def.GUID())
		}
		return def, false, err
	}
	return def, old == nil, nil
}

// DeleteRoleDefinition deletes a custom role that no assignment uses. It
// returns the role, or nil when there was none. The caller needs
// roleDefinitions/delete at every assignable scope of the role.
func (s *Service) DeleteRoleDefinition(ctx context.Context, idOrGUID string) (*authz.RoleDefinition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.Authz.RoleDefinition(idOrGUID)
	if posture.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if cur.IsBuiltIn() {
		return nil, posture.Errorf(posture.EINVALID, authz.CodeBuiltInRoleNotModifiable, "The built-in role '%s' cannot be deleted.", cur.Properties.RoleName)
	}
	if p := posture.PrincipalFromContext(ctx); p != nil {
		for _, sc := range cur.Properties.AssignableScopes {
			if err := s.Authz.Authorize(p, authz.ActionRoleDefinitionDelete, sc); err != nil {
				return nil, err
			}
		}
	}
	if err := s.Authz.DeleteRoleDefinition(cur.GUID()); err != nil {
		return nil, err
	}
	before, _ := json.Marshal(cur)
	err = s.Store.Write(ctx, func(tx posture.Tx) error {
		if err := tx.DeleteRoleDefinitionDoc(cur.GUID()); err != nil {
			return err
		}
		return tx.AppendEvent(event(ctx, posture.EventDeleted, authz.ActionRoleDefinitionDelete, cur.ID, before, nil, s.now()))
	})
	if err != nil {
		_ = s.Authz.PutRoleDefinition(cur)
		return nil, err
	}
	return &cur, nil
}

// RoleDefinitionFilter selects role definitions for a list at Scope.
type RoleDefinitionFilter struct {
	Scope    armid.ID
	RoleName string // $filter=roleName eq '…' (exact, case-insensitive)
	Type     string // $filter=type eq 'BuiltInRole' | 'CustomRole'
}

// RoleDefinitions lists the roles usable at the scope: every built-in role
// and the custom roles with an assignable scope at or above it.
func (s *Service) RoleDefinitions(f RoleDefinitionFilter) []authz.RoleDefinition {
	var out []authz.RoleDefinition
	key := f.Scope.Key()
	for _, d := range s.Authz.RoleDefinitions() {
		if f.RoleName != "" && !strings.EqualFold(d.Properties.RoleName, f.RoleName) {
			continue
		}
		if f.Type != "" && !strings.EqualFold(d.Properties.RoleType, f.Type) {
			continue
		}
		if !d.IsBuiltIn() && !s.assignableAtOrBelow(d, key) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// assignableAtOrBelow reports whether one of the role's assignable scopes is
// at or above key (the role can be used there), or key is the root.
func (s *Service) assignableAtOrBelow(d authz.RoleDefinition, key string) bool {
	if key == "/" {
		return true
	}
	for _, as := range d.Properties.AssignableScopes {
		id, err := armid.Parse(as)
		if err != nil {
			continue
		}
		ak := id.Key()
		if ak == key || strings.HasPrefix(key, ak+"/") || s.underGroup(key, ak) {
			return true
		}
	}
	return false
}
