package api

import (
	"container/list"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture"
)

// Rate limits follow Azure Resource Manager's throttling, as documented in
// "Understand how Azure Resource Manager throttles requests"
// (https://learn.microsoft.com/azure/azure-resource-manager/management/request-limits-and-throttling,
// section "Regional throttling and token bucket algorithm", the model ARM
// moved subscriptions to from 2024):
//
//   - a token bucket per security principal, per subscription (requests
//     whose path names a subscription) or per tenant (every other request),
//     and per operation type: reads, writes, deletes;
//   - ARM's buckets: reads 250 tokens refilled at 25 a second, writes and
//     deletes 200 refilled at 10 a second, the same at the tenant
//     (ARMRateLimits);
//   - every answer carries what is left in the bucket it drew from, in
//     x-ms-ratelimit-remaining-{subscription|tenant}-{reads|writes|deletes};
//   - an empty bucket answers 429 with Retry-After (seconds) and ARM's
//     codes SubscriptionRequestsThrottled or TenantRequestsThrottled
//     (ARM's message: "Number of 'read' requests for subscription '…'
//     actor '…' exceeded. Please try again after '…' seconds …"); a
//     refused request takes no token, as ARM does not process it.
//
// posture departs from ARM in two places, both on purpose:
//   - a POST that Azure authorizes as a read (Resource Graph queries,
//     policy state queries, exemption previews) draws from the reads
//     bucket: the portal's pages are made of such queries;
//   - the first request of a principal to a subscription also takes a
//     token from the principal's tenant bucket. Without it, a caller could
//     name a new made-up subscription in every request and always find a
//     full bucket. ARM does not need this because it only routes to
//     subscriptions that exist.
//
// Memory is bounded: the buckets are kept in least-recently-used order and
// the oldest is dropped at the limit. A dropped bucket starts full again,
// which only a caller cycling through more keys than the limit can use,
// and the tenant bucket charge above bounds that too.

// Bucket is one token bucket's shape.
type Bucket struct {
	// Size is the number of tokens a full bucket holds: the largest burst.
	// 0 means no limit.
	Size int
	// Refill is the number of tokens added a second.
	Refill float64
}

// String formats b as ParseBucket reads it: "SIZE,REFILL", or "0".
func (b Bucket) String() string {
	if b.Size <= 0 {
		return "0"
	}
	return strconv.Itoa(b.Size) + "," + strconv.FormatFloat(b.Refill, 'f', -1, 64)
}

// ParseBucket reads "SIZE,REFILL" (tokens, tokens a second), as ARM's
// table gives them, e.g. "250,25"; "0" is no limit.
func ParseBucket(s string) (Bucket, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return Bucket{}, nil
	}
	size, refill, ok := strings.Cut(s, ",")
	n, err1 := strconv.Atoi(strings.TrimSpace(size))
	r, err2 := strconv.ParseFloat(strings.TrimSpace(refill), 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 || !(r > 0) || math.IsInf(r, 0) {
		return Bucket{}, fmt.Errorf("%q is not a bucket: want SIZE,REFILL (tokens, and tokens added a second, both positive; e.g. 250,25) or 0 for no limit", s)
	}
	return Bucket{Size: n, Refill: r}, nil
}

// RateLimits are the buckets of each operation type.
type RateLimits struct {
	Reads, Writes, Deletes Bucket
}

// ARMRateLimits are Azure Resource Manager's published buckets.
var ARMRateLimits = RateLimits{
	Reads:   Bucket{Size: 250, Refill: 25},
	Writes:  Bucket{Size: 200, Refill: 10},
	Deletes: Bucket{Size: 200, Refill: 10},
}

// DefaultRateLimits are posture's defaults: ARM's shape (a bucket holds 10
// seconds of reads and 20 of writes) at rates a self-hosted server can
// give one principal while others are served. ARM's 10 writes a second
// are made for a cloud of many tenants; with them `posture exemptions
// apply` of 10,000 exemptions would wait more than 15 minutes. One
// principal here may use about half of what 2 cores serve (2,000 API
// calls a second): a runaway script slows, it does not stop the server.
var DefaultRateLimits = RateLimits{
	Reads:   Bucket{Size: 10000, Refill: 1000},
	Writes:  Bucket{Size: 10000, Refill: 500},
	Deletes: Bucket{Size: 10000, Refill: 500},
}

// DefaultMaxBuckets bounds the buckets a RateLimiter keeps (about 100
// bytes each).
const DefaultMaxBuckets = 100_000

// opKind is the operation type a request counts as.
type opKind uint8

const (
	opRead opKind = iota
	opWrite
	opDelete
)

// plural is the word of ARM's headers; singular is the word of its
// messages.
func (k opKind) plural() string { return [...]string{"reads", "writes", "deletes"}[k] }

func (k opKind) singular() string { return [...]string{"read", "write", "delete"}[k] }

func (l *RateLimits) of(k opKind) Bucket {
	switch k {
	case opWrite:
		return l.Writes
	case opDelete:
		return l.Deletes
	}
	return l.Reads
}

// RateLimiter holds the token buckets. It is safe for concurrent use.
type RateLimiter struct {
	limits RateLimits
	now    posture.Clock
	max    int

	mu      sync.Mutex
	buckets map[bucketKey]*list.Element // of *entry
	lru     list.List                   // most recently used first
}

type bucketKey struct {
	principal, sub string // sub: lower-case subscription id, "" for the tenant
	kind           opKind
}

