package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookServer is a real HTTP server that records every request and answers
// with whatever the test sets in respond.
type hookServer struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []recorded
	respond func(w http.ResponseWriter, r *http.Request)
}

type recorded struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

func newHookServer(t *testing.T) *hookServer {
	t.Helper()
	h := &hookServer{respond: func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body)) // for respond to read again
		h.mu.Lock()
		h.reqs = append(h.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		respond := h.respond
		h.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) setRespond(f func(w http.ResponseWriter, r *http.Request)) {
	h.mu.Lock()
	h.respond = f
	h.mu.Unlock()
}

func (h *hookServer) requests() []recorded {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]recorded(nil), h.reqs...)
}

func (h *hookServer) last(t *testing.T) recorded {
	t.Helper()
	reqs := h.requests()
	if len(reqs) == 0 {
		t.Fatal("the server received no request")
	}
	return reqs[len(reqs)-1]
}

func answer(status int, header map[string]string, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// hang never answers; it returns when the client gives up.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

var fixedNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// classificationCases are the answers every HTTP channel must classify the
// same way.
var classificationCases = []struct {
	name       string
	respond    func(http.ResponseWriter, *http.Request)
	code       Code
	retryable  bool
	retryAfter time.Duration
	status     int
}{
	{"500", answer(500, nil, "boom"), CodeServerError, true, 0, 500},
	{"503 with Retry-After seconds", answer(503, map[string]string{"Retry-After": "30"}, "maintenance"), CodeServerError, true, 30 * time.Second, 503},
	{"429 with Retry-After seconds", answer(429, map[string]string{"Retry-After": "7"}, `{"ok":false,"error":"ratelimited"}`), CodeRateLimited, true, 7 * time.Second, 429},
	{"429 with Retry-After date", answer(429, map[string]string{"Retry-After": fixedNow.Add(90 * time.Second).Format(http.TimeFormat)}, ""), CodeRateLimited, true, 90 * time.Second, 429},
	{"429 without Retry-After", answer(429, nil, ""), CodeRateLimited, true, 0, 429},
	{"408", answer(408, nil, ""), CodeTimeout, true, 0, 408},
	{"400", answer(400, nil, "invalid_payload"), CodeRejected, false, 0, 400},
	{"401", answer(401, nil, ""), CodeUnauthorized, false, 0, 401},
	{"403", answer(403, nil, "action_prohibited"), CodeUnauthorized, false, 0, 403},
	{"404", answer(404, nil, "no_service"), CodeNotFound, false, 0, 404},
	{"410", answer(410, nil, "channel_is_archived"), CodeNotFound, false, 0, 410},
	{"302 is not followed", answer(302, map[string]string{"Location": "https://elsewhere.example/"}, ""), CodeRedirected, false, 0, 302},
	{"hang", hang, CodeTimeout, true, 0, 0},
}

// sender is what the classification tests need of a channel or connector.
type sender func(ctx context.Context, m *Message) error

func runClassification(t *testing.T, h *hookServer, send sender, secretParts ...string) {
	t.Helper()
	for _, c := range classificationCases {
		t.Run(c.name, func(t *testing.T) {
			h.setRespond(c.respond)
			before := len(h.requests())
			start := time.Now()
			err := send(context.Background(), requestMessage())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if e.Code != c.code || e.Retryable != c.retryable || e.Status != c.status {
				t.Fatalf("got %s retryable=%v status=%d (%v), want %s retryable=%v status=%d", e.Code, e.Retryable, e.Status, err, c.code, c.retryable, c.status)
			}
			if got, ok := RetryAfter(err); got != c.retryAfter || ok != (c.retryAfter > 0) {
				t.Fatalf("RetryAfter = %s, %v; want %s", got, ok, c.retryAfter)
			}
			if IsRetryable(err) != c.retryable || IsPermanent(err) == c.retryable {
				t.Fatal("IsRetryable / IsPermanent disagree with the error")
			}
			if n := len(h.requests()) - before; n != 1 {
				t.Fatalf("%d requests reached the server, want exactly 1 (no hidden retries, no redirects)", n)
			}
			if c.name == "hang" && time.Since(start) > 5*time.Second {
				t.Fatalf("the timeout took %s", time.Since(start))
			}
			if !strings.Contains(e.Target, "127.0.0.1") || strings.Count(e.Target, "/") != 2 {
				t.Fatalf("Target %q, want scheme and host only", e.Target)
			}
			for _, s := range secretParts {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error text %q contains the secret %q", err, s)
				}
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := fixedNow
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 0 ", 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), time.Hour, true},
		{"Mon, 02 Mar 2026 10:00:30 GMT", 30 * time.Second, true},
		{"Monday, 02-Mar-26 10:01:00 GMT", time.Minute, true}, // RFC 850, obsolete but allowed
		{"Mon Mar  2 10:02:00 2026", 2 * time.Minute, true},   // asctime
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999999999", MaxRetryAfter, true},
		{"86401", MaxRetryAfter, true},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestRateLimitResetFallback(t *testing.T) {
	h := http.Header{}
	h.Set("X-RateLimit-Reset", "2026-03-02T10:05Z") // Jira's format
	if got := retryAfterFrom(h, fixedNow); got != 5*time.Minute {
		t.Errorf("Jira reset: %s", got)
	}
	h.Set("X-RateLimit-Reset", "1772445720") // ServiceNow: UNIX seconds, fixedNow+120s
	if got := retryAfterFrom(h, fixedNow); got != 2*time.Minute {
		t.Errorf("ServiceNow reset: %s", got)
	}
	h.Set("Retry-After", "3") // Retry-After wins
	if got := retryAfterFrom(h, fixedNow); got != 3*time.Second {
		t.Errorf("Retry-After precedence: %s", got)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456": "https://contoso.webhook.office.com",
		"https://hooks.slack.com/services/T000/B000/XXXXSECRET":                        "https://hooks.slack.com",
		"https://user:pass@example.com/x?token=abc":                                    "https://example.com",
		"::not a url": "[redacted url]",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestInvalidMessageIsPermanent(t *testing.T) {
	h := newHookServer(t)
	ch, err := NewSlackChannel(SlackConfig{URL: Secret(h.URL + "/services/T1/B1/token")})
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	m.Links.Approve = "javascript:alert(1)"
	err = ch.Send(context.Background(), m)
	if ErrorCode(err) != CodeInvalidMessage || IsRetryable(err) {
		t.Fatalf("got %v, want a permanent InvalidMessage", err)
	}
	if len(h.requests()) != 0 {
		t.Fatal("an invalid message was sent")
	}
}

func TestCanceledContextIsRetryable(t *testing.T) {
	h := newHookServer(t)
	h.setRespond(hang)
	ch, err := NewTeamsChannel(TeamsConfig{URL: Secret(h.URL + "/webhookb2/x")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	err = ch.Send(ctx, requestMessage())
	if ErrorCode(err) != CodeCanceled || !IsRetryable(err) {
		t.Fatalf("got %v, want a retryable Canceled", err)
	}
}

func TestUntrustedHTTPSCertificateIsPermanent(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	ch, err := NewSlackChannel(SlackConfig{URL: Secret(srv.URL + "/services/T/B/secret")})
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), requestMessage())
	if ErrorCode(err) != CodeTLS || IsRetryable(err) {
		t.Fatalf("got %v, want a permanent TLS error", err)
	}
	// With the server's certificate trusted, the same channel delivers.
	ch, err = NewSlackChannel(SlackConfig{URL: Secret(srv.URL + "/services/T/B/secret")}, WithHTTPClient(srv.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(context.Background(), requestMessage()); err != nil {
		t.Fatalf("with a trusting client: %v", err)
	}
}
