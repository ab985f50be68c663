package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/client"
)

// session is the signed-in user of one page request.
type session struct {
	principal *posture.Principal
	token     string // the session cookie's secret, the API bearer token
	csrf      string
	api       *client.Client
	remote    string
	// retryAfter is the wait the API asked for when it throttled one of
	// this page's calls (inProcess).
	retryAfter atomic.Int64
}

// Name is what the header shows.
func (s *session) Name() string {
	if s.principal.DisplayName != "" {
		return s.principal.DisplayName
	}
	return s.principal.ID
}

type handler func(w http.ResponseWriter, r *http.Request, s *session)

// signedIn wraps a page that needs a user: without a valid session, GETs
// go to the sign-in page and come back; other methods get 401. POSTs must
// carry the form's anti-forgery token and come from this site.
func (p *Portal) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := p.session(r)
		if err != nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/signin?returnTo="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			p.fail(w, r, nil, posture.Errorf(posture.EUNAUTHORIZED, "AuthenticationFailed", "Your session has ended; sign in again."))
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				if errors.As(err, new(*http.MaxBytesError)) {
					p.fail(w, r, s, posture.Errorf(posture.ETOOLARGE, "RequestContentTooLarge", "The form is larger than 1 MB."))
					return
				}
				p.fail(w, r, s, posture.Errorf(posture.EINVALID, "InvalidForm", "The form could not be read."))
				return
			}
			if err := p.checkForm(r, s); err != nil {
				p.fail(w, r, s, err)
				return
			}
		}
		h(w, r, s)
	}
}

// session authenticates the request's session cookie.
func (p *Portal) session(r *http.Request) (*session, error) {
	c, err := r.Cookie(api.SessionCookie)
	if err != nil || c.Value == "" {
		return nil, posture.Errorf(posture.EUNAUTHORIZED, "AuthenticationFailed", "Not signed in.")
	}
	pr, err := p.Sessions.Authenticate(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	s := &session{principal: pr, token: c.Value, csrf: p.csrfToken(c.Value), remote: r.RemoteAddr}
	s.api = &client.Client{BaseURL: "http://portal.internal", Token: c.Value, HTTP: &http.Client{Transport: inProcess{h: p.API, remote: r.RemoteAddr, retryAfter: &s.retryAfter}}}
	return s, nil
}

// csrfToken is the anti-forgery token of a session: an HMAC of its secret,
// so it needs no storage and dies with the session.
func (p *Portal) csrfToken(secret string) string {
	m := hmac.New(sha256.New, p.CSRFKey)
	m.Write([]byte("posture-csrf\x00"))
	m.Write([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// checkForm refuses a POST from another site or without the session's
// anti-forgery token (the cookie is SameSite=Lax too).
func (p *Portal) checkForm(r *http.Request, s *session) error {
	if !sameOrigin(r) {
		return posture.Errorf(posture.EFORBIDDEN, "CrossSiteRequest", "The form was posted from another site.")
	}
	got := r.PostForm.Get("csrf")
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	if !hmac.Equal([]byte(got), []byte(s.csrf)) {
		return posture.Errorf(posture.EFORBIDDEN, "InvalidFormToken", "The form is out of date or was not made by posture; reload the page and try again.")
	}
	return nil
}

// sameOrigin reports whether a POST's Origin (browsers send it on form
// posts) is this site; a request without one is allowed (the token decides).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && o != "null" && strings.EqualFold(u.Host, r.Host)
}

// signInPage offers the sign-in: the OpenID issuer when one is configured,
// and an API token.
func (p *Portal) signInPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, nil, http.StatusOK, "signin", signInData{ReturnTo: safeReturn(r.URL.Query().Get("returnTo")), OIDC: p.OIDC})
}

type signInData struct {
	ReturnTo string
	OIDC     bool
	Error    string
}

// signIn exchanges an API token for a session: a new token of the same
// principal that lasts SessionTTL, so the long-lived token is not kept in
// a cookie.
func (p *Portal) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	d := signInData{OIDC: p.OIDC}
	if err := r.ParseForm(); err != nil {
		d.Error = "The form could not be read."
		p.render(w, r, nil, http.StatusBadRequest, "signin", d)
		return
	}
	d.ReturnTo = safeReturn(r.PostForm.Get("returnTo"))
	if !sameOrigin(r) {
		d.Error = "The form was posted from another site."
		p.render(w, r, nil, http.StatusForbidden, "signin", d)
		return
	}
	tok := strings.TrimSpace(r.PostForm.Get("token"))
	if tok == "" {
		d.Error = "Paste an API token."
		p.render(w, r, nil, http.StatusBadRequest, "signin", d)
		return
	}
	// The token is checked by the API, which counts failures per address
	// and records them in the ledger.
	c := &client.Client{BaseURL: "http://portal.internal", Token: tok, HTTP: &http.Client{Transport: inProcess{h: p.API, remote: r.RemoteAddr}}}
	if _, err := c.Do(r.Context(), http.MethodGet, "/subscriptions", "2022-12-01", nil, nil, nil); err != nil {
		if k := posture.ErrorKind(err); k == posture.EUNAUTHORIZED || k == posture.ETOOMANY {
			d.Error = "Sign-in failed: " + errorText(err)
			p.render(w, r, nil, api.StatusOf(err), "signin", d)
			return
		}
	}
	pr, err := p.Sessions.Authenticate(r.Context(), tok)
	if err != nil {
		d.Error = "Sign-in failed: " + errorText(err)
		p.render(w, r, nil, http.StatusUnauthorized, "signin", d)
		return
	}
	ctx := posture.NewContextWithPrincipal(r.Context(), pr)
	secret, _, err := p.Sessions.CreateToken(ctx, pr.ID, "", "portal sign-in", api.SessionTTL)
	if err != nil {
		p.fail(w, r, nil, err)
		return
	}
	setSession(w, r, secret, int(api.SessionTTL.Seconds()))
	http.Redirect(w, r, d.ReturnTo, http.StatusSeeOther)
}

// signOut ends the session: its token is revoked, the cookie cleared.
func (p *Portal) signOut(w http.ResponseWriter, r *http.Request) {
	s, err := p.session(r)
	if err == nil {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if r.ParseForm() != nil || p.checkForm(r, s) != nil {
			p.fail(w, r, s, posture.Errorf(posture.EFORBIDDEN, "InvalidFormToken", "The sign-out form is out of date; reload the page."))
			return
		}
		if err := p.Sessions.RevokeSecret(context.WithoutCancel(r.Context()), s.token); err != nil {
			p.fail(w, r, s, err)
			return
		}
	}
	setSession(w, r, "", -1)
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

func setSession(w http.ResponseWriter, r *http.Request, secret string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: api.SessionCookie, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"), MaxAge: maxAge})
	w.Header().Set("Cache-Control", "no-store")
}

// safeReturn keeps a return address on this site: a path, never
// "//host" or a URL.
func safeReturn(s string) string {
	if s == "" || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
		return "/"
	}
	// Browsers drop tabs and newlines from a URL and read '\' as '/', so
	// "/\t/evil.example" would be "//evil.example", another site.
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	return s
}