type entry struct {
	key    bucketKey
	tokens float64
	at     time.Time // when tokens was computed
}

// NewRateLimiter returns a limiter with limits, reading time from now
// (time.Now when nil) and keeping at most maxBuckets buckets
// (DefaultMaxBuckets when 0).
func NewRateLimiter(limits RateLimits, now posture.Clock, maxBuckets int) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	if maxBuckets <= 0 {
		maxBuckets = DefaultMaxBuckets
	}
	return &RateLimiter{limits: limits, now: now, max: maxBuckets, buckets: map[bucketKey]*list.Element{}}
}

// Limits returns the limiter's buckets.
func (l *RateLimiter) Limits() RateLimits { return l.limits }

// Len is the number of buckets held.
func (l *RateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// decision is the answer to one request.
type decision struct {
	limited   bool    // false: no limit for this kind
	ok        bool    // the request may go on
	remaining int     // tokens left in its bucket
	wait      float64 // seconds until a token is back, when refused
	tenant    bool    // refused by the tenant bucket
	limit     int     // size of the bucket that refused
}

// take draws a token for principal at sub ("" for the tenant).
func (l *RateLimiter) take(principal, sub string, kind opKind) decision {
	b := l.limits.of(kind)
	if b.Size <= 0 {
		return decision{}
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, fresh := l.bucket(bucketKey{principal, sub, kind}, now, b)
	var t *entry
	if fresh && sub != "" {
		t, _ = l.bucket(bucketKey{principal, "", kind}, now, b)
	}
	switch {
	case e.tokens < 1:
		return decision{limited: true, remaining: 0, wait: (1 - e.tokens) / b.Refill, limit: b.Size}
	case t != nil && t.tokens < 1:
		// Forget the new bucket: the next try pays the tenant again.
		l.drop(l.buckets[e.key])
		return decision{limited: true, remaining: int(e.tokens), wait: (1 - t.tokens) / b.Refill, tenant: true, limit: b.Size}
	}
	e.tokens--
	if t != nil {
		t.tokens--
	}
	return decision{limited: true, ok: true, remaining: int(e.tokens)}
}

// bucket returns the bucket of k refilled to now, creating a full one.
// It reports whether the bucket is new.
func (l *RateLimiter) bucket(k bucketKey, now time.Time, b Bucket) (*entry, bool) {
	if el := l.buckets[k]; el != nil {
		l.lru.MoveToFront(el)
		e := el.Value.(*entry)
		if d := now.Sub(e.at).Seconds(); d > 0 {
			e.tokens = min(float64(b.Size), e.tokens+d*b.Refill)
			e.at = now
		}
		return e, false
	}
	for len(l.buckets) >= l.max {
		l.drop(l.lru.Back())
	}
	e := &entry{key: k, tokens: float64(b.Size), at: now}
	l.buckets[k] = l.lru.PushFront(e)
	return e, true
}

func (l *RateLimiter) drop(el *list.Element) {
	if el == nil {
		return
	}
	delete(l.buckets, el.Value.(*entry).key)
	l.lru.Remove(el)
}

// opKindOf is the operation type of a call: GET and HEAD read, DELETE
// deletes, a POST that Azure authorizes as a read (rt.actionNames) or on a
// query type (rt.postReads) reads, everything else writes.
func opKindOf(c *call, rt *typeRoutes) opKind {
	switch c.r.Method {
	case http.MethodGet, http.MethodHead:
		return opRead
	case http.MethodDelete:
		return opDelete
	case http.MethodPost:
		if rt == nil {
			return opWrite
		}
		if rt.postReads {
			return opRead
		}
		if a, ok := rt.actionNames[strings.ToLower(c.path.Collection)]; ok && strings.HasSuffix(strings.ToLower(a), "/read") {
			return opRead
		}
	}
	return opWrite
}

// throttle draws the call's token, sets the remaining header, and refuses
// the call with 429 when its bucket is empty. rt may be nil (an unknown
// type: the request still counts).
func (s *Server) throttle(c *call, rt *typeRoutes) error {
	if s.Limits == nil || s.Limits.Rate == nil {
		return nil
	}
	kind := opKindOf(c, rt)
	sub := strings.ToLower(c.id.SubscriptionID())
	d := s.Limits.Rate.take(c.principal.ID, sub, kind)
	if !d.limited {
		return nil
	}
	scope := "subscription"
	if sub == "" {
		scope = "tenant"
	}
	h := c.w.Header()
	h.Set("x-ms-ratelimit-remaining-"+scope+"-"+kind.plural(), strconv.Itoa(d.remaining))
	if d.ok {
		return nil
	}
	secs := max(1, int(math.Ceil(d.wait)))
	h.Set("Retry-After", strconv.Itoa(secs))
	if sub == "" || d.tenant {
		return posture.Errorf(posture.ETOOMANY, "TenantRequestsThrottled",
			"Number of '%s' requests for tenant actor '%s' exceeded the limit of '%d'. Please try again after '%d' seconds.", kind.singular(), c.principal.ID, d.limit, secs)
	}
	return posture.Errorf(posture.ETOOMANY, "SubscriptionRequestsThrottled",
		"Number of '%s' requests for subscription '%s' actor '%s' exceeded the limit of '%d'. Please try again after '%d' seconds.", kind.singular(), c.id.SubscriptionID(), c.principal.ID, d.limit, secs)
}
