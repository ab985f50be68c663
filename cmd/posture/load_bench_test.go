package main

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkLoad runs `posture load` against a server in this process (the
// demo estate on SQLite), one closed-loop step per iteration, and reports
// the step's throughput and p99. Its point is the CPU profile of server
// and generator together, without a profiling flag on the server:
//
//	go test ./cmd/posture -run '^$' -bench Load -benchtime 1x -cpuprofile /tmp/cpu.out
//	go tool pprof -top -cum /tmp/cpu.out
//
// POSTURE_BENCH_LOAD_ARGS replaces the load flags (default: the exemption
// mix with 8 clients for 10s after 2s).
func BenchmarkLoad(b *testing.B) {
	s := startServer(b, "--demo")
	args := []string{"--mix", "exemptions", "--clients", "8", "--duration", "10s", "--warmup", "2s"}
	if v := os.Getenv("POSTURE_BENCH_LOAD_ARGS"); v != "" {
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			b.Fatalf("POSTURE_BENCH_LOAD_ARGS is a JSON array of flags: %v", err)
		}
	}
	var report loadReport
	for b.Loop() {
		out := &safeBuffer{}
		errOut := &safeBuffer{}
		if code := Main(context.Background(), append([]string{"load", "--url", s.url, "--token", s.token, "-o", "json"}, args...), &IO{Out: out, Err: errOut}); code != 0 {
			b.Fatalf("load: exit %d\n%s\n%s", code, out, errOut)
		}
		if err := json.Unmarshal([]byte(out.String()), &report); err != nil {
			b.Fatal(err)
		}
	}
	last := report.Steps[len(report.Steps)-1].Total
	b.ReportMetric(last.RPS, "req/s")
	b.ReportMetric(last.P99Ms, "p99-ms")
}
