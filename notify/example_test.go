package notify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/posture/posture/notify"
)

// A receiver of posture's generic webhook: verify the signature over the raw
// body before trusting anything in it, then drop duplicates by
// Idempotency-Key (retries reuse it).
func ExampleVerifySignature() {
	key := []byte("0123456789abcdef0123456789abcdef")
	var mu sync.Mutex
	seen := map[string]bool{}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		err = notify.VerifySignature([][]byte{key}, r.Header.Get(notify.TimestampHeader), r.Header.Get(notify.SignatureHeader), body, time.Now(), 0)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		dup := seen[r.Header.Get(notify.IdempotencyHeader)]
		seen[r.Header.Get(notify.IdempotencyHeader)] = true
		mu.Unlock()
		fmt.Println("received", r.Header.Get(notify.EventHeader), "duplicate:", dup)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()

	ch, err := notify.NewWebhookChannel(notify.WebhookConfig{URL: notify.Secret(receiver.URL), Secret: notify.Secret(key)})
	if err != nil {
		panic(err)
	}
	m := &notify.Message{
		ID:             "evt-7",
		Event:          notify.EventExemptionExpiring,
		ExemptionID:    "/subscriptions/s1/providers/Microsoft.Authorization/policyExemptions/ex-7",
		Scope:          "/subscriptions/s1",
		Recommendation: "Storage accounts should restrict network access",
		ExpiresOn:      time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),
		Links:          notify.Links{Renew: "https://posture.example/exemptions/ex-7/renew?sig=x"},
	}
	for range 2 { // a retry after, say, a lost response
		if err := ch.Send(context.Background(), m); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// received posture.exemption.expiring duplicate: false
	// received posture.exemption.expiring duplicate: true
}

// How a job queue uses the classification: retry retryable errors after the
// wait the server asked for, dead-letter the rest.
func ExampleRetryAfter() {
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer slack.Close()
	ch, err := notify.NewSlackChannel(notify.SlackConfig{URL: notify.Secret(slack.URL + "/services/T0/B0/secret")})
	if err != nil {
		panic(err)
	}
	m := &notify.Message{ID: "evt-8", Event: notify.EventExemptionExpired, Scope: "/subscriptions/s1", AssessmentKey: "1195afff-c881-495e-9bc5-1486211ae03f"}
	err = ch.Send(context.Background(), m)
	switch wait, ok := notify.RetryAfter(err); {
	case err == nil:
		fmt.Println("sent")
	case notify.IsRetryable(err) && ok:
		fmt.Println("retry in", wait, "code", notify.ErrorCode(err))
	case notify.IsRetryable(err):
		fmt.Println("retry with backoff")
	default:
		fmt.Println("dead letter:", notify.ErrorCode(err))
	}
	// Output: retry in 30s code RateLimited
}
