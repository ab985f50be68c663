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
	"encoding/json"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/posture/posture"
	"github.com/posture/posture/identity"
	"github.com/posture/posture/oidc"
)

// TokenPrefix starts every token posture mints, so that secret scanners and
// people can recognise one.
const TokenPrefix = "pst_"

// Service implements posture.Authenticator over a store: API tokens posture
// minted, and, when OIDC is set, JWTs of the configured issuer.
type Service struct {
	Store posture.Store
	Now   posture.Clock
	// OIDC verifies issuer JWTs; nil: API tokens only.
	OIDC *oidc.Provider
	// Directory keeps the principals OIDC identities map to and the
	// groups their tokens carry; required with OIDC.
	Directory Directory
	// TokenCacheTTL is how long a successful API token check is reused
	// (DefaultTokenCacheTTL when zero; negative: never).
	TokenCacheTTL time.Duration

	cache tokenCache
	wall  func() time.Time // the cache's clock; time.Now when nil
}

// Directory is what OIDC sign-ins need of the identity service.
type Directory interface {
	EnsurePrincipal(ctx context.Context, id, typ, displayName string) (*posture.Principal, error)
	SignedInGroups(ctx context.Context, principalID string, groups []string) error
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
	if s.OIDC != nil && oidc.LooksLikeJWT(bearer) {
		return s.authenticateJWT(ctx, bearer)
	}
	if len(bearer) > 512 {
		return nil, unauthorized("AuthenticationFailed", "Authentication failed. The access token is invalid.")
	}
	h := Hash(bearer)
	ttl := s.cacheTTL()
	if ttl > 0 {
		if e, ok := s.cache.get(h, s.wallNow()); ok {
			// Expiry is checked at each use, against the domain clock.
			if !e.tok.Valid(s.now()) {
				return nil, unauthorized("ExpiredAuthenticationToken", "The access token expiry UTC time '"+e.tok.ExpiresAt.Format(time.RFC3339)+"' is earlier than current UTC time.")
			}
			p := e.p
			return &p, nil
		}
	}
	// A revocation between this read and the put below must win: the put
	// is dropped when the cache was told to forget meanwhile.
	gen := s.cache.generation()
	var p *posture.Principal
	var tok *posture.Token
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		tok, err = tx.TokenByHash(h)
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
	if err == nil && ttl > 0 {
		s.cache.put(h, cachedToken{tok: tok, p: *p, until: s.wallNow().Add(ttl)}, gen)
	}
	return p, err
}

// authenticateJWT verifies an issuer's token and maps it to a principal:
// the first sign-in creates it; the token's groups apply to its checks.
func (s *Service) authenticateJWT(ctx context.Context, raw string) (*posture.Principal, error) {
	id, err := s.OIDC.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	return s.SignIn(ctx, id)
}

// SignIn maps a verified identity to its principal (created on first
// sign-in) and applies its group claims.
func (s *Service) SignIn(ctx context.Context, id *oidc.Identity) (*posture.Principal, error) {
	pid := PrincipalIDOf(id)
	p, err := s.Directory.EnsurePrincipal(ctx, pid, id.Type, id.DisplayName)
	if err != nil {
		return nil, err
	}
	if err := s.Directory.SignedInGroups(ctx, p.ID, id.Groups); err != nil {
		return nil, err
	}
	return p, nil
}

// PrincipalIDOf is the principal id of an OIDC identity: its object id
// (Entra's oid, else sub) when it can name a principal, else a digest of
// issuer and subject, stable across sign-ins.
func PrincipalIDOf(id *oidc.Identity) string {
	if identity.ValidPrincipalID(id.ObjectID) {
		return id.ObjectID
	}
	sum := sha256.Sum256([]byte(id.Issuer + "\x00" + id.Subject))
	return "oidc-" + hex.EncodeToString(sum[:16])
}

// CreateToken mints a token for a principal; the secret is returned once and
// never stored. ttl 0 means no expiry. id may be empty for a new GUID.
func (s *Service) CreateToken(ctx context.Context, principalID, id, name string, ttl time.Duration) (string, *posture.Token, error) {
	if id == "" {
		id = uuid.NewString()
	}
	secret := NewSecret()
	now := s.now()
	// A token's name is unique within its principal, as a child resource's
	// is within its parent; the stored id carries both.
	id = storedTokenID(principalID, id)
	tok := &posture.Token{ID: id, PrincipalID: principalID, Name: name, Hash: Hash(secret), CreatedAt: now}
	if ttl > 0 {
		tok.ExpiresAt = now.Add(ttl)
	}
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		if _, err := tx.Principal(principalID); err != nil {
			return err
		}
		if _, err := tx.Token(id); err == nil {
			return posture.Errorf(posture.ECONFLICT, "TokenExists", "The token '%s' exists; a token's secret is set once. Delete it and create another.", tokenName(tok))
		} else if !posture.IsNotFound(err) {
			return err
		}
		if err := tx.PutToken(tok); err != nil {
			return err
		}
		return tx.AppendEvent(tokenEvent(ctx, posture.EventCreated, "Posture.Identity/principals/tokens/write", nil, tok, now))
	})
	if err != nil {
		return "", nil, err
	}
	return secret, tok, nil
}

