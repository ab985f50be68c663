package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// LoadCmd is a bounded load generator for posture servers on the same
// machine. It runs a mix of operations (exemption GET/PUT/DELETE, Resource
// Graph queries, portal pages) either closed loop, with N clients that each
// send their next request when the last one is answered (--clients 1,8,64
// runs each count in turn and finds where latency degrades), or open loop,
// at a fixed rate whatever the latency (--rate: a slow server cannot slow
// the generator and hide its own tail). It refuses non-loopback servers: it
// is a benchmark tool, not a stress tool for other people's systems.
// docs/load.md explains the operations, the mix and the measured figures.
type LoadCmd struct {
	URL        []string      `required:"" name:"url" placeholder:"URL" help:"Server base URL, e.g. http://127.0.0.1:8080; repeat (or separate with commas) for replicas: clients are spread over them round-robin. A URL with a path (…/subscriptions?api-version=…) sends only that request (--method)."`
	Token      string        `help:"Bearer token (an Owner's: the generator writes and deletes exemptions)." env:"POSTURE_TOKEN"`
	TokenFile  string        `placeholder:"FILE" help:"Read the token from this file, e.g. <data>/bootstrap-token."`
	Mix        string        `default:"exemptions" help:"Operations and weights: a profile (exemptions, kql, portal, all) or name=weight,… of operations (exemption-get, exemption-put, exemption-delete, exemption-list, kql-exempt, kql-score, kql-severity, kql-expiring, page-overview, page-recommendations, page-exemptions) and groups (exemptions, kql, pages)."`
	Clients    []int         `default:"1,8,64" help:"Closed loop: concurrent clients, one step per count (e.g. 1,2,4,8,16,32,64,128)."`
	Rate       int           `help:"Open loop: requests per second (instead of --clients); latency counts from when each request was due."`
	Duration   time.Duration `default:"10s" help:"Measured time of each step."`
	Warmup     time.Duration `default:"2s" help:"Unmeasured time before each step."`
	P99Limit   time.Duration `name:"p99-limit" default:"20ms" help:"Sweep: latency has degraded at the first step whose p99 exceeds this."`
	MinGain    float64       `default:"0.1" help:"Sweep: throughput has stopped growing at the first step that adds less than this fraction to the previous step's."`
	Exemptions int           `default:"512" help:"Exemption names the generator works with (half exist when a step starts)."`
	Prefix     string        `default:"load-" help:"Prefix of the exemption names the generator creates (and deletes at the end)."`
	Keep       bool          `help:"Leave the generator's exemptions in place at the end."`
	Method     string        `default:"GET" help:"Method of the single-request mode."`
	Seed       uint64        `default:"1" help:"Seed of the operation choices (runs with the same seed choose the same sequence per client)."`
	Output     string        `short:"o" enum:"table,json" default:"table" help:"Output format: table or json."`
	Save       string        `placeholder:"FILE" help:"Also write the report as JSON to this file."`
	ServerPID  []int         `name:"server-pid" placeholder:"PID" help:"Linux: also report the CPU these server processes used in each step (cores, and per request)."`
}

// maxInFlight bounds the open loop: beyond it requests are counted as not
// sent rather than piling up goroutines in the generator.
const maxInFlight = 512

