package oidc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"testing"
	"time"
	"unicode/utf8"
)

func sealer(t testing.TB) *Provider {
	block, err := aes.NewCipher(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := cipher.NewGCM(block)
	return &Provider{aead: aead, secure: true}
}

// FuzzUnseal opens arbitrary cookie values: no panic, and nothing opens
// but what this key sealed. Then it seals a state made of the inputs and
// checks that it opens to the same state.
func FuzzUnseal(f *testing.F) {
	p := sealer(f)
	now := time.Unix(1_800_000_000, 0)
	sealed := loginState{State: "s", Nonce: "n", Verifier: "v", ReturnTo: "/", Expires: now.Add(time.Minute).Unix()}
	good, err := p.seal(sealed)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{good, good[:len(good)-1], "", "AAAA", "not base64!", good + good} {
		f.Add(seed, "/portal")
	}
	f.Fuzz(func(t *testing.T, value, returnTo string) {
		// Only the seed was sealed with this key (in whichever fuzz process
		// ran the seeding, each with its own GCM nonce).
		if s, err := p.unseal(value, now); err == nil && s != sealed {
			t.Fatalf("a value this key did not seal opened: %q -> %+v", value, s)
		}
		in := loginState{State: value, Nonce: "n", Verifier: "v", ReturnTo: returnTo, Expires: now.Add(time.Minute).Unix()}
		v, err := p.seal(in)
		if err != nil {
			return // too large for a cookie: StartLogin bounds returnTo first
		}
		out, err := p.unseal(v, now)
		if err != nil || out != in {
			// JSON replaces invalid UTF-8; StartLogin's inputs are
			// random base64 and a checked path.
			if err == nil && (!utf8.ValidString(value) || !utf8.ValidString(returnTo)) {
				return
			}
			t.Fatalf("round trip: %+v -> %+v, %v", in, out, err)
		}
		if _, err := p.unseal(v, now.Add(time.Minute)); err == nil {
			t.Fatal("an expired state opened")
		}
	})
}
