package api

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture"
)

// Limits bound what one caller may ask of the server: its rate (Rate), the
// size of its headers and how slowly it may send a body. The http.Server's
// own timeouts bound the rest: ReadHeaderTimeout the headers, IdleTimeout a
// connection between requests.
type Limits struct {
	// MaxHeaderBytes bounds the request line and headers: larger ones get
	// 431 in the ARM envelope; 0: no limit here. Set the http.Server's
	// MaxHeaderBytes to HeaderHardLimit of it: net/http answers what is
	// over that itself, in plain text, before any handler runs.
	MaxHeaderBytes int
	// Rate throttles each principal (ratelimit.go); nil: no rate limit.
	Rate *RateLimiter
	// BodyTimeout is how long a request may take to send its body, counted
	// from the end of its headers; 0: no limit. It replaces the
	// http.Server's ReadTimeout (leave that 0), which would cut imports: a
	// deadline per request can be longer for them.
	BodyTimeout time.Duration
	// ImportMinRate: an import body (MaxImportBody, up to 256 MiB) may
	// take BodyTimeout plus one second per ImportMinRate bytes received,
	// so a large import that keeps arriving is not cut while a client
	// dripping bytes is; 0: imports have BodyTimeout like the rest.
	ImportMinRate int64
}

// HeaderHardLimit is the http.Server's MaxHeaderBytes for a limit of
// maxHeaderBytes: above it, so that headers over the limit reach the
// handler and get a coded answer, and bounded, so that no client makes
// the server buffer more than that (net/http stops reading there).
func HeaderHardLimit(maxHeaderBytes int) int { return maxHeaderBytes + max(maxHeaderBytes, 64<<10) }

// headerBytes is the size of the request line and headers as the client
// sent them (Host is taken out of Header by net/http), CRLFs included.
func headerBytes(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n + 2
}

// headersTooLarge returns the error for a request whose headers are over
// the limit, nil for the others.
func (s *Server) headersTooLarge(r *http.Request) error {
	if s.Limits == nil || s.Limits.MaxHeaderBytes <= 0 {
		return nil
	}
	if n := headerBytes(r); n > s.Limits.MaxHeaderBytes {
		return posture.Errorf(posture.EHEADERS, "RequestHeaderFieldsTooLarge", "The request line and headers are %d bytes; the limit is %d.", n, s.Limits.MaxHeaderBytes)
	}
	return nil
}

// ImportPath is the import endpoint, whose bodies have their own limits.
const ImportPath = "/providers/Posture.Estate/import"

// isImport reports whether path is the import endpoint ("//" prefixes are
// what some SDKs send).
func isImport(path string) bool {
	return strings.EqualFold("/"+strings.TrimLeft(path, "/"), ImportPath)
}

// limitBody bounds a request's body: its size (MaxBody, MaxImportBody for
// imports), and, with Limits, the time it may take to arrive. It is set up
// in serve, before any handler (API, portal, sign-in) reads the body, so no
// handler can forget it. w is the connection's own ResponseWriter, whose
// ResponseController sets read deadlines.
func (s *Server) limitBody(w http.ResponseWriter, r *http.Request) io.ReadCloser {
	if r.Body == nil || r.Body == http.NoBody {
		return r.Body
	}
	limit, minRate := int64(MaxBody), int64(0)
	if isImport(r.URL.Path) {
		limit = MaxImportBody
		if s.Limits != nil {
			minRate = s.Limits.ImportMinRate
		}
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	if s.Limits == nil || s.Limits.BodyTimeout <= 0 || r.ContentLength == 0 {
		return body
	}
	b := &slowBody{ReadCloser: body, rc: http.NewResponseController(w), start: time.Now(), timeout: s.Limits.BodyTimeout, minRate: minRate}
	// Without a rate rule one deadline is enough; the portal's in-process
	// calls have no connection (ErrNotSupported), nothing to bound.
	b.deadline()
	return b
}

// slowBody enforces the body deadline: start+timeout, plus, with minRate,
// one second per minRate bytes read so far. The deadline is on the
// connection, so a client that stops sending is cut even while the
// handler waits in Read, and so is one whose unread body Go's server
// drains after the handler (a refused request). Once the body is read,
// Go's server clears the deadline itself (its background read), so a long
// handler is not cut.
type slowBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	start   time.Time
	timeout time.Duration
	minRate int64
	n       int64
}

func (b *slowBody) deadline() {
	d := b.start.Add(b.timeout)
	if b.minRate > 0 {
		d = d.Add(time.Duration(b.n) * time.Second / time.Duration(b.minRate))
	}
	b.rc.SetReadDeadline(d)
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.minRate > 0 {
		b.deadline()
	}
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}

// bodyError turns an error reading a request body into the answer: 413
// over the limit (ARM's RequestContentTooLarge), 400 for a body that
// stopped arriving or broke off.
func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return posture.Errorf(posture.EINVALID, "RequestTimeout", "The request body arrived too slowly; the connection is closed.")
	}
	return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request body could not be read.")
}

// tooLarge is ARM's answer to a body over its 4 MB limit (code and
// message as ARM sends them, with posture's limit).
func tooLarge(limit int64) error {
	return posture.Errorf(posture.ETOOLARGE, "RequestContentTooLarge", "The request content size exceeds the maximum size of %d MB.", limit>>20)
}

// ConnLimit caps the connections one client address holds open at once;
// use its ConnState as the http.Server's. A connection over the cap is
// closed as soon as it is accepted, before a byte is read. It bounds what
// one host can hold with connections it opens and never uses (each one
// lives up to ReadHeaderTimeout). Behind a reverse proxy every client has
// the proxy's address: raise the cap or set 0 there.
type ConnLimit struct {
	// Max is the cap per address; 0: none.
	Max int
	// Refused is called for each connection closed over the cap (metrics,
	// logs); may be nil.
	Refused func(addr string)

	mu    sync.Mutex
	open  map[net.Conn]string
	count map[string]int
}

// ConnState counts connections by address and closes those over the cap.
func (l *ConnLimit) ConnState(c net.Conn, st http.ConnState) {
	if l.Max <= 0 {
		return
	}
	switch st {
	case http.StateNew:
		addr := hostOf(c.RemoteAddr())
		l.mu.Lock()
		if l.open == nil {
			l.open, l.count = map[net.Conn]string{}, map[string]int{}
		}
		over := l.count[addr] >= l.Max
		if !over {
			l.count[addr]++
			l.open[c] = addr
		}
		l.mu.Unlock()
		if over {
			c.Close()
			if l.Refused != nil {
				l.Refused(addr)
			}
		}
	case http.StateClosed, http.StateHijacked:
		l.mu.Lock()
		if addr, ok := l.open[c]; ok {
			delete(l.open, c)
			if l.count[addr]--; l.count[addr] <= 0 {
				delete(l.count, addr)
			}
		}
		l.mu.Unlock()
	}
}

// Open is the number of connections counted for addr.
func (l *ConnLimit) Open(addr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count[addr]
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}