// RevokeToken revokes a principal's token; it stops working at once. It
// returns the token, nil when the principal has none with that id.
func (s *Service) RevokeToken(ctx context.Context, principalID, id string) (*posture.Token, error) {
	var out *posture.Token
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		tok, err := tx.Token(storedTokenID(principalID, id))
		if posture.IsNotFound(err) || err == nil && tok.PrincipalID != principalID {
			return nil
		} else if err != nil {
			return err
		}
		if !tok.RevokedAt.IsZero() {
			out = tok
			return nil
		}
		before := *tok
		tok.RevokedAt = s.now()
		if err := tx.PutToken(tok); err != nil {
			return err
		}
		out = tok
		return tx.AppendEvent(tokenEvent(ctx, posture.EventDeleted, "Posture.Identity/principals/tokens/delete", &before, tok, tok.RevokedAt))
	})
	if out != nil {
		// It stops working at once on this replica (others: within
		// their cache's TTL, or when told by ForgetTokens).
		s.cache.forget(out.Hash)
	}
	return out, err
}

// Tokens lists a principal's tokens, revoked and expired ones included.
func (s *Service) Tokens(ctx context.Context, principalID string) ([]*posture.Token, error) {
	var out []*posture.Token
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		var err error
		out, err = tx.Tokens(principalID)
		return err
	})
	return out, err
}

// Token returns one of a principal's tokens.
func (s *Service) Token(ctx context.Context, principalID, id string) (*posture.Token, error) {
	var out *posture.Token
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		tok, err := tx.Token(storedTokenID(principalID, id))
		if err == nil && tok.PrincipalID != principalID {
			err = posture.Errorf(posture.ENOTFOUND, "TokenNotFound", "Token '%s' does not exist.", id)
		}
		out = tok
		return err
	})
	return out, err
}

// TokenID returns the ARM id of a token.
func TokenID(principalID, id string) string {
	return "/providers/Posture.Identity/principals/" + principalID + "/tokens/" + id
}

// TokenDocument is the ARM document of a token: never its secret or hash.
func TokenDocument(t *posture.Token, now time.Time) json.RawMessage {
	state := "Active"
	switch {
	case !t.RevokedAt.IsZero():
		state = "Revoked"
	case !t.Valid(now):
		state = "Expired"
	}
	props := map[string]any{"displayName": t.Name, "createdOn": t.CreatedAt.Format(time.RFC3339), "state": state,
		"expiresOn": nil, "revokedOn": nil}
	if !t.ExpiresAt.IsZero() {
		props["expiresOn"] = t.ExpiresAt.Format(time.RFC3339)
	}
	if !t.RevokedAt.IsZero() {
		props["revokedOn"] = t.RevokedAt.Format(time.RFC3339)
	}
	doc, _ := json.Marshal(map[string]any{"id": TokenID(t.PrincipalID, tokenName(t)), "name": tokenName(t), "type": "Posture.Identity/principals/tokens", "properties": props})
	return doc
}

func tokenEvent(ctx context.Context, kind, action string, before, after *posture.Token, now time.Time) *posture.Event {
	who, typ := posture.ActorFromContext(ctx)
	e := &posture.Event{Kind: kind, Actor: who, ActorType: typ, At: now, Action: action}
	if before != nil {
		e.Scope, e.Before = TokenID(before.PrincipalID, tokenName(before)), TokenDocument(before, now)
	}
	if after != nil {
		e.Scope, e.After = TokenID(after.PrincipalID, tokenName(after)), TokenDocument(after, now)
	}
	return e
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
		ra := &posture.RoleAssignment{
			ID:    "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString(),
			Scope: "/", PrincipalID: p.ID, PrincipalType: p.Type, RoleDefinitionID: "/providers/Microsoft.Authorization/roleDefinitions/" + posture.RoleOwner,
			CreatedAt: now, CreatedBy: posture.SystemActor, UpdatedAt: now, UpdatedBy: posture.SystemActor,
		}
		if err := tx.PutRoleAssignment(ra); err != nil {
			return err
		}
		created = true
		tok := &posture.Token{ID: uuid.NewString(), PrincipalID: p.ID, Name: "bootstrap", Hash: Hash(secret), CreatedAt: now}
		if err := tx.PutToken(tok); err != nil {
			return err
		}
		// The ledger starts with who was made Owner of everything.
		return tx.AppendEvent(&posture.Event{Kind: posture.EventCreated, Actor: posture.SystemActor, ActorType: "Application", At: now,
			Action: "Microsoft.Authorization/roleAssignments/write", Scope: ra.ID,
			After: mustJSON(map[string]string{"principalId": p.ID, "roleDefinitionId": ra.RoleDefinitionID, "scope": "/"})})
	})
	if err != nil || !created {
		return "", err
	}
	return secret, nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// storedTokenID is the store's id of a principal's token name.
func storedTokenID(principalID, name string) string { return principalID + "/" + name }

// tokenName is the name of a token within its principal (tokens minted
// before names were per principal have none but their id).
func tokenName(t *posture.Token) string { return strings.TrimPrefix(t.ID, t.PrincipalID+"/") }

// RevokeSecret revokes the token whose secret is given: how a portal
// session ends at sign-out. An unknown or revoked secret is not an error.
func (s *Service) RevokeSecret(ctx context.Context, secret string) error {
	if secret == "" || len(secret) > 512 {
		return nil
	}
	var tok *posture.Token
	err := s.Store.Read(ctx, func(tx posture.Tx) error {
		t, err := tx.TokenByHash(Hash(secret))
		if err == nil {
			tok = t
		}
		if posture.IsNotFound(err) {
			return nil
		}
		return err
	})
	if err != nil || tok == nil || !tok.RevokedAt.IsZero() {
		return err
	}
	_, err = s.RevokeToken(ctx, tok.PrincipalID, tokenName(tok))
	return err
}
