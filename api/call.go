package api

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/posture/posture"
)

// body reads the request body, refusing more than MaxBody bytes (413) and
// bodies that are not JSON.
func (c *call) body() ([]byte, error) {
	if c.r.ContentLength > MaxBody {
		return nil, tooLarge(MaxBody) // refused before reading it
	}
	b, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, MaxBody))
	if err != nil {
		return nil, bodyError(err, MaxBody)
	}
	if len(b) == 0 {
		return nil, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content was invalid and could not be deserialized: the body is empty.")
	}
	if !json.Valid(b) {
		return nil, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %s.", jsonProblem(b))
	}
	return b, nil
}

// jsonProblem describes why b is not valid JSON.
func jsonProblem(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err.Error()
	}
	return "invalid JSON"
}

// ok writes a JSON document with status.
func (c *call) ok(status int, doc []byte) error {
	h := c.w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	c.w.WriteHeader(status)
	_, err := c.w.Write(doc)
	if err != nil {
		return nil // the client went away; nothing more to tell it
	}
	return nil
}

// list writes ARM's list envelope {"value":[…],"nextLink":…}. next, when
// not empty, is the cursor of the following page.
func (c *call) list(docs []json.RawMessage, next string) error {
	if c.filter != nil {
		docs = c.filter.visible(docs)
	}
	var b strings.Builder
	b.WriteString(`{"value":[`)
	for i, d := range docs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(d)
	}
	b.WriteByte(']')
	if next != "" {
		link, _ := json.Marshal(c.nextLink(next))
		b.WriteString(`,"nextLink":`)
		b.Write(link)
	}
	b.WriteByte('}')
	return c.ok(http.StatusOK, []byte(b.String()))
}

// nextLink returns the absolute URL of the next page: the same request with
// $skipToken set to the cursor.
func (c *call) nextLink(cursor string) string {
	scheme := "http"
	if c.r.TLS != nil || strings.EqualFold(c.r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	q := c.r.URL.Query()
	q.Set("$skipToken", base64.RawURLEncoding.EncodeToString([]byte(cursor)))
	u := url.URL{Scheme: scheme, Host: c.r.Host, Path: c.r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

// param returns a query parameter. Keys are percent-decoded, so a client
// sending %24top for $top is served too.
func (c *call) param(name string) string { return c.r.URL.Query().Get(name) }

// cursor returns the decoded $skipToken, "" on the first page.
func (c *call) cursor() (string, error) {
	t := c.param("$skipToken")
	if t == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(b) > 8192 {
		return "", posture.Errorf(posture.EINVALID, "InvalidSkipToken", "The $skipToken is not one posture issued.")
	}
	return string(b), nil
}

// top returns $top bounded to [1, max], 0 when absent.
func (c *call) top(max int) (int, error) {
	t := c.param("$top")
	if t == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 {
		return 0, posture.Errorf(posture.EINVALID, "InvalidTopParameter", "The $top parameter '%s' must be a positive integer.", clip(t))
	}
	return min(n, max), nil
}
