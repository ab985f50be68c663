package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runLoad runs `posture load` with args and -o json and decodes the report.
func runLoad(t *testing.T, args ...string) (int, loadReport, string) {
	t.Helper()
	out, errOut := &safeBuffer{}, &safeBuffer{}
	code := Main(context.Background(), append([]string{"load", "-o", "json"}, args...), &IO{Out: out, Err: errOut})
	var r loadReport
	if out.String() != "" {
		if err := json.Unmarshal([]byte(out.String()), &r); err != nil {
			t.Fatalf("load -o json printed what is not JSON (%v):\n%s", err, out)
		}
	}
	return code, r, errOut.String()
}

// checkArithmetic checks that a step's figures add up: each operation's
// statuses make its requests, the operations make the total, the rate is
// the requests over the measured time, the percentiles are ordered.
func checkArithmetic(t *testing.T, s loadStep) {
	t.Helper()
	sum := opSummary{Statuses: map[string]int{}}
	for _, o := range append(s.Operations, s.Total) {
		n := 0
		for _, v := range o.Statuses {
			n += v
		}
		if n != o.Requests {
			t.Errorf("step %d, %s: statuses %v add up to %d, not %d requests", s.Clients, o.Name, o.Statuses, n, o.Requests)
		}
		if want := float64(o.Requests) / s.Seconds; math.Abs(o.RPS-want) > 0.051 {
			t.Errorf("step %d, %s: %.1f req/s for %d requests in %.1fs", s.Clients, o.Name, o.RPS, o.Requests, s.Seconds)
		}
		if o.Requests > 0 && !(0 < o.P50Ms && o.P50Ms <= o.P90Ms && o.P90Ms <= o.P99Ms && o.P99Ms <= o.MaxMs) {
			t.Errorf("step %d, %s: percentiles out of order: %+v", s.Clients, o.Name, o)
		}
		if o.Name == "total" {
			continue
		}
		sum.Requests += o.Requests
		sum.Errors += o.Errors
		for k, v := range o.Statuses {
			sum.Statuses[k] += v
		}
	}
	if sum.Requests != s.Total.Requests || sum.Errors != s.Total.Errors || fmt.Sprint(sum.Statuses) != fmt.Sprint(s.Total.Statuses) {
		t.Errorf("step %d: operations add up to %d requests, %d errors, %v; the total says %d, %d, %v",
			s.Clients, sum.Requests, sum.Errors, sum.Statuses, s.Total.Requests, s.Total.Errors, s.Total.Statuses)
	}
}

func TestLoadClosedLoopMix(t *testing.T) {
	s := startServer(t, "--demo")
	args := []string{"--url", s.url, "--token", s.token, "--mix", "all", "--clients", "1,3", "--duration", "1500ms", "--warmup", "300ms", "--exemptions", "64"}
	if runtime.GOOS == "linux" {
		args = append(args, "--server-pid", strconv.Itoa(os.Getpid())) // the server runs in this process
	}
	code, r, errOut := runLoad(t, args...)
	if code != 0 || len(r.Steps) != 2 || r.Steps[0].Clients != 1 || r.Steps[1].Clients != 3 {
		t.Fatalf("load: exit %d, %d steps\n%s", code, len(r.Steps), errOut)
	}
	if math.Abs(r.Mix["exemption-get"]-0.49) > 1e-9 || math.Abs(r.Mix["kql-score"]-0.0375) > 1e-9 || len(r.Mix) != 10 {
		t.Errorf("mix all: %v", r.Mix)
	}
	seen := map[string]int{}
	for _, step := range r.Steps {
		checkArithmetic(t, step)
		if step.Total.Errors != 0 || step.Total.Requests == 0 {
			t.Errorf("step %d: %d requests, %d errors %v", step.Clients, step.Total.Requests, step.Total.Errors, step.Total.ErrorSamples)
		}
		if runtime.GOOS == "linux" && (step.ServerCores <= 0 || step.ServerCPUPerRequestUs <= 0) {
			t.Errorf("step %d: server CPU %.2f cores, %.0f µs a request", step.Clients, step.ServerCores, step.ServerCPUPerRequestUs)
		}
		for _, o := range step.Operations {
			seen[strings.SplitN(o.Name, "-", 2)[0]] += o.Requests
			seen[o.Name] += o.Requests
			if o.Name == "exemption-put" {
				seen["created"] += o.Statuses["201"]
			}
		}
	}
	// Every group of the mix ran, the PUTs created exemptions (half the
	// names are free when a step starts) and the DELETEs removed some.
	for _, k := range []string{"exemption", "kql", "page", "exemption-get", "exemption-put", "exemption-delete", "created"} {
		if seen[k] == 0 {
			t.Errorf("no %s request: %v", k, seen)
		}
	}
	if r.Knee == nil || r.Knee.BestClients == 0 && r.Knee.Clients == 0 {
		t.Errorf("a sweep reports where it degrades or its best step: %+v", r.Knee)
	}
	// The generator leaves no exemption behind.
	if rows := s.rbacGraphRows(t, s.token, `policyresources | where type == 'microsoft.authorization/policyexemptions' and name startswith 'load-' | count`); len(rows) != 1 || rows[0]["Count"] != 0.0 {
		t.Errorf("exemptions left after the run: %v", rows)
	}
}

