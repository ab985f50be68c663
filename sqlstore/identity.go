package sqlstore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/posture/posture"
)

// Principal implements posture.Tx.
func (t *Tx) Principal(id string) (*posture.Principal, error) {
	var p posture.Principal
	var created int64
	err := t.queryRow(`SELECT id, type, display_name, created_at FROM principals WHERE id = ?`, id).
		Scan(&p.ID, &p.Type, &p.DisplayName, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("PrincipalNotFound", "Principal '%s' does not exist.", id)
	}
	p.CreatedAt = fromMicros(created)
	return &p, t.s.wrap(err)
}

// PutPrincipal implements posture.Tx.
func (t *Tx) PutPrincipal(p *posture.Principal) error {
	t.noteIdentity()
	_, err := t.exec(`INSERT INTO principals (id, type, display_name, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET type = excluded.type, display_name = excluded.display_name`,
		p.ID, p.Type, p.DisplayName, micros(p.CreatedAt))
	return err
}

// CountPrincipals implements posture.Tx.
func (t *Tx) CountPrincipals() (int, error) {
	var n int
	err := t.queryRow(`SELECT COUNT(*) FROM principals`).Scan(&n)
	return n, t.s.wrap(err)
}

// Principals implements posture.Tx.
func (t *Tx) Principals() ([]*posture.Principal, error) {
	return queryAll(t, func(rows scanner) (*posture.Principal, error) {
		var p posture.Principal
		var created int64
		err := rows.Scan(&p.ID, &p.Type, &p.DisplayName, &created)
		p.CreatedAt = fromMicros(created)
		return &p, err
	}, `SELECT id, type, display_name, created_at FROM principals ORDER BY id`)
}

// DeletePrincipal implements posture.Tx.
func (t *Tx) DeletePrincipal(id string) error {
	t.noteIdentity()
	for _, q := range []string{
		`DELETE FROM tokens WHERE principal_id = ?`,
		`DELETE FROM role_assignments WHERE principal_id = ?`,
		`DELETE FROM group_members WHERE member_id = ?`,
		`DELETE FROM group_members WHERE group_id = ?`,
	} {
		if _, err := t.exec(q, id); err != nil {
			return err
		}
	}
	r, err := t.exec(`DELETE FROM principals WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return notFound("PrincipalNotFound", "Principal '%s' does not exist.", id)
	}
	return nil
}

// GroupMembers implements posture.Tx.
func (t *Tx) GroupMembers(groupID string) ([]string, error) {
	return t.strings(`SELECT member_id FROM group_members WHERE group_id = ? ORDER BY member_id`, groupID)
}

// SetGroupMembers implements posture.Tx.
func (t *Tx) SetGroupMembers(groupID string, members []string) error {
	t.noteIdentity()
	if _, err := t.exec(`DELETE FROM group_members WHERE group_id = ?`, groupID); err != nil {
		return err
	}
	members = slices.Compact(slices.Sorted(slices.Values(members)))
	for _, m := range members {
		if _, err := t.exec(`INSERT INTO group_members (group_id, member_id) VALUES (?, ?)`, groupID, m); err != nil {
			return err
		}
	}
	return nil
}

// Memberships implements posture.Tx.
func (t *Tx) Memberships() (map[string][]string, error) {
	rows, err := t.query(`SELECT member_id, group_id FROM group_members ORDER BY member_id, group_id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var m, g string
		if err := rows.Scan(&m, &g); err != nil {
			return nil, t.s.wrap(err)
		}
		out[m] = append(out[m], g)
	}
	return out, t.s.wrap(rows.Err())
}

func (t *Tx) strings(q string, args ...any) ([]string, error) {
	return queryAll(t, func(rows scanner) (string, error) {
		var v string
		return v, rows.Scan(&v)
	}, q, args...)
}

const tokenColumns = `id, principal_id, name, hash, created_at, expires_at, revoked_at`

func scanToken(sc scanner) (*posture.Token, error) {
	var tok posture.Token
	var created, expires, revoked int64
	if err := sc.Scan(&tok.ID, &tok.PrincipalID, &tok.Name, &tok.Hash, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	tok.CreatedAt, tok.ExpiresAt, tok.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked)
	return &tok, nil
}

