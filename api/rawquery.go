package api

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"strings"
)

// RepairRequestLines wraps a listener so that request lines with raw spaces
// in their query reach net/http. The Azure SDKs send OData $filter values
// unencoded (x-ms-skip-url-encoding), e.g.
//
//	GET /subscriptions/s/providers/Microsoft.Authorization/policyAssignments?$filter=policyDefinitionId eq '…' HTTP/1.1
//
// which net/http refuses with a bare 400 before any handler runs. The
// wrapper follows HTTP/1.1 framing (Content-Length and chunked bodies, so
// that only request lines are touched) and percent-encodes the spaces of
// the request target.
func RepairRequestLines(ln net.Listener) net.Listener { return repairListener{ln} }

type repairListener struct{ net.Listener }

func (l repairListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &repairConn{Conn: c, r: bufio.NewReaderSize(c, 16<<10)}, nil
}

// maxHead bounds the request head the wrapper looks at; a longer one goes
// through untouched for net/http to refuse.
const maxHead = 1 << 20

type connState int

const (
	stateHead    connState = iota // expecting a request line and headers
	stateBody                     // remaining bytes of a Content-Length body
	stateChunk                    // expecting a chunk-size line
	stateTrailer                  // expecting trailer lines after the last chunk
	statePass                     // framing lost: pass bytes through
)

type repairConn struct {
	net.Conn
	r         *bufio.Reader
	pending   []byte
	state     connState
	remain    int64     // bytes left in the body or chunk being passed
	afterBody connState // where a body or chunk leads
	err       error     // the stream's error, once pending is drained
}

func (c *repairConn) Read(p []byte) (int, error) {
	// Bytes read before an error are delivered before the error is.
	for len(c.pending) == 0 {
		if c.err != nil {
			err := c.err
			if isTimeout(err) {
				// A deadline is not the end of the stream: net/http sets one in
				// the past to stop its background read when a handler ends,
				// then reads the next request on the same connection. A
				// sticky timeout made it drop keep-alive connections under
				// clients' feet ("connection reset by peer").
				c.err = nil
			}
			return 0, err
		}
		c.err = c.next()
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// next reads the next piece of the stream into pending.
func (c *repairConn) next() error {
	switch c.state {
	case stateBody:
		n := min(c.remain, 32<<10)
		buf := make([]byte, n)
		m, err := c.r.Read(buf)
		c.pending = buf[:m]
		c.remain -= int64(m)
		if c.remain == 0 {
			c.state = c.afterBody
		}
		return err
	case stateChunk:
		line, err := c.line()
		if err != nil {
			return err
		}
		c.pending = line
		size, perr := strconv.ParseInt(strings.TrimSpace(strings.SplitN(string(line), ";", 2)[0]), 16, 64)
		switch {
		case perr != nil || size < 0:
			c.state = statePass
		case size == 0:
			c.state = stateTrailer
		default:
			c.state, c.remain = stateBody, size+2 // data and its CRLF
			c.afterBody = stateChunk
		}
		return nil
	case stateTrailer:
		line, err := c.line()
		if err != nil {
			return err
		}
		c.pending = line
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			c.state = stateHead
		}
		return nil
	case statePass:
		buf := make([]byte, 32<<10)
		n, err := c.r.Read(buf)
		c.pending = buf[:n]
		return err
	}
	return c.head()
}

// line reads one line, through the newline.
func (c *repairConn) line() ([]byte, error) {
	var out []byte
	for {
		frag, err := c.r.ReadSlice('\n')
		out = append(out, frag...)
		if err != bufio.ErrBufferFull {
			if err != nil && len(out) > 0 {
				return out, nil // deliver what there is; the next read reports the error
			}
			return out, err
		}
		if len(out) > maxHead {
			c.state = statePass
			return out, nil
		}
	}
}

// head reads a request line and its headers, repairs the request line and
// sets the state for the body.
func (c *repairConn) head() error {
	first, err := c.line()
	if err != nil || c.state == statePass {
		c.pending = first
		return err
	}
	if len(bytes.TrimRight(first, "\r\n")) == 0 {
		c.pending = first // a stray empty line between requests
		return nil
	}
	var headBuf bytes.Buffer
	headBuf.Write(repairLine(first))
	var length int64
	chunked := false
	for {
		h, err := c.line()
		headBuf.Write(h)
		if err != nil || c.state == statePass || headBuf.Len() > maxHead {
			c.pending, c.state = headBuf.Bytes(), statePass
			return err
		}
		text := strings.TrimRight(string(h), "\r\n")
		if text == "" {
			break
		}
		name, value, _ := strings.Cut(text, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			if length, err = strconv.ParseInt(value, 10, 64); err != nil || length < 0 {
				c.pending, c.state = headBuf.Bytes(), statePass
				return nil
			}
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(value), "chunked")
		}
	}
	c.pending = headBuf.Bytes()
	c.afterBody = stateHead
	switch {
	case chunked:
		c.state = stateChunk
	case length > 0:
		c.state, c.remain = stateBody, length
	}
	return nil
}

// repairLine percent-encodes the spaces inside the target of a request
// line "METHOD target HTTP/x.y" and leaves any other line alone.
func repairLine(line []byte) []byte {
	text := string(bytes.TrimRight(line, "\r\n"))
	eol := line[len(text):]
	method, rest, ok := strings.Cut(text, " ")
	if !ok || !isToken(method) {
		return line
	}
	i := strings.LastIndex(rest, " ")
	if i < 0 || !strings.HasPrefix(rest[i+1:], "HTTP/") {
		return line
	}
	target := rest[:i]
	if !strings.Contains(target, " ") {
		return line
	}
	return []byte(method + " " + strings.ReplaceAll(target, " ", "%20") + rest[i:] + string(eol))
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
