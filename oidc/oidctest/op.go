// Package oidctest runs a real OpenID provider (ZITADEL's pkg/op) in-process
// over TLS, for tests of posture's OpenID Connect support: API bearer tokens
// and the portal sign-in. It knows two users, a group and a service
// principal, signs in through a login form driven with real HTTP posts, and
// mints tokens with the real authorization-code and client-credentials
// grants.
//
//	op := oidctest.Start(t)
//	cfg := oidc.Config{Issuer: op.Issuer, Audience: []string{oidctest.Audience},
//		HTTPClient: op.HTTPClient(), ...}
//	token := op.UserToken(t, oidctest.Alice)
//
// Its tokens look like Entra ID's where that matters to posture: users carry
// "oid" (Alice) and "groups"; access tokens are JWTs for the audience
// Audience; ID tokens are for the client that signed in.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// Audience is the "aud" of every access token the OP issues, as posture's
// API would be registered ("Application ID URI" in Entra).
const Audience = "api://posture"

// The clients the OP knows.
const (
	// PortalClientID is a confidential web client, for the portal sign-in;
	// register its callback with AllowRedirect.
	PortalClientID     = "posture-portal"
	PortalClientSecret = "portal-secret"
	// PublicClientID is the same without a secret: PKCE alone.
	PublicClientID = "posture-portal-public"
	// ServiceClientID is the service principal: client credentials, JWT
	// access tokens whose "sub" and "client_id" are this id.
	ServiceClientID     = "6a1f3c52-9d0e-4b7a-8c21-5e4f0a9b3d17"
	ServiceClientSecret = "service-secret"
	// cliClientID is UserToken's own public client.
	cliClientID = "oidctest-cli"
	cliRedirect = "http://127.0.0.1/oidctest-cli/callback"
)

// AdminsGroup is the object id of the one group; Alice is in it.
const AdminsGroup = "8f2c6a0e-4b7d-4c51-9a63-2f1e0d9b7c34"

// User is an account on the OP. Treat the package's users as constants.
type User struct {
	ID       string // "sub"
	ObjectID string // "oid" when set, as Entra puts it in every token
	Username string // the login name and "preferred_username"
	Password string
	Name     string // "name" when set
	Email    string
	Groups   []string // "groups"
}

var (
	// Alice looks like an Entra user: oid, name, a group.
	Alice = User{
		ID: "alice", ObjectID: "3b9d2c4e-7a1f-4e8b-9c5d-0f6a2e1b8d74",
		Username: "alice@posture.example", Password: "alice-password",
		Name: "Alice Admin", Email: "alice@posture.example",
		Groups: []string{AdminsGroup},
	}
	// Bob looks like a Keycloak user: a UUID subject, no oid, no name, no
	// groups.
	Bob = User{
		ID:       "0c7e5a2b-1d4f-4a8e-b3c6-9e2d7f5a1b40",
		Username: "bob@posture.example", Password: "bob-password",
		Email: "bob@posture.example",
	}
)

// OP is a running OpenID provider.
type OP struct {
	// Issuer is https://127.0.0.1:port, the "iss" of its tokens.
	Issuer string
	// Server is the TLS test server; its certificate is httptest's, which
	// every httptest TLS server shares.
	Server      *httptest.Server
	storage     *storage
	keysFetched atomic.Int64
}

// KeysFetched counts the requests for the OP's JWKS: how often a verifier
// went back for keys.
func (o *OP) KeysFetched() int { return int(o.keysFetched.Load()) }

// Start runs an OP until the test ends.
func Start(t testing.TB) *OP {
	t.Helper()
	s := newStorage()
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	o := &OP{Issuer: srv.URL, Server: srv, storage: s}
	s.issuer = srv.URL
	var key [32]byte
	rand.Read(key[:])
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:       key,
		CodeMethodS256:  true,
		AuthMethodPost:  true,
		SupportedClaims: append(op.DefaultSupportedClaims, "oid", "groups"),
	}, s, op.StaticIssuer(srv.URL))
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	mux.HandleFunc("/login", s.loginPage)
	mux.Handle("/", provider)
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		o.keysFetched.Add(1)
		provider.ServeHTTP(w, r)
	})
	return o
}

// HTTPClient trusts the OP's certificate; use it as oidc.Config.HTTPClient.
func (o *OP) HTTPClient() *http.Client { return o.Server.Client() }

// Browser returns a new client with a cookie jar that trusts the OP and any
// other httptest TLS server (they share a certificate) and follows
// redirects: what Login needs.
func (o *OP) Browser() *http.Client {
	jar, _ := cookiejar.New(nil) // never fails without options
	return &http.Client{Transport: o.Server.Client().Transport, Jar: jar}
}

// AllowRedirect registers a redirect URI (posture's callback) for the
// portal clients. It can be called after Start, once posture's address is
// known.
func (o *OP) AllowRedirect(uri string) {
	o.storage.mu.Lock()
	defer o.storage.mu.Unlock()
	o.storage.redirects = append(o.storage.redirects, uri)
}

// RotateKey makes a new RSA key the signing key; the old ones stay in the
// JWKS, as in a real rotation, so tokens already issued still verify.
func (o *OP) RotateKey(t testing.TB) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	o.storage.addKey(k)
}
