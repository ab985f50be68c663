package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Code names what went wrong with a delivery, independently of the channel.
type Code string

// Delivery error codes. The comment says whether the code is retryable.
const (
	CodeInvalidMessage Code = "InvalidMessage" // permanent: the message cannot be rendered for this channel
	CodeTimeout        Code = "Timeout"        // retryable: no answer in time (also HTTP 408)
	CodeCanceled       Code = "Canceled"       // retryable: the caller's context was canceled
	CodeNetwork        Code = "Network"        // retryable: DNS, refused or reset connection
	CodeRateLimited    Code = "RateLimited"    // retryable: HTTP 429; RetryAfter says how long to wait
	CodeServerError    Code = "ServerError"    // retryable: HTTP 5xx
	CodeUnauthorized   Code = "Unauthorized"   // permanent: HTTP 401/403, SMTP authentication refused
	CodeNotFound       Code = "NotFound"       // permanent: HTTP 404/410 (a deleted webhook, an unknown issue)
	CodeRejected       Code = "Rejected"       // permanent: any other HTTP 4xx (the payload was refused)
	CodeRedirected     Code = "Redirected"     // permanent: HTTP 3xx; redirects are not followed
	CodeBadResponse    Code = "BadResponse"    // permanent: success status but an unusable body
	CodeTLS            Code = "TLS"            // permanent: certificate not trusted, STARTTLS missing
	CodeMailTransient  Code = "MailTransient"  // retryable: SMTP 4xx reply
	CodeMailPermanent  Code = "MailPermanent"  // permanent: SMTP 5xx reply (a bad address, a refused message)
)

// Error is the error every Channel and TicketConnector returns.
//
// Its text never contains a secret: URLs appear as scheme and host only, and
// configured passwords, tokens and keys are replaced by "[redacted]".
type Error struct {
	Channel    string        // "email", "teams", "slack", "webhook", "jira", "servicenow"
	Op         string        // what was attempted: "send", "create issue", "comment", ...
	Code       Code          // the classification
	Retryable  bool          // whether the same attempt may succeed later
	RetryAfter time.Duration // how long the server asked us to wait; 0 when it did not say
	Status     int           // the HTTP status or SMTP reply code, 0 when there was none
	Target     string        // where we talked to, reduced to scheme and host
	Message    string        // a short, scrubbed description
	Err        error         // the cause, scrubbed of URLs; may be nil
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "notify %s: %s: %s", e.Channel, e.Op, e.Code)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (%d)", e.Status)
	}
	if e.Target != "" {
		fmt.Fprintf(&b, " from %s", e.Target)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsRetryable reports whether err is a delivery error that may succeed if the
// same message is sent again later. Errors from outside this package are not
// classified and report false.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// IsPermanent reports whether err is a delivery error that will not succeed
// however often it is retried: the message or the configuration must change.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && !e.Retryable
}

// RetryAfter returns how long the server asked the caller to wait before the
// next attempt, and whether it said anything at all.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.Retryable && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// ErrorCode returns the Code of a delivery error, "" for other errors.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// transportError classifies a failure to get any answer at all: the request
// never completed, so nothing is known about the message itself.
func transportError(channel, op, target string, err error, scrub *scrubber) *Error {
	e := &Error{Channel: channel, Op: op, Target: target}
	// *url.Error repeats the full request URL, which for Teams and Slack is
	// the secret; keep only what it wraps.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var netErr net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, context.Canceled):
		e.Code, e.Retryable = CodeCanceled, true
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		e.Code, e.Retryable = CodeTimeout, true
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &recordErr):
		// Retrying cannot make an untrusted certificate trusted; an operator must act.
		e.Code = CodeTLS
	default:
		e.Code, e.Retryable = CodeNetwork, true
	}
	e.Message = scrub.clean(err.Error())
	e.Err = scrubbedError{msg: e.Message, cause: err}
	return e
}

// scrubbedError keeps a cause reachable by errors.Is/As while making sure its
// text, if printed on its own, is the scrubbed one.
type scrubbedError struct {
	msg   string
	cause error
}

func (s scrubbedError) Error() string { return s.msg }
func (s scrubbedError) Unwrap() error { return s.cause }

// redactURL reduces a URL to scheme and host: webhook URLs carry their secret
// in the path or query, and basic-auth URLs in the user info.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "[redacted url]"
	}
	return u.Scheme + "://" + u.Host
}

// scrubber removes known secrets from text before it reaches an error.
type scrubber struct {
	secrets []string
}

func newScrubber(secrets ...string) *scrubber {
	s := &scrubber{}
	for _, v := range secrets {
		s.add(v)
	}
	return s
}

// add registers a secret. Very short values are ignored: replacing every "a"
// in a message would make it unreadable and protects nothing.
func (s *scrubber) add(secret string) {
	if len(secret) >= 4 {
		s.secrets = append(s.secrets, secret)
	}
}

func (s *scrubber) clean(text string) string {
	if s == nil {
		return text
	}
	for _, v := range s.secrets {
		text = strings.ReplaceAll(text, v, "[redacted]")
	}
	return text
}
