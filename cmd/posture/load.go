package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// LoadCmd is a bounded load generator for posture on the same machine. It
// sends requests at a fixed rate whatever the latency (open loop, so a slow
// server cannot slow the generator and hide its own tail), then prints the
// latency percentiles. It refuses non-loopback servers: it is a benchmark
// tool, not a stress tool for other people's systems.
type LoadCmd struct {
	URL      string        `required:"" help:"Full URL to request, e.g. http://127.0.0.1:8080/subscriptions/…?api-version=2023-01-01."`
	Token    string        `help:"Bearer token." env:"POSTURE_TOKEN"`
	Method   string        `default:"GET" help:"HTTP method."`
	Rate     int           `default:"500" help:"Requests per second."`
	Duration time.Duration `default:"20s" help:"How long to send."`
	Warmup   time.Duration `default:"2s" help:"Requests in this first period are not counted."`
}

// Run sends the load and prints the result.
func (c *LoadCmd) Run(ctx context.Context, streams *IO) error {
	u, err := url.Parse(c.URL)
	if err != nil {
		return usageError{err}
	}
	if ip := net.ParseIP(u.Hostname()); !(u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()) {
		return usageError{fmt.Errorf("posture load only targets loopback addresses, not %q", u.Hostname())}
	}
	if c.Rate < 1 || c.Rate > 100_000 || c.Duration <= 0 || c.Duration > time.Hour {
		return usageError{fmt.Errorf("--rate must be 1..100000 and --duration up to 1h")}
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 512, IdleConnTimeout: time.Minute}
	cl := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()

	var (
		mu      sync.Mutex
		lat     []time.Duration
		failed  int
		codes   = map[int]int{}
		wg      sync.WaitGroup
		sem     = make(chan struct{}, 512) // bounded in flight
		dropped int
	)
	start := time.Now()
	interval := time.Second / time.Duration(c.Rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for sent := 0; time.Since(start) < c.Duration; sent++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			dropped++ // the server is so slow that 512 requests are in flight
			continue
		}
		counted := time.Since(start) >= c.Warmup
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			code, err := c.once(ctx, cl)
			d := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed++
				return
			}
			codes[code]++
			if counted {
				lat = append(lat, d)
			}
		})
	}
	wg.Wait()
	slices.Sort(lat)
	elapsed := time.Since(start) - c.Warmup
	fmt.Fprintf(streams.Out, "%s %s at %d/s for %s: %d measured, %.0f req/s, codes %v, %d transport errors, %d not sent (512 in flight)\n",
		c.Method, u.Path, c.Rate, c.Duration, len(lat), float64(len(lat))/elapsed.Seconds(), codes, failed, dropped)
	if len(lat) > 0 {
		fmt.Fprintf(streams.Out, "latency p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
			pct(lat, 50), pct(lat, 90), pct(lat, 99), pct(lat, 99.9), lat[len(lat)-1])
	}
	return nil
}

func (c *LoadCmd) once(ctx context.Context, cl *http.Client) (int, error) {
	req, err := http.NewRequestWithContext(ctx, c.Method, c.URL, nil)
	if err != nil {
		return 0, err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// pct returns the p-th percentile of sorted latencies (nearest rank).
func pct(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p/100+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i].Round(10 * time.Microsecond)
}
