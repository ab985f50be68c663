package queue_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/queue"
	"github.com/posture/posture/sqlite"
)

// BenchmarkDrain measures Drain of 10,000 queued jobs on SQLite, each
// POSTing a small JSON body to a local HTTP server, with the default
// Concurrency; it reports jobs/s.
//
//	go test ./queue -run '^$' -bench Drain -benchtime 3x
func BenchmarkDrain(b *testing.B) {
	const n = 10_000
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		posts.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	post := func(ctx context.Context, j *posture.Job) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, bytes.NewReader(j.Payload))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", j.Key)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusNoContent {
			return fmt.Errorf("webhook: %s", resp.Status)
		}
		return nil
	}
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		s, err := sqlite.Open(ctx, b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		jobs := make([]*posture.Job, n)
		for i := range jobs {
			jobs[i] = &posture.Job{Key: fmt.Sprintf("request/%05d/filed/webhook", i), Kind: "notify.webhook", Ref: fmt.Sprintf("/subscriptions/s1/r%05d", i),
				Payload: []byte(fmt.Sprintf(`{"event":"requestFiled","request":"r%05d","scope":"/subscriptions/s1"}`, i))}
		}
		enqueue(b, s, jobs...)
		q := &queue.Queue{Store: s, Handlers: map[string]queue.Handler{"notify.webhook": post}, Logger: slog.New(slog.DiscardHandler)}
		posts.Store(0)
		b.StartTimer()
		start := time.Now()
		ran, err := q.Drain(ctx)
		total += time.Since(start)
		b.StopTimer()
		if err != nil || ran != n || posts.Load() != n {
			b.Fatalf("Drain: %d ran, %d posts, %v", ran, posts.Load(), err)
		}
		if c := counts(b, s); c[posture.JobDone] != n {
			b.Fatalf("counts after Drain: %v", c)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "jobs/s")
}
