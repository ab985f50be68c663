package kql

import (
	"strings"
	"unicode/utf8"
)

// ParseOptions select the dialect.
type ParseOptions struct {
	// Superset accepts KQL that Azure Resource Graph rejects but posture can
	// run: let statements. The default (false) is strict ARG mode, where a
	// let statement is an UnsupportedLetStatement error.
	Superset bool
	// DefaultTable is read by a query that starts with an operator
	// ("where type =~ 'x'"). Empty means "Resources".
	DefaultTable string
}

// MaxQueryLength bounds the query text; ARG's own limit is not documented,
// this keeps pathological inputs cheap to reject.
const MaxQueryLength = 1 << 20

const maxParseErrors = 10
const maxNesting = 200

// Parse parses a query. On failure it returns an *Error whose Details list
// every error found (the parser recovers at the next "|" or ";").
func Parse(text string, opts ParseOptions) (q *Query, err error) {
	if len(text) > MaxQueryLength {
		return nil, newError(CodeParserFailure, "query is longer than %d bytes", MaxQueryLength)
	}
	if !utf8.ValidString(text) {
		// Queries arrive in JSON, which cannot carry invalid UTF-8; rejecting
		// it here keeps literals printable exactly.
		return nil, newError(CodeParserFailure, "query text is not valid UTF-8")
	}
	p := &parser{lex: lexer{src: text}, src: text, opts: opts}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(parseBailout); ok {
				q, err = nil, p.result()
				return
			}
			q, err = nil, newError(CodeInternal, "internal error while parsing: %v", r)
		}
	}()
	p.advance()
	q = p.parseQuery()
	if len(p.errs) > 0 {
		return nil, p.result()
	}
	q.text = text
	return q, nil
}

// parseBailout unwinds the parser when it cannot continue (too many errors
// or too deep nesting).
type parseBailout struct{}

type parser struct {
	lex   lexer
	src   string
	tok   token
	prev  token
	ahead []token
	errs  []*Error
	depth int
	opts  ParseOptions
}

func (p *parser) result() error {
	if len(p.errs) == 0 {
		return newError(CodeInternal, "parser stopped without an error")
	}
	first := *p.errs[0]
	first.Details = p.errs
	return &first
}

// advance moves to the next token.
func (p *parser) advance() {
	p.prev = p.tok
	if len(p.ahead) > 0 {
		p.tok = p.ahead[0]
		p.ahead = p.ahead[1:]
	} else {
		p.tok = p.lex.next()
	}
	if p.tok.kind == tokError {
		p.errorAt(p.tok.pos, CodeParserFailure, "%s", p.tok.val)
		p.advance()
	}
}

// peek returns the token n positions after the current one (n >= 1).
func (p *parser) peek(n int) token {
	for len(p.ahead) < n {
		// Error tokens stay in the buffer: advance reports them when they
		// become current.
		p.ahead = append(p.ahead, p.lex.next())
	}
	return p.ahead[n-1]
}

func (p *parser) errorAt(pos int, code Code, format string, args ...any) {
	p.errs = append(p.errs, positioned(p.src, pos, code, format, args...))
	if len(p.errs) >= maxParseErrors {
		panic(parseBailout{})
	}
}

// fail records an error at the current token and unwinds to the nearest
// recovery point.
func (p *parser) fail(format string, args ...any) {
	p.errorAt(p.tok.pos, CodeParserFailure, format, args...)
	panic(operatorError{})
}

func (p *parser) failCode(code Code, format string, args ...any) {
	p.errorAt(p.tok.pos, code, format, args...)
	panic(operatorError{})
}

// operatorError unwinds to the operator loop, which skips to the next "|".
type operatorError struct{}

func (p *parser) isPunct(s string) bool { return p.tok.kind == tokPunct && p.tok.val == s }

// isWord reports whether the current token is the keyword w (keywords are
// case-sensitive in KQL, but ARG samples use them in lower case only).
func (p *parser) isWord(w string) bool { return p.tok.kind == tokIdent && p.tok.val == w }

func (p *parser) expectPunct(s string) token {
	if !p.isPunct(s) {
		p.fail("expected %q, found %s", s, p.describe())
	}
	t := p.tok
	p.advance()
	return t
}

func (p *parser) expectWord(w string) {
	if !p.isWord(w) {
		p.fail("expected %q, found %s", w, p.describe())
	}
	p.advance()
}

