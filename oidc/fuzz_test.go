package oidc_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/oidc"
	"github.com/posture/posture/oidc/oidctest"
)

// FuzzVerify feeds Verify arbitrary bearer strings against a live test OP.
// Whatever the input, Verify must not panic, must refuse with an
// EUNAUTHORIZED *posture.Error, and must not repeat the input.
func FuzzVerify(f *testing.F) {
	op := oidctest.Start(f)
	p, err := oidc.New(f.Context(), oidc.Config{Issuer: op.Issuer, Audience: []string{oidctest.Audience}, HTTPClient: op.HTTPClient()})
	if err != nil {
		f.Fatal(err)
	}
	user := op.UserToken(f, oidctest.Alice)
	exp := time.Now().Add(time.Hour).Unix()
	for _, seed := range []string{
		user,
		op.ClientCredentialsToken(f),
		op.Sign(f, map[string]any{"iss": op.Issuer, "aud": []any{"x", oidctest.Audience}, "sub": "s", "exp": exp, "groups": []any{"g", 1}}),
		op.Sign(f, map[string]any{"iss": op.Issuer, "aud": "other", "exp": 1.5}),
		segment(`{"alg":"none"}`) + "." + strings.Split(user, ".")[1] + ".",
		segment(`{"alg":"RS256","crit":["exp"]}`) + "." + segment(`{"iss":"`+op.Issuer+`"}`) + ".c2ln",
		"", "a.b.c", "pst_abc", "eyJhbGciOiJSUzI1NiJ9.e30.",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		id, err := p.Verify(t.Context(), raw)
		if err == nil {
			if id == nil || id.Issuer != op.Issuer {
				t.Fatalf("accepted %q as %+v", raw, id)
			}
			return
		}
		var e *posture.Error
		if !errors.As(err, &e) || e.Kind != posture.EUNAUTHORIZED || e.Code == "" || e.Message == "" {
			t.Fatalf("Verify(%q) = %#v", raw, err)
		}
		if len(raw) >= 16 && strings.Contains(err.Error(), raw) {
			t.Fatalf("the error repeats the token: %v", err)
		}
	})
}
