// Package web serves posture's portal: server-rendered pages over the same
// ARM API the SDKs use. Every page reads and writes through the API
// handler, called in-process with the signed-in user's session token, so a
// page can show nothing and do nothing the API would refuse that user; the
// role checks the pages make themselves only decide which buttons to show.
// Pages work without JavaScript; htmx (vendored) adds the live preview of
// the exemption form.
package web

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/posture/posture"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/requests"
)

//go:embed static templates
var files embed.FS

// Authorizer decides what the signed-in user may do, for showing buttons;
// the API checks every action again.
type Authorizer interface {
	Authorize(p *posture.Principal, action, scope string) error
	AuthorizeExemptionWrite(caller *posture.Principal, exemptionID, assignmentID string) error
}

// Sessions authenticates session cookies and mints and ends sessions.
type Sessions interface {
	posture.Authenticator
	CreateToken(ctx context.Context, principalID, id, name string, ttl time.Duration) (string, *posture.Token, error)
	RevokeSecret(ctx context.Context, secret string) error
}

// Portal is the web portal. Fill the fields, then serve it; api.Server
// hands it the paths Owns claims.
type Portal struct {
	// API is the ARM API handler the pages call in-process.
	API      http.Handler
	Sessions Sessions
	Authz    Authorizer
	// OIDC says whether /auth/login signs users in with an OpenID issuer.
	OIDC bool
	// Recommendation resolves an assessment key to the benchmark member
	// an exemption names (defender.Catalog).
	Recommendation func(key string) (requests.Recommendation, bool)
	// Catalog names the benchmark's recommendations by reference id.
	Catalog *defender.Catalog
	// ScoreHistory returns a subscription's secure score history; it is
	// asked only about subscriptions the user can read.
	ScoreHistory func(sub string) []defender.ScorePoint
	// CSRFKey signs the forms' anti-forgery tokens; replicas share it.
	CSRFKey []byte
	Logger  *slog.Logger
	Now     posture.Clock

	mux   *http.ServeMux
	pages map[string]*page
}

// prefixes are the first path segments the portal owns. ARM paths start
// with /subscriptions, /providers or /tenants and never collide.
var prefixes = []string{"recommendations", "exempt", "request", "trigger", "approvals", "requests", "exemptions",
	"resource", "query", "audit", "signin", "signout", "static"}

// Owns reports whether path is a portal page.
func (p *Portal) Owns(path string) bool {
	if path == "/" {
		return true
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	for _, s := range prefixes {
		if first == s {
			return true
		}
	}
	return false
}

// Init builds the routes and parses the templates; call it once before
// serving.
func (p *Portal) Init() error {
	if p.Logger == nil {
		p.Logger = slog.Default()
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return err
	}
	p.pages = pages
	static, _ := fs.Sub(files, "static")
	m := http.NewServeMux()
	m.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(static)))
	m.HandleFunc("GET /signin", p.signInPage)
	m.HandleFunc("POST /signin", p.signIn)
	m.HandleFunc("POST /signout", p.signOut)
	p.routes(m)
	p.mux = m
	return nil
}

// ServeHTTP serves a portal path.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	p.mux.ServeHTTP(w, r)
}

// staticFiles serves the embedded files, cached for a day. A name that is
// not UTF-8 is not one of them: the file server would answer it 500 (the
// embedded FS refuses it as invalid, not as missing).
func staticFiles(fsys fs.FS) http.Handler {
	fsrv := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !utf8.ValidString(r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fsrv.ServeHTTP(w, r)
	})
}