func (p *parser) describe() string {
	switch p.tok.kind {
	case tokEOF:
		return "end of query"
	case tokString:
		return "string literal"
	}
	t := p.src[p.tok.pos:p.tok.end]
	if len(t) > 40 {
		t = t[:40] + "…"
	}
	return "'" + t + "'"
}

func (p *parser) enter() {
	p.depth++
	if p.depth > maxNesting {
		p.errorAt(p.tok.pos, CodeParserFailure, "query nests deeper than %d levels", maxNesting)
		panic(parseBailout{})
	}
}
func (p *parser) leave() { p.depth-- }

// skipToRecovery skips tokens to the next top-level "|", ";" or ")" that
// closes the current nesting.
func (p *parser) skipToRecovery() {
	depth := 0
	for p.tok.kind != tokEOF {
		if p.tok.kind == tokPunct {
			switch p.tok.val {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				if depth == 0 {
					return
				}
				depth--
			case "|", ";":
				if depth == 0 {
					return
				}
			}
		}
		p.advance()
	}
}

func (p *parser) parseQuery() *Query {
	q := &Query{}
	for p.isWord("let") {
		if let := p.parseLet(); let != nil {
			q.Lets = append(q.Lets, let)
		}
		if p.isPunct(";") {
			p.advance()
		} else {
			p.errorAt(p.tok.pos, CodeParserFailure, "expected ';' after let statement, found %s", p.describe())
			p.skipToRecovery()
			if p.isPunct(";") {
				p.advance()
			}
		}
	}
	if p.tok.kind == tokEOF {
		p.errorAt(p.tok.pos, CodeParserFailure, "query has no tabular expression")
		return q
	}
	q.Body = p.parsePipeline(true)
	for p.isPunct(";") {
		p.advance()
	}
	if p.tok.kind != tokEOF {
		p.errorAt(p.tok.pos, CodeParserFailure, "unexpected %s after the end of the query", p.describe())
	}
	return q
}

func (p *parser) parseLet() (let *LetStmt) {
	pos := p.tok.pos
	if !p.opts.Superset {
		p.errorAt(pos, CodeUnsupportedLet, "let statements are not supported by Azure Resource Graph; enable the superset dialect to use them")
	}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(operatorError); !ok {
				panic(r)
			}
			let = nil
			p.skipToRecovery()
		}
	}()
	p.advance()
	if p.tok.kind != tokIdent {
		p.fail("expected a name after let, found %s", p.describe())
	}
	let = &LetStmt{P: Pos(pos), Name: p.tok.val}
	p.advance()
	p.expectPunct("=")
	if p.looksTabular() {
		let.Tabular = p.parsePipeline(false)
	} else {
		let.Scalar = p.parseExpr()
	}
	return let
}

// looksTabular decides whether a let value is a tabular expression: it
// starts with datatable/union, or contains a top-level "|" before ";".
func (p *parser) looksTabular() bool {
	if p.isWord("datatable") || p.isWord("union") {
		return true
	}
	depth := 0
	for i := 0; ; i++ {
		t := p.tok
		if i > 0 {
			t = p.peek(i)
		}
		if t.kind == tokEOF {
			return false
		}
		if t.kind == tokPunct {
			switch t.val {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
			case "|":
				if depth <= 0 {
					return true
				}
			case ";":
				if depth <= 0 {
					return false
				}
			}
		}
	}
}

// operatorKeywords start a pipeline stage; a query starting with one reads
// the default table.
var operatorKeywords = map[string]bool{
	"where": true, "filter": true, "extend": true, "project": true, "project-away": true, "project-keep": true,
	"project-rename": true, "project-reorder": true, "summarize": true, "count": true, "distinct": true,
	"take": true, "limit": true, "order": true, "sort": true, "top": true, "join": true, "mv-expand": true,
	"mvexpand": true, "parse": true, "union": true,
}

// unsupportedOperators are valid KQL operators posture does not implement.
var unsupportedOperators = map[string]bool{
	"evaluate": true, "render": true, "lookup": true, "mv-apply": true, "make-series": true, "sample": true,
	"sample-distinct": true, "serialize": true, "as": true, "getschema": true, "facet": true, "fork": true,
	"invoke": true, "search": true, "find": true, "top-nested": true, "top-hitters": true, "parse-where": true,
	"parse-kv": true, "project-smart": true, "partition": true, "scan": true, "print": true, "range": true,
	"externaldata": true, "consume": true, "reduce": true, "partition-by": true, "materialize": true,
}

