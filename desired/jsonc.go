package desired

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// cleanJSON prepares JSON or JSONC (EPAC's files have comments and
// trailing commas) for a parser, without moving any character to another
// line or column: comments and trailing commas become spaces, line breaks
// stay. With forYAML, a surrogate pair escape such as \ud83d\ude00, which
// YAML lacks, becomes \U0001F600 and two spaces after the string, and a
// lone surrogate becomes \ufffd, as encoding/json reads it.
func cleanJSON(data []byte, forYAML bool) []byte {
	out := make([]byte, 0, len(data)+16)
	comma := -1 // index in out of a comma that may be trailing
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '"':
			var n int
			out, n = cleanString(out, data[i:], forYAML)
			i += n
			comma = -1
		case c == '/' && i+1 < len(data) && data[i+1] == '/':
			end := bytes.IndexByte(data[i:], '\n')
			if end < 0 {
				end = len(data) - i
			}
			out = blank(out, data[i:i+end])
			i += end
		case c == '/' && i+1 < len(data) && data[i+1] == '*':
			end := bytes.Index(data[i+2:], []byte("*/"))
			if end < 0 {
				end = len(data) - i
			} else {
				end += 4
			}
			out = blank(out, data[i:i+end])
			i += end
		case c == ',':
			comma = len(out)
			out = append(out, c)
			i++
		case c == '}' || c == ']':
			if comma >= 0 {
				out[comma] = ' '
			}
			comma = -1
			out = append(out, c)
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			out = append(out, c)
			i++
		default:
			comma = -1
			out = append(out, c)
			i++
		}
	}
	return out
}

// blank appends one space per character of s, keeping line breaks.
func blank(out, s []byte) []byte {
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r == '\n' || r == '\r' {
			out = append(out, byte(r))
		} else {
			out = append(out, ' ')
		}
		s = s[size:]
	}
	return out
}

// cleanString copies the string literal at the start of s and returns how
// many bytes it read. An unterminated string is copied to the end of its
// line, for the parser to report.
func cleanString(out, s []byte, forYAML bool) ([]byte, int) {
	out = append(out, '"')
	pad := 0
	i := 1
	for i < len(s) {
		c := s[i]
		if c == '"' {
			out = append(out, c)
			i++
			break
		}
		if c == '\n' {
			break
		}
		if c != '\\' || i+1 >= len(s) {
			out = append(out, c)
			i++
			continue
		}
		if forYAML && s[i+1] == 'u' {
			if r, ok := hex4(s[i+2:]); ok && r >= 0xd800 && r <= 0xdfff {
				if r2, ok := lowSurrogate(s[i+6:]); ok && r < 0xdc00 {
					out = fmt.Appendf(out, `\U%08X`, 0x10000+(r-0xd800)<<10+(r2-0xdc00))
					pad += 2
					i += 12
				} else {
					out = append(out, `\ufffd`...)
					i += 6
				}
				continue
			}
		}
		out = append(out, c, s[i+1])
		i += 2
	}
	for ; pad > 0; pad-- {
		out = append(out, ' ')
	}
	return out, i
}

func lowSurrogate(s []byte) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	r, ok := hex4(s[2:])
	return r, ok && r >= 0xdc00 && r <= 0xdfff
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// jsonSyntaxError locates a JSON syntax error with encoding/json, which
// gives its byte offset; the YAML parser gives at best a line. ok is false
// when encoding/json finds no error.
func jsonSyntaxError(data []byte) (line, col int, msg string, ok bool) {
	clean := cleanJSON(data, false)
	var v any
	err := json.Unmarshal(clean, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return 0, 0, "", false
	}
	// Offset counts the bytes read, the offending one included.
	line, col = position(clean, int(se.Offset)-1)
	return line, col, se.Error(), true
}

// position converts a byte offset to a 1-based line and character column.
func position(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return bytes.Count(data[:start], []byte{'\n'}) + 1, utf8.RuneCount(data[start:off]) + 1
}
