package armdoc

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// splitTop splits a JSON object into its top-level members, the values
// kept as sub-slices of b. It reports whether b is compact (no whitespace
// outside strings). b must be valid JSON (json.Valid); splitTop only checks
// that it is an object. This is the hot path of an import, several times
// faster than json.Decoder's token API.
func splitTop(b []byte) (object, bool, error) {
	i := skipSpace(b, 0)
	compact := i == 0
	if i >= len(b) || b[i] != '{' {
		return nil, false, errNotObject
	}
	i++
	o := make(object, 0, 12)
	for {
		j := skipSpace(b, i)
		compact = compact && j == i
		i = j
		if b[i] == '}' {
			i++
			break
		}
		if b[i] == ',' {
			i++
			continue
		}
		kEnd := min(endOfString(b, i), len(b))
		key := unquote(b[i:kEnd])
		i = skipSpace(b, kEnd)
		compact = compact && i == kEnd
		i++ // ':'
		j = skipSpace(b, i)
		compact = compact && j == i
		i = j
		vEnd, vCompact := endOfValue(b, i)
		compact = compact && vCompact
		o = append(o, field{key, b[i:vEnd]})
		i = vEnd
	}
	if i != len(b) { // trailing whitespace (Valid allows nothing else)
		compact = false
	}
	return o, compact, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// endOfString returns the index after the string starting at b[i] == '"',
// or len(b)+1 when b ends inside the string.
func endOfString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b) + 1
}

// endOfValue returns the index after the value starting at b[i], and
// whether the value is compact.
func endOfValue(b []byte, i int) (int, bool) {
	switch b[i] {
	case '"':
		return min(endOfString(b, i), len(b)), true
	case '{', '[':
		depth, compact := 0, true
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = min(endOfString(b, i), len(b)) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, compact
				}
			case ' ', '\t', '\n', '\r':
				compact = false
			}
		}
		return len(b), compact
	}
	for ; i < len(b); i++ {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i, true
		}
	}
	return len(b), true
}

// unquote decodes a JSON string token.
func unquote(raw []byte) string {
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}
