package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture"
)

// Writes forwarded to the leader. Replicas on one PostgreSQL database can
// all write (package replica serialises them with a cluster-wide lock), but
// a replica's write then waits for that lock, reads what the others wrote
// since its last one, and commits a batch of its own writes alone: three
// replicas on one machine took exemption writes at about 0.7 of one
// replica's rate, and when every write went to one of the three they took
// them at the rate of one (docs/load.md). A follower therefore sends ARM
// writes to the replica that leads, whose group commit batches them with
// everyone's; it answers with the leader's response once its own views have
// caught up with the change, so that a read through it shows the write.
//
// Reads stay where they arrive (Resource Graph and policy-state queries are
// POSTs that read), and so do imports (their bodies stream). When the
// leader cannot be reached (the connection is refused: it is gone, and
// another takes the lead within seconds) the follower writes itself, as
// every replica can. A forwarded request is never forwarded again.

// ForwardedHeader marks a request a follower forwarded; its value names
// the follower. A replica that gets one writes itself, leader or not.
const ForwardedHeader = "X-Posture-Forwarded-By"

// Forward sends a follower's writes to the leader.
type Forward struct {
	// Writer returns the base URL (scheme and host) of the replica that
	// takes writes, "" when this one does.
	Writer func() string
	// CaughtUp brings this replica's views up to date with what the store
	// has committed; it runs after the leader answered a write.
	CaughtUp func(ctx context.Context) error
	// Origin names this replica in ForwardedHeader.
	Origin string
	// Client sends the forwarded requests; nil: NewForwardClient().
	Client *http.Client

	once sync.Once
	mu   sync.Mutex
	down map[string]time.Time // writer URL → until when it is taken as unreachable
}

// forwardDownFor is how long a writer that refused a connection is not
// tried again: the next writes go local at once instead of dialling.
const forwardDownFor = 2 * time.Second

// NewForwardClient returns the client of forwarded writes: kept-alive
// connections to the leader, no proxy from the environment, a short dial.
// Its connections count against the leader's --max-conns-per-address.
func NewForwardClient() *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           d.DialContext,
			MaxIdleConnsPerHost:   64,
			MaxConnsPerHost:       64,
			IdleConnTimeout:       90 * time.Second,
			ResponseHeaderTimeout: 5 * time.Minute,
		},
		// A redirect is the leader's answer to the client, not to us.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// forwardable reports whether a request is a write a follower forwards.
func forwardable(r *http.Request) bool {
	switch r.Method {
	case http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost:
	default:
		return false
	}
	if r.Header.Get(ForwardedHeader) != "" || isImport(r.URL.Path) {
		return false
	}
	p := strings.ToLower(r.URL.Path)
	return !strings.Contains(p, "/providers/microsoft.resourcegraph/") && !strings.Contains(p, "/providers/microsoft.policyinsights/")
}

// forward sends r to the leader and copies its answer to w; it reports
// false when r is for this replica to serve (r.Body is then still whole).
func (s *Server) forward(w *recorder, r *http.Request) bool {
	f := s.Forward
	if f == nil || !forwardable(r) {
		return false
	}
	base := f.Writer()
	if base == "" || f.isDown(base) {
		return false
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body) // bounded by limitBody
		if err != nil {
			// Too large or cut short: served here, the handler reports it as
			// it reports any body it cannot read.
			r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), errorReader{err}))
			return false
		}
		body = b
	}
	r.Body = io.NopCloser(bytes.NewReader(body)) // for a local write, if the leader refuses
	req, err := http.NewRequestWithContext(r.Context(), r.Method, base+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return false
	}
	copyHeader(req.Header, r.Header)
	req.Header.Set(ForwardedHeader, f.Origin)
	req.ContentLength = int64(len(body))
	f.once.Do(func() {
		if f.Client == nil {
			f.Client = NewForwardClient()
		}
	})
	resp, err := f.Client.Do(req)
	if err != nil {
		if dialFailed(err) {
			f.markDown(base)
			s.Logger.Warn("the leader refused a forwarded write; this replica writes itself for now", "leader", base, "err", err)
			return false // r.Body is still whole: the request read a reader of its own
		}
		if r.Context().Err() != nil {
			return true // the client went away: no one to answer
		}
		// Sent, not answered: the write may have been applied. Writing
		// it here as well could apply a POST twice; the client decides.
		s.writeError(w, r, &posture.Error{Kind: posture.EUNAVAILABLE, Code: "WriterUnavailable",
			Message: "The replica that takes writes did not answer; the request may or may not have been applied. Read the resource, then retry.", Err: err})
		return true
	}
	defer resp.Body.Close()
	if resp.StatusCode < 300 && f.CaughtUp != nil {
		if err := f.CaughtUp(r.Context()); err != nil {
			// Written all the same: this replica's views follow it within a
			// second, as they follow any other replica's write.
			s.Logger.Warn("catching up after a forwarded write", "err", err)
		}
	}
	h := w.Header()
	for k := range h {
		if k != "X-Ms-Client-Request-Id" {
			delete(h, k) // the leader's request ids, not this replica's
		}
	}
	copyHeader(h, resp.Header)
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
	return true
}

func (f *Forward) isDown(base string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return time.Now().Before(f.down[base])
}

func (f *Forward) markDown(base string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down == nil {
		f.down = map[string]time.Time{}
	}
	f.down[base] = time.Now().Add(forwardDownFor)
}

// dialFailed reports whether a request failed before it reached the
// server: nothing was applied, so the write may be done here.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// hopHeaders are those of one connection (RFC 9110 §7.6.1), not passed on.
var hopHeaders = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

func copyHeader(dst, src http.Header) {
	for k, vs := range src {
		if hopHeaders[k] {
			continue
		}
		dst[k] = append(dst[k][:0:0], vs...)
	}
}

// errorReader fails every read with err.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }
