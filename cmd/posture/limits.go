package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/posture/posture/api"
)

// LimitFlags bound what callers may ask of `posture serve`: a rate per
// principal as Azure Resource Manager throttles (api/ratelimit.go), and how
// long and how much a client may take to send a request, so that slow or
// idle clients (slowloris) cannot hold the server's connections.
type LimitFlags struct {
	RateLimit        string      `name:"rate-limit" default:"on" enum:"on,arm,off" help:"Rate limit per principal, a token bucket per subscription or tenant and per reads, writes, deletes as Azure Resource Manager's: on (posture's buckets: reads 10000,1000; writes and deletes 10000,500), arm (ARM's: reads 250,25; writes and deletes 200,10), off." env:"POSTURE_RATE_LIMIT"`
	RateLimitReads   bucketValue `name:"rate-limit-reads" placeholder:"SIZE,REFILL" help:"Reads bucket: tokens, and tokens added a second (e.g. 250,25); 0: reads are not limited. Default: the --rate-limit preset's." env:"POSTURE_RATE_LIMIT_READS"`
	RateLimitWrites  bucketValue `name:"rate-limit-writes" placeholder:"SIZE,REFILL" help:"Writes bucket (PUT, PATCH, POST), as --rate-limit-reads." env:"POSTURE_RATE_LIMIT_WRITES"`
	RateLimitDeletes bucketValue `name:"rate-limit-deletes" placeholder:"SIZE,REFILL" help:"Deletes bucket, as --rate-limit-reads." env:"POSTURE_RATE_LIMIT_DELETES"`
	// ReadHeaderTimeout also bounds a new connection that sends nothing.
	ReadHeaderTimeout time.Duration `name:"read-header-timeout" default:"10s" help:"Longest a client may take to send a request's headers (a new connection that sends nothing is closed after it too)." env:"POSTURE_READ_HEADER_TIMEOUT"`
	BodyTimeout       time.Duration `name:"body-timeout" default:"1m" help:"Longest a client may take to send a request body (4 MB at most); imports get more, see --import-min-rate." env:"POSTURE_BODY_TIMEOUT"`
	ImportMinRate     int64         `name:"import-min-rate" default:"65536" help:"Bytes a second an import body (256 MB at most) must keep up on average: it may take --body-timeout plus one second per this many bytes; 0: --body-timeout alone." env:"POSTURE_IMPORT_MIN_RATE"`
	IdleTimeout       time.Duration `name:"idle-timeout" default:"2m" help:"Longest a kept-alive connection may wait for its next request." env:"POSTURE_IDLE_TIMEOUT"`
	MaxHeaderBytes    int           `name:"max-header-bytes" default:"65536" help:"Largest request line and headers; larger ones get 431 (net/http cuts at twice this, or this plus 64 KiB, before posture sees them)." env:"POSTURE_MAX_HEADER_BYTES"`
	MaxConnsPerAddr   int           `name:"max-conns-per-address" default:"256" help:"Connections one client address may hold open at once; more are closed when accepted. 0: no cap (behind a reverse proxy every client has its address)." env:"POSTURE_MAX_CONNS_PER_ADDRESS"`
}

// bucketValue is a bucket flag: set when given.
type bucketValue struct {
	api.Bucket
	set bool
}

func (b *bucketValue) UnmarshalText(text []byte) error {
	v, err := api.ParseBucket(string(text))
	if err != nil {
		return err
	}
	b.Bucket, b.set = v, true
	return nil
}

// rateLimits are the buckets the flags ask for; ok is false with
// --rate-limit=off and no bucket flag.
func (f *LimitFlags) rateLimits() (api.RateLimits, bool) {
	var l api.RateLimits
	switch f.RateLimit {
	case "arm":
		l = api.ARMRateLimits
	case "on", "":
		l = api.DefaultRateLimits
	}
	for _, o := range []struct {
		flag *bucketValue
		b    *api.Bucket
	}{{&f.RateLimitReads, &l.Reads}, {&f.RateLimitWrites, &l.Writes}, {&f.RateLimitDeletes, &l.Deletes}} {
		if o.flag.set {
			*o.b = o.flag.Bucket
		}
	}
	return l, l.Reads.Size > 0 || l.Writes.Size > 0 || l.Deletes.Size > 0
}

// apply sets the limits on the API server and on the HTTP server. It runs
// after srv.Handler (the limits are read per request) and before hs
// serves.
//
// hs.ReadTimeout is 0 on purpose: it bounds headers and body together for
// every route, so it would cut large imports. The body's own deadline
// (api.Limits.BodyTimeout, longer for imports) replaces it.
func (f *LimitFlags) apply(srv *api.Server, hs *http.Server) error {
	switch {
	case f.ReadHeaderTimeout <= 0:
		return usageError{fmt.Errorf("--read-header-timeout must be positive: without it a client may hold a connection forever")}
	case f.IdleTimeout <= 0:
		return usageError{fmt.Errorf("--idle-timeout must be positive")}
	case f.BodyTimeout < 0 || f.ImportMinRate < 0 || f.MaxConnsPerAddr < 0:
		return usageError{fmt.Errorf("--body-timeout, --import-min-rate and --max-conns-per-address cannot be negative")}
	case f.MaxHeaderBytes < 4096:
		return usageError{fmt.Errorf("--max-header-bytes must be at least 4096")}
	}
	limits := &api.Limits{BodyTimeout: f.BodyTimeout, ImportMinRate: f.ImportMinRate, MaxHeaderBytes: f.MaxHeaderBytes}
	if l, ok := f.rateLimits(); ok {
		limits.Rate = api.NewRateLimiter(l, srv.Now, 0)
	}
	srv.Limits = limits
	hs.ReadHeaderTimeout = f.ReadHeaderTimeout
	hs.ReadTimeout = 0
	hs.IdleTimeout = f.IdleTimeout
	hs.MaxHeaderBytes = api.HeaderHardLimit(f.MaxHeaderBytes)
	if f.MaxConnsPerAddr > 0 {
		refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "posture_http_connections_refused_total",
			Help: "Connections closed when accepted because their client address held --max-conns-per-address already."})
		if srv.Registry != nil {
			srv.Registry.MustRegister(refused)
		}
		cl := &api.ConnLimit{Max: f.MaxConnsPerAddr, Refused: func(string) { refused.Inc() }}
		hs.ConnState = cl.ConnState
	}
	return nil
}
