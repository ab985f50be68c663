package oidc_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/oidc"
	"github.com/posture/posture/oidc/oidctest"
)

// cookieKey is the tests' login-cookie key; tests that re-seal a cookie
// need to know it.
var cookieKey = bytes.Repeat([]byte{7}, 32)

// newProvider runs discovery against op with the portal client configured;
// edit adjusts the config first.
func newProvider(t *testing.T, op *oidctest.OP, edit func(*oidc.Config)) *oidc.Provider {
	t.Helper()
	cfg := oidc.Config{
		Issuer:       op.Issuer,
		Audience:     []string{oidctest.Audience},
		ClientID:     oidctest.PortalClientID,
		ClientSecret: oidctest.PortalClientSecret,
		RedirectURL:  "https://127.0.0.1/auth/callback",
		CookieKey:    cookieKey,
		HTTPClient:   op.HTTPClient(),
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := oidc.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantRefusal checks that err is a *posture.Error of kind EUNAUTHORIZED
// with the code, and returns it.
func wantRefusal(t *testing.T, err error, code string) *posture.Error {
	t.Helper()
	var e *posture.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *posture.Error %s", err, err, code)
	}
	if e.Kind != posture.EUNAUTHORIZED || e.Code != code {
		t.Fatalf("error %s/%s %q, want unauthorized/%s", e.Kind, e.Code, e.Message, code)
	}
	return e
}

func newJar() (http.CookieJar, error) { return cookiejar.New(nil) }
