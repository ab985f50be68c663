package authz

import (
	"hash/maphash"
	"sync"
)

// maxCacheEntries bounds each cache shard (and the ancestor cache); a full
// shard is emptied rather than evicted entry by entry, which is simple and
// keeps the memory of a scanning caller bounded.
const maxCacheEntries = 8192

const cacheShards = 16

// decisionKey is the question as the caller asked it. Keeping the raw
// strings (not lower-cased or parsed) lets a repeated question be answered
// without allocating; two spellings of one question simply take two entries.
type decisionKey struct {
	principal, action, scope string
	data                     bool
}

// decided is a cached answer: the grant that allowed it, or nil for a
// denial.
type decided struct {
	allowed bool
	grant   *grant
}

// decisionCache memoises decisions for one snapshot. A new snapshot starts
// with an empty cache, which is how changes invalidate it.
type decisionCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[decisionKey]decided
}

func newDecisionCache() *decisionCache { return &decisionCache{seed: maphash.MakeSeed()} }

func (c *decisionCache) shard(k decisionKey) *cacheShard {
	return &c.shards[maphash.Comparable(c.seed, k)%cacheShards]
}

func (c *decisionCache) get(k decisionKey) (decided, bool) {
	s := c.shard(k)
	s.mu.RLock()
	d, ok := s.m[k]
	s.mu.RUnlock()
	return d, ok
}

func (c *decisionCache) put(k decisionKey, d decided) {
	s := c.shard(k)
	s.mu.Lock()
	if s.m == nil || len(s.m) >= maxCacheEntries {
		s.m = make(map[decisionKey]decided)
	}
	s.m[k] = d
	s.mu.Unlock()
}
