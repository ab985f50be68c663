// Package client is a small Go client of posture's ARM API, used by the CLI
// and the end-to-end tests. Errors in ARM's envelope come back as
// *posture.Error values with the code and message the server sent.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posture/posture"
)

// Client calls a posture server.
type Client struct {
	// BaseURL is the server, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Token is the bearer token.
	Token string
	// HTTP is the client to use; nil means a client with a 5-minute timeout.
	HTTP *http.Client
}

// New returns a client of the server at base with token.
func New(base, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(base, "/"), Token: token}
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: 5 * time.Minute}
}

// Do sends method path?api-version=… with body (nil, []byte, io.Reader or a
// value to marshal) and decodes a JSON answer into out when out is not nil
// (a *[]byte gets the raw body).
// It returns the HTTP status. Non-2xx answers are returned as
// *posture.Error.
func (c *Client) Do(ctx context.Context, method, path, apiVersion string, query url.Values, body, out any) (int, error) {
	status, _, err := c.Send(ctx, method, path, apiVersion, query, nil, body, out)
	return status, err
}

// Send is Do with request headers (If-Match) and the answer's headers
// (ETag).
func (c *Client) Send(ctx context.Context, method, path, apiVersion string, query url.Values, header http.Header, body, out any) (int, http.Header, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if apiVersion != "" {
		q.Set("api-version", apiVersion)
	}
	u := c.BaseURL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, resp.Header, err
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, resp.Header, decodeError(resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if raw, ok := out.(*[]byte); ok {
			*raw = data
		} else if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, resp.Header, fmt.Errorf("client: decoding the answer to %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, resp.Header, nil
}

// armError is the inner object of ARM's error envelope.
type armError struct {
	Code    string      `json:"code"`
	Message string      `json:"message"`
	Target  string      `json:"target"`
	Details []*armError `json:"details"`
}

func (a *armError) toError(kind posture.Kind) *posture.Error {
	e := &posture.Error{Kind: kind, Code: a.Code, Message: a.Message, Target: a.Target}
	for _, d := range a.Details {
		if d != nil {
			e.Details = append(e.Details, d.toError(kind))
		}
	}
	return e
}

// decodeError turns an ARM error envelope into a *posture.Error, details
// included.
func decodeError(status int, data []byte) error {
	var env struct {
		Error *armError `json:"error"`
	}
	if json.Unmarshal(data, &env) != nil || env.Error == nil {
		return &posture.Error{Kind: kindOf(status), Code: http.StatusText(status), Message: strings.TrimSpace(string(data))}
	}
	return env.Error.toError(kindOf(status))
}

func kindOf(status int) posture.Kind {
	switch status {
	case 400:
		return posture.EINVALID
	case 401:
		return posture.EUNAUTHORIZED
	case 403:
		return posture.EFORBIDDEN
	case 404:
		return posture.ENOTFOUND
	case 405:
		return posture.EMETHOD
	case 409:
		return posture.ECONFLICT
	case 412:
		return posture.EPRECONDITION
	case 413:
		return posture.ETOOLARGE
	case 431:
		return posture.EHEADERS
	case 429:
		return posture.ETOOMANY
	case 503:
		return posture.EUNAVAILABLE
	}
	return posture.EINTERNAL
}

// ImportAPIVersion is the api-version of posture's import endpoint.
const ImportAPIVersion = "2026-11-01"

// Import posts documents to the import endpoint as one {"value":[…]} list.
func (c *Client) Import(ctx context.Context, docs []json.RawMessage) (posture.ImportSummary, error) {
	var b bytes.Buffer
	b.WriteString(`{"value":[`)
	for i, d := range docs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(d)
	}
	b.WriteString(`]}`)
	var sum posture.ImportSummary
	_, err := c.Do(ctx, http.MethodPost, "/providers/Posture.Estate/import", ImportAPIVersion, nil, b.Bytes(), &sum)
	return sum, err
}
