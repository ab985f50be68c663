// Package auth authenticates callers of posture. It mints API tokens
// (random secrets of which only a SHA-256 hash is stored), turns a bearer
// token back into its principal, and creates the bootstrap principal, Owner
// of the root scope, when a store is new.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/posture/posture"
)

// TokenPrefix starts every token posture mints, so that secret scanners and
// people can recognise one.
const TokenPrefix = "pst_"

// Service implements posture.Authenticator over a store.
type Service struct {
	Store posture.Store
	Now   posture.Clock
}

var _ posture.Authenticator = (*Service)(nil)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Hash returns the stored form of a token secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewSecret returns a new random token secret.
func NewSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func unauthorized(code, msg string) error {
	return posture.Errorf(posture.EUNAUTHORIZED, code, "%s", msg)
}

// Authenticate implements posture.Authenticator.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*posture.Principal, error) {
	if bearer == "" {
		return nil, unauthorized("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	if len(bearer) > 512 {
		return nil, unauthorized("AuthenticationFailed", "Authentication failed. The access token is invalid.")
	}
	h := Hash(bearer)
	var p *posture.Principal
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		tok, err := tx.TokenByHash(h)
		if posture.IsNotFound(err) {
			return unauthorized("AuthenticationFailed", "Authentication failed. The access token is invalid.")
		}
		if err != nil {
			return err
		}
		// The lookup was by hash; compare again in constant time so that a
		// database collation quirk can never let a near-miss through.
		if subtle.ConstantTimeCompare([]byte(tok.Hash), []byte(h)) != 1 {
			return unauthorized("AuthenticationFailed", "Authentication failed. The access token is invalid.")
		}
		if !tok.RevokedAt.IsZero() {
			return unauthorized("AuthenticationFailed", "Authentication failed. The access token has been revoked.")
		}
		if !tok.Valid(s.now()) {
			return unauthorized("ExpiredAuthenticationToken", "The access token expiry UTC time '"+tok.ExpiresAt.Format(time.RFC3339)+"' is earlier than current UTC time.")
		}
		p, err = tx.Principal(tok.PrincipalID)
		if posture.IsNotFound(err) {
			return unauthorized("AuthenticationFailed", "Authentication failed. The principal of the access token no longer exists.")
		}
		return err
	})
	return p, err
}

// CreateToken mints a token for a principal; the secret is returned once and
// never stored. ttl 0 means no expiry.
func (s *Service) CreateToken(ctx context.Context, principalID, name string, ttl time.Duration) (string, *posture.Token, error) {
	secret := NewSecret()
	now := s.now()
	tok := &posture.Token{ID: uuid.NewString(), PrincipalID: principalID, Name: name, Hash: Hash(secret), CreatedAt: now}
	if ttl > 0 {
		tok.ExpiresAt = now.Add(ttl)
	}
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		if _, err := tx.Principal(principalID); err != nil {
			return err
		}
		return tx.PutToken(tok)
	})
	if err != nil {
		return "", nil, err
	}
	return secret, tok, nil
}

// Bootstrap creates, on a store without principals, the bootstrap principal
// with an Owner role assignment at the root scope "/" and a token whose
// secret is secret (a new random one when secret is empty). It returns the
// secret when it created the principal and "" when the store already had
// principals.
func (s *Service) Bootstrap(ctx context.Context, secret string) (string, error) {
	if secret == "" {
		secret = NewSecret()
	} else if !strings.HasPrefix(secret, TokenPrefix) {
		// Tokens given by the operator keep their text; the prefix only
		// helps recognise the ones posture makes.
		if len(secret) < 16 {
			return "", posture.Errorf(posture.EINVALID, "InvalidBootstrapToken", "POSTURE_BOOTSTRAP_TOKEN must be at least 16 characters long.")
		}
	}
	created := false
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		n, err := tx.CountPrincipals()
		if err != nil || n > 0 {
			return err
		}
		now := s.now()
		p := &posture.Principal{ID: uuid.NewString(), Type: posture.PrincipalUser, DisplayName: "bootstrap", CreatedAt: now}
		if err := tx.PutPrincipal(p); err != nil {
			return err
		}
		if err := tx.PutRoleAssignment(&posture.RoleAssignment{
			ID:    "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString(),
			Scope: "/", PrincipalID: p.ID, RoleDefinitionID: posture.RoleOwner, CreatedAt: now,
		}); err != nil {
			return err
		}
		created = true
		return tx.PutToken(&posture.Token{ID: uuid.NewString(), PrincipalID: p.ID, Name: "bootstrap", Hash: Hash(secret), CreatedAt: now})
	})
	if err != nil || !created {
		return "", err
	}
	return secret, nil
}