func (p *parser) parsePipeline(topLevel bool) *Pipeline {
	p.enter()
	defer p.leave()
	pl := &Pipeline{P: Pos(p.tok.pos)}
	if p.tok.kind == tokIdent && operatorKeywords[p.tok.val] && p.tok.val != "union" {
		next := p.peek(1)
		implicit := p.tok.val == "count" || !(next.kind == tokPunct && (next.val == "|" || next.val == ";" || next.val == ")")) && next.kind != tokEOF
		if implicit {
			name := p.opts.DefaultTable
			if name == "" {
				name = "Resources"
			}
			pl.Source = &TableRef{P: Pos(p.tok.pos), Name: name, Implicit: true}
			if op := p.parseOperatorRecovering(); op != nil {
				pl.Ops = append(pl.Ops, op)
			}
		}
	}
	if pl.Source == nil {
		pl.Source = p.parseSource()
	}
	for p.isPunct("|") {
		p.advance()
		if op := p.parseOperatorRecovering(); op != nil {
			pl.Ops = append(pl.Ops, op)
		}
	}
	return pl
}

func (p *parser) parseSource() (src Source) {
	pos := Pos(p.tok.pos)
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(operatorError); !ok {
				panic(r)
			}
			p.skipToRecovery()
			src = &TableRef{P: pos, Name: "?"}
		}
	}()
	switch {
	case p.isPunct("("):
		p.advance()
		inner := p.parsePipeline(false)
		p.expectPunct(")")
		return &ParenSource{P: pos, Inner: inner}
	case p.isWord("datatable"):
		return p.parseDatatable()
	case p.isWord("union"):
		return &UnionSource{P: pos, Union: p.parseUnion()}
	case p.isPunct("["):
		name := p.parseBracketName()
		return &TableRef{P: pos, Name: name}
	case p.tok.kind == tokIdent:
		if unsupportedOperators[p.tok.val] {
			p.failCode(CodeUnsupportedOperator, "the %s operator is not supported", p.tok.val)
		}
		name := p.tok.val
		if strings.HasPrefix(name, "$") {
			p.fail("unexpected %s", p.describe())
		}
		p.advance()
		return &TableRef{P: pos, Name: name}
	}
	p.fail("expected a table name or tabular expression, found %s", p.describe())
	return nil
}

// parseBracketName parses ['name'] or ["name"].
func (p *parser) parseBracketName() string {
	p.expectPunct("[")
	if p.tok.kind != tokString {
		p.fail("expected a quoted name inside [ ], found %s", p.describe())
	}
	name := p.tok.val
	p.advance()
	p.expectPunct("]")
	return name
}

// parseName parses an identifier or a bracketed name.
func (p *parser) parseName() string {
	if p.isPunct("[") {
		return p.parseBracketName()
	}
	if p.tok.kind != tokIdent {
		p.fail("expected a name, found %s", p.describe())
	}
	n := p.tok.val
	p.advance()
	return n
}

func (p *parser) parseDatatable() *DatatableSource {
	d := &DatatableSource{P: Pos(p.tok.pos)}
	p.advance()
	p.expectPunct("(")
	for !p.isPunct(")") {
		name := p.parseName()
		p.expectPunct(":")
		d.Columns = append(d.Columns, ColumnDecl{Name: name, Type: p.parseTypeName()})
		if !p.isPunct(",") {
			break
		}
		p.advance()
	}
	p.expectPunct(")")
	p.expectPunct("[")
	for !p.isPunct("]") {
		d.Values = append(d.Values, p.parseExpr())
		if !p.isPunct(",") {
			break
		}
		p.advance()
	}
	p.expectPunct("]")
	if len(d.Columns) == 0 {
		p.errorAt(int(d.P), CodeParserFailure, "datatable needs at least one column")
	}
	return d
}

func (p *parser) parseTypeName() Type {
	if p.tok.kind != tokIdent {
		p.fail("expected a type name, found %s", p.describe())
	}
	t, ok := parseTypeName(p.tok.val)
	if !ok {
		p.fail("unknown type %q", p.tok.val)
	}
	p.advance()
	return t
}
