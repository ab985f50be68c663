package requests_test

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkApprove measures a decision: Approve returns once the
// exemption is written, the states it covers are re-stamped (the resource
// reads Exempt) and its notices (3 channels and a ticket) are queued, all
// in one SQLite transaction. Target: p99 ≤ 100 ms.
//
//	go test ./requests -run '^$' -bench Approve -benchtime 300x
func BenchmarkApprove(b *testing.B) {
	e := newEnv(b)
	var lat []time.Duration
	i := 0
	for b.Loop() {
		b.StopTimer()
		name := fmt.Sprintf("bench-%d", i)
		target := e.sa1
		if i%2 == 1 {
			target = e.sa2
		}
		e.file(alice, name, target)
		// The exemption of the previous round covers the resource: take
		// it away so that each approval changes a state.
		if i >= 2 {
			prev := fmt.Sprintf("%s/providers/Microsoft.Authorization/policyExemptions/bench-%d", target, i-2)
			if _, err := e.policies.DeleteExemption(as(bob), prev, ""); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		start := time.Now()
		if _, err := e.svc.Approve(as(bob), reqID(name), ""); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		i++
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
