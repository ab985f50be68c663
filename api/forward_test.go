package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
)

// refuseAll is the Authenticator of a follower in these tests: a request
// it sees was served here, not forwarded.
type refuseAll struct{ calls atomic.Int32 }

func (a *refuseAll) Authenticate(context.Context, string) (*posture.Principal, error) {
	a.calls.Add(1)
	return nil, posture.Errorf(posture.EUNAUTHORIZED, "AuthenticationFailed", "Authentication failed.")
}

// TestForward checks which requests a follower forwards to the leader and
// how: the request as the client sent it plus who forwarded it, the
// leader's answer as it gave it, a catch-up after a write that succeeded;
// reads, queries, imports and requests forwarded already are served here;
// a leader that refuses the connection lets the follower write itself, one
// that does not answer is a 503, not a second write.
func TestForward(t *testing.T) {
	type seen struct {
		method, uri, body, auth, by, custom string
	}
	var got []seen
	var answer func(w http.ResponseWriter, r *http.Request)
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, seen{r.Method, r.URL.RequestURI(), string(b), r.Header.Get("Authorization"), r.Header.Get(api.ForwardedHeader), r.Header.Get("X-Custom")})
		answer(w, r)
	}))
	t.Cleanup(leader.Close)
	writer := leader.URL
	auth := &refuseAll{}
	caught := 0
	var logs bytes.Buffer
	srv := &api.Server{Auth: auth, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Forward: &api.Forward{
		Writer:   func() string { return writer },
		CaughtUp: func(context.Context) error { caught++; return nil },
		Origin:   "follower-1",
	}}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	do := func(method, path, body string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer pst_secret")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	reset := func() { got, caught = nil, 0; auth.calls.Store(0) }

	const exemption = "/subscriptions/s1/providers/Microsoft.Authorization/policyExemptions/e1?api-version=2022-07-01-preview"
	answer = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"leader-etag"`)
		w.Header().Set("x-ms-request-id", "leader-request")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"name":"e1"}`)
	}
	resp, body := do(http.MethodPut, exemption, `{"properties":{}}`, "X-Custom", "kept")
	want := seen{http.MethodPut, exemption, `{"properties":{}}`, "Bearer pst_secret", "follower-1", "kept"}
	if len(got) != 1 || got[0] != want {
		t.Errorf("the leader got %+v, want %+v", got, want)
	}
	if resp.StatusCode != http.StatusCreated || body != `{"name":"e1"}` || resp.Header.Get("ETag") != `"leader-etag"` || resp.Header.Get("x-ms-request-id") != "leader-request" {
		t.Errorf("the client got %d %s, ETag %q, request id %q: want the leader's answer", resp.StatusCode, body, resp.Header.Get("ETag"), resp.Header.Get("x-ms-request-id"))
	}
	if caught != 1 || auth.calls.Load() != 0 {
		t.Errorf("after a forwarded write: %d catch-ups, %d local authentications; want 1 and 0", caught, auth.calls.Load())
	}

	// A refusal is passed on, and nothing changed: no catch-up.
	reset()
	answer = func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusPreconditionFailed)
		io.WriteString(w, `{"error":{"code":"PreconditionFailed","message":"stale"}}`)
	}
	if resp, body := do(http.MethodDelete, exemption, ""); resp.StatusCode != http.StatusPreconditionFailed || !strings.Contains(body, "PreconditionFailed") || caught != 0 || len(got) != 1 {
		t.Errorf("a DELETE the leader refused: %d %s, %d catch-ups, %d forwarded", resp.StatusCode, body, caught, len(got))
	}

	// Served here: reads, Resource Graph and policy-state queries, writes
	// forwarded already, and everything when this replica takes writes.
	local := []struct {
		name, method, path string
		hdr                []string
	}{
		{"GET", http.MethodGet, exemption, nil},
		{"Resource Graph query", http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01", nil},
		{"policy states query", http.MethodPost, "/subscriptions/s1/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?api-version=2019-10-01", nil},
		{"forwarded already", http.MethodPut, exemption, []string{api.ForwardedHeader, "follower-2"}},
	}
	for _, c := range local {
		reset()
		if resp, _ := do(c.method, c.path, `{}`, c.hdr...); resp.StatusCode != http.StatusUnauthorized || len(got) != 0 || auth.calls.Load() != 1 {
			t.Errorf("%s: %d, %d forwarded, %d local authentications; want it served here (401, 0, 1)", c.name, resp.StatusCode, len(got), auth.calls.Load())
		}
	}
	reset()
	writer = ""
	if resp, _ := do(http.MethodPut, exemption, `{}`); resp.StatusCode != http.StatusUnauthorized || len(got) != 0 {
		t.Errorf("a write when this replica takes writes: %d, %d forwarded", resp.StatusCode, len(got))
	}

	// A body over the limit is the local handler's to refuse.
	reset()
	writer = leader.URL
	if resp, _ := do(http.MethodPut, exemption, strings.Repeat("x", api.MaxBody+1)); len(got) != 0 || resp.StatusCode < 400 {
		t.Errorf("a body over the limit: %d, %d forwarded", resp.StatusCode, len(got))
	}

	// The leader is gone (connection refused): written here.
	reset()
	gone := httptest.NewServer(http.NotFoundHandler())
	writer = gone.URL
	gone.Close()
	if resp, _ := do(http.MethodPut, exemption, `{}`); resp.StatusCode != http.StatusUnauthorized || auth.calls.Load() != 1 {
		t.Errorf("leader gone: %d, %d local authentications; want the write served here", resp.StatusCode, auth.calls.Load())
	}

	// The leader took the request and hung up: maybe applied, so a 503
	// in the ARM envelope, not a second write here.
	reset()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Read(make([]byte, 4096))
			c.Close()
		}
	}()
	writer = "http://" + ln.Addr().String()
	resp, body = do(http.MethodPut, exemption, `{}`)
	var env struct {
		Error struct{ Code, Message string }
	}
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal([]byte(body), &env) != nil || env.Error.Code != "WriterUnavailable" || auth.calls.Load() != 0 {
		t.Errorf("leader hung up: %d %s, %d local authentications; want 503 WriterUnavailable, none", resp.StatusCode, body, auth.calls.Load())
	}
	if strings.Contains(logs.String(), "pst_secret") {
		t.Errorf("the token reached the log:\n%s", logs.String())
	}
}
