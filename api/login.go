package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/posture/posture"
)

// SessionCookie carries the portal's session: a posture API token minted
// at sign-in, HttpOnly so that page scripts cannot read it.
const SessionCookie = "posture_session"

// SessionTTL is how long a portal sign-in lasts.
const SessionTTL = 8 * time.Hour

// login serves /auth/login: the start of the OIDC authorization-code flow
// with PKCE. ?returnTo= is where the browser lands afterwards (a path on
// this site).
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.Login == nil {
		s.writeError(w, r, posture.Errorf(posture.ENOTFOUND, "SignInNotConfigured",
			"No OpenID Connect issuer is configured (serve --oidc-issuer); sign in with an API token."))
		return
	}
	if err := s.Login.StartLogin(w, r, r.URL.Query().Get("returnTo")); err != nil {
		s.writeError(w, r, err)
	}
}

// callback serves /auth/callback: it redeems the code, maps the identity to
// its principal, mints a session token and sets it as a cookie. Every
// outcome is in the ledger.
func (s *Server) callback(w http.ResponseWriter, r *http.Request, rec *recorder) {
	if s.Login == nil || s.Tokens == nil {
		s.writeError(w, r, posture.Errorf(posture.ENOTFOUND, "SignInNotConfigured", "No OpenID Connect issuer is configured."))
		return
	}
	ctx := r.Context()
	id, returnTo, err := s.Login.FinishLogin(w, r)
	if err != nil {
		s.record(ctx, &posture.Event{Kind: posture.EventSignInFailed, Actor: "anonymous", ActorType: "Unknown",
			Action: "Posture.Identity/signIn/action", Scope: "/", After: mustJSON(map[string]string{"address": clientAddr(r), "code": posture.ErrorCode(err)})})
		s.writeError(w, r, err)
		return
	}
	p, err := s.Tokens.SignIn(ctx, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rec.principal = p.ID
	ctx = posture.NewContextWithPrincipal(ctx, p)
	secret, _, err := s.Tokens.CreateToken(ctx, p.ID, "", "portal sign-in", SessionTTL)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	who, typ := posture.ActorFromContext(ctx)
	s.record(ctx, &posture.Event{Kind: posture.EventSignIn, Actor: who, ActorType: typ, Action: "Posture.Identity/signIn/action", Scope: "/",
		After: mustJSON(map[string]string{"address": clientAddr(r), "issuer": id.Issuer, "displayName": p.DisplayName})})
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"), MaxAge: int(SessionTTL / time.Second)})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, returnTo, http.StatusFound)
}
