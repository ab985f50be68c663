package oidc

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func sign(t *testing.T, key *rsa.PrivateKey, alg jose.SignatureAlgorithm, kid string) *jose.JSONWebSignature {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := jws.CompactSerialize()
	parsed, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.PS256})
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

// TestVerifyWithKeyAlgorithm: a key published for RS256 does not verify a
// PS256 signature made with the same RSA key.
func TestVerifyWithKeyAlgorithm(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	jws := sign(t, key, jose.PS256, "k")
	h := jws.Signatures[0].Header
	if _, held, ok := verifyWith(jws, h, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k", Algorithm: "RS256"}}); ok || !held {
		t.Errorf("RS256 key verified a PS256 signature (held %v, ok %v)", held, ok)
	}
	if _, _, ok := verifyWith(jws, h, []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k"}}); !ok {
		t.Error("a key without alg did not verify")
	}
}

// TestKeySetRead: only public signing keys are kept from a JWKS; a
// published private key is not trusted at all.
func TestKeySetRead(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: "sig", Use: "sig", Algorithm: "RS256"})
	priv, _ := json.Marshal(jose.JSONWebKey{Key: key, KeyID: "private"})
	enc, _ := json.Marshal(jose.JSONWebKey{Key: &key.PublicKey, KeyID: "enc", Use: "enc"})
	doc := `{"keys":[` + string(pub) + `,` + string(priv) + `,` + string(enc) + `,
		{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},
		{"kty":"OKP","crv":"X448","kid":"x448","x":"AAAA"},
		{"kty":"EC","crv":"secp256k1","kid":"k1","alg":"ES256K","x":"AA","y":"AA"}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(doc))
	}))
	defer srv.Close()
	ks := newKeySet(srv.URL, srv.Client(), []string{"RS256"}, time.Now)
	keys, err := ks.read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range keys {
		kids = append(kids, k.KeyID)
		if !k.IsPublic() {
			t.Errorf("key %s is not public", k.KeyID)
		}
	}
	if len(kids) != 1 || kids[0] != "sig" {
		t.Errorf("kept %v, want [sig]", kids)
	}
}
