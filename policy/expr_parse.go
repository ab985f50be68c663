package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// The template expression language: a JSON string "[f(x, 'y').p[0]]" is an
// expression, "[[...]" escapes a literal that starts with "[". This file holds
// the lexer and the recursive-descent parser; expr_eval.go evaluates.

// maxExprDepth bounds nesting (Azure's limit is 64 nested functions); it also
// keeps the parser's recursion safe on hostile input.
const maxExprDepth = 64

// maxExprLength is Azure's limit on the length of one expression string.
const maxExprLength = 81920

// isExpression reports whether a JSON string is a template expression.
func isExpression(s string) bool {
	return len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' && !strings.HasPrefix(s, "[[")
}

// unescapeLiteral turns "[[x]" into "[x]"; other strings are returned as is.
func unescapeLiteral(s string) string {
	if strings.HasPrefix(s, "[[") {
		return s[1:]
	}
	return s
}

type tokenKind int

const (
	tokEOF tokenKind = iota
	tokIdent
	tokString
	tokNumber
	tokLParen
	tokRParen
	tokComma
	tokDot
	tokLBracket
	tokRBracket
)

func (k tokenKind) String() string {
	return [...]string{"end of expression", "identifier", "string", "number", "'('", "')'", "','", "'.'", "'['", "']'"}[k]
}

type token struct {
	kind tokenKind
	pos  int // byte offset in the expression body
	text string
	num  float64
}

type exprLexer struct {
	src string
	pos int
}

func (l *exprLexer) next() (token, error) {
	for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n' || l.src[l.pos] == '\r') {
		l.pos++
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch c {
	case '(':
		l.pos++
		return token{kind: tokLParen, pos: start}, nil
	case ')':
		l.pos++
		return token{kind: tokRParen, pos: start}, nil
	case ',':
		l.pos++
		return token{kind: tokComma, pos: start}, nil
	case '.':
		l.pos++
		return token{kind: tokDot, pos: start}, nil
	case '[':
		l.pos++
		return token{kind: tokLBracket, pos: start}, nil
	case ']':
		l.pos++
		return token{kind: tokRBracket, pos: start}, nil
	case '\'':
		var b strings.Builder
		l.pos++
		for {
			if l.pos >= len(l.src) {
				return token{}, fmt.Errorf("unterminated string starting at position %d", start)
			}
			ch := l.src[l.pos]
			if ch == '\'' {
				if l.pos+1 < len(l.src) && l.src[l.pos+1] == '\'' {
					b.WriteByte('\'')
					l.pos += 2
					continue
				}
				l.pos++
				return token{kind: tokString, pos: start, text: b.String()}, nil
			}
			b.WriteByte(ch)
			l.pos++
		}
	}
	if c == '-' || c == '+' || (c >= '0' && c <= '9') {
		j := l.pos + 1
		for j < len(l.src) && (l.src[j] >= '0' && l.src[j] <= '9' || l.src[j] == '.') {
			j++
		}
		text := l.src[l.pos:j]
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return token{}, fmt.Errorf("invalid number %q at position %d", text, start)
		}
		l.pos = j
		return token{kind: tokNumber, pos: start, text: text, num: f}, nil
	}
	if isIdentStart(c) {
		j := l.pos + 1
		for j < len(l.src) && isIdentPart(l.src[j]) {
			j++
		}
		l.pos = j
		return token{kind: tokIdent, pos: start, text: l.src[start:j]}, nil
	}
	return token{}, fmt.Errorf("unexpected character %q at position %d", c, start)
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$'
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// exprParser parses one expression body (the text between the outer brackets).
type exprParser struct {
	lex   exprLexer
	tok   token
	depth int
	funcs int // function calls seen, for Azure's per-rule limit
}

// parseExpression parses a template expression string, including the outer
// brackets. The returned expression still refers to parameters by name;
// binding (bind.go) substitutes them.
func parseExpression(s string) (expr, error) {
	if len(s) > maxExprLength {
		return nil, fmt.Errorf("expression is %d characters long; the limit is %d", len(s), maxExprLength)
	}
	if !isExpression(s) {
		return &litExpr{v: unescapeLiteral(s)}, nil
	}
	p := &exprParser{lex: exprLexer{src: s[1 : len(s)-1]}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, err := p.parseExpr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, fmt.Errorf("unexpected %s at position %d", p.tok.kind, p.tok.pos)
	}
	return e, nil
}

