package oidc

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/posture/posture"
)

func TestAcceptedAlgs(t *testing.T) {
	for _, tc := range []struct{ advertised, want []string }{
		{nil, []string{"RS256"}},
		{[]string{"HS256", "none"}, []string{"RS256"}},
		{[]string{"none", "ES256", "HS512", "RS256", "ES256"}, []string{"ES256", "RS256"}},
		{[]string{"EdDSA", "PS384"}, []string{"EdDSA", "PS384"}},
	} {
		if got := acceptedAlgs(tc.advertised); !slices.Equal(got, tc.want) {
			t.Errorf("acceptedAlgs(%v) = %v, want %v", tc.advertised, got, tc.want)
		}
	}
}

func TestPrincipalType(t *testing.T) {
	const sp, user = posture.PrincipalServicePrincipal, posture.PrincipalUser
	for _, tc := range []struct {
		claims string
		want   string
	}{
		{`{"sub":"u1","oid":"o1","idtyp":"app"}`, sp},
		{`{"sub":"o1","oid":"o1","idtyp":"user"}`, user},
		{`{"sub":"c@clients","gty":"client-credentials"}`, sp},
		{`{"sub":"o1","oid":"o1","appid":"a1"}`, sp},
		{`{"sub":"pairwise","oid":"o1","appid":"a1"}`, user},
		{`{"sub":"c1","client_id":"c1"}`, sp},
		{`{"sub":"c1","azp":"c1"}`, sp},
		{`{"sub":"c1","cid":"c1"}`, sp},
		{`{"sub":"u1","client_id":"c1","azp":"c1"}`, user},
		{`{"client_id":"","azp":""}`, user},
		{`{"sub":"service-account-c1","azp":"c1"}`, user}, // Keycloak: documented
	} {
		var c claims
		if err := json.Unmarshal([]byte(tc.claims), &c); err != nil {
			t.Fatal(err)
		}
		if got := principalType(&c); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.claims, got, tc.want)
		}
	}
}

func TestStringList(t *testing.T) {
	for raw, want := range map[string][]string{
		`["g1","g2"]`:         {"g1", "g2"},
		`"g1"`:                {"g1"},
		`["g1",7,null,"",{}]`: {"g1"},
		`{"g1":true}`:         nil,
		`7`:                   nil,
		``:                    nil,
	} {
		if got := stringList(json.RawMessage(raw)); !slices.Equal(got, want) {
			t.Errorf("stringList(%s) = %q, want %q", raw, got, want)
		}
	}
}
