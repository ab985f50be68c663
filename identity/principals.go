package identity

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/authz"
)

// PrincipalType is the ARM type posture gives principals; they live at the
// tenant root, as directory objects do.
const PrincipalType = "Posture.Identity/principals"

// Actions on principals and their tokens. Only roles with "*" (Owner,
// Contributor) grant them; a principal may always manage its own tokens.
const (
	ActionPrincipalWrite  = "Posture.Identity/principals/write"
	ActionPrincipalDelete = "Posture.Identity/principals/delete"
	ActionTokenWrite      = "Posture.Identity/principals/tokens/write"
	ActionTokenDelete     = "Posture.Identity/principals/tokens/delete"
)

// PrincipalID returns the ARM id of a principal.
func PrincipalID(id string) string { return "/providers/" + PrincipalType + "/" + id }

var principalIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)

// ValidPrincipalID reports whether id can name a principal: letters,
// digits, '.', '_', '@' and '-', at most 128 characters (an Entra object
// id, an OIDC subject, or a name).
func ValidPrincipalID(id string) bool { return principalIDRE.MatchString(id) }

// principalBody is the body of PUT /providers/Posture.Identity/principals/{id}.
type principalBody struct {
	Properties struct {
		PrincipalType string    `json:"principalType"`
		DisplayName   string    `json:"displayName"`
		Members       *[]string `json:"members"`
	} `json:"properties"`
}

// PrincipalWrite is what a PUT of a principal says.
type PrincipalWrite struct {
	ID, Type, DisplayName string
	// Members of a group, replacing the current ones; nil keeps them.
	Members *[]string
}

// ParsePrincipal reads the body of a principal PUT.
func ParsePrincipal(id string, body []byte) (PrincipalWrite, error) {
	if !ValidPrincipalID(id) {
		return PrincipalWrite{}, posture.Errorf(posture.EINVALID, "InvalidPrincipalId",
			"The principal id '%s' is not valid: use letters, digits, '.', '_', '@' and '-', at most 128 characters.", id)
	}
	var b principalBody
	if err := json.Unmarshal(body, &b); err != nil {
		return PrincipalWrite{}, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content is not a valid principal: %v.", err)
	}
	p := b.Properties
	switch p.PrincipalType {
	case posture.PrincipalUser, posture.PrincipalGroup, posture.PrincipalServicePrincipal:
	default:
		return PrincipalWrite{}, posture.Errorf(posture.EINVALID, "InvalidPrincipalType",
			"properties.principalType must be User, Group or ServicePrincipal, not '%s'.", p.PrincipalType).WithTarget("properties.principalType")
	}
	name := strings.TrimSpace(p.DisplayName)
	if name == "" || len(name) > 256 {
		return PrincipalWrite{}, posture.Errorf(posture.EINVALID, "InvalidDisplayName",
			"properties.displayName must be 1 to 256 characters.").WithTarget("properties.displayName")
	}
	if p.Members != nil && p.PrincipalType != posture.PrincipalGroup {
		return PrincipalWrite{}, posture.Errorf(posture.EINVALID, "MembersOnlyForGroups",
			"Only a Group has members.").WithTarget("properties.members")
	}
	return PrincipalWrite{ID: id, Type: p.PrincipalType, DisplayName: name, Members: p.Members}, nil
}

// PrincipalDocument is the ARM document of a principal; members is nil for
// users and service principals.
func PrincipalDocument(p *posture.Principal, members []string) json.RawMessage {
	props := map[string]any{"principalType": p.Type, "displayName": p.DisplayName, "createdOn": timeOrNil(p.CreatedAt)}
	if p.Type == posture.PrincipalGroup {
		if members == nil {
			members = []string{}
		}
		props["members"] = members
	}
	doc, _ := json.Marshal(map[string]any{"id": PrincipalID(p.ID), "name": p.ID, "type": PrincipalType, "properties": props})
	return doc
}

