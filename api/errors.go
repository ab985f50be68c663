package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/posture/posture"
)

// StatusOf is the HTTP status of an error: the one mapping from error kinds
// to statuses, which the portal's pages use too.
func StatusOf(err error) int { return statusOf(posture.ErrorKind(err)) }

// statusOf is the one mapping from error kinds to HTTP statuses.
func statusOf(k posture.Kind) int {
	switch k {
	case posture.EINVALID:
		return http.StatusBadRequest
	case posture.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case posture.EFORBIDDEN:
		return http.StatusForbidden
	case posture.ENOTFOUND:
		return http.StatusNotFound
	case posture.EMETHOD:
		return http.StatusMethodNotAllowed
	case posture.ECONFLICT:
		return http.StatusConflict
	case posture.EPRECONDITION:
		return http.StatusPreconditionFailed
	case posture.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case posture.EHEADERS:
		return http.StatusRequestHeaderFieldsTooLarge
	case posture.ETOOMANY:
		return http.StatusTooManyRequests
	case posture.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// armError is the ARM error envelope's inner object (common-types
// CloudError), plus any service-specific fields of Info.
type armError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Target  string         `json:"target,omitempty"`
	Details []*armError    `json:"details,omitempty"`
	Info    map[string]any `json:"-"`
}

func (a *armError) MarshalJSON() ([]byte, error) {
	type plain armError
	b, err := json.Marshal((*plain)(a))
	if err != nil || len(a.Info) == 0 {
		return b, err
	}
	extra, err := json.Marshal(a.Info)
	if err != nil {
		return nil, err
	}
	// Merge the two objects: {...fields, ...info}.
	return append(append(b[:len(b)-1], ','), extra[1:]...), nil
}

func toARM(e *posture.Error) *armError {
	a := &armError{Code: e.Code, Message: e.Message, Target: e.Target, Info: e.Info}
	for _, d := range e.Details {
		a.Details = append(a.Details, toARM(d))
	}
	return a
}

// writeError writes err in the ARM envelope {"error":{…}} with the status of
// its kind. Internal errors are logged with their cause; their message to
// the client stays generic.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var pe *posture.Error
	switch {
	case errors.As(err, &pe):
	case errors.Is(err, context.DeadlineExceeded):
		pe = posture.Errorf(posture.EUNAVAILABLE, "OperationTimedOut", "The operation timed out.")
	case errors.Is(err, context.Canceled):
		pe = posture.Errorf(posture.EINVALID, "RequestCanceled", "The request was canceled.")
	default:
		pe = posture.Internal(err)
	}
	status := statusOf(pe.Kind)
	if status >= 500 {
		s.Logger.Error("request failed", "request_id", posture.RequestIDFromContext(r.Context()), "code", pe.Code, "err", pe.Err)
	}
	if pe.Kind == posture.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	if pe.Kind == posture.EUNAVAILABLE {
		w.Header().Set("Retry-After", "5")
	}
	w.Header().Set("x-ms-failure-cause", failureCause(pe.Kind))
	writeJSON(w, status, map[string]*armError{"error": toARM(pe)})
}

// failureCause fills ARM's x-ms-failure-cause header: "gateway" for what the
// front door refuses, "service" for what the service refuses.
func failureCause(k posture.Kind) string {
	switch k {
	case posture.EUNAUTHORIZED, posture.ETOOMANY:
		return "gateway"
	}
	return "service"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"InternalServerError","message":"The response could not be encoded."}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}
