package oidc

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Config configures a Provider.
type Config struct {
	// Issuer is the OpenID issuer, exactly as its tokens carry it in "iss";
	// discovery is at {Issuer}/.well-known/openid-configuration. It must be
	// https, except on a loopback host (tests, a local IdP).
	Issuer string
	// Audience lists the accepted "aud" values of API bearer tokens, such as
	// "api://posture" or the client id. Empty means [ClientID].
	Audience []string

	// ClientID, RedirectURL and CookieKey enable the portal sign-in: set
	// RedirectURL and CookieKey for it, or neither. RedirectURL is the callback that calls FinishLogin, e.g.
	// https://posture.example/auth/callback; the login cookie is Secure when
	// it is https.
	ClientID    string
	RedirectURL string
	// ClientSecret is optional: without it posture is a public client and
	// PKCE alone binds the code to this sign-in. PKCE (S256) is always used.
	ClientSecret string
	// Scopes default to openid profile email; openid is always requested.
	Scopes []string
	// CookieKey is the 32-byte AES-256-GCM key that seals the login cookie.
	// Every replica needs the same key.
	CookieKey []byte

	// GroupsClaim names the claim holding group ids; default "groups".
	GroupsClaim string
	// Skew is the clock skew allowed for exp, nbf and iat. Zero means 5
	// minutes (what Azure allows); negative means none.
	Skew time.Duration

	// HTTPClient reaches the issuer; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DefaultSkew is the clock skew Azure's token validation allows.
const DefaultSkew = 5 * time.Minute

// loginTTL bounds a sign-in from StartLogin to FinishLogin.
const loginTTL = 10 * time.Minute

// asymmetric lists the signature algorithms posture accepts at most; an HMAC
// "key" would be a shared secret, which an issuer's JWKS never is, and
// "none" is no signature.
var asymmetric = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512,
	gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.EdDSA,
}

// Provider verifies tokens of one issuer and signs users in with it.
type Provider struct {
	cfg    Config
	algs   []string
	keys   *keySet
	api    *gooidc.IDTokenVerifier // API bearer tokens
	idTok  *gooidc.IDTokenVerifier // ID tokens from FinishLogin
	oauth  oauth2.Config
	login  bool
	secure bool        // the login cookie is Secure (and __Host-)
	aead   cipher.AEAD // seals the login cookie
}