// PutPrincipal creates or updates a principal and, for a group, its
// members (which must exist). It reports whether it created one.
func (s *Service) PutPrincipal(ctx context.Context, w PrincipalWrite) (*posture.Principal, []string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out *posture.Principal
	var members []string
	created := false
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		old, err := tx.Principal(w.ID)
		if err != nil && !posture.IsNotFound(err) {
			return err
		}
		if old == nil {
			if err := uniqueIgnoringCase(tx, w.ID); err != nil {
				return err
			}
		}
		var before json.RawMessage
		p := &posture.Principal{ID: w.ID, Type: w.Type, DisplayName: w.DisplayName, CreatedAt: now}
		if old != nil {
			if old.Type != w.Type {
				return posture.Errorf(posture.ECONFLICT, "PrincipalTypeNotModifiable",
					"The principal '%s' is a %s; its type cannot change.", w.ID, old.Type).WithTarget("properties.principalType")
			}
			oldMembers, err := tx.GroupMembers(w.ID)
			if err != nil {
				return err
			}
			before = PrincipalDocument(old, oldMembers)
			p.CreatedAt, members = old.CreatedAt, oldMembers
		} else {
			created = true
		}
		if err := tx.PutPrincipal(p); err != nil {
			return err
		}
		if w.Members != nil {
			members = slices.Compact(slices.Sorted(slices.Values(*w.Members)))
			for _, m := range members {
				if strings.EqualFold(m, w.ID) {
					return posture.Errorf(posture.EINVALID, "InvalidGroupMember", "A group cannot be a member of itself.").WithTarget("properties.members")
				}
				if _, err := tx.Principal(m); posture.IsNotFound(err) {
					return posture.Errorf(posture.EINVALID, CodePrincipalNotFound, "Principal %s does not exist in the directory.", m).WithTarget("properties.members")
				} else if err != nil {
					return err
				}
			}
			if err := tx.SetGroupMembers(w.ID, members); err != nil {
				return err
			}
		}
		out = p
		kind := posture.EventCreated
		if !created {
			kind = posture.EventUpdated
		}
		return tx.AppendEvent(event(ctx, kind, ActionPrincipalWrite, PrincipalID(w.ID), before, PrincipalDocument(p, members), now))
	})
	if err != nil {
		return nil, nil, false, err
	}
	if w.Members != nil {
		if err := s.reloadLocked(ctx); err != nil {
			return nil, nil, false, err
		}
	}
	return out, members, created, nil
}

func (s *Service) reloadLocked(ctx context.Context) error {
	data, err := loadData(ctx, s.Store)
	if err != nil {
		return err
	}
	s.applyTokenGroups(&data)
	s.Authz.Replace(data)
	return nil
}

// Principal returns a principal and, for a group, its direct members.
func (s *Service) Principal(ctx context.Context, id string) (*posture.Principal, []string, error) {
	var p *posture.Principal
	var members []string
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		if p, err = tx.Principal(id); err != nil {
			return err
		}
		if p.Type == posture.PrincipalGroup {
			members, err = tx.GroupMembers(id)
		}
		return err
	})
	return p, members, err
}

// Principals lists every principal.
func (s *Service) Principals(ctx context.Context) ([]*posture.Principal, error) {
	var out []*posture.Principal
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		out, err = tx.Principals()
		return err
	})
	return out, err
}

// DeletePrincipal deletes a principal with its tokens, role assignments and
// memberships; its tokens stop working at once. It returns false when there
// was none.
func (s *Service) DeletePrincipal(ctx context.Context, id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := true
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		p, err := tx.Principal(id)
		if posture.IsNotFound(err) {
			found = false
			return nil
		} else if err != nil {
			return err
		}
		members, err := tx.GroupMembers(id)
		if err != nil {
			return err
		}
		ras, err := tx.RoleAssignments(id)
		if err != nil {
			return err
		}
		now := s.now()
		for _, ra := range ras {
			if err := tx.AppendEvent(event(ctx, posture.EventDeleted, "Microsoft.Authorization/roleAssignments/delete", ra.ID, AssignmentDocument(ra), nil, now)); err != nil {
				return err
			}
		}
		if err := tx.DeletePrincipal(id); err != nil {
			return err
		}
		return tx.AppendEvent(event(ctx, posture.EventDeleted, ActionPrincipalDelete, PrincipalID(id), PrincipalDocument(p, members), nil, now))
	})
	if err != nil || !found {
		return false, err
	}
	return true, s.reloadLocked(ctx)
}

