package graph

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// topFields returns the top-level members of a JSON object, the values as
// sub-slices of doc: what json.Unmarshal into a map[string]json.RawMessage
// gives for a valid object (the last of duplicate keys wins), without
// validating, copying or allocating each value. A write publishes a row per
// document it changed and each row read its document this way, under the
// write lock (BenchmarkResourceRow). Stored documents are JSON objects;
// anything else (ok false) goes through json.Unmarshal.
func topFields(doc []byte) (fields map[string]json.RawMessage, ok bool) {
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, false
	}
	fields = make(map[string]json.RawMessage, 16)
	for i++; ; {
		i = skipSpace(doc, i)
		if i >= len(doc) {
			return nil, false
		}
		switch doc[i] {
		case '}':
			return fields, skipSpace(doc, i+1) == len(doc)
		case ',':
			i++
			continue
		case '"':
		default:
			return nil, false
		}
		kEnd := endOfString(doc, i)
		if kEnd > len(doc) {
			return nil, false
		}
		key, ok := unquote(doc[i:kEnd])
		if !ok {
			return nil, false
		}
		i = skipSpace(doc, kEnd)
		if i >= len(doc) || doc[i] != ':' {
			return nil, false
		}
		i = skipSpace(doc, i+1)
		vEnd := endOfValue(doc, i)
		if vEnd <= i || vEnd > len(doc) {
			return nil, false
		}
		fields[key] = doc[i:vEnd]
		i = vEnd
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// endOfString returns the index after the string starting at b[i] == '"',
// len(b)+1 when b ends inside it.
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

// endOfValue returns the index after the value starting at b[i], len(b)+1
// when b ends inside it.
func endOfValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b) + 1
	}
	switch b[i] {
	case '"':
		return endOfString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = endOfString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return len(b) + 1
	}
	for j := i; j < len(b); j++ {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
	}
	return len(b)
}

// unquote decodes a JSON string token.
func unquote(raw []byte) (string, bool) {
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}
