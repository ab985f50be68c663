package notify

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Option adjusts the HTTP-based channels and connectors.
type Option func(*httpOptions)

type httpOptions struct {
	client *http.Client
	now    func() time.Time
}

// WithHTTPClient sends requests through c (a proxy, custom roots). The
// channel still applies its own timeout and never follows redirects.
func WithHTTPClient(c *http.Client) Option { return func(o *httpOptions) { o.client = c } }

// WithClock replaces time.Now, for signature timestamps and Retry-After dates.
func WithClock(now func() time.Time) Option { return func(o *httpOptions) { o.now = now } }

// maxResponseBody bounds what is read from any answer: enough for a ticket
// or an error description, not enough to exhaust memory.
const maxResponseBody = 1 << 20

// poster sends one kind of request and turns every outcome into either a
// response body or a classified, scrubbed *Error.
type poster struct {
	channel string
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
	scrub   *scrubber
	// describe pulls a readable reason out of an error body (Jira's
	// errorMessages, ServiceNow's error.message); nil uses a body excerpt.
	describe func(body []byte) string
}

func newPoster(channel string, timeout time.Duration, opts []Option, scrub *scrubber) *poster {
	o := httpOptions{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	var client http.Client
	if o.client != nil {
		client = *o.client
	} else {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		client.Transport = transport
	}
	// A redirect would resend the body, and perhaps the Authorization
	// header, to a place nobody configured; treat it as an answer instead.
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &poster{channel: channel, client: &client, timeout: timeout, now: o.now, scrub: scrub}
}

// scrubURL registers the secret parts of a URL: all of it, its path and
// query (where webhook tokens live) and any password in it.
func (s *scrubber) scrubURL(raw string) {
	s.add(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	if len(u.Path) > 1 {
		s.add(u.Path)
		s.add(u.EscapedPath())
	}
	s.add(u.RawQuery)
	if p, ok := u.User.Password(); ok {
		s.add(p)
	}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends req and returns the response when its status is 2xx.
func (p *poster) do(ctx context.Context, op string, req *http.Request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req = req.WithContext(ctx)
	req.Header.Set("User-Agent", "posture-notify/1")
	target := redactURL(req.URL.String())
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, transportError(p.channel, op, target, err, p.scrub)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return nil, transportError(p.channel, op, target, err, p.scrub)
	}
	r := &response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return r, nil
	}
	e := statusError(p.channel, op, target, resp.StatusCode, resp.Header, p.now())
	e.Message = p.scrub.clean(p.reason(body))
	return nil, e
}

func (p *poster) reason(body []byte) string {
	if p.describe != nil {
		if s := p.describe(body); s != "" {
			return excerpt(s)
		}
	}
	return excerpt(string(body))
}

// statusError classifies a non-2xx HTTP status. 408, 429 and 5xx can succeed
// later; other 4xx (a revoked webhook, a payload the service refuses) and
// 3xx will not until someone changes the configuration or the message.
func statusError(channel, op, target string, status int, h http.Header, now time.Time) *Error {
	e := &Error{Channel: channel, Op: op, Status: status, Target: target}
	switch {
	case status == http.StatusRequestTimeout:
		e.Code, e.Retryable = CodeTimeout, true
	case status == http.StatusTooManyRequests:
		e.Code, e.Retryable = CodeRateLimited, true
	case status >= 500:
		e.Code, e.Retryable = CodeServerError, true
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		e.Code = CodeUnauthorized
	case status == http.StatusNotFound, status == http.StatusGone:
		e.Code = CodeNotFound
	case status >= 400:
		e.Code = CodeRejected
	case status >= 300:
		e.Code = CodeRedirected
	default:
		e.Code = CodeBadResponse
	}
	if e.Retryable {
		// 503 and 429 usually carry Retry-After; Jira sends it on some 5xx too.
		e.RetryAfter = retryAfterFrom(h, now)
	}
	return e
}

// badResponse reports a 2xx answer the caller cannot use. It is permanent:
// the request did succeed, so repeating it could duplicate a ticket.
func (p *poster) badResponse(op, target, format string, args ...any) *Error {
	return &Error{Channel: p.channel, Op: op, Code: CodeBadResponse, Target: target,
		Message: p.scrub.clean(fmt.Sprintf(format, args...))}
}

// invalid reports a message this channel cannot carry.
func invalidMessage(channel string, err error) *Error {
	return &Error{Channel: channel, Op: "render", Code: CodeInvalidMessage, Message: err.Error(), Err: err}
}

// excerpt makes a short single-line description from a response body.
func excerpt(s string) string {
	s = oneLine(s)
	s = strings.Join(strings.Fields(s), " ")
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "?")
	}
	return truncate(s, 300)
}

func newJSONRequest(method, target string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(method, target, strings.NewReader(string(body)))
	if err != nil {
		// Only a malformed URL gets here, and Validate refused those; keep
		// the URL itself out of the error all the same.
		return nil, errors.New("cannot build the request for " + redactURL(target))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	return req, nil
}

// basicAuth is the credential part of a basic Authorization header, kept to
// be scrubbed from error text like the password itself.
func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}
