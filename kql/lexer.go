package kql

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies a lexical token. KQL keywords are contextual (a column
// may be called "project"), so keywords are identifiers and the parser decides.
type tokenKind uint8

const (
	tokEOF      tokenKind = iota
	tokIdent              // name, $left, hyphenated operator names such as project-away
	tokString             // any string literal; val holds the decoded text
	tokInt                // 123, 0x1f
	tokReal               // 1.5, 1e3
	tokTimespan           // 2d, 1.5h, 10ms
	tokRawLit             // datetime(...), timespan(...), guid(...) etc.: val is the text inside the parentheses, name in raw
	tokPunct              // operators and punctuation; val is the text
	tokError              // a lexical error; val is the message
)

// token is one positioned lexeme. pos and end are byte offsets in the query.
type token struct {
	kind tokenKind
	val  string // decoded value (strings unescaped) or the punctuation text
	raw  string // source text as written (for literals: exactly as typed)
	pos  int
	end  int
}

// hyphenated lists the tabular operator names that contain a hyphen. The lexer
// joins them into one identifier so that "project-away" is not parsed as a
// subtraction.
var hyphenated = []string{
	"project-away", "project-keep", "project-rename", "project-reorder", "project-smart",
	"mv-expand", "mv-apply", "make-series", "parse-where", "parse-kv", "top-nested",
	"top-hitters", "sample-distinct", "partition-by",
}

// rawLiteralNames are the literal "functions" whose argument is raw text and not
// an expression: datetime(2015-12-31 23:59:59.9) cannot be tokenized normally.
var rawLiteralNames = map[string]bool{
	"datetime": true, "date": true, "timespan": true, "time": true, "guid": true,
	"int": true, "long": true, "real": true, "double": true, "bool": true, "boolean": true, "decimal": true,
}

// timespanUnits maps a literal suffix to its length in ticks (100 ns).
var timespanUnits = map[string]int64{
	"d": ticksPerDay, "day": ticksPerDay, "days": ticksPerDay,
	"h": ticksPerHour, "hr": ticksPerHour, "hrs": ticksPerHour, "hour": ticksPerHour, "hours": ticksPerHour,
	"m": ticksPerMinute, "min": ticksPerMinute, "minute": ticksPerMinute, "minutes": ticksPerMinute,
	"s": ticksPerSecond, "sec": ticksPerSecond, "second": ticksPerSecond, "seconds": ticksPerSecond,
	"ms": ticksPerMilli, "milli": ticksPerMilli, "millis": ticksPerMilli, "millisecond": ticksPerMilli, "milliseconds": ticksPerMilli,
	"microsecond": 10, "microseconds": 10, "micro": 10, "micros": 10,
	"tick": 1, "ticks": 1,
}

// lexer turns query text into tokens on demand.
type lexer struct {
	src string
	pos int
}

// isSpace reports whether r separates tokens. Besides Unicode white space
// (which includes NBSP U+00A0 and narrow NBSP U+202F, found in real ARG
// queries copied from web pages) zero-width characters are skipped too.
func isSpace(r rune) bool {
	switch r {
	case '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF':
		return true
	}
	return unicode.IsSpace(r)
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func (l *lexer) skipSpaceAndComments() {
	for l.pos < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.pos:])
		if isSpace(r) {
			l.pos += n
			continue
		}
		if strings.HasPrefix(l.src[l.pos:], "//") {
			i := strings.IndexByte(l.src[l.pos:], '\n')
			if i < 0 {
				l.pos = len(l.src)
			} else {
				l.pos += i + 1
			}
			continue
		}
		return
	}
}

