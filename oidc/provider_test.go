package oidc_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/posture/posture/oidc"
	"github.com/posture/posture/oidc/oidctest"
)

func TestNewRefuses(t *testing.T) {
	op := oidctest.Start(t)
	gone := httptest.NewTLSServer(nil)
	gone.Close()
	for _, tc := range []struct {
		name string
		cfg  oidc.Config
		want string
	}{
		{"unreachable issuer", oidc.Config{Issuer: gone.URL, Audience: []string{"a"}, HTTPClient: op.HTTPClient()},
			"discovery at " + gone.URL + "/.well-known/openid-configuration failed"},
		{"issuer with a trailing slash", oidc.Config{Issuer: op.Issuer + "/", Audience: []string{"a"}, HTTPClient: op.HTTPClient()},
			`publishes the issuer "` + op.Issuer + `"`},
		{"untrusted certificate", oidc.Config{Issuer: op.Issuer, Audience: []string{"a"}},
			"certificate"},
		{"http off loopback", oidc.Config{Issuer: "http://idp.example", Audience: []string{"a"}},
			"must use https"},
		{"relative issuer", oidc.Config{Issuer: "/idp", Audience: []string{"a"}},
			"not an absolute http(s) URL"},
		{"no audience, no client", oidc.Config{Issuer: op.Issuer},
			"set Audience"},
		{"sign-in without a key", oidc.Config{Issuer: op.Issuer, ClientID: "c", RedirectURL: "https://posture.example/cb"},
			"CookieKey must be 32 bytes, not 0"},
		{"sign-in with a short key", oidc.Config{Issuer: op.Issuer, ClientID: "c", RedirectURL: "https://posture.example/cb", CookieKey: []byte("short")},
			"CookieKey must be 32 bytes, not 5"},
		{"sign-in without a client", oidc.Config{Issuer: op.Issuer, Audience: []string{"a"}, RedirectURL: "https://posture.example/cb", CookieKey: cookieKey},
			"needs ClientID"},
		{"http callback off loopback", oidc.Config{Issuer: op.Issuer, ClientID: "c", RedirectURL: "http://posture.example/cb", CookieKey: cookieKey},
			"RedirectURL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := oidc.New(t.Context(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestNewAudienceDefault: without Audience, tokens for the client id are
// accepted, as Entra issues them for an app without an Application ID URI.
func TestNewAudienceDefault(t *testing.T) {
	op := oidctest.Start(t)
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: op.Issuer, ClientID: oidctest.Audience, HTTPClient: op.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Verify(t.Context(), op.UserToken(t, oidctest.Alice)); err != nil {
		t.Error(err)
	}
}
