package oidc_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/posture/posture"
	"github.com/posture/posture/oidc"
	"github.com/posture/posture/oidc/oidctest"
)

func TestVerifyUserToken(t *testing.T) {
	op := oidctest.Start(t)
	p := newProvider(t, op, nil)
	for _, tc := range []struct {
		user oidctest.User
		want oidc.Identity
	}{
		{oidctest.Alice, oidc.Identity{
			ObjectID: oidctest.Alice.ObjectID, Type: posture.PrincipalUser, DisplayName: "Alice Admin",
			Groups: []string{oidctest.AdminsGroup}, Issuer: op.Issuer, Subject: oidctest.Alice.ID,
		}},
		// No oid, no name, no groups: the subject and preferred_username.
		{oidctest.Bob, oidc.Identity{
			ObjectID: oidctest.Bob.ID, Type: posture.PrincipalUser, DisplayName: oidctest.Bob.Username,
			Issuer: op.Issuer, Subject: oidctest.Bob.ID,
		}},
	} {
		t.Run(tc.user.ID, func(t *testing.T) {
			id, err := p.Verify(t.Context(), op.UserToken(t, tc.user))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tc.want, id, cmpopts.IgnoreFields(oidc.Identity{}, "ExpiresAt")); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if id.ExpiresAt.IsZero() {
				t.Error("no ExpiresAt")
			}
		})
	}
}

func TestVerifyClientCredentialsToken(t *testing.T) {
	op := oidctest.Start(t)
	p := newProvider(t, op, nil)
	id, err := p.Verify(t.Context(), op.ClientCredentialsToken(t))
	if err != nil {
		t.Fatal(err)
	}
	want := &oidc.Identity{
		ObjectID: oidctest.ServiceClientID, Type: posture.PrincipalServicePrincipal,
		DisplayName: oidctest.ServiceClientID, Issuer: op.Issuer, Subject: oidctest.ServiceClientID,
	}
	if diff := cmp.Diff(want, id, cmpopts.IgnoreFields(oidc.Identity{}, "ExpiresAt")); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

// TestVerifyClaimMapping uses tokens the OP signs with claims its grants do
// not produce: Entra's app-only shape, another groups claim, upn.
func TestVerifyClaimMapping(t *testing.T) {
	op := oidctest.Start(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	base := func(extra map[string]any) string {
		c := map[string]any{"iss": op.Issuer, "aud": oidctest.Audience, "exp": exp.Unix()}
		for k, v := range extra {
			c[k] = v
		}
		return op.Sign(t, c)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*oidc.Config)
		claims map[string]any
		want   oidc.Identity
	}{
		{"Entra app-only", nil,
			map[string]any{"sub": "sp-oid", "oid": "sp-oid", "appid": "app-id", "idtyp": "app", "groups": []string{"g"}},
			oidc.Identity{ObjectID: "sp-oid", Type: posture.PrincipalServicePrincipal, DisplayName: "app-id", Groups: []string{"g"}, Subject: "sp-oid"}},
		{"Entra v1 user: upn", nil,
			map[string]any{"sub": "pairwise", "oid": "user-oid", "upn": "carol@posture.example", "appid": "cli"},
			oidc.Identity{ObjectID: "user-oid", Type: posture.PrincipalUser, DisplayName: "carol@posture.example", Subject: "pairwise"}},
		{"GroupsClaim roles", func(c *oidc.Config) { c.GroupsClaim = "roles" },
			map[string]any{"sub": "u", "groups": []string{"ignored"}, "roles": "Reader"},
			oidc.Identity{ObjectID: "u", Type: posture.PrincipalUser, DisplayName: "u", Groups: []string{"Reader"}, Subject: "u"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := newProvider(t, op, tc.edit).Verify(t.Context(), base(tc.claims))
			if err != nil {
				t.Fatal(err)
			}
			tc.want.Issuer, tc.want.ExpiresAt = op.Issuer, exp
			if diff := cmp.Diff(&tc.want, id); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}
