package auth

import (
	"sync"
	"time"

	"github.com/posture/posture"
)

// DefaultTokenCacheTTL is how long a successful token check is reused when
// Service.TokenCacheTTL is zero. Every API call authenticates, and the two
// store reads it takes were a fifth of a GET's CPU; one second keeps a
// revocation made on another replica (which this one learns of only from
// the store) in force within the second that the replicas' read-your-writes
// promise allows. A revocation through this Service, and an expiry, count
// at once.
const DefaultTokenCacheTTL = time.Second

// tokenCacheMax bounds the cache: beyond it an arbitrary entry makes room.
const tokenCacheMax = 10_000

// tokenCache remembers successful token checks by the secret's hash. Only
// successes: an unknown or revoked token goes to the store every time (and
// its failure is counted by the API).
type tokenCache struct {
	mu  sync.Mutex
	m   map[string]cachedToken
	gen uint64 // counts forgets
}

type cachedToken struct {
	tok   *posture.Token
	p     posture.Principal
	until time.Time // wall time
}

func (c *tokenCache) get(hash string, wall time.Time) (cachedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[hash]
	if ok && !wall.Before(e.until) {
		delete(c.m, hash)
		ok = false
	}
	return e, ok
}

func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put remembers a check made since generation gen, unless something was
// forgotten since: that check may have read what was then revoked.
func (c *tokenCache) put(hash string, e cachedToken, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil {
		c.m = map[string]cachedToken{}
	}
	if len(c.m) >= tokenCacheMax {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[hash] = e
}

func (c *tokenCache) forget(hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if hash == "" {
		clear(c.m)
		return
	}
	delete(c.m, hash)
}

// ForgetTokens drops every remembered token check: the next call of each
// token reads the store again. A replica calls it when another one changed
// principals or tokens.
func (s *Service) ForgetTokens() { s.cache.forget("") }

func (s *Service) cacheTTL() time.Duration {
	if s.TokenCacheTTL == 0 {
		return DefaultTokenCacheTTL
	}
	return s.TokenCacheTTL
}

// wallNow is the wall clock of the cache: how stale an entry is has
// nothing to do with the domain clock (Now), which tests may stop.
func (s *Service) wallNow() time.Time {
	if s.wall != nil {
		return s.wall()
	}
	return time.Now()
}
