package api

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/requests"
)

// link serves the one-click links of notices (requests.LinkPath). GET shows
// what the link is for and a form; POST does it. Both need a signed-in
// principal (a bearer token or the portal's session cookie), and the
// decision is checked as the API checks it: a link is not a credential. A
// forged, expired or replayed link is 403 and an entry in the ledger.
func (s *Server) link(w http.ResponseWriter, r *http.Request) {
	if s.Requests == nil || s.Requests.Links == nil {
		s.page(w, http.StatusNotFound, pageData{Title: "Not found", Error: "Links are not enabled on this server."})
		return
	}
	var token string
	switch r.Method {
	case http.MethodGet:
		token = r.URL.Query().Get("token")
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			s.page(w, http.StatusBadRequest, pageData{Title: "Bad request", Error: "The form could not be read."})
			return
		}
		token = r.PostForm.Get("token")
	default:
		w.Header().Set("Allow", "GET, POST")
		s.page(w, http.StatusMethodNotAllowed, pageData{Title: "Method not allowed", Error: "Use GET or POST."})
		return
	}
	ctx := r.Context()
	p, err := s.pagePrincipal(r)
	if err != nil {
		if s.Login != nil && r.Method == http.MethodGet {
			http.Redirect(w, r, "/auth/login?returnTo="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		s.page(w, http.StatusUnauthorized, pageData{Title: "Sign in", Error: "Sign in to posture first (or send an API token as a bearer token); the link alone does not let anyone decide."})
		return
	}
	ctx = posture.NewContextWithPrincipal(ctx, p)
	claims, err := s.Requests.Links.Verify(token, s.Now())
	if err != nil {
		s.linkDenied(r, p, nil, err)
		s.page(w, http.StatusForbidden, pageData{Title: "Link refused", Error: errMessage(err)})
		return
	}
	d := pageData{Title: linkTitle(claims.Action), Token: token, Action: claims.Action, Target: claims.Target, Principal: p.DisplayName}
	if d.Principal == "" {
		d.Principal = p.ID
	}
	if r.Method == http.MethodGet {
		if claims.Action == requests.LinkRenew {
			d.DefaultExpiry = s.Now().AddDate(0, 3, 0).UTC().Format("2006-01-02")
		}
		s.page(w, http.StatusOK, d)
		return
	}
	// Browsers send Origin on form posts; one from another site is a
	// forgery (the session cookie is SameSite=Lax as well).
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, r.Host) {
			err := posture.Errorf(posture.EFORBIDDEN, "CrossSiteRequest", "The form was posted from another site.")
			s.linkDenied(r, p, claims, err)
			s.page(w, http.StatusForbidden, pageData{Title: "Link refused", Error: errMessage(err)})
			return
		}
	}
	f := requests.LinkForm{Reason: r.PostForm.Get("reason"), Justification: r.PostForm.Get("justification")}
	if e := r.PostForm.Get("expiresOn"); e != "" {
		t, err := time.Parse("2006-01-02", e)
		if err != nil {
			d.Error = "The expiry must be a date (YYYY-MM-DD)."
			s.page(w, http.StatusBadRequest, d)
			return
		}
		f.ExpiresOn = &t
	}
	res, err := s.Requests.UseLink(ctx, claims, f)
	if err != nil {
		s.linkDenied(r, p, claims, err)
		d.Error = errMessage(err)
		s.page(w, statusOf(posture.ErrorKind(err)), d)
		return
	}
	d.Done, d.Result = true, res.ID
	s.page(w, http.StatusOK, d)
}

// pagePrincipal authenticates a browser request: a bearer token or the
// session cookie.
func (s *Server) pagePrincipal(r *http.Request) (*posture.Principal, error) {
	tok := bearer(r)
	if tok == "" {
		if c, err := r.Cookie(SessionCookie); err == nil {
			tok = c.Value
		}
	}
	if tok == "" {
		return nil, posture.Errorf(posture.EUNAUTHORIZED, "AuthenticationFailed", "Not signed in.")
	}
	return s.Auth.Authenticate(r.Context(), tok)
}

// linkDenied records a refused link in the ledger.
func (s *Server) linkDenied(r *http.Request, p *posture.Principal, c *requests.LinkClaims, err error) {
	var pe *posture.Error
	if !errors.As(err, &pe) || pe.Kind != posture.EFORBIDDEN {
		return
	}
	scope, action := "/", "link"
	if c != nil {
		scope, action = c.Target, c.Action
	}
	s.record(r.Context(), &posture.Event{Kind: posture.EventDenied, Actor: p.ID, ActorType: p.Type,
		Action: "Microsoft.Security/exemptionRequests/" + action + "/action", Scope: scope,
		After: mustJSON(map[string]any{"code": pe.Code, "message": pe.Message, "address": clientAddr(r)})})
}

func linkTitle(action string) string {
	switch action {
	case requests.LinkApprove:
		return "Approve exemption request"
	case requests.LinkReject:
		return "Reject exemption request"
	}
	return "Renew exemption"
}

func errMessage(err error) string {
	var pe *posture.Error
	if errors.As(err, &pe) {
		return pe.Code + ": " + pe.Message
	}
	return "The request failed."
}

type pageData struct {
	Title, Error, Token, Action, Target, Principal, DefaultExpiry, Result string
	Done                                                                  bool
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · posture</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
label{display:block;margin-top:1rem;font-weight:600}textarea,input{width:100%;padding:.4rem;font:inherit}
button{margin-top:1rem;padding:.5rem 1.2rem;font:inherit;background:#0b5cad;color:#fff;border:0;border-radius:4px}
.error{background:#fde7e9;border-left:4px solid #a4262c;padding:.6rem}.done{background:#dff6dd;border-left:4px solid #107c10;padding:.6rem}
code{word-break:break-all}</style></head>
<body><h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .Done}}<p class="done" role="status">Done: <code>{{.Result}}</code></p>
{{else if .Token}}<p>Signed in as <strong>{{.Principal}}</strong>. Target: <code>{{.Target}}</code></p>
<form method="post" action="/requests/link">
<input type="hidden" name="token" value="{{.Token}}">
{{if eq .Action "renew"}}<label for="justification">Justification for the renewal</label>
<textarea id="justification" name="justification" rows="4" required></textarea>
<label for="expiresOn">New expiry</label><input id="expiresOn" name="expiresOn" type="date" value="{{.DefaultExpiry}}" required>
<button type="submit">Request renewal</button>
{{else}}<label for="reason">{{if eq .Action "reject"}}Reason (required){{else}}Comment (optional){{end}}</label>
<textarea id="reason" name="reason" rows="4"{{if eq .Action "reject"}} required{{end}}></textarea>
<button type="submit">{{if eq .Action "approve"}}Approve{{else}}Reject{{end}}</button>{{end}}
</form>{{end}}
</body></html>`))

func (s *Server) page(w http.ResponseWriter, status int, d pageData) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer") // the token is in the URL
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, d); err != nil {
		s.Logger.Error("rendering a page", "err", err)
	}
}
