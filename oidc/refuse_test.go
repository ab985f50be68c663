package oidc_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posture/posture/oidc"
	"github.com/posture/posture/oidc/oidctest"
)

// payload decodes a token's claims without verifying it.
func payload(t *testing.T, raw string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func unix(t *testing.T, claims map[string]any, name string) time.Time {
	t.Helper()
	f, ok := claims[name].(float64)
	if !ok {
		t.Fatalf("claim %s is %v", name, claims[name])
	}
	return time.Unix(int64(f), 0).UTC()
}

// at returns a Provider whose clock reads now.
func at(t *testing.T, op *oidctest.OP, now time.Time) *oidc.Provider {
	return newProvider(t, op, func(c *oidc.Config) { c.Now = func() time.Time { return now } })
}

func TestVerifyLifetime(t *testing.T) {
	op := oidctest.Start(t)
	raw := op.UserToken(t, oidctest.Alice)
	claims := payload(t, raw)
	exp, nbf := unix(t, claims, "exp"), unix(t, claims, "nbf")
	if !nbf.Equal(unix(t, claims, "iat")) {
		t.Fatalf("the OP's nbf %v and iat %v differ; the cases below assume they agree", nbf, claims["iat"])
	}
	skew := oidc.DefaultSkew

	// Within the skew on either side: accepted.
	for _, now := range []time.Time{exp.Add(skew - time.Second), nbf.Add(-skew + time.Second)} {
		if _, err := at(t, op, now).Verify(t.Context(), raw); err != nil {
			t.Errorf("at %v: %v", now, err)
		}
	}

	now := exp.Add(skew)
	_, err := at(t, op, now).Verify(t.Context(), raw)
	e := wantRefusal(t, err, oidc.CodeExpiredToken)
	want := "The access token expiry UTC time '" + exp.Format("1/2/2006 3:04:05 PM") +
		"' is earlier than current UTC time '" + now.Format("1/2/2006 3:04:05 PM") + "'."
	if e.Message != want {
		t.Errorf("message %q\nwant    %q", e.Message, want)
	}

	now = nbf.Add(-skew - time.Second)
	_, err = at(t, op, now).Verify(t.Context(), raw)
	e = wantRefusal(t, err, oidc.CodeInvalidToken)
	if !strings.Contains(e.Message, "'nbf' UTC time '"+nbf.Format("1/2/2006 3:04:05 PM")+"'") {
		t.Errorf("message %q does not name nbf and its time", e.Message)
	}

	// A negative Skew means none: one second past exp is too late.
	p := newProvider(t, op, func(c *oidc.Config) {
		c.Skew = -1
		c.Now = func() time.Time { return exp.Add(time.Second) }
	})
	_, err = p.Verify(t.Context(), raw)
	wantRefusal(t, err, oidc.CodeExpiredToken)
}

// TestVerifyIssuedInFuture checks iat on its own: a token without nbf.
func TestVerifyIssuedInFuture(t *testing.T) {
	op := oidctest.Start(t)
	now := time.Now()
	raw := op.Sign(t, map[string]any{"iss": op.Issuer, "aud": oidctest.Audience, "sub": "x",
		"iat": now.Add(10 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()})
	_, err := newProvider(t, op, nil).Verify(t.Context(), raw)
	e := wantRefusal(t, err, oidc.CodeInvalidToken)
	if !strings.Contains(e.Message, "'iat'") {
		t.Errorf("message %q does not name iat", e.Message)
	}
}

func TestVerifyAudience(t *testing.T) {
	op := oidctest.Start(t)
	raw := op.UserToken(t, oidctest.Alice)
	p := newProvider(t, op, func(c *oidc.Config) { c.Audience = []string{"api://other", "https://posture.example"} })
	_, err := p.Verify(t.Context(), raw)
	e := wantRefusal(t, err, oidc.CodeInvalidAudience)
	want := "The access token has been obtained for wrong audience or resource 'api://posture'. " +
		"It should exactly match with one of the allowed audiences 'api://other','https://posture.example'."
	if e.Message != want {
		t.Errorf("message %q\nwant    %q", e.Message, want)
	}

	// Any one of several accepted audiences will do.
	p = newProvider(t, op, func(c *oidc.Config) { c.Audience = []string{"api://other", oidctest.Audience} })
	if _, err := p.Verify(t.Context(), raw); err != nil {
		t.Error(err)
	}
}

func TestVerifyIssuer(t *testing.T) {
	op, other := oidctest.Start(t), oidctest.Start(t)
	_, err := newProvider(t, op, nil).Verify(t.Context(), other.UserToken(t, oidctest.Alice))
	e := wantRefusal(t, err, oidc.CodeInvalidTenant)
	want := "The access token is from the wrong issuer '" + other.Issuer + "'. It must match the tenant '" + op.Issuer +
		"' associated with this server. Please use the authority (URL) '" + op.Issuer + "' to get the token."
	if e.Message != want {
		t.Errorf("message %q\nwant    %q", e.Message, want)
	}

	// The issuer is compared exactly: a trailing slash is another issuer.
	raw := op.Sign(t, map[string]any{"iss": op.Issuer + "/", "aud": oidctest.Audience, "sub": "x", "exp": time.Now().Add(time.Hour).Unix()})
	_, err = newProvider(t, op, nil).Verify(t.Context(), raw)
	wantRefusal(t, err, oidc.CodeInvalidTenant)
}

// TestVerifyKeyRotation: a token signed with a key the Provider has not seen
// verifies once the issuer publishes it, and older tokens still do. The
// JWKS is read again at most every 30 seconds, so forged tokens cannot make
// posture call the issuer at will.
func TestVerifyKeyRotation(t *testing.T) {
	op := oidctest.Start(t)
	var offset atomic.Int64
	p := newProvider(t, op, func(c *oidc.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})
	if n := op.KeysFetched(); n != 1 {
		t.Fatalf("New read the JWKS %d times, want once", n)
	}
	old := op.UserToken(t, oidctest.Alice)
	if _, err := p.Verify(t.Context(), old); err != nil {
		t.Fatal(err)
	}
	op.RotateKey(t)
	fresh := op.UserToken(t, oidctest.Alice)
	if kid(t, fresh) == kid(t, old) {
		t.Fatal("the rotated token has the old kid")
	}

	// Within 30 s of the last read the new kid is unknown, and stays so.
	_, err := p.Verify(t.Context(), fresh)
	wantRefusal(t, err, oidc.CodeInvalidToken)
	if n := op.KeysFetched(); n != 1 {
		t.Errorf("the JWKS was read %d times within 30 s, want once", n)
	}

	offset.Store(int64(31 * time.Second))
	for _, raw := range []string{fresh, old} {
		if _, err := p.Verify(t.Context(), raw); err != nil {
			t.Errorf("kid %s: %v", kid(t, raw), err)
		}
	}
	if n := op.KeysFetched(); n != 2 {
		t.Errorf("the JWKS was read %d times, want twice", n)
	}

	// Forgeries, a minute later: a known kid with a bad signature costs no
	// read; unknown kids cost one between them.
	offset.Store(int64(91 * time.Second))
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	claims := payload(t, fresh)
	forge := func(kid func(int) string, reads int) {
		t.Helper()
		for i := range 20 {
			_, err := p.Verify(t.Context(), oidctest.SignWith(t, forger, kid(i), claims))
			wantRefusal(t, err, oidc.CodeInvalidToken)
		}
		if n := op.KeysFetched(); n != reads {
			t.Errorf("the JWKS was read %d times, want %d", n, reads)
		}
	}
	forge(func(int) string { return kid(t, fresh) }, 2)
	forge(func(i int) string { return fmt.Sprint("forged-", i) }, 3)
}

func kid(t *testing.T, raw string) string {
	t.Helper()
	var h struct{ Kid string }
	b, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

func TestVerifyForged(t *testing.T) {
	op := oidctest.Start(t)
	p := newProvider(t, op, nil)
	good := op.UserToken(t, oidctest.Alice)
	claims := payload(t, good)
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// The OP's JWKS, whose bytes an HS256 forger would use as the secret
	// against a verifier that takes the algorithm from the token.
	resp, err := op.HTTPClient().Get(op.Issuer + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	body := strings.Split(good, ".")[1]

	for name, raw := range map[string]string{
		"unknown key":            oidctest.SignWith(t, forger, "forged", claims),
		"the OP's kid, not key":  oidctest.SignWith(t, forger, kid(t, good), claims),
		"no kid, not key":        oidctest.SignWith(t, forger, "", claims),
		"alg none":               segment(`{"alg":"none","typ":"JWT"}`) + "." + body + ".",
		"alg none, good sig":     segment(`{"alg":"none","typ":"JWT"}`) + "." + body + "." + strings.Split(good, ".")[2],
		"HS256 with public key":  hs256(`{"alg":"HS256","typ":"JWT","kid":"`+kid(t, good)+`"}`, body, jwks),
		"changed claims":         strings.Split(good, ".")[0] + "." + segment(strings.Replace(string(mustDecode(t, body)), "alice", "mallory", 1)) + "." + strings.Split(good, ".")[2],
		"signature of another":   strings.Join(strings.Split(good, ".")[:2], ".") + "." + strings.Split(op.UserToken(t, oidctest.Bob), ".")[2],
		"signature cut":          good[:len(good)-10],
		"two signatures (JSON)":  `{"payload":"` + body + `","signatures":[]}`,
		"missing exp":            op.Sign(t, map[string]any{"iss": op.Issuer, "aud": oidctest.Audience, "sub": "x"}),
		"exp as string":          op.Sign(t, map[string]any{"iss": op.Issuer, "aud": oidctest.Audience, "sub": "x", "exp": "tomorrow"}),
		"exp beyond year 5000":   op.Sign(t, map[string]any{"iss": op.Issuer, "aud": oidctest.Audience, "sub": "x", "exp": 1e15}),
		"name is not a string":   op.Sign(t, map[string]any{"iss": op.Issuer, "aud": oidctest.Audience, "sub": "x", "exp": time.Now().Add(time.Hour).Unix(), "name": 7}),
		"oversize, else genuine": op.Sign(t, map[string]any{"iss": op.Issuer, "aud": oidctest.Audience, "sub": "x", "exp": time.Now().Add(time.Hour).Unix(), "pad": strings.Repeat("x", oidc.MaxTokenLength)}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := p.Verify(t.Context(), raw)
			e := wantRefusal(t, err, oidc.CodeInvalidToken)
			if e.Message != "The access token is invalid." {
				t.Errorf("message %q", e.Message)
			}
			if strings.Contains(e.Error(), body) {
				t.Error("the error repeats the token")
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	op := oidctest.Start(t)
	p := newProvider(t, op, nil)
	for _, raw := range []string{
		"", "pst_c2VjcmV0", "a", "a.b", "a.b.c.d", "..", "a..c", ".b.c",
		"eyJhbGciOiJSUzI1NiJ9.e30.",                // {"alg":"RS256"}.{}: no iss
		"eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln",    // payload not JSON
		"bm90IGpzb24.e30.c2ln",                     // header not JSON
		"eyJhbGciOiJSUzI1NiJ9.e30=.c2ln",           // padded base64
		"eyJhbGciOiJSUzI1NiJ9 .e30.c2ln",           // a space
		"Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",     // the scheme left on
		strings.Repeat("a", oidc.MaxTokenLength+1), // just long
		"eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("A", oidc.MaxTokenLength) + ".c2ln",
	} {
		_, err := p.Verify(t.Context(), raw)
		if raw == "eyJhbGciOiJSUzI1NiJ9.e30." {
			// No iss is "the wrong issuer ''", as ARM would say.
			wantRefusal(t, err, oidc.CodeInvalidTenant)
			continue
		}
		wantRefusal(t, err, oidc.CodeInvalidToken)
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for s, want := range map[string]bool{
		"eyJh.eyJz.c2ln":  true,
		"eyJh.eyJz.":      true, // unsigned: still a JWT, for Verify to refuse
		"a-_9.B.c":        true,
		"pst_abcdef":      false,
		"eyJh.eyJz":       false,
		"eyJh..c2ln":      false,
		".eyJz.c2ln":      false,
		"eyJh.eyJz.c.d":   false,
		"eyJh.ey+z.c2ln":  false, // standard base64, not base64url
		"eyJh.eyJz.c2ln=": false,
		"":                false,
	} {
		if got := oidc.LooksLikeJWT(s); got != want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", s, got, want)
		}
	}
}

func segment(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustDecode(t *testing.T, seg string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func hs256(header, body string, secret []byte) string {
	signing := segment(header) + "." + body
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