// TokenByHash implements posture.Tx.
func (t *Tx) TokenByHash(h string) (*posture.Token, error) {
	tok, err := scanToken(t.queryRow(`SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, h))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("TokenNotFound", "The token does not exist.")
	}
	return tok, t.s.wrap(err)
}

// Token implements posture.Tx.
func (t *Tx) Token(id string) (*posture.Token, error) {
	tok, err := scanToken(t.queryRow(`SELECT `+tokenColumns+` FROM tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("TokenNotFound", "Token '%s' does not exist.", id)
	}
	return tok, t.s.wrap(err)
}

// Tokens implements posture.Tx.
func (t *Tx) Tokens(principalID string) ([]*posture.Token, error) {
	return queryAll(t, scanToken, `SELECT `+tokenColumns+` FROM tokens WHERE principal_id = ? ORDER BY created_at, id`, principalID)
}

// PutToken implements posture.Tx.
func (t *Tx) PutToken(tok *posture.Token) error {
	// Replicas remember token checks for a second (auth's cache): a change
	// tells them to forget.
	t.noteIdentity()
	_, err := t.exec(`INSERT INTO tokens (id, principal_id, name, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at`,
		tok.ID, tok.PrincipalID, tok.Name, tok.Hash, micros(tok.CreatedAt), micros(tok.ExpiresAt), micros(tok.RevokedAt))
	return err
}

const assignmentColumns = `id, scope, principal_id, principal_type, role_definition_id, description, created_at, created_by, updated_at, updated_by`

func scanAssignment(sc scanner) (*posture.RoleAssignment, error) {
	var a posture.RoleAssignment
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.Scope, &a.PrincipalID, &a.PrincipalType, &a.RoleDefinitionID, &a.Description, &created, &a.CreatedBy, &updated, &a.UpdatedBy); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &a, nil
}

// PutRoleAssignment implements posture.Tx.
func (t *Tx) PutRoleAssignment(a *posture.RoleAssignment) error {
	t.noteIdentity()
	_, err := t.exec(`INSERT INTO role_assignments (key, `+assignmentColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET principal_id = excluded.principal_id, principal_type = excluded.principal_type,
		role_definition_id = excluded.role_definition_id, description = excluded.description,
		updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		strings.ToLower(a.ID), a.ID, a.Scope, a.PrincipalID, a.PrincipalType, a.RoleDefinitionID, a.Description,
		micros(a.CreatedAt), a.CreatedBy, micros(a.UpdatedAt), a.UpdatedBy)
	return err
}

func (t *Tx) assignments(where string, args ...any) ([]*posture.RoleAssignment, error) {
	return queryAll(t, scanAssignment, `SELECT `+assignmentColumns+` FROM role_assignments `+where+` ORDER BY key`, args...)
}

// RoleAssignments implements posture.Tx.
func (t *Tx) RoleAssignments(principalID string) ([]*posture.RoleAssignment, error) {
	return t.assignments(`WHERE principal_id = ?`, principalID)
}

// AllRoleAssignments implements posture.Tx.
func (t *Tx) AllRoleAssignments() ([]*posture.RoleAssignment, error) {
	return t.assignments(``)
}

// RoleAssignment implements posture.Tx.
func (t *Tx) RoleAssignment(id string) (*posture.RoleAssignment, error) {
	a, err := scanAssignment(t.queryRow(`SELECT `+assignmentColumns+` FROM role_assignments WHERE key = ?`, strings.ToLower(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("RoleAssignmentNotFound", "The role assignment '%s' is not found.", id)
	}
	return a, t.s.wrap(err)
}

// DeleteRoleAssignment implements posture.Tx.
func (t *Tx) DeleteRoleAssignment(id string) error {
	t.noteIdentity()
	r, err := t.exec(`DELETE FROM role_assignments WHERE key = ?`, strings.ToLower(id))
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return notFound("RoleAssignmentNotFound", "The role assignment '%s' is not found.", id)
	}
	return nil
}

// RoleDefinitionDocs implements posture.Tx.
func (t *Tx) RoleDefinitionDocs() ([]json.RawMessage, error) {
	docs, err := t.strings(`SELECT doc FROM role_definitions ORDER BY key`)
	out := make([]json.RawMessage, len(docs))
	for i, d := range docs {
		out[i] = json.RawMessage(d)
	}
	return out, err
}

// PutRoleDefinitionDoc implements posture.Tx.
func (t *Tx) PutRoleDefinitionDoc(guid string, doc json.RawMessage) error {
	t.noteIdentity()
	_, err := t.exec(`INSERT INTO role_definitions (key, doc) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET doc = excluded.doc`,
		strings.ToLower(guid), string(doc))
	return err
}

// DeleteRoleDefinitionDoc implements posture.Tx.
func (t *Tx) DeleteRoleDefinitionDoc(guid string) error {
	t.noteIdentity()
	r, err := t.exec(`DELETE FROM role_definitions WHERE key = ?`, strings.ToLower(guid))
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return notFound("RoleDefinitionDoesNotExist", "The specified role definition with ID '%s' does not exist.", guid)
	}
	return nil
}
