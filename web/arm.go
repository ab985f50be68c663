package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"github.com/posture/posture"
)

// inProcess is an http.RoundTripper that serves requests with the API
// handler directly: the pages are clients of the API without a socket.
type inProcess struct {
	h      http.Handler
	remote string // the browser's address, for the API's sign-in limits
	// retryAfter, when set, keeps the Retry-After seconds of the last 429
	// (the user's rate limit), for the page that shows it.
	retryAfter *atomic.Int64
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	req.RemoteAddr = t.remote
	req.RequestURI = req.URL.RequestURI()
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	t.h.ServeHTTP(rec, req)
	if rec.status == http.StatusTooManyRequests && t.retryAfter != nil {
		if n, err := strconv.Atoi(rec.header.Get("Retry-After")); err == nil && n > 0 {
			t.retryAfter.Store(int64(n))
		}
	}
	return &http.Response{
		StatusCode: rec.status, Status: http.StatusText(rec.status), Header: rec.header,
		Body: io.NopCloser(&rec.body), ContentLength: int64(rec.body.Len()), Request: req,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}, nil
}

// recorder is the response writer of an in-process call.
type recorder struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

// API versions the pages call.
const (
	graphVersion     = "2022-10-01"
	exemptionVersion = "2022-07-01-preview"
	securityVersion  = "2020-01-01"
	metadataVersion  = "2021-06-01"
	requestVersion   = "2026-11-01"
	automationVer    = "2023-12-01-preview"
	estateVersion    = "2022-12-01"
	policyVersion    = "2023-04-01"
	postureVersion   = "2026-11-01"
)

// graphAnswer is a Resource Graph answer.
type graphAnswer struct {
	TotalRecords int64           `json:"totalRecords"`
	Count        int64           `json:"count"`
	Data         json.RawMessage `json:"data"`
	SkipToken    string          `json:"$skipToken"`
	Truncated    string          `json:"resultTruncated"`
}

// graphPage is one page of a query's rows.
type graphPage[T any] struct {
	Rows      []T
	Total     int64
	SkipToken string
}

// query runs KQL as the user (the API filters rows to what they may read)
// and decodes the rows into T.
func query[T any](ctx context.Context, s *session, kql string, top int, skipToken string) (graphPage[T], error) {
	body := map[string]any{"query": kql}
	opts := map[string]any{"resultFormat": "objectArray"}
	if top > 0 {
		opts["$top"] = top
	}
	if skipToken != "" {
		opts["$skipToken"] = skipToken
	}
	body["options"] = opts
	var a graphAnswer
	if _, err := s.api.Do(ctx, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources", graphVersion, nil, body, &a); err != nil {
		return graphPage[T]{}, err
	}
	var rows []T
	if len(a.Data) > 0 {
		if err := json.Unmarshal(a.Data, &rows); err != nil {
			return graphPage[T]{}, posture.Internal(err)
		}
	}
	return graphPage[T]{Rows: rows, Total: a.TotalRecords, SkipToken: a.SkipToken}, nil
}

// queryAll runs KQL whose result is small (a summarize) and returns every
// row.
func queryAll[T any](ctx context.Context, s *session, kql string) ([]T, error) {
	p, err := query[T](ctx, s, kql, 1000, "")
	return p.Rows, err
}

// get reads one ARM document into out and returns its ETag.
func (s *session) get(ctx context.Context, path, version string, out any) (string, error) {
	_, h, err := s.api.Send(ctx, http.MethodGet, path, version, nil, nil, nil, out)
	if err != nil {
		return "", err
	}
	return h.Get("ETag"), nil
}

// send writes: PUT, PATCH, POST or DELETE with optional If-Match.
func (s *session) send(ctx context.Context, method, path, version, ifMatch string, body, out any) error {
	var h http.Header
	if ifMatch != "" {
		h = http.Header{"If-Match": {ifMatch}}
	}
	_, _, err := s.api.Send(ctx, method, path, version, nil, h, body, out)
	return err
}

// list reads every page of an ARM list (bounded: a page list is for small
// collections such as automations).
func (s *session) list(ctx context.Context, path, version string, q url.Values) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for page := 0; page < 20; page++ {
		var l struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"nextLink"`
		}
		if _, err := s.api.Do(ctx, http.MethodGet, path, version, q, nil, &l); err != nil {
			return nil, err
		}
		out = append(out, l.Value...)
		if l.NextLink == "" {
			break
		}
		u, err := url.Parse(l.NextLink)
		if err != nil {
			return nil, posture.Internal(err)
		}
		path, q, version = u.Path, u.Query(), ""
	}
	return out, nil
}

// errorText is an error as the pages show it.
func errorText(err error) string {
	var pe *posture.Error
	if errors.As(err, &pe) {
		if pe.Kind == posture.EINTERNAL && pe.Code == "InternalServerError" {
			return "The server encountered an internal error."
		}
		return pe.Message + " (" + pe.Code + ")"
	}
	return "The request failed."
}

func decodeJSON(raw []byte, v any) error { return json.Unmarshal(raw, v) }
