package main

import (
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture/api"
	"github.com/posture/posture/oidc/oidctest"
)

// freeAddr returns a loopback address nobody listens on, so that the
// public URL (and with it the sign-in callback) is known before serve
// starts.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startWithOIDC runs serve --demo trusting a test OpenID provider.
func startWithOIDC(t *testing.T) (*server, *oidctest.OP, string) {
	t.Helper()
	op := oidctest.Start(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: op.Server.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	public := "http://" + addr
	op.AllowRedirect(public + "/auth/callback")
	s := startServer(t, "--demo", "--addr", addr, "--oidc-issuer", op.Issuer, "--oidc-audience", oidctest.Audience,
		"--oidc-client-id", oidctest.PortalClientID, "--oidc-client-secret", oidctest.PortalClientSecret,
		"--public-url", public, "--oidc-ca-file", ca)
	return s, op, public
}

func bearerHeader(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct{ Error struct{ Code string } }
	json.Unmarshal(body, &e)
	return e.Error.Code
}

// TestOIDCSignIn: bearer JWTs of the configured issuer are callers; their
// oid names the principal, their group claims grant what the group holds,
// and bad tokens get Azure's codes. The portal signs in with the
// authorization-code flow and PKCE.
func TestOIDCSignIn(t *testing.T) {
	s, op, public := startWithOIDC(t)
	sub := "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	alice := op.UserToken(t, oidctest.Alice)

	// No role yet: reading the subscription is refused, by name.
	code, _, body := s.raw(t, "GET", sub+"?api-version=2022-12-01", "", bearerHeader(alice)...)
	if code != 403 || errorCode(t, body) != "AuthorizationFailed" || !strings.Contains(string(body), oidctest.Alice.ObjectID) {
		t.Fatalf("alice before any role: %d %s", code, body)
	}
	// The first sign-in created her principal from the token's oid and name.
	var p struct {
		Properties struct{ PrincipalType, DisplayName string }
	}
	json.Unmarshal(s.get(t, "/providers/Posture.Identity/principals/"+oidctest.Alice.ObjectID+"?api-version=2026-11-01"), &p)
	if p.Properties.DisplayName != oidctest.Alice.Name || p.Properties.PrincipalType != "User" {
		t.Errorf("alice's principal: %+v", p)
	}

	// Reader for her group (a claim in her token) lets her read.
	if code, _, b := s.raw(t, "PUT", "/providers/Posture.Identity/principals/"+oidctest.AdminsGroup+"?api-version=2026-11-01",
		`{"properties":{"principalType":"Group","displayName":"Admins"}}`); code != 201 {
		t.Fatalf("create group: %d %s", code, b)
	}
	if code, _, b := s.raw(t, "PUT", sub+"/providers/Microsoft.Authorization/roleAssignments/4f1c2b3a-0d9e-4c8b-a7f6-5e4d3c2b1a09?api-version=2022-04-01",
		`{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7","principalId":"`+oidctest.AdminsGroup+`"}}`); code != 201 {
		t.Fatalf("assign Reader to the group: %d %s", code, b)
	}
	if code, _, body := s.raw(t, "GET", sub+"?api-version=2022-12-01", "", bearerHeader(alice)...); code != 200 {
		t.Errorf("alice through her group: %d %s", code, body)
	}
	// Reader does not write.
	if code, _, body := s.raw(t, "PUT", sub+"/resourceGroups/alice-rg?api-version=2022-12-01", `{"location":"westeurope"}`, bearerHeader(alice)...); code != 403 {
		t.Errorf("alice writing: %d %s", code, body)
	}
	// Bob is in no group.
	if code, _, body := s.raw(t, "GET", sub+"?api-version=2022-12-01", "", bearerHeader(op.UserToken(t, oidctest.Bob))...); code != 403 {
		t.Errorf("bob: %d %s", code, body)
	}
	// A client-credentials token is a service principal.
	svc := op.ClientCredentialsToken(t)
	s.raw(t, "GET", sub+"?api-version=2022-12-01", "", bearerHeader(svc)...)
	json.Unmarshal(s.get(t, "/providers/Posture.Identity/principals/"+oidctest.ServiceClientID+"?api-version=2026-11-01"), &p)
	if p.Properties.PrincipalType != "ServicePrincipal" {
		t.Errorf("service principal: %+v", p)
	}

	now := time.Now()
	claims := func(mod func(map[string]any)) string {
		c := map[string]any{"iss": op.Issuer, "aud": oidctest.Audience, "sub": "carol", "oid": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		mod(c)
		return op.Sign(t, c)
	}
	for _, tc := range []struct {
		name, token, code string
	}{
		{"expired", claims(func(c map[string]any) {
			c["exp"] = now.Add(-time.Hour).Unix()
			c["iat"] = now.Add(-2 * time.Hour).Unix()
		}), "ExpiredAuthenticationToken"},
		{"wrong audience", claims(func(c map[string]any) { c["aud"] = "api://someone-else" }), "InvalidAuthenticationTokenAudience"},
		{"wrong issuer", claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), "InvalidAuthenticationTokenTenant"},
		{"malformed", "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.AAAA", "InvalidAuthenticationToken"},
	} {
		code, h, body := s.raw(t, "GET", sub+"?api-version=2022-12-01", "", bearerHeader(tc.token)...)
		if code != 401 || errorCode(t, body) != tc.code || !strings.Contains(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %s", tc.name, code, body)
		}
	}

	// The portal sign-in: /auth/login → the OP's form → /auth/callback →
	// a session cookie holding a posture token for Alice.
	browser := op.Browser()
	resp := op.Login(t, browser, public+"/auth/login?returnTo=/", oidctest.Alice)
	resp.Body.Close()
	u, _ := url.Parse(public)
	var session string
	for _, c := range browser.Jar.Cookies(u) {
		if c.Name == api.SessionCookie {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatalf("no session cookie after the sign-in (last: %s %s)", resp.Request.URL, resp.Status)
	}
	if code, _, body := s.raw(t, "GET", sub+"?api-version=2022-12-01", "", bearerHeader(session)...); code != 200 {
		t.Errorf("session token: %d %s", code, body)
	}
	// The sign-in and the refusals are in the activity log of the tenant.
	var log struct {
		Value []struct {
			OperationName struct{ Value string }
			Status        struct{ Value string }
			Caller        string
		}
	}
	json.Unmarshal(s.get(t, "/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01"), &log)
	var signIns, failed int
	for _, e := range log.Value {
		if e.OperationName.Value == "Posture.Identity/signIn/action" {
			if e.Status.Value == "Succeeded" && e.Caller == oidctest.Alice.ObjectID {
				signIns++
			} else if e.Status.Value == "Failed" {
				failed++
			}
		}
	}
	if signIns != 1 || failed != 4 {
		t.Errorf("activity log: %d sign-ins of alice (want 1), %d failed sign-ins (want 4)", signIns, failed)
	}
}

// TestLoginWithoutIssuer: without --oidc-issuer the portal sign-in says how
// to sign in instead.
func TestLoginWithoutIssuer(t *testing.T) {
	s := startServer(t)
	resp, err := http.Get(s.url + "/auth/login")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct{ Error struct{ Code string } }
	json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != 404 || e.Error.Code != "SignInNotConfigured" {
		t.Errorf("login without issuer: %d %s", resp.StatusCode, e.Error.Code)
	}
}
