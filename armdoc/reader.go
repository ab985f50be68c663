package armdoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxValue bounds one JSON value the decoder holds in memory.
const maxValue = 64 << 20

// reader frames JSON values out of a stream: it finds where a value ends by
// matching brackets outside strings, then checks the value with json.Valid.
// That is several times faster than json.Decoder, which scans each value
// more than once.
type reader struct {
	r    io.Reader
	buf  []byte // unread input is buf[pos:]
	pos  int
	base int64 // stream offset of buf[0]
	eof  bool
}

func (r *reader) offset() int64 { return r.base + int64(r.pos) }

// fill reads more input, keeping the unread part. It returns io.EOF when
// the stream has no more.
func (r *reader) fill() error {
	if r.eof {
		return io.EOF
	}
	if r.pos > 0 {
		n := copy(r.buf, r.buf[r.pos:])
		r.base += int64(r.pos)
		r.buf = r.buf[:n]
		r.pos = 0
	}
	if len(r.buf) == cap(r.buf) {
		if cap(r.buf) >= maxValue {
			return fmt.Errorf("a JSON value is larger than %d bytes", maxValue)
		}
		nb := make([]byte, len(r.buf), 2*cap(r.buf))
		copy(nb, r.buf)
		r.buf = nb
	}
	n, err := r.r.Read(r.buf[len(r.buf):cap(r.buf)])
	r.buf = r.buf[:len(r.buf)+n]
	if errors.Is(err, io.EOF) {
		r.eof = true
		if n == 0 {
			return io.EOF
		}
		return nil
	}
	return err
}

// peek skips whitespace and returns the next byte without consuming it.
func (r *reader) peek() (byte, error) {
	for {
		r.pos = skipSpace(r.buf, r.pos)
		if r.pos < len(r.buf) {
			return r.buf[r.pos], nil
		}
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
}

// skip consumes the byte peek returned.
func (r *reader) skip() { r.pos++ }

// key reads an object key and the ':' after it.
func (r *reader) key() (string, error) {
	c, err := r.peek()
	if err != nil {
		return "", eof(err)
	}
	if c != '"' {
		return "", fmt.Errorf("expected a string key, found %q", c)
	}
	raw, err := r.span(func(b []byte) int {
		if end := endOfString(b, 0); end <= len(b) {
			return end
		}
		return -1
	})
	if err != nil {
		return "", err
	}
	if !json.Valid(raw) {
		return "", fmt.Errorf("invalid string %s", clipBytes(raw))
	}
	k := unquote(raw)
	if c, err := r.peek(); err != nil || c != ':' {
		return "", fmt.Errorf("expected ':' after key %q", k)
	}
	r.skip()
	return k, nil
}

// value reads one complete JSON value and returns a copy of its bytes.
func (r *reader) value() ([]byte, error) {
	if _, err := r.peek(); err != nil {
		return nil, eof(err)
	}
	raw, err := r.span(func(b []byte) int { return valueEnd(b, r.eof) })
	if err != nil {
		return nil, err
	}
	if !json.Valid(raw) {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("invalid JSON value %s", clipBytes(raw))
	}
	return append([]byte(nil), raw...), nil
}

// span returns the bytes at the read position up to end(unread), filling the
// buffer until end finds the end (>= 0), and consumes them. The returned
// slice is only valid until the next read.
func (r *reader) span(end func([]byte) int) ([]byte, error) {
	for {
		if n := end(r.buf[r.pos:]); n >= 0 {
			raw := r.buf[r.pos : r.pos+n]
			r.pos += n
			return raw, nil
		}
		if err := r.fill(); err != nil {
			return nil, eof(err)
		}
	}
}

// valueEnd returns the length of the JSON value at the start of b, or -1
// when b ends before the value does (more input may complete it; at the end
// of the stream a bare scalar ends with b).
func valueEnd(b []byte, atEOF bool) int {
	if len(b) == 0 {
		return -1
	}
	switch b[0] {
	case '"':
		if end := endOfString(b, 0); end <= len(b) {
			return end
		}
		return -1
	case '{', '[':
		depth := 0
		for i := 0; i < len(b); i++ {
			switch b[i] {
			case '"':
				end := endOfString(b, i)
				if end > len(b) {
					return -1
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
	}
	if atEOF {
		return len(b)
	}
	return -1
}

func clipBytes(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q…", b[:40])
	}
	return fmt.Sprintf("%q", b)
}