func TestLoadCountsErrors(t *testing.T) {
	s := startServer(t, "--demo")
	// Three URLs, one client on each: the server, one that answers 503
	// with an ARM error, and a closed port.
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"error":{"code":"ServerBusy","message":"try later"}}`)
	}))
	defer busy.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	code, r, errOut := runLoad(t, "--url", s.url, "--url", busy.URL+","+closed, "--token", s.token, "--mix", "exemptions",
		"--clients", "3", "--duration", "1s", "--warmup", "200ms", "--exemptions", "32")
	if code != exitFailure || len(r.Steps) != 1 || !strings.Contains(errOut, "measured requests failed") {
		t.Fatalf("load against failing servers: exit %d, %d steps\n%s", code, len(r.Steps), errOut)
	}
	step := r.Steps[0]
	checkArithmetic(t, step)
	st := step.Total.Statuses
	if st["503"] == 0 || st["transport"] == 0 || st["200"] == 0 || step.Total.Errors != st["503"]+st["transport"] {
		t.Errorf("statuses %v, %d errors", st, step.Total.Errors)
	}
	samples := map[string]string{}
	for _, o := range step.Operations {
		for k, v := range o.ErrorSamples {
			samples[k] = v
		}
	}
	if !strings.Contains(samples["503"], "ServerBusy") || !strings.Contains(samples["transport"], "refused") {
		t.Errorf("error samples: %v", samples)
	}
}

func TestLoadOpenLoopSingleRequest(t *testing.T) {
	s := startServer(t, "--demo")
	// The single-request mode at a fixed rate: 50 requests are due in the
	// measured second, every one a 404.
	code, r, errOut := runLoad(t, "--url", s.url+"/subscriptions/00000000-0000-0000-0000-000000000000?api-version=2022-12-01", "--token", s.token,
		"--rate", "50", "--duration", "1s", "--warmup", "200ms")
	if code != exitFailure || r.Mode != "open" || len(r.Steps) != 1 {
		t.Fatalf("exit %d %+v\n%s", code, r, errOut)
	}
	step := r.Steps[0]
	checkArithmetic(t, step)
	if step.Total.Requests+step.NotSent != 50 || step.Total.Errors != step.Total.Requests || step.Total.Statuses["404"] != step.Total.Requests {
		t.Errorf("%d requests + %d not sent, %d errors, statuses %v", step.Total.Requests, step.NotSent, step.Total.Errors, step.Total.Statuses)
	}
	// The table format says the same.
	out := &safeBuffer{}
	Main(context.Background(), []string{"load", "--url", s.url + "/subscriptions?api-version=2022-12-01", "--token", s.token, "--rate", "100", "--duration", "500ms", "--warmup", "100ms"}, &IO{Out: out, Err: &safeBuffer{}})
	if !strings.Contains(out.String(), "open loop at 100 req/s") || !strings.Contains(out.String(), "200:") || !strings.Contains(out.String(), "P99 MS") {
		t.Errorf("table:\n%s", out)
	}
}

func TestLoadRefusesRemoteHosts(t *testing.T) {
	if code := Main(context.Background(), []string{"load", "--url", "http://127.0.0.1:1", "--token", "x", "--server-pid", "-5"}, &IO{Out: &safeBuffer{}, Err: &safeBuffer{}}); code != exitUsage {
		t.Errorf("--server-pid of no process: exit %d", code)
	}
	for _, u := range []string{"http://example.com/", "http://10.1.2.3:8080", "http://127.0.0.1:8080,http://192.0.2.1:8080"} {
		errOut := &safeBuffer{}
		if code := Main(context.Background(), []string{"load", "--url", u, "--token", "x"}, &IO{Out: &safeBuffer{}, Err: errOut}); code != exitUsage || !strings.Contains(errOut.String(), "loopback") {
			t.Errorf("load --url %s: exit %d %s", u, code, errOut)
		}
	}
}

func TestParseMix(t *testing.T) {
	weights := func(mix string) map[string]int {
		ops, err := parseMix(mix)
		if err != nil {
			t.Fatalf("%s: %v", mix, err)
		}
		m := map[string]int{}
		for _, op := range ops {
			m[op.name] = op.weight
		}
		return m
	}
	if got := fmt.Sprint(weights("exemptions")); got != "map[exemption-delete:10000 exemption-get:70000 exemption-put:20000]" {
		t.Errorf("exemptions: %s", got)
	}
	if got := fmt.Sprint(weights("kql=2,exemption-get=1,page-overview")); got != "map[exemption-get:1000 kql-exempt:500 kql-expiring:500 kql-score:500 kql-severity:500 page-overview:1000]" {
		t.Errorf("kql=2,…: %s", got)
	}
	for _, bad := range []string{"nothing", "exemption-get=x", "exemption-get=0", "kql=-1"} {
		if _, err := parseMix(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestKnee(t *testing.T) {
	step := func(clients int, rps, p99 float64) loadStep {
		return loadStep{Clients: clients, Total: opSummary{RPS: rps, P99Ms: p99}}
	}
	// Throughput grows by 80%, then 5%: saturated at 4 clients, which is
	// still the best within the limit.
	k := knee([]loadStep{step(1, 500, 5), step(2, 900, 8), step(4, 945, 12), step(8, 950, 30)}, 20*time.Millisecond, 0.1)
	if k.Clients != 4 || !strings.Contains(k.Reason, "+5.0% over 2 clients") || k.BestClients != 4 || k.BestRPS != 945 {
		t.Errorf("saturation: %+v", k)
	}
	// Latency over the limit first.
	k = knee([]loadStep{step(1, 500, 5), step(2, 900, 25)}, 20*time.Millisecond, 0.1)
	if k.Clients != 2 || !strings.Contains(k.Reason, "p99 25.00 ms > 20.00 ms") || k.BestClients != 1 {
		t.Errorf("latency: %+v", k)
	}
	// Nothing degrades.
	if k = knee([]loadStep{step(1, 500, 5), step(2, 900, 6)}, 20*time.Millisecond, 0.1); k.Clients != 0 || k.BestClients != 2 {
		t.Errorf("scaling: %+v", k)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if percentile(d, 50) != 50*time.Millisecond || percentile(d, 90) != 90*time.Millisecond || percentile(d, 99) != 99*time.Millisecond || percentile(d, 100) != 100*time.Millisecond {
		t.Errorf("p50 %v p90 %v p99 %v", percentile(d, 50), percentile(d, 90), percentile(d, 99))
	}
	if one := d[:1]; percentile(one, 99) != time.Millisecond {
		t.Errorf("one value: %v", percentile(one, 99))
	}
}
