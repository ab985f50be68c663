package match

import (
	"strings"
	"unicode/utf8"
)

// MarshalJSON writes the canonical JSON of the filter (docs §17): parsing
// it gives back the same filter and the same JSON.
func (f *Filter) MarshalJSON() ([]byte, error) {
	if f == nil || f.root == nil {
		return []byte("null"), nil
	}
	return f.root.appendJSON(nil), nil
}

func (n *node) appendJSON(b []byte) []byte {
	switch n.kind {
	case kindAllOf, kindAnyOf:
		name := "allOf"
		if n.kind == kindAnyOf {
			name = "anyOf"
		}
		b = append(b, `{"`+name+`":[`...)
		for i, k := range n.kids {
			if i > 0 {
				b = append(b, ',')
			}
			b = k.appendJSON(b)
		}
		return append(b, "]}"...)
	case kindNot:
		b = append(b, `{"not":`...)
		return append(n.kids[0].appendJSON(b), '}')
	}
	b = append(b, `{"field":`...)
	b = appendJSONString(b, n.fieldString())
	b = append(b, `,"`+opNames[n.op]+`":`...)
	switch n.op.positive() {
	case opExists:
		if n.exists {
			b = append(b, "true"...)
		} else {
			b = append(b, "false"...)
		}
	case opIn:
		b = append(b, '[')
		for i, v := range n.values {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, v)
		}
		b = append(b, ']')
	default:
		b = appendJSONString(b, n.value)
	}
	return append(b, '}')
}

// appendJSONString escapes only what JSON requires, and U+2028 and U+2029
// for JavaScript, so that stored filters stay readable (docs §17). Strings
// come from decoded JSON, so they are valid UTF-8.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[r>>4], hex[r&0xf])
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// fieldString is the canonical spelling of the leaf's field.
func (n *node) fieldString() string {
	if n.field == fieldTag {
		return "tags['" + n.tag + "']"
	}
	return fieldNames[n.field]
}

// String returns the filter on one line, for people (docs §17).
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	var sb strings.Builder
	f.root.format(&sb, false)
	return sb.String()
}

// format writes n; nested is whether it is inside another condition,
// where allOf and anyOf need parentheses.
func (n *node) format(sb *strings.Builder, nested bool) {
	switch n.kind {
	case kindAllOf, kindAnyOf:
		sep := " and "
		if n.kind == kindAnyOf {
			sep = " or "
		}
		if nested {
			sb.WriteByte('(')
		}
		for i, k := range n.kids {
			if i > 0 {
				sb.WriteString(sep)
			}
			k.format(sb, true)
		}
		if nested {
			sb.WriteByte(')')
		}
	case kindNot:
		sb.WriteString("not (")
		n.kids[0].format(sb, false)
		sb.WriteByte(')')
	default:
		sb.WriteString(n.leafString())
	}
}

func (n *node) leafString() string {
	s := n.fieldString() + " " + opNames[n.op] + " "
	switch n.op.positive() {
	case opExists:
		if n.exists {
			return s + "true"
		}
		return s + "false"
	case opIn:
		items := make([]string, len(n.values))
		for i, v := range n.values {
			items[i] = bare(v)
		}
		return s + "[" + strings.Join(items, ", ") + "]"
	}
	return s + quote(n.value)
}

// quote single-quotes s, doubling quotes inside.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// bare leaves s unquoted when that cannot be misread in a list.
func bare(s string) string {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_.:/@", r))
	}) {
		return quote(s)
	}
	return s
}
