package oidc

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// loginState travels from StartLogin to FinishLogin in the login cookie.
type loginState struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r"`
	Expires  int64  `json:"e"` // unix seconds; the browser's Max-Age is not trusted
}

// maxCookie is what browsers store for a cookie (RFC 6265, section 6.1).
const maxCookie = 4096

// sealVersion is authenticated with every cookie, so that a future change
// of format or purpose cannot accept today's cookies.
const sealVersion = "posture-oidc-login-v1"

var errCookie = errors.New("login cookie does not open")

// cookieName uses the __Host- prefix when the cookie is Secure: browsers
// then refuse it unless it was set over https for this host and path /,
// so a sibling subdomain cannot plant a login state.
func (p *Provider) cookieName() string {
	if p.secure {
		return "__Host-posture-login"
	}
	return "posture-login"
}

// seal encrypts and authenticates s with AES-256-GCM; the result is
// base64url(nonce || ciphertext).
func (p *Provider) seal(s loginState) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(plain)+p.aead.Overhead())
	rand.Read(nonce) // never fails (crypto/rand)
	v := base64.RawURLEncoding.EncodeToString(p.aead.Seal(nonce, nonce, plain, []byte(sealVersion)))
	if len(p.cookieName())+1+len(v) > maxCookie {
		return "", errors.New("login cookie too large")
	}
	return v, nil
}

// unseal opens a cookie value and checks its expiry. Its errors say nothing
// about the value.
func (p *Provider) unseal(v string, now time.Time) (loginState, error) {
	var s loginState
	if len(v) > maxCookie {
		return s, errCookie
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(b) < p.aead.NonceSize()+p.aead.Overhead() {
		return s, errCookie
	}
	n := p.aead.NonceSize()
	plain, err := p.aead.Open(nil, b[:n], b[n:], []byte(sealVersion))
	if err != nil {
		return s, errCookie
	}
	if err := json.Unmarshal(plain, &s); err != nil {
		return s, errCookie
	}
	if !now.Before(time.Unix(s.Expires, 0)) {
		return s, errors.New("login cookie expired")
	}
	return s, nil
}

func (p *Provider) setCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     p.cookieName(),
		Value:    value,
		Path:     "/", // __Host- requires it
		MaxAge:   maxAge,
		Secure:   p.secure,
		HttpOnly: true,
		// Lax, not Strict: the IdP's redirect back to the callback is a
		// cross-site top-level navigation, which Strict would strip.
		SameSite: http.SameSiteLaxMode,
	})
}