// next returns the next token.
func (l *lexer) next() token {
	l.skipSpaceAndComments()
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start, end: start}
	}
	c := l.src[l.pos]
	r, n := utf8.DecodeRuneInString(l.src[l.pos:])
	switch {
	case c == '\'' || c == '"':
		return l.quoted(start, false)
	case c == '`' && strings.HasPrefix(l.src[l.pos:], "```"):
		end := strings.Index(l.src[l.pos+3:], "```")
		if end < 0 {
			l.pos = len(l.src)
			return l.errorf(start, "unterminated multi-line string literal")
		}
		val := l.src[l.pos+3 : l.pos+3+end]
		l.pos += 3 + end + 3
		return token{kind: tokString, val: val, raw: l.src[start:l.pos], pos: start, end: l.pos}
	case c == '@' && l.pos+1 < len(l.src) && (l.src[l.pos+1] == '\'' || l.src[l.pos+1] == '"'):
		l.pos++
		return l.quoted(start, true)
	case (c == 'h' || c == 'H') && l.pos+1 < len(l.src) && (l.src[l.pos+1] == '\'' || l.src[l.pos+1] == '"'):
		// h'...' is an obfuscated string literal: same value, hidden from logs.
		l.pos++
		return l.quoted(start, false)
	case (c == 'h' || c == 'H') && l.pos+2 < len(l.src) && l.src[l.pos+1] == '@' && (l.src[l.pos+2] == '\'' || l.src[l.pos+2] == '"'):
		l.pos += 2
		return l.quoted(start, true)
	case c >= '0' && c <= '9' || c == '.' && l.pos+1 < len(l.src) && l.src[l.pos+1] >= '0' && l.src[l.pos+1] <= '9':
		return l.number(start)
	case c == '$' && l.pos+1 < len(l.src):
		r2, _ := utf8.DecodeRuneInString(l.src[l.pos+1:])
		if isIdentStart(r2) {
			l.pos++
			return l.ident(start)
		}
	case isIdentStart(r):
		return l.ident(start)
	}
	// Punctuation, longest match first.
	for _, p := range punctuation {
		if strings.HasPrefix(l.src[l.pos:], p) {
			l.pos += len(p)
			return token{kind: tokPunct, val: p, raw: p, pos: start, end: l.pos}
		}
	}
	l.pos += n
	if r == utf8.RuneError && n == 1 {
		return l.errorf(start, "invalid UTF-8 in query text")
	}
	return l.errorf(start, "unexpected character %q", r)
}

var punctuation = []string{
	"==", "!=", "<>", "<=", ">=", "=~", "!~", "=>",
	"|", ",", "(", ")", "[", "]", "{", "}", ".", ";", "=", "<", ">", "+", "-", "*", "/", "%", ":", "!", "~", "?", "@",
}

func (l *lexer) errorf(start int, format string, args ...any) token {
	if l.pos <= start {
		l.pos = start + 1
	}
	return token{kind: tokError, val: sprintf(format, args...), pos: start, end: l.pos}
}

