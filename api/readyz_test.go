package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/posture/posture/api"
)

func TestReadyz(t *testing.T) {
	var storeErr, viewErr error
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	slow := false
	var logs bytes.Buffer
	srv := &api.Server{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), ReadyChecks: []api.ReadyCheck{
		{Name: "store", Check: func(context.Context) error { return storeErr }},
		{Name: "views", Check: func(context.Context) error { return viewErr }},
		{Name: "replica", Check: func(ctx context.Context) error {
			if slow {
				<-hang // ignores ctx: the deadline must still answer
			}
			return nil
		}},
	}}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("all checks pass: %d %q", code, body)
	}
	storeErr = errors.New("connection refused\nsecond line")
	viewErr = errors.New(strings.Repeat("x", 500))
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("failing checks: %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if len(lines) != 3 || lines[0] != "not ready" || lines[1] != "store: connection refused" ||
		!strings.HasPrefix(lines[2], "views: xxx") || len(lines[2]) > 220 {
		t.Errorf("reasons: %q", body)
	}
	if strings.Contains(body, "replica") || strings.Contains(body, "second line") {
		t.Errorf("a passing check or a second line reported: %q", body)
	}
	// Not ready is a state the probe reports, logged as a request, not an
	// error (a replica loading its tables answers 503 for minutes).
	if !strings.Contains(logs.String(), `"status":503`) || strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("the 503 is not logged, or logged as an error:\n%s", logs.String())
	}
	// Liveness does not depend on the checks.
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz while not ready: %d %q", code, body)
	}
	storeErr, viewErr, slow = nil, nil, true
	code, body = get("/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "replica: no answer within 2s") {
		t.Errorf("a hanging check: %d %q", code, body)
	}
}
