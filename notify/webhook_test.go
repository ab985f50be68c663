package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

const hmacKey = "0123456789abcdef0123456789abcdef-webhook-key"

func TestWebhookSignedCloudEvent(t *testing.T) {
	h := newHookServer(t)
	h.setRespond(answer(204, nil, ""))
	now := fixedNow
	ch, err := NewWebhookChannel(WebhookConfig{Name: "soar", URL: Secret(h.URL + "/hooks/posture?token=abc123token"), Secret: hmacKey},
		WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := h.last(t)
	if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || r.Query != "token=abc123token" {
		t.Fatalf("%s ?%s %q", r.Method, r.Query, r.Header.Get("Content-Type"))
	}

	// Recompute the signature independently of Sign.
	ts := r.Header.Get("X-Posture-Timestamp")
	if ts != strconv.FormatInt(now.Unix(), 10) {
		t.Fatalf("timestamp %q, want %d", ts, now.Unix())
	}
	mac := hmac.New(sha256.New, []byte(hmacKey))
	mac.Write([]byte(ts + "." + string(r.Body)))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); r.Header.Get("X-Posture-Signature") != want {
		t.Fatalf("signature %q, want %q", r.Header.Get("X-Posture-Signature"), want)
	}
	if got := r.Header.Get("Idempotency-Key"); got != `"evt-0001"` {
		t.Fatalf("Idempotency-Key %q, want the event id as a quoted string", got)
	}
	if r.Header.Get("X-Posture-Event") != string(EventRequestCreated) {
		t.Fatalf("X-Posture-Event %q", r.Header.Get("X-Posture-Event"))
	}

	var ev struct {
		SpecVersion     string `json:"specversion"`
		ID              string `json:"id"`
		Source          string `json:"source"`
		Type            string `json:"type"`
		Time            string `json:"time"`
		Subject         string `json:"subject"`
		DataContentType string `json:"datacontenttype"`
		Data            struct {
			Title          string   `json:"title"`
			RequestID      string   `json:"requestId"`
			Requester      string   `json:"requester"`
			Resources      []string `json:"resources"`
			Recommendation struct {
				DisplayName   string `json:"displayName"`
				AssessmentKey string `json:"assessmentKey"`
				Severity      string `json:"severity"`
			} `json:"recommendation"`
			Category      string `json:"category"`
			Justification string `json:"justification"`
			ExpiresOn     string `json:"expiresOn"`
			Links         struct {
				View, Approve, Reject string
			} `json:"links"`
			Actions []struct{ ID, Title, URL string } `json:"actions"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &ev); err != nil {
		t.Fatal(err)
	}
	if ev.SpecVersion != "1.0" || ev.ID != "evt-0001" || ev.Source != "posture" || ev.Type != "posture.exemption.request.created" ||
		ev.Time != "2026-03-02T09:30:00Z" || ev.Subject != "req-42" || ev.DataContentType != "application/json" {
		t.Fatalf("CloudEvents attributes: %+v", ev)
	}
	d := ev.Data
	if d.RequestID != "req-42" || d.Requester != "alice@contoso.example" || len(d.Resources) != 1 || d.Resources[0] != testVM ||
		d.Recommendation.AssessmentKey != m.AssessmentKey || d.Recommendation.Severity != "High" || d.Category != "Waiver" ||
		d.Justification != m.Justification || d.ExpiresOn != "2026-09-30T00:00:00Z" {
		t.Fatalf("data: %+v", d)
	}
	if d.Links.Approve != m.Links.Approve || d.Links.Reject != m.Links.Reject || d.Links.View != m.Links.View {
		t.Fatalf("links: %+v", d.Links)
	}
	if len(d.Actions) != 3 || d.Actions[0].ID != "approve" {
		t.Fatalf("actions: %+v", d.Actions)
	}

	if err := VerifySignature([][]byte{[]byte("old-key-that-was-rotated-out-000"), []byte(hmacKey)}, ts, r.Header.Get("X-Posture-Signature"), r.Body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("VerifySignature rejects a genuine request: %v", err)
	}
}

func TestWebhookRetryKeepsIdempotencyKeyButResigns(t *testing.T) {
	h := newHookServer(t)
	now := fixedNow
	ch, err := NewWebhookChannel(WebhookConfig{URL: Secret(h.URL + "/hook"), Secret: hmacKey}, WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	h.setRespond(answer(503, map[string]string{"Retry-After": "2"}, ""))
	err = ch.Send(context.Background(), requestMessage())
	if d, ok := RetryAfter(err); !ok || d != 2*time.Second {
		t.Fatalf("first attempt: %v", err)
	}
	now = now.Add(2 * time.Second)
	h.setRespond(answer(200, nil, ""))
	if err := ch.Send(context.Background(), requestMessage()); err != nil {
		t.Fatal(err)
	}
	reqs := h.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	a, b := reqs[0], reqs[1]
	if a.Header.Get("Idempotency-Key") != b.Header.Get("Idempotency-Key") {
		t.Fatal("a retry changed the idempotency key: the receiver cannot drop the duplicate")
	}
	if a.Header.Get("X-Posture-Timestamp") == b.Header.Get("X-Posture-Timestamp") || a.Header.Get("X-Posture-Signature") == b.Header.Get("X-Posture-Signature") {
		t.Fatal("a retry reused the old timestamp and signature")
	}
	if string(a.Body) != string(b.Body) {
		t.Fatal("the body differs between attempts")
	}
}

func TestVerifySignatureRefuses(t *testing.T) {
	body := []byte(`{"id":"evt-1"}`)
	ts := strconv.FormatInt(fixedNow.Unix(), 10)
	sig := Sign([]byte(hmacKey), ts, body)
	keys := [][]byte{[]byte(hmacKey)}
	cases := []struct {
		name      string
		ts, sig   string
		body      []byte
		now       time.Time
		wantError error
	}{
		{"tampered body", ts, sig, []byte(`{"id":"evt-2"}`), fixedNow, ErrSignatureInvalid},
		{"replayed later", ts, sig, body, fixedNow.Add(6 * time.Minute), ErrSignatureStale},
		{"from the future", ts, sig, body, fixedNow.Add(-6 * time.Minute), ErrSignatureStale},
		{"timestamp swapped", strconv.FormatInt(fixedNow.Unix()+1, 10), sig, body, fixedNow, ErrSignatureInvalid},
		{"wrong key", ts, Sign([]byte("another-key-another-key-another-k"), ts, body), body, fixedNow, ErrSignatureInvalid},
		{"no prefix", ts, strings.TrimPrefix(sig, "sha256="), body, fixedNow, ErrSignatureInvalid},
		{"not hex", ts, "sha256=zz", body, fixedNow, ErrSignatureInvalid},
		{"missing", "", sig, body, fixedNow, ErrSignatureMissing},
		{"garbage timestamp", "12ab", sig, body, fixedNow, ErrSignatureStale},
	}
	for _, c := range cases {
		if err := VerifySignature(keys, c.ts, c.sig, c.body, c.now, 0); !errors.Is(err, c.wantError) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.wantError)
		}
	}
}

func TestWebhookClassification(t *testing.T) {
	h := newHookServer(t)
	ch, err := NewWebhookChannel(WebhookConfig{URL: Secret(h.URL + "/hook?token=querysecret123"), Secret: hmacKey, Timeout: Duration(300 * time.Millisecond)},
		WithClock(func() time.Time { return fixedNow }))
	if err != nil {
		t.Fatal(err)
	}
	runClassification(t, h, ch.Send, "querysecret123", hmacKey)
}

func TestWebhookErrorBodyEchoingSecretsIsScrubbed(t *testing.T) {
	h := newHookServer(t)
	// A receiver that echoes the full URL (with its token) and our key back.
	h.setRespond(answer(400, nil, "bad request to "+h.URL+"/hook?token=querysecret123 key="+hmacKey))
	ch, err := NewWebhookChannel(WebhookConfig{URL: Secret(h.URL + "/hook?token=querysecret123"), Secret: hmacKey})
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), requestMessage())
	if err == nil {
		t.Fatal("no error for a 400")
	}
	if s := err.Error(); strings.Contains(s, "querysecret123") || strings.Contains(s, hmacKey) || !strings.Contains(s, "[redacted]") {
		t.Fatalf("secrets not scrubbed: %s", s)
	}
}
