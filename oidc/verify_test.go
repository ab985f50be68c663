package oidc_test

import (
	"testing"

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
