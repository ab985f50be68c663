package oidc

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/posture/posture"
)

// maxReturnTo bounds returnTo so that the sealed cookie stays far below
// what browsers store.
const maxReturnTo = 1024

// StartLogin begins a portal sign-in: it sets the sealed login cookie (state,
// nonce, PKCE verifier, returnTo; HttpOnly, SameSite=Lax, ten minutes) and
// redirects 302 to the issuer's authorization endpoint with an S256 code
// challenge. returnTo is where FinishLogin sends the user afterwards: a path
// on this site ("/" when empty). Anything that a browser could resolve to
// another site is refused with EINVALID InvalidReturnTo; nothing is written
// to w on error.
func (p *Provider) StartLogin(w http.ResponseWriter, r *http.Request, returnTo string) error {
	if !p.login {
		return posture.Internal(errors.New("oidc: StartLogin without RedirectURL and CookieKey"))
	}
	if returnTo == "" {
		returnTo = "/"
	}
	if !localPath(returnTo) {
		return posture.Errorf(posture.EINVALID, CodeInvalidReturnTo,
			"The return address must be a path on this site, such as '/portal'.")
	}
	s := loginState{
		State:    random(),
		Nonce:    random(),
		Verifier: oauth2.GenerateVerifier(),
		ReturnTo: returnTo,
		Expires:  p.cfg.Now().Add(loginTTL).Unix(),
	}
	v, err := p.seal(s)
	if err != nil {
		return posture.Internal(err)
	}
	p.setCookie(w, v, int(loginTTL/time.Second))
	u := p.oauth.AuthCodeURL(s.State, oauth2.S256ChallengeOption(s.Verifier), gooidc.Nonce(s.Nonce))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u, http.StatusFound)
	return nil
}

// FinishLogin completes a sign-in at the RedirectURL: it clears the login
// cookie whatever happens (so a callback cannot be replayed), checks the
// state against the cookie, redeems the code with the PKCE verifier and
// verifies the ID token (audience ClientID, the nonce, issuer, signature
// and lifetime as Verify does). It returns the identity and the returnTo of
// StartLogin. Refusals are EUNAUTHORIZED LoginFailed.
func (p *Provider) FinishLogin(w http.ResponseWriter, r *http.Request) (*Identity, string, error) {
	if !p.login {
		return nil, "", posture.Internal(errors.New("oidc: FinishLogin without RedirectURL and CookieKey"))
	}
	p.setCookie(w, "", -1)
	w.Header().Set("Cache-Control", "no-store")
	ck, err := r.Cookie(p.cookieName())
	if err != nil {
		return nil, "", loginFailed("The sign-in has no session: it expired, was already completed, or cookies are blocked. Sign in again.", err)
	}
	s, err := p.unseal(ck.Value, p.cfg.Now())
	if err != nil {
		return nil, "", loginFailed("The sign-in session is invalid or expired. Sign in again.", err)
	}
	q := r.URL.Query()
	// The state is compared before the IdP's answer is read: a response
	// that does not belong to this browser's sign-in is not worth reading.
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(s.State)) != 1 {
		return nil, "", loginFailed("The sign-in response does not match this browser's sign-in. Sign in again.", nil)
	}
	if e := q.Get("error"); e != "" {
		return nil, "", loginFailed(idpRefusal(e), nil)
	}
	code := q.Get("code")
	if code == "" {
		return nil, "", loginFailed("The sign-in response has no authorization code. Sign in again.", nil)
	}
	ctx := gooidc.ClientContext(r.Context(), p.cfg.HTTPClient)
	tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(s.Verifier))
	if err != nil {
		return nil, "", loginFailed("The identity provider did not redeem the authorization code. Sign in again.", exchangeCause(err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", loginFailed("The identity provider returned no ID token.", nil)
	}
	c, err := p.verify(ctx, raw, p.idTok)
	if err != nil {
		return nil, "", loginFailed("The ID token from the identity provider is not valid.", err)
	}
	if subtle.ConstantTimeCompare([]byte(c.Nonce), []byte(s.Nonce)) != 1 {
		return nil, "", loginFailed("The ID token does not belong to this sign-in.", errors.New("nonce mismatch"))
	}
	// OpenID Connect Core 3.1.3.7: with several audiences, azp names the
	// client the token was issued to.
	if len(c.Aud) > 1 && c.Azp != "" && c.Azp != p.cfg.ClientID {
		return nil, "", loginFailed("The ID token was issued to another client.", errors.New("azp mismatch"))
	}
	return p.identity(c), s.ReturnTo, nil
}

// localPath accepts an absolute path on this origin. It refuses what a
// browser would take to another host: a scheme or host ("https://x",
// "//x"), backslashes (browsers read "/\x" as "//x"), and control
// characters (browsers drop tabs and newlines, turning "/\t/x" into "//x").
func localPath(s string) bool {
	if len(s) > maxReturnTo || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && !strings.HasPrefix(u.Path, "//")
}

// oauthError is RFC 6749's alphabet for error codes; only such a code is
// shown, never error_description, which is free text from the query.
var oauthError = regexp.MustCompile(`^[a-z_]{1,64}$`)

func idpRefusal(code string) string {
	if oauthError.MatchString(code) {
		return fmt.Sprintf("The identity provider refused the sign-in (%s).", code)
	}
	return "The identity provider refused the sign-in."
}

// exchangeCause keeps what logs need from a failed token request: the
// OAuth error code and HTTP status, not the body, which some providers fill
// with the request they refused.
func exchangeCause(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		return fmt.Errorf("token endpoint: HTTP %d, error %q", status, shown(re.ErrorCode))
	}
	return err
}

func random() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
