package desired

import (
	"math"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// toJSON appends n as compact JSON, keeping the key order. Keys must be
// unique; values must be representable in JSON.
func (r *reader) toJSON(b []byte, n *yaml.Node, field path) ([]byte, bool) {
	r.trail = r.trail[:0]
	return r.jsonValue(b, n, field)
}

// step is one step below a field: a key, or a list index when key is "".
type step struct {
	key string
	i   int
}

// where is the path of the value toJSON is at: field, then the trail.
func (r *reader) where(field path) string {
	s := field()
	for _, st := range r.trail {
		if st.key == "" {
			s = index(s, st.i)
		} else {
			s += "." + st.key
		}
	}
	return s
}

func (r *reader) jsonValue(b []byte, n *yaml.Node, field path) ([]byte, bool) {
	here := func() string { return r.where(field) }
	switch n.Kind {
	case yaml.MappingNode:
		b = append(b, '{')
		var seen keySet
		ok, first := true, true
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				r.add(k, here(), CodeWrongType, "The keys of %s must be strings, not %s.", leaf(here()), describe(k))
				ok = false
				continue
			}
			r.trail = append(r.trail, step{key: k.Value})
			if prev := seen.add(k.Value, k); prev != nil {
				r.add(k, here(), CodeDuplicateField, "'%s' is given twice; the first is at %s.", k.Value, r.pos(prev))
				ok = false
			} else {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = appendString(b, k.Value)
				b = append(b, ':')
				var vok bool
				b, vok = r.jsonValue(b, v, field)
				ok = ok && vok
			}
			r.trail = r.trail[:len(r.trail)-1]
		}
		return append(b, '}'), ok
	case yaml.SequenceNode:
		b = append(b, '[')
		ok := true
		for i, v := range n.Content {
			if i > 0 {
				b = append(b, ',')
			}
			r.trail = append(r.trail, step{i: i})
			var vok bool
			b, vok = r.jsonValue(b, v, field)
			ok = ok && vok
			r.trail = r.trail[:len(r.trail)-1]
		}
		return append(b, ']'), ok
	case yaml.AliasNode:
		r.alias(n, here)
		return b, false
	case yaml.ScalarNode:
		return r.scalarJSON(b, n, here)
	}
	r.add(n, here(), CodeWrongType, "%s has a value that is not JSON.", leaf(here()))
	return b, false
}

// scalarJSON appends one scalar. Numbers keep their spelling when it is
// JSON's (so 1e400 and 20-digit integers survive); YAML-only spellings
// such as 0x1F are converted.
func (r *reader) scalarJSON(b []byte, n *yaml.Node, field path) ([]byte, bool) {
	v := n.Value
	if quoted(n) {
		return appendString(b, v), true
	}
	switch n.ShortTag() {
	case "!!null":
		return append(b, "null"...), true
	case "!!bool":
		var t bool
		if err := n.Decode(&t); err == nil {
			return strconv.AppendBool(b, t), true
		}
	case "!!int", "!!float":
		if isJSONNumber(v) {
			return append(b, v...), true
		}
		var x any
		if err := n.Decode(&x); err == nil {
			switch x := x.(type) {
			case int:
				return strconv.AppendInt(b, int64(x), 10), true
			case int64:
				return strconv.AppendInt(b, x, 10), true
			case uint64:
				return strconv.AppendUint(b, x, 10), true
			case float64:
				if !math.IsInf(x, 0) && !math.IsNaN(x) {
					return strconv.AppendFloat(b, x, 'g', -1, 64), true
				}
			}
		}
		r.add(n, field(), CodeWrongType, "%s is the number %s, which JSON cannot represent.", leaf(field()), clip(v))
		return b, false
	case "!!str":
		// A plain 1e400 is a string to YAML (it overflows a float64) but
		// a number to JSON, whose numbers have no range.
		if isJSONNumber(v) {
			return append(b, v...), true
		}
		return appendString(b, v), true
	case "!!timestamp", "!!binary":
		return appendString(b, v), true
	}
	r.add(n, field(), CodeWrongType, "%s is %s, which JSON cannot represent.", leaf(field()), describe(n))
	return b, false
}

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// appendString appends s as a JSON string. Unlike encoding/json it leaves
// <, > and & alone: this JSON is read by people and by posture, never
// embedded in HTML.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
	}
	return append(b, '"')
}