// Run sends the load and prints the result. It fails (exit 1) when any
// measured request failed, after printing everything.
func (c *LoadCmd) Run(ctx context.Context, streams *IO) error {
	run, err := c.prepare()
	if err != nil {
		return err
	}
	defer run.tr.CloseIdleConnections()
	if err := run.setup(ctx, c); err != nil {
		return err
	}
	report := loadReport{Mode: "closed", URLs: run.urlStrings(), Mix: run.mixWeights(), Duration: c.Duration.String(), Warmup: c.Warmup.String(),
		P99LimitMs: millis(c.P99Limit), MinGain: c.MinGain}
	var runErr error
	if c.Rate > 0 {
		report.Mode = "open"
		report.Rate = c.Rate
		step, err := run.open(ctx, c.Rate, c.Warmup, c.Duration)
		report.Steps = append(report.Steps, step)
		runErr = err
	} else {
		for _, n := range c.Clients {
			step, err := run.closed(ctx, n, c.Warmup, c.Duration)
			if err != nil {
				runErr = err
				break
			}
			report.Steps = append(report.Steps, step)
			if c.Output == formatTable && len(c.Clients) > 1 {
				fmt.Fprintf(streams.Err, "%d clients: %.0f req/s, p99 %.2f ms, %d errors\n", n, step.Total.RPS, step.Total.P99Ms, step.Total.Errors)
			}
		}
		report.Knee = knee(report.Steps, c.P99Limit, c.MinGain)
	}
	if cerr := run.cleanup(context.WithoutCancel(ctx), c.Keep); cerr != nil && runErr == nil {
		runErr = cerr
	}
	if runErr != nil {
		return runErr
	}
	if err := report.print(streams.Out, c.Output); err != nil {
		return err
	}
	if c.Save != "" {
		var b bytes.Buffer
		report.print(&b, formatJSON)
		if err := os.WriteFile(c.Save, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if n := report.errors(); n > 0 {
		return fmt.Errorf("%d measured requests failed (see the statuses)", n)
	}
	return nil
}

// prepare checks the flags and builds the run: URLs, token, operations.
func (c *LoadCmd) prepare() (*loadRun, error) {
	if c.Duration <= 0 || c.Duration > time.Hour || c.Warmup < 0 || c.Warmup > 10*time.Minute {
		return nil, usageError{errors.New("--duration must be up to 1h and --warmup up to 10m")}
	}
	if c.Rate < 0 || c.Rate > 100_000 {
		return nil, usageError{errors.New("--rate must be 1..100000")}
	}
	if c.Rate == 0 && len(c.Clients) == 0 {
		return nil, usageError{errors.New("give --clients or --rate")}
	}
	for _, n := range c.Clients {
		if n < 1 || n > 1024 {
			return nil, usageError{fmt.Errorf("--clients %d: each count must be 1..1024", n)}
		}
	}
	if c.Exemptions < 2 || c.Exemptions > 100_000 {
		return nil, usageError{errors.New("--exemptions must be 2..100000")}
	}
	if !validPrefix(c.Prefix) {
		return nil, usageError{fmt.Errorf("--prefix %q: letters, digits, '-' and '_' only, up to 40", c.Prefix)}
	}
	r := &loadRun{method: c.Method, seed: c.Seed, serverPIDs: c.ServerPID}
	if _, err := r.serverCPU(); err != nil {
		return nil, usageError{fmt.Errorf("--server-pid: %w", err)}
	}
	for _, raw := range c.URL {
		for _, s := range strings.Split(raw, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, usageError{fmt.Errorf("--url %q: not an http(s) URL", s)}
			}
			if ip := net.ParseIP(u.Hostname()); !(u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
				return nil, usageError{fmt.Errorf("posture load only targets loopback addresses, not %q", u.Hostname())}
			}
			if strings.Trim(u.Path, "/") != "" {
				if r.single != nil || len(r.urls) > 0 || len(c.URL) > 1 {
					return nil, usageError{errors.New("a URL with a path (the single-request mode) must be the only --url")}
				}
				r.single = u
				continue
			}
			u.Path, u.RawQuery = "", ""
			r.urls = append(r.urls, u)
		}
	}
	if r.single != nil {
		r.urls = []*url.URL{{Scheme: r.single.Scheme, Host: r.single.Host}}
	}
	r.token = c.Token
	if c.TokenFile != "" {
		b, err := os.ReadFile(c.TokenFile)
		if err != nil {
			return nil, usageError{err}
		}
		r.token = strings.TrimSpace(string(b))
	}
	if r.token == "" && r.single == nil {
		return nil, usageError{errors.New("no token: give --token (or POSTURE_TOKEN) or --token-file")}
	}
	noteSecret(r.token)
	if r.single != nil {
		r.ops = []*loadOp{{name: "request", weight: 1, run: (*loadClient).request, ok: func(code int) bool { return code < 400 }}}
	} else {
		ops, err := parseMix(c.Mix)
		if err != nil {
			return nil, usageError{err}
		}
		r.ops = ops
	}
	r.pool = &exemptionPool{prefix: c.Prefix, size: c.Exemptions}
	conns := maxInFlight
	if c.Rate == 0 {
		conns = slices.Max(c.Clients) + 8
	}
	r.tr = &http.Transport{Proxy: nil, MaxIdleConns: conns * len(r.urls), MaxIdleConnsPerHost: conns, IdleConnTimeout: time.Minute}
	return r, nil
}

func validPrefix(p string) bool {
	if p == "" || len(p) > 40 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
