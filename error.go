package posture

import (
	"errors"
	"fmt"
)

// Kind classifies an error for transport. The api package maps each kind to
// one HTTP status in one place; nothing else decides statuses.
type Kind string

// Error kinds.
const (
	EINVALID      Kind = "invalid"      // 400: the request is malformed or violates a rule.
	EUNAUTHORIZED Kind = "unauthorized" // 401: no or bad credentials.
	EFORBIDDEN    Kind = "forbidden"    // 403: authenticated, but not allowed.
	ENOTFOUND     Kind = "not_found"    // 404: the addressed thing does not exist.
	EMETHOD       Kind = "method"       // 405: the path exists but not for this method.
	ECONFLICT     Kind = "conflict"     // 409: the state forbids the change.
	EPRECONDITION Kind = "precondition" // 412: If-Match / If-None-Match failed.
	ETOOLARGE     Kind = "too_large"    // 413: the body is over the limit.
	EHEADERS      Kind = "headers"      // 431: the request line and headers are over the limit.
	ETOOMANY      Kind = "too_many"     // 429: rate limited.
	EINTERNAL     Kind = "internal"     // 500: a bug or an unexpected failure.
	EUNAVAILABLE  Kind = "unavailable"  // 503: a dependency (the database) is down.
)

// Error is posture's one error type. Code and Message are shown to clients in
// the ARM envelope {"error":{"code","message","target","details"}}; Err is the
// cause, kept for logs and never shown.
type Error struct {
	Kind    Kind
	Code    string // ARM error code, e.g. "ResourceNotFound".
	Message string
	Target  string
	Details []*Error
	// Info adds service-specific fields to the error object, such as
	// Resource Graph's line and characterPositionInLine.
	Info map[string]any
	Err  error
}

// Errorf returns an *Error of the given kind and ARM code.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected error. Its message is generic so that nothing
// about the cause (SQL, file paths, secrets) reaches a client.
func Internal(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: EINTERNAL, Code: "InternalServerError", Message: "The server encountered an internal error. Please retry the request.", Err: err}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// WithTarget returns e with Target set; convenient for validation errors.
func (e *Error) WithTarget(target string) *Error {
	e.Target = target
	return e
}

// ErrorKind returns the kind of err, EINTERNAL for errors that are not *Error.
func ErrorKind(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return EINTERNAL
}

// ErrorCode returns the ARM code of err, or "" for errors that are not *Error.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err is an ENOTFOUND error.
func IsNotFound(err error) bool { return err != nil && ErrorKind(err) == ENOTFOUND }

// Join reports several validation problems at once, as ARM does: nil for
// none, the one problem, or the first with all of them in Details. The
// first is copied so that it does not contain itself.
func Join(problems []*Error) error {
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return problems[0]
	}
	top := *problems[0]
	top.Details = problems
	return &top
}
