package desired

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// path names a field for problems: exemptions[3].metadata.team. It is a
// function so that the string is built only when a problem is reported;
// most values have none, and a large file would otherwise build a path
// for every value it reads. Callers pass closures down, never return
// them, so that they stay on the stack.
type path func() string

// reader turns YAML nodes into values, collecting problems.
type reader struct {
	file string
	// yaml is false for JSON files: there a number or boolean where a
	// string is expected is a mistake, while in YAML an unquoted 42 or
	// 2027-01-31 is the text the author typed.
	yaml  bool
	probs *Problems
	trail []step // toJSON's place below the field it converts
}

func (r *reader) pos(n *yaml.Node) Pos {
	return Pos{File: r.file, Line: n.Line, Column: n.Column}
}

func (r *reader) add(n *yaml.Node, field, code, format string, args ...any) {
	r.probs.add(r.pos(n), field, code, format, args...)
}

// decodeYAML parses one YAML document. It returns nil after reporting a
// problem, or for an empty document (which the caller reports).
func (r *reader) decodeYAML(data []byte) (doc *yaml.Node, empty bool) {
	var first, second yaml.Node
	err := safeDecode(data, &first, &second)
	switch {
	case errors.Is(err, errEmpty):
		return nil, true
	case errors.Is(err, errSecond):
		r.add(&second, "", CodeUnsupportedYAML, "The file has more than one YAML document; put all exemptions in one.")
		return nil, false
	case err != nil:
		line, msg := yamlErrorLine(err)
		r.probs.add(Pos{File: r.file, Line: line}, "", CodeInvalidYAML, "The file is not valid YAML: %s.", msg)
		return nil, false
	}
	if len(first.Content) == 0 {
		return nil, true
	}
	return first.Content[0], false
}

var (
	errEmpty  = errors.New("empty")
	errSecond = errors.New("second document")
)

// safeDecode decodes the first document into first and reports whether a
// second follows. The parser is not ours: should it panic on some input,
// that input is reported as invalid rather than crashing the CLI.
func safeDecode(data []byte, first, second *yaml.Node) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("yaml: %v", v)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(first); err != nil {
		if err == io.EOF {
			return errEmpty
		}
		return err
	}
	switch err := dec.Decode(second); {
	case err == io.EOF:
		return nil
	case err != nil:
		return err
	}
	return errSecond
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlErrorLine extracts the line from a parser error. The YAML parser
// prints the 1-based line for scanner errors and the 0-based one for
// parser errors ("did not find expected …" and a few others), and no line
// at all when that number is 0; this undoes both.
func yamlErrorLine(err error) (int, string) {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	for _, p := range []string{"did not find expected", "found duplicate %", "found incompatible YAML", "found undefined tag"} {
		if strings.HasPrefix(msg, p) {
			line++
			break
		}
	}
	return max(line, 1), msg
}

// str reads a string value; ok is false after a problem, null true for an
// absent (null) value.
func (r *reader) str(n *yaml.Node, field path) (s string, ok, null bool) {
	if n.Kind == yaml.AliasNode {
		r.alias(n, field)
		return "", false, false
	}
	if n.Kind != yaml.ScalarNode {
		r.add(n, field(), CodeWrongType, "%s must be a string, not %s.", leaf(field()), describe(n))
		return "", false, false
	}
	if quoted(n) {
		return n.Value, true, false
	}
	switch n.ShortTag() {
	case "!!null":
		return "", false, true
	case "!!str":
		return n.Value, true, false
	case "!!int", "!!float", "!!bool", "!!timestamp":
		if r.yaml {
			return n.Value, true, false
		}
	}
	r.add(n, field(), CodeWrongType, "%s must be a string, not %s.", leaf(field()), describe(n))
	return "", false, false
}

// leaf is the last name of a field path: expiresOn in exemptions[3].expiresOn.
func leaf(field string) string {
	return field[strings.LastIndexByte(field, '.')+1:]
}

func (r *reader) alias(n *yaml.Node, field path) {
	r.add(n, field(), CodeUnsupportedYAML, "YAML aliases (*%s) are not supported; write the value out, or use defaults.", n.Value)
}

func quoted(n *yaml.Node) bool {
	return n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && !quoted(n) && n.ShortTag() == "!!null"
}

// describe names the type of a node for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if quoted(n) {
		return "a string"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!bool":
		return "a boolean"
	case "!!int", "!!float":
		return "a number"
	case "!!str":
		return "a string"
	case "!!timestamp":
		return "a date"
	}
	return "a value tagged " + n.Tag
}

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

// clip shortens user input echoed in messages.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 100 {
		return s
	}
	return string([]rune(s)[:100]) + "…"
}