func (p *exprParser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *exprParser) expect(k tokenKind) error {
	if p.tok.kind != k {
		return fmt.Errorf("expected %s at position %d, found %s", k, p.tok.pos, p.tok.kind)
	}
	return p.advance()
}

func (p *exprParser) parseExpr() (expr, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprDepth {
		return nil, fmt.Errorf("expression nests deeper than %d levels", maxExprDepth)
	}
	var e expr
	switch p.tok.kind {
	case tokString:
		e = &litExpr{v: p.tok.text}
		if err := p.advance(); err != nil {
			return nil, err
		}
	case tokNumber:
		e = &litExpr{v: p.tok.num}
		if err := p.advance(); err != nil {
			return nil, err
		}
	case tokIdent:
		name, pos := p.tok.text, p.tok.pos
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tokLParen {
			// ARM writes true(), false() and null(); bare words are
			// accepted for those three only.
			switch strings.ToLower(name) {
			case "true":
				e = &litExpr{v: true}
			case "false":
				e = &litExpr{v: false}
			case "null":
				e = &litExpr{v: nil}
			default:
				return nil, fmt.Errorf("expected '(' after function name %q at position %d", name, pos)
			}
			break
		}
		call, err := p.parseCall(name, pos)
		if err != nil {
			return nil, err
		}
		e = call
	default:
		return nil, fmt.Errorf("unexpected %s at position %d", p.tok.kind, p.tok.pos)
	}
	// Accessors: .name and [index].
	for {
		switch p.tok.kind {
		case tokDot:
			if err := p.advance(); err != nil {
				return nil, err
			}
			if p.tok.kind != tokIdent {
				return nil, fmt.Errorf("expected a property name after '.' at position %d", p.tok.pos)
			}
			e = &memberExpr{target: e, name: p.tok.text}
			if err := p.advance(); err != nil {
				return nil, err
			}
		case tokLBracket:
			if err := p.advance(); err != nil {
				return nil, err
			}
			idx, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if err := p.expect(tokRBracket); err != nil {
				return nil, err
			}
			e = &indexExpr{target: e, index: idx}
		default:
			return e, nil
		}
	}
}

func (p *exprParser) parseCall(name string, pos int) (expr, error) {
	fn, ok := lookupFunction(name)
	if !ok {
		if why, excluded := excludedFunctions[strings.ToLower(name)]; excluded {
			return nil, fmt.Errorf("the template function '%s' is not allowed in a policy rule (%s)", name, why)
		}
		return nil, fmt.Errorf("the template function '%s' is not valid", name)
	}
	p.funcs++
	if err := p.expect(tokLParen); err != nil {
		return nil, err
	}
	var args []expr
	if p.tok.kind != tokRParen {
		for {
			a, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if len(args) > 128 {
				return nil, fmt.Errorf("function '%s' has more than 128 arguments", name)
			}
			if p.tok.kind == tokComma {
				if err := p.advance(); err != nil {
					return nil, err
				}
				continue
			}
			break
		}
	}
	if err := p.expect(tokRParen); err != nil {
		return nil, err
	}
	if len(args) < fn.minArgs || (fn.maxArgs >= 0 && len(args) > fn.maxArgs) {
		return nil, fmt.Errorf("function '%s' at position %d takes %s, got %d", fn.name, pos, fn.arity(), len(args))
	}
	return newCall(fn, args), nil
}

// newCall builds a call node, turning the policy-specific functions whose
// meaning depends on the rule into their own nodes.
func newCall(fn *funcDef, args []expr) expr {
	switch fn.name {
	case "parameters":
		if lit, ok := args[0].(*litExpr); ok {
			if s, ok := lit.v.(string); ok {
				return &paramExpr{name: s}
			}
		}
	case "field":
		if lit, ok := args[0].(*litExpr); ok {
			if s, ok := lit.v.(string); ok {
				return &fieldFnExpr{name: s}
			}
		}
	case "current":
		if len(args) == 0 {
			return &currentExpr{}
		}
		if lit, ok := args[0].(*litExpr); ok {
			if s, ok := lit.v.(string); ok {
				return &currentExpr{name: s, named: true}
			}
		}
	}
	return &callExpr{fn: fn, args: args}
}