// EnsurePrincipal creates the principal of a signed-in OIDC identity the
// first time it is seen, and keeps its display name current. Group claims
// are not stored: they are the identity provider's and are applied per
// request.
func (s *Service) EnsurePrincipal(ctx context.Context, id, typ, displayName string) (*posture.Principal, error) {
	var p *posture.Principal
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		p, err = tx.Principal(id)
		return err
	})
	if err == nil && p.DisplayName == displayName && p.Type == typ {
		return p, nil
	}
	if err != nil && !posture.IsNotFound(err) {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	err = s.Store.Write(ctx, func(tx posture.Tx) error {
		old, err := tx.Principal(id)
		if err != nil && !posture.IsNotFound(err) {
			return err
		}
		if old == nil {
			if err := uniqueIgnoringCase(tx, id); err != nil {
				return err
			}
		}
		p = &posture.Principal{ID: id, Type: typ, DisplayName: displayName, CreatedAt: now}
		var before json.RawMessage
		kind := posture.EventCreated
		if old != nil {
			p.CreatedAt, before, kind = old.CreatedAt, PrincipalDocument(old, nil), posture.EventUpdated
		}
		if err := tx.PutPrincipal(p); err != nil {
			return err
		}
		return tx.AppendEvent(event(posture.NewContextWithPrincipal(ctx, p), kind, ActionPrincipalWrite, PrincipalID(id), before, PrincipalDocument(p, nil), now))
	})
	return p, err
}

// SignedInGroups applies the groups an identity provider's token says the
// principal belongs to, on top of the memberships posture stores. They are
// the provider's facts, not stored: they last until the principal's next
// token says otherwise (or the server restarts). Unchanged groups cost a
// map look-up, so it can run on every request.
func (s *Service) SignedInGroups(ctx context.Context, principalID string, groups []string) error {
	key := strings.Join(slices.Sorted(slices.Values(lowerAll(groups))), "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokenGroups == nil {
		s.tokenGroups = map[string]string{}
	}
	if prev, ok := s.tokenGroups[strings.ToLower(principalID)]; ok && prev == key {
		return nil
	}
	var stored []string
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		all, err := tx.Memberships()
		stored = all[principalID]
		return err
	})
	if err != nil {
		return err
	}
	s.tokenGroups[strings.ToLower(principalID)] = key
	s.Authz.SetMemberships(principalID, append(stored, groups...))
	return nil
}

// applyTokenGroups re-applies the groups of signed-in tokens after the
// Authorizer was rebuilt from the store.
func (s *Service) applyTokenGroups(data *authz.Data) {
	for p, key := range s.tokenGroups {
		if key == "" {
			continue
		}
		if data.Memberships == nil {
			data.Memberships = map[string][]string{}
		}
		data.Memberships[p] = append(data.Memberships[p], strings.Split(key, "\n")...)
	}
}

func lowerAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(s)
	}
	return out
}

// uniqueIgnoringCase refuses a new principal id that differs from an
// existing one only in case: authorization compares ids ignoring case (as
// Azure compares object ids), so "ADMIN" would hold what "admin" holds.
func uniqueIgnoringCase(tx posture.Tx, id string) error {
	all, err := tx.Principals()
	if err != nil {
		return err
	}
	for _, p := range all {
		if strings.EqualFold(p.ID, id) && p.ID != id {
			return posture.Errorf(posture.ECONFLICT, "PrincipalIdConflict",
				"The principal id '%s' differs only in case from the existing principal '%s'; principal ids are compared ignoring case.", id, p.ID)
		}
	}
	return nil
}
