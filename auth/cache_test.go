package auth

import (
	"context"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/sqlite"
)

// cacheEnv is a Service over a real SQLite store with its clocks in the
// test's hands: the domain clock (expiry) and the cache's wall clock.
type cacheEnv struct {
	svc       *Service
	now, wall time.Time
	secret    string
	principal string
}

func newCacheEnv(t *testing.T, ttl time.Duration) *cacheEnv {
	t.Helper()
	store, err := sqlite.Open(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &cacheEnv{now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), wall: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	e.svc = &Service{Store: store, Now: func() time.Time { return e.now }, TokenCacheTTL: ttl, wall: func() time.Time { return e.wall }}
	if e.secret, err = e.svc.Bootstrap(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(context.Background(), e.secret)
	if err != nil {
		t.Fatal(err)
	}
	e.principal = p.ID
	return e
}

// revokeBehind revokes a token in the store without the Service, as
// another replica does.
func (e *cacheEnv) revokeBehind(t *testing.T, secret string) {
	t.Helper()
	err := e.svc.Store.Write(context.Background(), func(tx posture.Tx) error {
		tok, err := tx.TokenByHash(Hash(secret))
		if err != nil {
			return err
		}
		tok.RevokedAt = e.now
		return tx.PutToken(tok)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *cacheEnv) code(secret string) string {
	_, err := e.svc.Authenticate(context.Background(), secret)
	if err == nil {
		return "ok"
	}
	return posture.ErrorCode(err)
}

// A token revoked by another replica keeps working here only until the
// cache's TTL has passed on the wall clock.
func TestTokenCacheTTL(t *testing.T) {
	e := newCacheEnv(t, time.Second)
	e.revokeBehind(t, e.secret)
	if got := e.code(e.secret); got != "ok" {
		t.Fatalf("within the TTL: %s", got)
	}
	e.wall = e.wall.Add(time.Second)
	if got := e.code(e.secret); got != "AuthenticationFailed" {
		t.Errorf("after the TTL: %s", got)
	}
	// ForgetTokens (another replica changed identities) reads again at once.
	e2 := newCacheEnv(t, time.Hour)
	e2.revokeBehind(t, e2.secret)
	e2.svc.ForgetTokens()
	if got := e2.code(e2.secret); got != "AuthenticationFailed" {
		t.Errorf("after ForgetTokens: %s", got)
	}
}

// A revocation through the Service, an expiry and a negative TTL count at
// once whatever is cached; a caller changing the principal it got does not
// change the cache's.
func TestTokenCacheExactWhereItMust(t *testing.T) {
	ctx := context.Background()
	e := newCacheEnv(t, time.Hour)
	secret, tok, err := e.svc.CreateToken(ctx, e.principal, "", "ci", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.svc.Authenticate(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	p.DisplayName = "changed by a caller"
	if p2, _ := e.svc.Authenticate(ctx, secret); p2 == nil || p2.DisplayName != "bootstrap" {
		t.Errorf("the cached principal changed: %+v", p2)
	}
	e.now = e.now.Add(2 * time.Hour)
	if got := e.code(secret); got != "ExpiredAuthenticationToken" {
		t.Errorf("expired while cached: %s", got)
	}
	e.now = e.now.Add(-2 * time.Hour)
	if _, err := e.svc.RevokeToken(ctx, e.principal, tokenName(tok)); err != nil {
		t.Fatal(err)
	}
	if got := e.code(secret); got != "AuthenticationFailed" {
		t.Errorf("revoked through the service while cached: %s", got)
	}

	off := newCacheEnv(t, -1)
	off.revokeBehind(t, off.secret)
	if got := off.code(off.secret); got != "AuthenticationFailed" {
		t.Errorf("no cache: %s", got)
	}
}

// A check that read the store before a revocation is not cached after it.
func TestTokenCacheDropsPutsAcrossAForget(t *testing.T) {
	var c tokenCache
	e := cachedToken{tok: &posture.Token{}, until: time.Now().Add(time.Hour)}
	gen := c.generation()
	c.forget("h")
	c.put("h", e, gen)
	if _, ok := c.get("h", time.Now()); ok {
		t.Error("a check older than a revocation was cached")
	}
	c.put("h", e, c.generation())
	if _, ok := c.get("h", time.Now()); !ok {
		t.Error("a current check was not cached")
	}
	for i := range tokenCacheMax + 5 {
		c.put(Hash(string(rune(i))), e, c.generation())
	}
	if len(c.m) > tokenCacheMax {
		t.Errorf("%d entries", len(c.m))
	}
}

// BenchmarkAuthenticate is one API token check against a SQLite store:
// from the cache, and read from the store each time.
func BenchmarkAuthenticate(b *testing.B) {
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"cached", time.Hour}, {"store", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			store, err := sqlite.Open(context.Background(), b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			svc := &Service{Store: store, TokenCacheTTL: bc.ttl}
			secret, err := svc.Bootstrap(context.Background(), "")
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := svc.Authenticate(context.Background(), secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
