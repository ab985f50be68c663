// Package api serves posture's HTTP interface: /healthz, /readyz, /metrics
// and the ARM-shaped API. ARM scopes sit in the middle of paths
// ({scope}/providers/Microsoft.Authorization/policyExemptions/{name}), which
// no router handles, so every ARM path goes through one dispatcher built on
// package armid: it authenticates, finds the handler by resource type,
// checks api-version, authorizes the call as Azure RBAC would (authorize.go)
// and writes the ARM envelopes (errors, lists with nextLink). /auth/login
// and /auth/callback serve the OpenID Connect sign-in.
// Errors are mapped to HTTP statuses in exactly one function, writeError.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/posture/posture"
	"github.com/posture/posture/audit"
	"github.com/posture/posture/auth"
	"github.com/posture/posture/authz"
	"github.com/posture/posture/dispatch"
	"github.com/posture/posture/identity"
	"github.com/posture/posture/oidc"
	"github.com/posture/posture/requests"
)

// MaxBody is the largest request body of an ordinary ARM call (ARM's own
// limit is 4 MiB).
const MaxBody = 4 << 20

// MaxImportBody is the largest body of an import call; it is streamed.
const MaxImportBody = 256 << 20

// Server is posture's HTTP server. Fill the fields, then call Handler.
type Server struct {
	Resources posture.ResourceService
	Policy    posture.PolicyService
	Graph     posture.GraphService
	Security  posture.SecurityService
	// Exemptions serves policy exemptions; its ExpireDue runs before
	// every call, so no read shows an expired exemption's effect.
	Exemptions posture.ExemptionService
	Auth       posture.Authenticator
	// Authz decides every call (see authorize); Identity serves principals,
	// roles and role assignments, Tokens API tokens.
	Authz    *authz.Authorizer
	Identity *identity.Service
	Tokens   *auth.Service
	// Audit appends an entry to the ledger in its own transaction: sign-in
	// failures and denials, which change nothing else.
	Audit func(context.Context, *posture.Event) error
	// Login signs portal users in with an OpenID provider; nil: tokens only.
	Login *oidc.Provider
	// Requests serves exemption requests and the one-click links of their
	// notices.
	Requests *requests.Service
	// Automations serves Microsoft.Security/automations.
	Automations *dispatch.Service
	// Jobs lists the durable queue and RetryJob puts a dead job back.
	Jobs     func(context.Context, posture.JobFilter) ([]*posture.Job, error)
	RetryJob func(context.Context, int64) (*posture.Job, error)
	// Portal serves the web portal's pages (package web), the paths it
	// owns; nil: no portal.
	Portal Portal
	// Ledger serves the ledger: the activity log and exports.
	Ledger *audit.Service
	Logger *slog.Logger
	// Registry receives the HTTP metrics; /metrics serves Gatherer.
	Registry prometheus.Registerer
	Gatherer prometheus.Gatherer
	// ReadyChecks decide /readyz (readyz.go); /healthz is liveness only.
	ReadyChecks []ReadyCheck
	// Limits throttles callers and bounds slow bodies (limits.go); nil:
	// bodies are bounded in size only.
	Limits *Limits
	// Forward sends this replica's ARM writes to the leader (forward.go);
	// nil: it writes itself (SQLite, or no --advertise-url).
	Forward *Forward
	Now     posture.Clock

	routes  map[string]*typeRoutes
	metrics *httpMetrics
	signIns signInLimiter
}

// Handler returns the root handler. It must be called once, after the
// fields are set.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Registry == nil {
		reg := prometheus.NewRegistry()
		s.Registry, s.Gatherer = reg, reg
	}
	s.metrics = newHTTPMetrics(s.Registry)
	s.routes = map[string]*typeRoutes{}
	s.registerEstate()
	s.registerPolicy()
	s.registerGraph()
	s.registerSecurity()
	s.registerExemptions()
	s.registerIdentity()
	s.registerAudit()
	s.registerRequests()
	s.registerJobs()
	s.registerAutomations()
	s.registerContacts()
	s.registerPreview()
	metrics := promhttp.HandlerFor(s.Gatherer, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(w, r, metrics)
	})
}

// serve wraps every request: request id, panic recovery, logs and metrics.
// It does not use http.ServeMux on purpose: the mux redirects paths with
// double slashes, and Azure SDKs send "//subscriptions/…" when a scope
// starting with "/" is pasted into "/{scope}/providers/…".
func (s *Server) serve(w http.ResponseWriter, r *http.Request, metrics http.Handler) {
	start := time.Now()
	reqID := uuid.NewString()
	h := w.Header()
	h.Set("x-ms-request-id", reqID)
	h.Set("x-ms-correlation-request-id", reqID)
	if c := r.Header.Get("x-ms-client-request-id"); c != "" && len(c) <= 128 {
		h.Set("x-ms-client-request-id", c)
	}
	ctx := posture.NewContextWithRequestID(r.Context(), reqID)
	r = r.WithContext(ctx)
	r.Body = s.limitBody(w, r)
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	route := "arm"
	defer func() {
		if v := recover(); v != nil {
			s.Logger.Error("panic", "request_id", reqID, "panic", v, "stack", string(debug.Stack()))
			if !rec.wrote {
				s.writeError(rec, r, posture.Internal(errPanic))
			}
		}
		d := time.Since(start)
		s.metrics.observe(r.Context(), route, r.Method, rec.status, d)
		attrs := []any{"request_id", reqID, "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration_ms", float64(d.Microseconds()) / 1000, "route", route}
		if p := rec.principal; p != "" {
			attrs = append(attrs, "principal", p)
		}
		// A replica not ready yet answers its probe 503 every few seconds
		// while it loads: that is its state, not an error to page on.
		if rec.status >= 500 && !(route == "readyz" && rec.status == http.StatusServiceUnavailable) {
			s.Logger.Error("request", attrs...)
		} else {
			s.Logger.Info("request", attrs...)
		}
	}()
	if err := s.headersTooLarge(r); err != nil {
		route = "limits"
		s.writeError(rec, r, err)
		return
	}
	switch r.URL.Path {
	case "/healthz":
		route = "healthz"
		s.health(rec, r)
		return
	case "/readyz":
		route = "readyz"
		s.readyz(rec, r)
		return
	case "/metrics":
		route = "metrics"
		metrics.ServeHTTP(rec, r)
		return
	case "/auth/login":
		route = "login"
		s.login(rec, r)
		return
	case "/auth/callback":
		route = "callback"
		s.callback(rec, r, rec)
		return
	case requests.LinkPath:
		route = "link"
		s.link(rec, r)
		return
	}
	if s.Portal != nil && s.Portal.Owns(r.URL.Path) {
		route = portalRoute(r.URL.Path)
		s.Portal.ServeHTTP(rec, r)
		return
	}
	if s.forward(rec, r) {
		route = "forwarded"
		return
	}
	route = s.dispatch(rec, r)
}

// Portal is the web portal: it serves the paths it owns.
type Portal interface {
	http.Handler
	Owns(path string) bool
}

type panicError struct{}

func (panicError) Error() string { return "panic while serving the request" }

var errPanic = panicError{}

// recorder remembers the status for logs and metrics.
type recorder struct {
	http.ResponseWriter
	status    int
	wrote     bool
	principal string
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// bearer returns the token of an "Authorization: Bearer …" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}
