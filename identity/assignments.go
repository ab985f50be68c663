package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/authz"
)

// RoleAssignmentType is the ARM type of role assignments.
const RoleAssignmentType = "Microsoft.Authorization/roleAssignments"

// Codes of refusals specific to role assignments. InvalidRoleAssignmentId,
// PrincipalNotFound, UnmatchedPrincipalType and
// RoleAssignmentUpdateNotPermitted are the codes Azure answers with (see
// SOURCE.md); ConditionsNotSupported is ours.
const (
	CodeInvalidRoleAssignmentID          = "InvalidRoleAssignmentId"
	CodePrincipalNotFound                = "PrincipalNotFound"
	CodeUnmatchedPrincipalType           = "UnmatchedPrincipalType"
	CodeRoleAssignmentUpdateNotPermitted = "RoleAssignmentUpdateNotPermitted"
	CodeConditionsNotSupported           = "ConditionsNotSupported"
)

// assignmentBody is the body of PUT …/roleAssignments/{name} (and the
// properties Azure returns).
type assignmentBody struct {
	Properties struct {
		RoleDefinitionID string          `json:"roleDefinitionId"`
		PrincipalID      string          `json:"principalId"`
		PrincipalType    string          `json:"principalType"`
		Scope            string          `json:"scope"`
		Description      *string         `json:"description"`
		Condition        *string         `json:"condition"`
		ConditionVersion *string         `json:"conditionVersion"`
		Delegated        json.RawMessage `json:"delegatedManagedIdentityResourceId"`
	} `json:"properties"`
}

// ParseRoleAssignment reads the body of a role assignment PUT for the id in
// the path.
func ParseRoleAssignment(id armid.ID, body []byte) (posture.RoleAssignment, error) {
	if _, err := uuid.Parse(id.Name()); err != nil || len(id.Name()) != 36 {
		return posture.RoleAssignment{}, posture.Errorf(posture.EINVALID, CodeInvalidRoleAssignmentID,
			"The role assignment ID '%s' is not valid. The role assignment ID must be a GUID.", id.Name())
	}
	var b assignmentBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return posture.RoleAssignment{}, posture.Errorf(posture.EINVALID, authz.CodeInvalidRequestContent, "The request content is not a valid role assignment: %v.", err)
	}
	p := b.Properties
	if p.Condition != nil && *p.Condition != "" || p.ConditionVersion != nil && *p.ConditionVersion != "" {
		return posture.RoleAssignment{}, posture.Errorf(posture.EINVALID, CodeConditionsNotSupported,
			"posture does not support role assignment conditions (ABAC); leave properties.condition empty.").WithTarget("properties.condition")
	}
	if p.RoleDefinitionID == "" {
		return posture.RoleAssignment{}, posture.Errorf(posture.EINVALID, authz.CodeInvalidCreateRoleAssignmentRequest,
			"The role assignment has no properties.roleDefinitionId.").WithTarget("properties.roleDefinitionId")
	}
	scope := id.Scope()
	if p.Scope != "" {
		given, err := armid.Parse(p.Scope)
		if err != nil || given.Key() != scope.Key() {
			return posture.RoleAssignment{}, posture.Errorf(posture.EINVALID, authz.CodeInvalidCreateRoleAssignmentRequest,
				"properties.scope '%s' is not the scope of the role assignment id '%s'.", p.Scope, scope).WithTarget("properties.scope")
		}
	}
	ra := posture.RoleAssignment{ID: id.String(), Scope: scope.String(), PrincipalID: p.PrincipalID, PrincipalType: p.PrincipalType,
		RoleDefinitionID: p.RoleDefinitionID}
	if p.Description != nil {
		ra.Description = *p.Description
	}
	return ra, nil
}

