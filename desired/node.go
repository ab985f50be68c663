package desired

import (
	"bytes"
	"errors"
	"fmt"
	"io"
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

// clip shortens user input echoed in messages.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 100 {
		return s
	}
	return string([]rune(s)[:100]) + "…"
}
