package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ReadyCheck is one condition of readiness: the store answers, the
// in-memory views are loaded, the replica has caught up. Check returns nil
// when the condition holds; its error's first line is shown to whoever asks
// /readyz (no auth), so it must name the problem, not carry secrets.
type ReadyCheck struct {
	Name  string
	Check func(context.Context) error
}

// readyTimeout bounds one /readyz answer: a store that does not answer
// within it is not ready, and a probe must not hang.
const readyTimeout = 2 * time.Second

// maxReason caps the reason shown per failing check.
const maxReason = 200

// health is liveness: 200 while the process serves, whatever its
// dependencies say (an orchestrator restarts a process that fails it, which
// would not bring a database back).
func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// readyz answers 200 "ready" when every ReadyCheck passes, else 503 with one
// line "name: reason" per failing check. The checks run concurrently so
// that one slow check does not hide the answer of the others.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	errs := make([]error, len(s.ReadyChecks))
	var wg sync.WaitGroup
	for i, c := range s.ReadyChecks {
		wg.Go(func() { errs[i] = runCheck(ctx, c.Check) })
	}
	wg.Wait()
	var b strings.Builder
	for i, err := range errs {
		if err == nil {
			continue
		}
		b.WriteString(s.ReadyChecks[i].Name)
		b.WriteString(": ")
		b.WriteString(reason(err))
		b.WriteByte('\n')
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if b.Len() > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready\n" + b.String()))
		return
	}
	w.Write([]byte("ready\n"))
}

// runCheck runs one check; a check that outlives the deadline fails with
// the deadline even if it ignores its context.
func runCheck(ctx context.Context, check func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- check(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return errReadyTimeout
	}
}

type readyTimeoutError struct{}

func (readyTimeoutError) Error() string { return "no answer within " + readyTimeout.String() }

var errReadyTimeout = readyTimeoutError{}

// reason is the first line of err, capped.
func reason(err error) string {
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if len(msg) > maxReason {
		msg = strings.ToValidUTF8(msg[:maxReason], "") + "…"
	}
	return msg
}