// New discovers the issuer's endpoints and reads its keys. It fails when the
// issuer is unreachable, publishes a different issuer or plain-http
// endpoints off loopback, or the configuration is incomplete.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ctx = gooidc.ClientContext(ctx, cfg.HTTPClient)
	disc, err := gooidc.NewProvider(ctx, cfg.Issuer)
	var mismatch *gooidc.IssuerMismatchError
	switch {
	case errors.As(err, &mismatch):
		return nil, fmt.Errorf("oidc: issuer %q publishes the issuer %q in its discovery document; the two must match exactly (mind a trailing slash)", mismatch.Provided, mismatch.Discovered)
	case err != nil:
		return nil, fmt.Errorf("oidc: discovery at %s/.well-known/openid-configuration failed: %w", strings.TrimSuffix(cfg.Issuer, "/"), err)
	}
	var meta struct {
		JWKS        string   `json:"jwks_uri"`
		Algs        []string `json:"id_token_signing_alg_values_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := disc.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, fmt.Errorf("oidc: the discovery document of %s has no jwks_uri", cfg.Issuer)
	}
	// Keys fetched in the clear could be anyone's.
	if err := checkURL("jwks_uri", meta.JWKS); err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, algs: acceptedAlgs(meta.Algs)}
	p.keys = newKeySet(meta.JWKS, cfg.HTTPClient, p.algs, cfg.Now)
	// Read the keys now: a wrong jwks_uri should stop posture at start, not
	// refuse every token later.
	if _, err := p.keys.refresh(ctx, time.Time{}); err != nil {
		return nil, fmt.Errorf("oidc: reading the keys of %s: %w", cfg.Issuer, err)
	}
	p.api = gooidc.NewVerifier(cfg.Issuer, p.keys, &gooidc.Config{
		SkipClientIDCheck:    true, // checked against cfg.Audience by Verify
		SkipExpiryCheck:      true, // checked with cfg.Skew and cfg.Now
		SupportedSigningAlgs: p.algs,
	})
	if cfg.RedirectURL != "" {
		if err := p.setupLogin(disc, meta.AuthMethods); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *Provider) setupLogin(disc *gooidc.Provider, authMethods []string) error {
	ep := disc.Endpoint()
	if ep.AuthURL == "" || ep.TokenURL == "" {
		return fmt.Errorf("oidc: the discovery document of %s has no authorization or token endpoint", p.cfg.Issuer)
	}
	for field, u := range map[string]string{"authorization_endpoint": ep.AuthURL, "token_endpoint": ep.TokenURL} {
		if err := checkURL(field, u); err != nil {
			return err
		}
	}
	// Say how the client authenticates rather than let x/oauth2 guess: its
	// guess sends a refused code twice. Basic is the default of OpenID
	// Connect Discovery 1.0 when the provider lists no methods.
	switch {
	case p.cfg.ClientSecret == "":
		// A public client names itself in the form (RFC 6749, section 3.2.1).
		ep.AuthStyle = oauth2.AuthStyleInParams
	case len(authMethods) > 0 && !slices.Contains(authMethods, "client_secret_basic") && slices.Contains(authMethods, "client_secret_post"):
		ep.AuthStyle = oauth2.AuthStyleInParams
	default:
		ep.AuthStyle = oauth2.AuthStyleInHeader
	}
	p.oauth = oauth2.Config{
		ClientID:     p.cfg.ClientID,
		ClientSecret: p.cfg.ClientSecret,
		Endpoint:     ep,
		RedirectURL:  p.cfg.RedirectURL,
		Scopes:       p.cfg.Scopes,
	}
	p.idTok = gooidc.NewVerifier(p.cfg.Issuer, p.keys, &gooidc.Config{
		ClientID:             p.cfg.ClientID,
		SkipExpiryCheck:      true,
		SupportedSigningAlgs: p.algs,
	})
	block, err := aes.NewCipher(p.cfg.CookieKey)
	if err != nil {
		return fmt.Errorf("oidc: CookieKey: %w", err)
	}
	p.aead, _ = cipher.NewGCM(block) // never fails for AES
	p.secure = strings.HasPrefix(p.cfg.RedirectURL, "https://")
	p.login = true
	return nil
}

// acceptedAlgs is the issuer's advertised algorithms that are asymmetric;
// RS256, which every OpenID provider must support, when it advertises none.
func acceptedAlgs(advertised []string) []string {
	var algs []string
	for _, a := range advertised {
		if slices.Contains(asymmetric, a) && !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{gooidc.RS256}
	}
	return algs
}

func (c *Config) defaults() error {
	if err := checkURL("Issuer", c.Issuer); err != nil {
		return err
	}
	if c.RedirectURL != "" || len(c.CookieKey) > 0 {
		if c.ClientID == "" || c.RedirectURL == "" {
			return errors.New("oidc: the portal sign-in needs ClientID, RedirectURL and CookieKey")
		}
		if err := checkURL("RedirectURL", c.RedirectURL); err != nil {
			return err
		}
		if len(c.CookieKey) != 32 {
			return fmt.Errorf("oidc: CookieKey must be 32 bytes, not %d", len(c.CookieKey))
		}
	}
	if len(c.Audience) == 0 {
		if c.ClientID == "" {
			return errors.New("oidc: set Audience (the accepted \"aud\" values of API tokens) or ClientID")
		}
		c.Audience = []string{c.ClientID}
	}
	c.Audience = slices.Clone(c.Audience)
	c.Scopes = slices.Clone(c.Scopes)
	if len(c.Scopes) == 0 {
		c.Scopes = []string{gooidc.ScopeOpenID, "profile", "email"}
	} else if !slices.Contains(c.Scopes, gooidc.ScopeOpenID) {
		c.Scopes = append([]string{gooidc.ScopeOpenID}, c.Scopes...)
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	switch {
	case c.Skew == 0:
		c.Skew = DefaultSkew
	case c.Skew < 0:
		c.Skew = 0
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// checkURL accepts absolute https URLs, and http ones on a loopback host
// only: tokens and codes must not cross a network in the clear.
func checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("oidc: %s %q is not an absolute http(s) URL", field, raw)
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return fmt.Errorf("oidc: %s %q must use https (http is allowed only on a loopback host)", field, raw)
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
