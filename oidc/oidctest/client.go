package oidctest

import (
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// client implements op.Client.
type client struct {
	id, secret string
	method     oidc.AuthMethod
	grants     []oidc.GrantType
	tokenType  op.AccessTokenType
	// audience is the "aud" of the tokens a sign-in with this client gets:
	// its own id for the portal (so its ID tokens are not API tokens),
	// Audience for UserToken's client (a token for the API, like
	// `az account get-access-token --resource`).
	audience  []string
	redirects func() []string
}

func (c *client) GetID() string                       { return c.id }
func (c *client) RedirectURIs() []string              { return c.redirects() }
func (c *client) PostLogoutRedirectURIs() []string    { return nil }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) AuthMethod() oidc.AuthMethod         { return c.method }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType { return c.grants }
func (c *client) LoginURL(id string) string    { return "/login?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType {
	return c.tokenType
}
func (c *client) IDTokenLifetime() time.Duration { return time.Hour }
func (c *client) DevMode() bool                  { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool { return false }

// IDTokenUserinfoClaimsAssertion puts name and email in ID tokens even
// when an access token is issued too, as Entra does.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (s *storage) newClients() map[string]*client {
	portal := func() []string {
		s.mu.Lock()
		defer s.mu.Unlock()
		return slices.Clone(s.redirects)
	}
	code := []oidc.GrantType{oidc.GrantTypeCode}
	return map[string]*client{
		PortalClientID: {id: PortalClientID, secret: PortalClientSecret, method: oidc.AuthMethodBasic,
			grants: code, tokenType: op.AccessTokenTypeBearer, audience: []string{PortalClientID}, redirects: portal},
		PublicClientID: {id: PublicClientID, method: oidc.AuthMethodNone,
			grants: code, tokenType: op.AccessTokenTypeBearer, audience: []string{PublicClientID}, redirects: portal},
		cliClientID: {id: cliClientID, method: oidc.AuthMethodNone,
			grants: code, tokenType: op.AccessTokenTypeJWT, audience: []string{Audience},
			redirects: func() []string { return []string{cliRedirect} }},
		ServiceClientID: {id: ServiceClientID, secret: ServiceClientSecret, method: oidc.AuthMethodBasic,
			grants: []oidc.GrantType{oidc.GrantTypeClientCredentials}, tokenType: op.AccessTokenTypeJWT,
			audience: []string{Audience}, redirects: func() []string { return nil }},
	}
}

// authRequest implements op.AuthRequest.
type authRequest struct {
	id, clientID, redirectURI, state, nonce string
	scopes                                  []string
	audience                                []string
	responseType                            oidc.ResponseType
	responseMode                            oidc.ResponseMode
	challenge                               *oidc.CodeChallenge
	userID                                  string
	done                                    bool
	authTime                                time.Time
}

func (a *authRequest) GetID() string         { return a.id }
func (a *authRequest) GetACR() string        { return "" }
func (a *authRequest) GetAMR() []string      { return []string{"pwd"} }
func (a *authRequest) GetAudience() []string { return a.audience }
func (a *authRequest) GetAuthTime() time.Time {
	return a.authTime
}
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.userID }
func (a *authRequest) Done() bool                            { return a.done }
