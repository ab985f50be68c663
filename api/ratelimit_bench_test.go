package api

import (
	"strconv"
	"testing"
)

// BenchmarkRateLimiterTake is the limiter's cost per request: one token
// from one of 1,000 principals × 10 subscriptions (10,000 buckets).
func BenchmarkRateLimiterTake(b *testing.B) {
	l := NewRateLimiter(RateLimits{Reads: Bucket{Size: 1 << 30, Refill: 1 << 20}}, nil, 0)
	principals := make([]string, 1000)
	for i := range principals {
		principals[i] = "principal-" + strconv.Itoa(i)
	}
	subs := make([]string, 10)
	for i := range subs {
		subs[i] = "sub-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if d := l.take(principals[i%len(principals)], subs[(i/len(principals))%len(subs)], opRead); !d.ok {
			b.Fatal("throttled")
		}
		i++
	}
	if l.Len() == 0 {
		b.Fatal("no buckets")
	}
}