func (l *lexer) ident(start int) token {
	for l.pos < len(l.src) {
		r, n := utf8.DecodeRuneInString(l.src[l.pos:])
		if !isIdentPart(r) {
			break
		}
		l.pos += n
	}
	word := l.src[start:l.pos]
	// Join hyphenated operator names (project-away, mv-expand, ...).
	if l.pos < len(l.src) && l.src[l.pos] == '-' {
		for _, h := range hyphenated {
			if len(h) > len(word) && strings.EqualFold(h[:len(word)+1], word+"-") && hasPrefixFold(l.src[start:], h) {
				end := start + len(h)
				if end == len(l.src) || !isIdentPartAt(l.src, end) {
					l.pos = end
					word = l.src[start:end]
					break
				}
			}
		}
	}
	if rawLiteralNames[word] {
		// datetime(...) and friends: take the raw text up to the closing
		// parenthesis. Spaces between the name and "(" are allowed.
		save := l.pos
		l.skipSpaceAndComments()
		if l.pos < len(l.src) && l.src[l.pos] == '(' {
			depth, i := 0, l.pos
			for ; i < len(l.src); i++ {
				if l.src[i] == '(' {
					depth++
				} else if l.src[i] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if i >= len(l.src) {
				l.pos = len(l.src)
				return l.errorf(start, "missing ')' after %s(", word)
			}
			inner := l.src[l.pos+1 : i]
			l.pos = i + 1
			return token{kind: tokRawLit, val: strings.TrimSpace(inner), raw: word, pos: start, end: l.pos}
		}
		l.pos = save
	}
	return token{kind: tokIdent, val: word, raw: word, pos: start, end: l.pos}
}

func isIdentPartAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isIdentPart(r)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (l *lexer) number(start int) token {
	s := l.src
	isReal := false
	if strings.HasPrefix(s[l.pos:], "0x") || strings.HasPrefix(s[l.pos:], "0X") {
		l.pos += 2
		for l.pos < len(s) && isHexDigit(s[l.pos]) {
			l.pos++
		}
		return token{kind: tokInt, val: s[start:l.pos], raw: s[start:l.pos], pos: start, end: l.pos}
	}
	for l.pos < len(s) && isDigit(s[l.pos]) {
		l.pos++
	}
	if l.pos < len(s) && s[l.pos] == '.' && l.pos+1 < len(s) && isDigit(s[l.pos+1]) {
		isReal = true
		l.pos++
		for l.pos < len(s) && isDigit(s[l.pos]) {
			l.pos++
		}
	} else if l.pos < len(s) && s[l.pos] == '.' && (l.pos+1 == len(s) || !isIdentPartAt(s, l.pos+1) && s[l.pos+1] != '[' && s[l.pos+1] != '.') {
		// "1." is a real.
		isReal = true
		l.pos++
	}
	if l.pos < len(s) && (s[l.pos] == 'e' || s[l.pos] == 'E') {
		j := l.pos + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			isReal = true
			l.pos = j
		}
	}
	numEnd := l.pos
	// A unit suffix makes a timespan literal: 2d, 1.5h, 100ms.
	if l.pos < len(s) && isIdentStartAt(s, l.pos) {
		j := l.pos
		for j < len(s) && isIdentPartAt(s, j) {
			_, n := utf8.DecodeRuneInString(s[j:])
			j += n
		}
		unit := strings.ToLower(s[l.pos:j])
		if _, ok := timespanUnits[unit]; ok {
			l.pos = j
			return token{kind: tokTimespan, val: s[start:numEnd] + unit, raw: s[start:j], pos: start, end: j}
		}
		l.pos = j
		return l.errorf(start, "invalid number or timespan literal %q", s[start:j])
	}
	kind := tokInt
	if isReal {
		kind = tokReal
	}
	return token{kind: kind, val: s[start:l.pos], raw: s[start:l.pos], pos: start, end: l.pos}
}

func isIdentStartAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return isIdentStart(r)
}

func isDigit(c byte) bool    { return c >= '0' && c <= '9' }
func isHexDigit(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// quoted scans a string literal whose opening quote is at l.pos. Verbatim
// strings (@'...') take backslashes literally and escape the quote by
// doubling it; regular strings use backslash escapes.
func (l *lexer) quoted(start int, verbatim bool) token {
	q := l.src[l.pos]
	l.pos++
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == q:
			if verbatim && l.pos+1 < len(l.src) && l.src[l.pos+1] == q {
				b.WriteByte(q)
				l.pos += 2
				continue
			}
			l.pos++
			return token{kind: tokString, val: b.String(), raw: l.src[start:l.pos], pos: start, end: l.pos}
		case c == '\n' && !verbatim:
			return l.errorf(start, "unterminated string literal")
		case c == '\\' && !verbatim:
			if l.pos+1 >= len(l.src) {
				l.pos = len(l.src)
				return l.errorf(start, "unterminated string literal")
			}
			e := l.src[l.pos+1]
			l.pos += 2
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '\\', '\'', '"', '/':
				b.WriteByte(e)
			case 'u':
				if l.pos+4 > len(l.src) {
					return l.errorf(start, "invalid \\u escape in string literal")
				}
				r, ok := parseHex(l.src[l.pos : l.pos+4])
				if !ok {
					return l.errorf(start, "invalid \\u escape in string literal")
				}
				l.pos += 4
				b.WriteRune(rune(r))
			default:
				return l.errorf(start, "invalid escape sequence \\%c in string literal", e)
			}
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	return l.errorf(start, "unterminated string literal")
}

func parseHex(s string) (int64, bool) {
	var v int64
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case isDigit(c):
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		v = v*16 + int64(d)
	}
	return v, true
}
