package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// MaxTokenLength bounds a JWT before it is parsed. Entra tokens with many
// groups stay under 8 KiB (it switches to a groups overage claim instead);
// twice that leaves room without letting a caller make posture decode
// megabytes.
const MaxTokenLength = 16 << 10

// LooksLikeJWT reports whether s has the shape of a compact JWS: two
// non-empty base64url segments and a third, possibly empty (an unsigned
// token, which Verify then refuses), joined by dots. It decodes nothing, so
// a router can afford it on every request to choose between posture's own
// API tokens and OpenID ones.
func LooksLikeJWT(s string) bool {
	head, rest, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	body, sig, ok := strings.Cut(rest, ".")
	return ok && head != "" && body != "" && base64url(head) && base64url(body) && base64url(sig)
}

func base64url(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Verify checks an API bearer token and returns whom it stands for. The
// token must be signed by a key in the issuer's JWKS with an asymmetric
// algorithm the issuer advertises, carry exactly the configured issuer and
// one of the configured audiences, and be within its lifetime give or take
// the skew. Every refusal is EUNAUTHORIZED with ARM's code.
func (p *Provider) Verify(ctx context.Context, raw string) (*Identity, error) {
	c, err := p.verify(ctx, raw, p.api)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(c.Aud, func(a string) bool { return slices.Contains(p.cfg.Audience, a) }) {
		return nil, wrongAudience(c.Aud, p.cfg.Audience)
	}
	return p.identity(c), nil
}

// verify runs the checks an API token and an ID token share: shape,
// algorithm, issuer, signature and lifetime. The audience is the caller's.
func (p *Provider) verify(ctx context.Context, raw string, v *gooidc.IDTokenVerifier) (*claims, error) {
	if len(raw) > MaxTokenLength {
		return nil, invalid("token longer than MaxTokenLength", nil)
	}
	if !LooksLikeJWT(raw) {
		return nil, invalid("not a compact JWS", nil)
	}
	head, body, _ := strings.Cut(raw, ".")
	body, _, _ = strings.Cut(body, ".")
	var h struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(head, &h); err != nil {
		return nil, invalid("header", err)
	}
	// go-oidc refuses other algorithms too; checking first keeps a forged
	// "none" or HS256 token from costing a JWKS fetch.
	if !slices.Contains(p.algs, h.Alg) {
		return nil, invalid("algorithm not accepted", nil)
	}
	// The issuer is checked before the signature, as ARM does, so that a
	// token from another issuer (whose keys posture does not have) gets the
	// code that names the real mistake. The claim is only echoed.
	var unverified struct {
		Iss string `json:"iss"`
	}
	if err := decodeSegment(body, &unverified); err != nil {
		return nil, invalid("payload", err)
	}
	if unverified.Iss != p.cfg.Issuer {
		return nil, wrongIssuer(unverified.Iss, p.cfg.Issuer)
	}
	tok, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, invalid("signature or claims", err)
	}
	// The verified payload, not the one read above, is what counts.
	var payload json.RawMessage
	c := new(claims)
	if err := tok.Claims(&payload); err != nil {
		return nil, invalid("claims", err)
	}
	if err := json.Unmarshal(payload, c); err != nil {
		return nil, invalid("claims", err)
	}
	if err := json.Unmarshal(payload, &c.all); err != nil {
		return nil, invalid("claims", err)
	}
	if err := p.checkTimes(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkTimes applies exp, nbf and iat with the skew against cfg.Now; go-oidc
// has no skew for exp, so its own check is off.
func (p *Provider) checkTimes(c *claims) error {
	now := p.cfg.Now()
	skew := p.cfg.Skew
	if c.Exp == nil {
		return invalid("no exp claim", nil)
	}
	if exp := c.Exp.time(); !now.Before(exp.Add(skew)) {
		return expired(exp, now)
	}
	if c.Nbf != nil && now.Add(skew).Before(c.Nbf.time()) {
		return notYetValid("nbf", c.Nbf.time(), now)
	}
	if c.Iat != nil && now.Add(skew).Before(c.Iat.time()) {
		return notYetValid("iat", c.Iat.time(), now)
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// numericDate is a JWT time: seconds since the epoch, an integer or not.
type numericDate float64

// maxDate (year 5138) keeps conversions to time.Time exact; no real token
// lives that long.
const maxDate = 1e11

func (d *numericDate) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if f < 0 || f > maxDate {
		return errBadDate
	}
	*d = numericDate(f)
	return nil
}

var errBadDate = dateError{}

type dateError struct{}

func (dateError) Error() string { return "time claim out of range" }

func (d *numericDate) time() time.Time {
	sec := int64(*d)
	return time.Unix(sec, int64((float64(*d)-float64(sec))*1e9)).UTC()
}

// audience is "aud": one string or an array of them.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return err
	}
	*a = ss
	return nil
}
