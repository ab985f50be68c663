package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture/api"
	"github.com/posture/posture/auth"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/identity"
	"github.com/posture/posture/sqlite"
)

// clock is a settable clock for the rate limiter.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// limitedEnv is newEnv with a rate limiter on a settable clock, and a way
// to mint a second principal's token.
type limitedEnv struct {
	*env
	clock   *clock
	limiter *api.RateLimiter
	authn   *auth.Service
	ids     *identity.Service
}

func newLimitedEnv(t *testing.T, limits api.RateLimits, maxBuckets int) *limitedEnv {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	res := &estate.Service{Store: store}
	if _, err := res.EnsureTenant(ctx, "tenant-1"); err != nil {
		t.Fatal(err)
	}
	authn := &auth.Service{Store: store}
	token, err := authn.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := identity.Load(ctx, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	lim := api.NewRateLimiter(limits, clk.now, maxBuckets)
	srv := &api.Server{Resources: res, Auth: authn, Authz: ids.Authz, Identity: ids, Tokens: authn,
		Limits: &api.Limits{Rate: lim},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &limitedEnv{env: &env{t: t, url: hs.URL, token: token, store: store}, clock: clk, limiter: lim, authn: authn, ids: ids}
}

// as returns the env with another principal's token (a new principal
// without roles: its calls are refused with 403, after they are counted).
func (e *limitedEnv) as(id string) *env {
	e.t.Helper()
	w, err := identity.ParsePrincipal(id, []byte(`{"properties":{"principalType":"ServicePrincipal","displayName":"`+id+`"}}`))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, _, _, err := e.ids.PutPrincipal(context.Background(), w); err != nil {
		e.t.Fatal(err)
	}
	secret, _, err := e.authn.CreateToken(context.Background(), id, "", "test", time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	other := *e.env
	other.token = secret
	return &other
}

// remaining reads a rate-limit header as a number, failing when absent.
func remaining(t *testing.T, r response, header string) int {
	t.Helper()
	v := r.header.Get(header)
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("status %d: header %s = %q, want a number; headers %v", r.status, header, v, r.header)
	}
	return n
}

const (
	tenantReads  = "x-ms-ratelimit-remaining-tenant-reads"
	tenantWrites = "x-ms-ratelimit-remaining-tenant-writes"
	subReads     = "x-ms-ratelimit-remaining-subscription-reads"
	subWrites    = "x-ms-ratelimit-remaining-subscription-writes"
	subDeletes   = "x-ms-ratelimit-remaining-subscription-deletes"
)

// throttled checks a 429 in ARM's shape and returns its Retry-After.
func throttled(t *testing.T, r response, code string) int {
	t.Helper()
	if r.status != 429 {
		t.Fatalf("status %d, want 429: %s", r.status, r.body)
	}
	if got := r.errorCode(t); got != code {
		t.Errorf("code %s, want %s", got, code)
	}
	if r.header.Get("x-ms-failure-cause") != "gateway" {
		t.Errorf("x-ms-failure-cause %q, want gateway", r.header.Get("x-ms-failure-cause"))
	}
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After %q, want whole seconds ≥ 1", r.header.Get("Retry-After"))
	}
	return secs
}

func TestRateLimitBuckets(t *testing.T) {
	e := newLimitedEnv(t, api.RateLimits{Reads: api.Bucket{Size: 3, Refill: 0.5}, Writes: api.Bucket{Size: 4, Refill: 0.01}, Deletes: api.Bucket{Size: 2, Refill: 0.01}}, 0)
	e.seed() // one tenant write (the import), one subscription write (rg1): no read

	// Tenant reads: the remaining count goes 2, 1, 0, then 429.
	for want := 2; want >= 0; want-- {
		r := e.do("GET", "/subscriptions"+rmv, nil)
		if r.status != 200 || remaining(t, r, tenantReads) != want {
			t.Fatalf("read %d: %d %s=%q", 3-want, r.status, tenantReads, r.header.Get(tenantReads))
		}
		if r.header.Get(subReads) != "" || r.header.Get(tenantWrites) != "" {
			t.Errorf("a tenant read carries other counts: %v", r.header)
		}
	}
	r := e.do("GET", "/subscriptions"+rmv, nil)
	if secs := throttled(t, r, "TenantRequestsThrottled"); secs != 2 { // one token at 0.5 a second
		t.Errorf("Retry-After %d, want 2", secs)
	}
	if remaining(t, r, tenantReads) != 0 {
		t.Errorf("throttled answer: %s=%s", tenantReads, r.header.Get(tenantReads))
	}
	// A refused request takes nothing: one second later there is still
	// half a token; at the Retry-After there is one.
	e.clock.advance(time.Second)
	throttled(t, e.do("GET", "/subscriptions"+rmv, nil), "TenantRequestsThrottled")
	e.clock.advance(time.Second)
	if r := e.do("GET", "/subscriptions"+rmv, nil); r.status != 200 || remaining(t, r, tenantReads) != 0 {
		t.Fatalf("after Retry-After: %d %s", r.status, r.body)
	}

	// The subscription's reads are their own bucket (and the first one also
	// draws on the tenant's, which is empty now: see
	// TestRateLimitNewSubscriptionsDrawOnTheTenant).
	e.clock.advance(2 * time.Second)
	for want := 2; want >= 0; want-- {
		r := e.do("GET", "/subscriptions/s1/resourcegroups/rg1"+rmv, nil)
		if r.status != 200 || remaining(t, r, subReads) != want {
			t.Fatalf("subscription read: %d %s=%q %s", r.status, subReads, r.header.Get(subReads), r.body)
		}
	}
	r = e.do("GET", "/subscriptions/s1/resourcegroups/rg1"+rmv, nil)
	throttled(t, r, "SubscriptionRequestsThrottled")

	// Writes and deletes are not reads: they go on while reads are
	// refused. rg1's PUT in seed took the first write.
	for want := 2; want >= 0; want-- {
		r := e.do("PUT", "/subscriptions/s1/resourcegroups/rg"+strconv.Itoa(10+want)+rmv, `{"location":"westeurope"}`)
		if r.status != 201 || remaining(t, r, subWrites) != want {
			t.Fatalf("write: %d %s=%q %s", r.status, subWrites, r.header.Get(subWrites), r.body)
		}
	}
	throttled(t, e.do("PUT", "/subscriptions/s1/resourcegroups/rg9"+rmv, `{"location":"westeurope"}`), "SubscriptionRequestsThrottled")
	r = e.do("DELETE", "/subscriptions/s1/resourcegroups/rg10"+rmv, nil)
	if r.status >= 300 || remaining(t, r, subDeletes) != 1 {
		t.Fatalf("delete: %d %s=%q %s", r.status, subDeletes, r.header.Get(subDeletes), r.body)
	}
	// (Resource Graph queries, POSTs counted as reads, are checked against
	// the whole server in cmd/posture's TestRateLimitServe.)
}

func TestRateLimitPerPrincipal(t *testing.T) {
	e := newLimitedEnv(t, api.RateLimits{Reads: api.Bucket{Size: 2, Refill: 1}, Writes: api.Bucket{Size: 2, Refill: 1}}, 0)
	other := e.as("robot-1")
	e.do("GET", "/subscriptions"+rmv, nil)
	e.do("GET", "/subscriptions"+rmv, nil)
	throttled(t, e.do("GET", "/subscriptions"+rmv, nil), "TenantRequestsThrottled")
	// The other principal has its own full bucket (its calls are refused
	// 403 for want of a role, after they are counted).
	for want := 1; want >= 0; want-- {
		r := other.do("GET", "/subscriptions/s1/resourcegroups"+rmv, nil)
		if r.status == 429 || remaining(t, r, subReads) != want {
			t.Fatalf("other principal: %d %s=%q %s", r.status, subReads, r.header.Get(subReads), r.body)
		}
	}
	r := other.do("GET", "/subscriptions/s1/resourcegroups"+rmv, nil)
	throttled(t, r, "SubscriptionRequestsThrottled")
	if want := "Number of 'read' requests for subscription 's1' actor 'robot-1' exceeded the limit of '2'. Please try again after '1' seconds."; !strings.Contains(string(r.body), want) {
		t.Errorf("message: %s, want %q", r.body, want)
	}
	// Deletes have no limit here (Size 0): no header, never 429.
	for range 5 {
		if r := e.do("DELETE", "/subscriptions/s1/resourcegroups/none"+rmv, nil); r.status == 429 || r.header.Get(subDeletes) != "" {
			t.Fatalf("unlimited deletes: %d %v", r.status, r.header)
		}
	}
}

// A principal naming a new (made-up) subscription in every request does
// not find a new full bucket each time: a new subscription bucket draws
// on the principal's tenant bucket too.
func TestRateLimitNewSubscriptionsDrawOnTheTenant(t *testing.T) {
	e := newLimitedEnv(t, api.RateLimits{Reads: api.Bucket{Size: 5, Refill: 1}}, 0)
	for i := range 5 {
		r := e.do("GET", fmt.Sprintf("/subscriptions/made-up-%d/resourcegroups%s", i, rmv), nil)
		if r.status == 429 || remaining(t, r, subReads) != 4 {
			t.Fatalf("subscription %d: %d %s=%q", i, r.status, subReads, r.header.Get(subReads))
		}
	}
	throttled(t, e.do("GET", "/subscriptions/made-up-5/resourcegroups"+rmv, nil), "TenantRequestsThrottled")
	throttled(t, e.do("GET", "/subscriptions"+rmv, nil), "TenantRequestsThrottled")
	// A subscription already held goes on from its own bucket.
	if r := e.do("GET", "/subscriptions/made-up-0/resourcegroups"+rmv, nil); r.status == 429 || remaining(t, r, subReads) != 3 {
		t.Fatalf("known subscription: %d %s", r.status, r.header.Get(subReads))
	}
}

// The limiter keeps at most its bound of buckets, whatever callers name.
func TestRateLimitBoundedMemory(t *testing.T) {
	e := newLimitedEnv(t, api.RateLimits{Reads: api.Bucket{Size: 1000, Refill: 1000}}, 50)
	for i := range 300 {
		if r := e.do("GET", fmt.Sprintf("/subscriptions/s-%d/resourcegroups%s", i, rmv), nil); r.status == 429 {
			t.Fatalf("request %d: 429", i)
		}
		if n := e.limiter.Len(); n > 50 {
			t.Fatalf("after %d subscriptions the limiter holds %d buckets, bound 50", i+1, n)
		}
	}
	if n := e.limiter.Len(); n != 50 {
		t.Errorf("buckets held: %d, want the bound 50", n)
	}
}

func TestParseBucket(t *testing.T) {
	for in, want := range map[string]api.Bucket{"250,25": {Size: 250, Refill: 25}, " 10 , 0.5 ": {Size: 10, Refill: 0.5}, "0": {}} {
		got, err := api.ParseBucket(in)
		if err != nil || got != want {
			t.Errorf("ParseBucket(%q) = %v, %v; want %v", in, got, err, want)
		}
		if again, err := api.ParseBucket(got.String()); err != nil || again != got {
			t.Errorf("String %q does not parse back: %v %v", got.String(), again, err)
		}
	}
	for _, in := range []string{"", "250", "250,", ",25", "-1,5", "5,0", "5,-1", "a,b", "5,Inf", "5,NaN"} {
		if _, err := api.ParseBucket(in); err == nil {
			t.Errorf("ParseBucket(%q) accepted", in)
		}
	}
}
