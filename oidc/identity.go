package oidc

import (
	"encoding/json"
	"time"

	"github.com/posture/posture"
)

// Identity is whom a verified token stands for.
type Identity struct {
	// ObjectID is the "oid" claim when present (Entra's object id, the same
	// in every app's tokens), else "sub".
	ObjectID string
	// Type is posture.PrincipalUser or posture.PrincipalServicePrincipal;
	// see principalType for the rule.
	Type string
	// DisplayName is the first present of name, preferred_username, upn,
	// email and appid; for a service principal then azp and client_id; and
	// ObjectID when none is, so that it is never empty.
	DisplayName string
	// Groups holds the values of Config.GroupsClaim (Entra: group object
	// ids). Entra leaves the claim out when a user has too many groups
	// ("groups overage"); Groups is then empty.
	Groups    []string
	Issuer    string
	Subject   string
	ExpiresAt time.Time
}

// claims are the ones posture reads; all keeps every claim for GroupsClaim.
type claims struct {
	Iss   string       `json:"iss"`
	Sub   string       `json:"sub"`
	Aud   audience     `json:"aud"`
	Exp   *numericDate `json:"exp"`
	Nbf   *numericDate `json:"nbf"`
	Iat   *numericDate `json:"iat"`
	Nonce string       `json:"nonce"`
	Azp   string       `json:"azp"`

	Oid      string `json:"oid"`
	Idtyp    string `json:"idtyp"`
	Gty      string `json:"gty"`
	Appid    string `json:"appid"`
	ClientID string `json:"client_id"`
	Cid      string `json:"cid"`

	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	Upn               string `json:"upn"`
	Email             string `json:"email"`

	all map[string]json.RawMessage
}

func (p *Provider) identity(c *claims) *Identity {
	id := &Identity{
		ObjectID: first(c.Oid, c.Sub),
		Type:     principalType(c),
		Groups:   stringList(c.all[p.cfg.GroupsClaim]),
		Issuer:   c.Iss,
		Subject:  c.Sub,
	}
	if c.Exp != nil {
		id.ExpiresAt = c.Exp.time()
	}
	id.DisplayName = first(c.Name, c.PreferredUsername, c.Upn, c.Email, c.Appid)
	if id.Type == posture.PrincipalServicePrincipal {
		id.DisplayName = first(id.DisplayName, c.Azp, c.ClientID)
	}
	id.DisplayName = first(id.DisplayName, id.ObjectID)
	return id
}

// principalType tells an app-only token (a client-credentials grant, no
// user) from a user's, in this order:
//  1. Entra's optional "idtyp" claim says "app" or "user";
//  2. Auth0 marks client-credentials tokens with "gty":"client-credentials";
//  3. Entra without idtyp: an app-only token's "sub" equals its "oid"
//     (a user's sub is pairwise per app and never equals the oid);
//  4. ZITADEL, Okta and Ory Hydra make the client itself the subject:
//     "sub" equals "client_id", "azp", "appid" or "cid";
//  5. otherwise a user.
//
// Keycloak's service-account tokens name a user "service-account-<client>"
// and so map to a user; give that user a role as if it were the app.
func principalType(c *claims) string {
	switch {
	case c.Idtyp == "app":
		return posture.PrincipalServicePrincipal
	case c.Idtyp == "user":
		return posture.PrincipalUser
	case c.Gty == "client-credentials":
		return posture.PrincipalServicePrincipal
	case c.Sub == "":
		return posture.PrincipalUser
	case c.Sub == c.Oid, c.Sub == c.ClientID, c.Sub == c.Azp, c.Sub == c.Appid, c.Sub == c.Cid:
		return posture.PrincipalServicePrincipal
	}
	return posture.PrincipalUser
}

// stringList reads a claim that is an array of strings, or one string.
// Anything else yields no groups rather than a refusal: a provider that
// puts objects in the claim has a configuration for posture to ignore, not
// a forged token.
func stringList(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []string
	for _, it := range items {
		var g string // fresh: null leaves a string as it was
		if json.Unmarshal(it, &g) == nil && g != "" {
			out = append(out, g)
		}
	}
	return out
}

func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
