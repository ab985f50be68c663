package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// refreshInterval is the least time between two reads of the JWKS. go-oidc's
// RemoteKeySet re-reads it for every token whose signature fails, so anyone
// could make posture call the issuer once per request with a made-up token
// (coreos/go-oidc PR #482 proposed a 30 s limit; not merged). 30 s is the
// limit panva/jose uses; issuers publish new keys well before signing with
// them, so a rotation is still picked up on first sight.
const refreshInterval = 30 * time.Second

// maxJWKS bounds the JWKS read; Entra's is about 10 KiB.
const maxJWKS = 1 << 20

// readTimeout bounds a JWKS read, whatever the HTTP client allows.
const readTimeout = 10 * time.Second

// keySet implements go-oidc's KeySet over the issuer's JWKS: it verifies
// with the cached keys and re-reads the JWKS only for a kid it does not
// hold (OpenID Connect Core 1.0, section 10.1.1, is how issuers rotate
// keys), and then at most once per refreshInterval. A bad signature under
// a kid it holds never causes a read.
type keySet struct {
	url    string
	client *http.Client
	algs   []jose.SignatureAlgorithm
	now    func() time.Time

	fetch   sync.Mutex // one read at a time; the others wait for its keys
	mu      sync.Mutex // guards keys and fetched
	keys    []jose.JSONWebKey
	fetched time.Time // of the last attempt, failed or not
}

func newKeySet(url string, client *http.Client, algs []string, now func() time.Time) *keySet {
	k := &keySet{url: url, client: client, now: now}
	for _, a := range algs {
		k.algs = append(k.algs, jose.SignatureAlgorithm(a))
	}
	return k
}

// VerifySignature returns the payload of a JWS signed by one of the keys.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSigned(raw, k.algs)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("not exactly one signature")
	}
	h := jws.Signatures[0].Header
	keys, fetched := k.cached()
	if payload, held, ok := verifyWith(jws, h, keys); ok {
		return payload, nil
	} else if held {
		return nil, errors.New("signature does not verify with the key it names")
	}
	if keys, err = k.refresh(ctx, fetched); err != nil {
		return nil, err
	}
	if payload, _, ok := verifyWith(jws, h, keys); ok {
		return payload, nil
	}
	return nil, errors.New("no key in the JWKS verifies the signature")
}

// verifyWith tries the keys the header names (all of them when it names
// none). held reports whether a key with the header's kid was there.
func verifyWith(jws *jose.JSONWebSignature, h jose.Header, keys []jose.JSONWebKey) (payload []byte, held, ok bool) {
	for _, key := range keys {
		if h.KeyID != "" && key.KeyID != h.KeyID {
			continue
		}
		held = h.KeyID != ""
		// A key that states its algorithm is for that one only.
		if key.Algorithm != "" && key.Algorithm != h.Algorithm {
			continue
		}
		if p, err := jws.Verify(key); err == nil {
			return p, held, true
		}
	}
	return nil, held, false
}

func (k *keySet) cached() ([]jose.JSONWebKey, time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.fetched
}

// refresh reads the JWKS unless it was read (or tried) within
// refreshInterval, or since seen, the time of the caller's cache look-up.
func (k *keySet) refresh(ctx context.Context, seen time.Time) ([]jose.JSONWebKey, error) {
	k.fetch.Lock()
	defer k.fetch.Unlock()
	keys, fetched := k.cached()
	if !fetched.Equal(seen) || (!fetched.IsZero() && k.now().Sub(fetched) < refreshInterval) {
		return keys, nil // another caller just read it, or it is too soon
	}
	// The read is the whole verifier's, not the caller's: a client that
	// hangs up must not abort it and so hold back keys for refreshInterval.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readTimeout)
	defer cancel()
	keys, err := k.read(ctx)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetched = k.now()
	if err != nil {
		return k.keys, err
	}
	k.keys = keys
	return keys, nil
}

// read fetches the JWKS and keeps the public signing keys it can use.
func (k *keySet) read(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Cache-Control", "no-cache") // a rotation must not be hidden by a cache
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS at %s: %s", k.url, resp.Status)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKS)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("JWKS at %s: %w", k.url, err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range doc.Keys {
		var key jose.JSONWebKey
		// Skip what go-jose cannot read (other key types, curves) rather
		// than lose the whole set, as RFC 7517, section 5, asks.
		if key.UnmarshalJSON(raw) != nil || key.Use == "enc" {
			continue
		}
		// A symmetric ("oct") key is a shared secret and a published
		// private key is known to anyone: neither can vouch for a token.
		if key.Valid() && key.IsPublic() {
			keys = append(keys, key)
		}
	}
	return keys, nil
}