// AssignmentDocument is the ARM document of a role assignment.
func AssignmentDocument(ra *posture.RoleAssignment) json.RawMessage {
	name := ra.ID[strings.LastIndexByte(ra.ID, '/')+1:]
	props := map[string]any{
		"roleDefinitionId":                   ra.RoleDefinitionID,
		"principalId":                        ra.PrincipalID,
		"principalType":                      ra.PrincipalType,
		"scope":                              ra.Scope,
		"condition":                          nil,
		"conditionVersion":                   nil,
		"createdOn":                          timeOrNil(ra.CreatedAt),
		"updatedOn":                          timeOrNil(ra.UpdatedAt),
		"createdBy":                          stringOrNil(ra.CreatedBy),
		"updatedBy":                          stringOrNil(ra.UpdatedBy),
		"description":                        stringOrNil(ra.Description),
		"delegatedManagedIdentityResourceId": nil,
	}
	doc, _ := json.Marshal(map[string]any{"id": ra.ID, "name": name, "type": RoleAssignmentType, "properties": props})
	return doc
}

func timeOrNil(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func stringOrNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// PutRoleAssignment creates a role assignment. As in Azure a role
// assignment is not updated: a PUT that repeats an existing assignment's
// principal and role answers with it (changing only its description), and
// one that changes them is refused. The caller's right to assign
// (roleAssignments/write at the id) is checked by the API before.
func (s *Service) PutRoleAssignment(ctx context.Context, ra posture.RoleAssignment) (*posture.RoleAssignment, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	who, _ := posture.ActorFromContext(ctx)
	var out *posture.RoleAssignment
	created := false
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		p, err := tx.Principal(ra.PrincipalID)
		if posture.IsNotFound(err) {
			return posture.Errorf(posture.EINVALID, CodePrincipalNotFound, "Principal %s does not exist in the directory.", ra.PrincipalID).WithTarget("properties.principalId")
		} else if err != nil {
			return err
		}
		if ra.PrincipalType == "" {
			ra.PrincipalType = p.Type
		} else if !strings.EqualFold(ra.PrincipalType, p.Type) {
			return posture.Errorf(posture.EINVALID, CodeUnmatchedPrincipalType,
				"The PrincipalId '%s' has type '%s', which is different from specified PrincipalType '%s'.", p.ID, p.Type, ra.PrincipalType).WithTarget("properties.principalType")
		}
		old, err := tx.RoleAssignment(ra.ID)
		switch {
		case posture.IsNotFound(err):
			ra.CreatedAt, ra.CreatedBy = now, who
			created = true
		case err != nil:
			return err
		case !strings.EqualFold(old.PrincipalID, ra.PrincipalID) || authz.RoleDefinitionGUID(old.RoleDefinitionID) != authz.RoleDefinitionGUID(ra.RoleDefinitionID):
			return posture.Errorf(posture.EINVALID, CodeRoleAssignmentUpdateNotPermitted,
				"Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
		default:
			ra.CreatedAt, ra.CreatedBy, ra.ID, ra.RoleDefinitionID = old.CreatedAt, old.CreatedBy, old.ID, old.RoleDefinitionID
		}
		if err := s.Authz.ValidateRoleAssignment(ra); err != nil {
			return err
		}
		ra.UpdatedAt, ra.UpdatedBy = now, who
		if err := tx.PutRoleAssignment(&ra); err != nil {
			return err
		}
		var before json.RawMessage
		kind := posture.EventCreated
		if old != nil {
			before, kind = AssignmentDocument(old), posture.EventUpdated
		}
		out = &ra
		return tx.AppendEvent(event(ctx, kind, authz.ActionRoleAssignmentWrite, ra.ID, before, AssignmentDocument(&ra), now))
	})
	if err != nil {
		return nil, false, err
	}
	if err := s.Authz.PutRoleAssignment(ra); err != nil {
		return nil, false, s.resync(ctx, err)
	}
	return out, created, nil
}

