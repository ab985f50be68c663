package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/authz"
)

// Failed sign-ins are limited per client address: after MaxFailedSignIns
// failures within SignInWindow, the address gets 429 until the window ends,
// before its token is even looked at.
const (
	MaxFailedSignIns = 10
	SignInWindow     = time.Minute
	maxTrackedAddrs  = 100_000
)

type signInLimiter struct {
	mu    sync.Mutex
	addrs map[string]*failures
}

type failures struct {
	n     int
	start time.Time
}

// blocked reports how long addr must wait, 0 when it may try.
func (l *signInLimiter) blocked(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.addrs[addr]
	if f == nil || f.n < MaxFailedSignIns {
		return 0
	}
	if wait := f.start.Add(SignInWindow).Sub(now); wait > 0 {
		return wait
	}
	delete(l.addrs, addr)
	return 0
}

// fail counts a failure and reports whether it is the one that blocks.
func (l *signInLimiter) fail(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.addrs == nil {
		l.addrs = map[string]*failures{}
	}
	f := l.addrs[addr]
	if f == nil || now.Sub(f.start) >= SignInWindow {
		if len(l.addrs) >= maxTrackedAddrs {
			l.prune(now)
		}
		f = &failures{start: now}
		l.addrs[addr] = f
	}
	f.n++
	return f.n == MaxFailedSignIns
}

func (l *signInLimiter) prune(now time.Time) {
	for a, f := range l.addrs {
		if now.Sub(f.start) >= SignInWindow {
			delete(l.addrs, a)
		}
	}
	if len(l.addrs) >= maxTrackedAddrs {
		clear(l.addrs) // under a flood of addresses, forget rather than grow
	}
}

// clientAddr is the address failures are counted against: the peer's IP.
// X-Forwarded-For is not trusted; a proxy in front should rate-limit too.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authenticate turns the bearer token into the caller, refusing addresses
// with too many recent failures. Failures are recorded in the ledger: each
// one up to the limit, then the block.
func (s *Server) authenticate(c *call) (*posture.Principal, error) {
	addr, now := clientAddr(c.r), s.Now()
	if wait := s.signIns.blocked(addr, now); wait > 0 {
		secs := int(wait.Round(time.Second) / time.Second)
		c.w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		return nil, posture.Errorf(posture.ETOOMANY, "TooManyFailedSignIns",
			"Too many failed sign-ins from this address; retry after %d seconds.", max(secs, 1))
	}
	tok := bearer(c.r)
	p, err := s.Auth.Authenticate(c.ctx, tok)
	if err == nil {
		return p, nil
	}
	// A request without a token is not a sign-in attempt: a browser
	// opening a page, a probe. It gets its 401 and is not counted.
	if tok != "" && posture.ErrorKind(err) == posture.EUNAUTHORIZED {
		blocks := s.signIns.fail(addr, now)
		detail := map[string]any{"address": addr, "code": posture.ErrorCode(err), "method": c.r.Method, "path": c.r.URL.Path, "blocked": blocks}
		s.record(c.ctx, &posture.Event{Kind: posture.EventSignInFailed, Actor: "anonymous", ActorType: "Unknown",
			Action: "Posture.Identity/signIn/action", Scope: "/", After: mustJSON(detail)})
	}
	return nil, err
}

// denied records a refused authorization check in the ledger.
func (s *Server) denied(ctx context.Context, p *posture.Principal, err error) {
	var pe *posture.Error
	if !errors.As(err, &pe) || pe.Kind != posture.EFORBIDDEN {
		return
	}
	action, scope := authz.DeniedActionScope(pe)
	who, typ := posture.ActorFromContext(posture.NewContextWithPrincipal(ctx, p))
	s.record(ctx, &posture.Event{Kind: posture.EventDenied, Actor: who, ActorType: typ, Action: action, Scope: scope,
		After: mustJSON(map[string]string{"code": pe.Code, "message": pe.Message})})
}

// record appends an entry to the ledger; a failure is logged, not returned:
// the answer to the caller does not depend on it.
func (s *Server) record(ctx context.Context, e *posture.Event) {
	if s.Audit == nil {
		return
	}
	e.At = s.Now()
	if err := s.Audit(context.WithoutCancel(ctx), e); err != nil {
		s.Logger.Error("recording in the ledger", "kind", e.Kind, "err", err)
	}
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
