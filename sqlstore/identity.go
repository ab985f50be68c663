package sqlstore

import (
	"database/sql"
	"errors"
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

// TokenByHash implements posture.Tx.
func (t *Tx) TokenByHash(h string) (*posture.Token, error) {
	var tok posture.Token
	var created, expires, revoked int64
	err := t.queryRow(`SELECT id, principal_id, name, hash, created_at, expires_at, revoked_at FROM tokens WHERE hash = ?`, h).
		Scan(&tok.ID, &tok.PrincipalID, &tok.Name, &tok.Hash, &created, &expires, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("TokenNotFound", "The token does not exist.")
	}
	tok.CreatedAt, tok.ExpiresAt, tok.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked)
	return &tok, t.s.wrap(err)
}

// PutToken implements posture.Tx.
func (t *Tx) PutToken(tok *posture.Token) error {
	_, err := t.exec(`INSERT INTO tokens (id, principal_id, name, hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at`,
		tok.ID, tok.PrincipalID, tok.Name, tok.Hash, micros(tok.CreatedAt), micros(tok.ExpiresAt), micros(tok.RevokedAt))
	return err
}

// PutRoleAssignment implements posture.Tx.
func (t *Tx) PutRoleAssignment(a *posture.RoleAssignment) error {
	_, err := t.exec(`INSERT INTO role_assignments (key, id, scope, principal_id, role_definition_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET principal_id = excluded.principal_id, role_definition_id = excluded.role_definition_id`,
		strings.ToLower(a.ID), a.ID, a.Scope, a.PrincipalID, a.RoleDefinitionID, micros(a.CreatedAt))
	return err
}

// RoleAssignments implements posture.Tx.
func (t *Tx) RoleAssignments(principalID string) ([]*posture.RoleAssignment, error) {
	rows, err := t.query(`SELECT id, scope, principal_id, role_definition_id, created_at FROM role_assignments WHERE principal_id = ? ORDER BY key`, principalID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*posture.RoleAssignment
	for rows.Next() {
		var a posture.RoleAssignment
		var created int64
		if err := rows.Scan(&a.ID, &a.Scope, &a.PrincipalID, &a.RoleDefinitionID, &created); err != nil {
			return nil, t.s.wrap(err)
		}
		a.CreatedAt = fromMicros(created)
		out = append(out, &a)
	}
	return out, t.s.wrap(rows.Err())
}