// resync reloads the Authorizer after it refused a change the store took,
// which only a bug can cause; err is returned so that the caller learns.
func (s *Service) resync(ctx context.Context, err error) error {
	_ = s.reloadLocked(ctx)
	return posture.Internal(err)
}

// DeleteRoleAssignment deletes a role assignment and returns it; nil when
// there was none (ARM answers 204).
func (s *Service) DeleteRoleAssignment(ctx context.Context, id string) (*posture.RoleAssignment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var old *posture.RoleAssignment
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		var err error
		old, err = tx.RoleAssignment(id)
		if posture.IsNotFound(err) {
			old = nil
			return nil
		} else if err != nil {
			return err
		}
		if err := tx.DeleteRoleAssignment(id); err != nil {
			return err
		}
		return tx.AppendEvent(event(ctx, posture.EventDeleted, authz.ActionRoleAssignmentDelete, old.ID, AssignmentDocument(old), nil, s.now()))
	})
	if err != nil || old == nil {
		return nil, err
	}
	s.Authz.DeleteRoleAssignment(old.ID)
	return old, nil
}

// RoleAssignment returns a role assignment by id.
func (s *Service) RoleAssignment(ctx context.Context, id string) (*posture.RoleAssignment, error) {
	var ra *posture.RoleAssignment
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		ra, err = tx.RoleAssignment(id)
		return err
	})
	return ra, err
}

// AssignmentFilter selects role assignments for a list at Scope.
type AssignmentFilter struct {
	Scope armid.ID
	// AtScope keeps the assignments at the scope and above it
	// ($filter=atScope()); otherwise those below it are listed too.
	AtScope bool
	// PrincipalID keeps one principal's assignments ($filter=principalId eq).
	PrincipalID string
	// AssignedTo keeps the assignments of a principal and of the groups it
	// belongs to, transitively ($filter=assignedTo('{id}')).
	AssignedTo string
}

// RoleAssignments lists role assignments in id order.
func (s *Service) RoleAssignments(ctx context.Context, f AssignmentFilter) ([]*posture.RoleAssignment, error) {
	var all []*posture.RoleAssignment
	var members map[string][]string
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		if all, err = tx.AllRoleAssignments(); err != nil {
			return err
		}
		if f.AssignedTo != "" {
			members, err = tx.Memberships()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	above := map[string]bool{}
	for _, a := range f.Scope.Ancestors() {
		above[a.Key()] = true
	}
	if h := s.hierarchy(); h != nil {
		if c := containerOf(f.Scope); c != "" {
			for _, mg := range h.Ancestors(c) {
				above[mg] = true
			}
		}
	}
	above["/"] = true
	key := f.Scope.Key()
	principals := map[string]bool{}
	if f.AssignedTo != "" {
		for _, p := range closure(strings.ToLower(f.AssignedTo), members) {
			principals[p] = true
		}
	}
	var out []*posture.RoleAssignment
	for _, ra := range all {
		sid, err := armid.Parse(ra.Scope)
		if err != nil {
			continue
		}
		sk := sid.Key()
		inScope := sk == key || above[sk] || (!f.AtScope && (key == "/" || strings.HasPrefix(sk, key+"/") || s.underGroup(sk, key)))
		if !inScope {
			continue
		}
		if f.PrincipalID != "" && !strings.EqualFold(ra.PrincipalID, f.PrincipalID) {
			continue
		}
		if f.AssignedTo != "" && !principals[strings.ToLower(ra.PrincipalID)] {
			continue
		}
		out = append(out, ra)
	}
	return out, nil
}

// closure returns p and the groups it belongs to, transitively.
func closure(p string, members map[string][]string) []string {
	lower := map[string][]string{}
	for m, gs := range members {
		for _, g := range gs {
			lower[strings.ToLower(m)] = append(lower[strings.ToLower(m)], strings.ToLower(g))
		}
	}
	out := []string{p}
	for i := 0; i < len(out); i++ {
		for _, g := range lower[out[i]] {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}
