package kql

import (
	"math"
	"strconv"
	"strings"
)

// Binary operator precedence, lowest first.
const (
	precOr = iota + 1
	precAnd
	precCompare
	precAdd
	precMul
)

// stringOperators are the word operators at comparison precedence; each
// also exists negated with "!" and most with a "_cs" suffix.
var stringOperators = map[string]bool{
	"has": true, "has_cs": true, "contains": true, "contains_cs": true,
	"startswith": true, "startswith_cs": true, "endswith": true, "endswith_cs": true,
	"hasprefix": true, "hasprefix_cs": true, "hassuffix": true, "hassuffix_cs": true,
}

func (p *parser) parseExpr() Expr {
	p.enter()
	defer p.leave()
	return p.parseBinary(precOr)
}

func (p *parser) parseBinary(minPrec int) Expr {
	left := p.parseUnary()
	for {
		op, prec, width := p.binaryOperator()
		if prec == 0 || prec < minPrec {
			return left
		}
		pos := p.tok.pos
		for i := 0; i < width; i++ {
			p.advance()
		}
		switch op {
		case "in", "!in", "in~", "!in~", "has_any", "has_all":
			left = p.parseInList(pos, op, left)
			continue
		case "between", "!between":
			left = p.parseBetween(pos, op == "!between", left)
			continue
		}
		if prec == precCompare {
			// Comparisons do not chain: a == b == c is an error in KQL.
			right := p.parseBinary(precAdd)
			left = &BinaryExpr{P: Pos(pos), Op: op, L: left, R: right}
			if _, nextPrec, _ := p.binaryOperator(); nextPrec == precCompare {
				p.fail("comparison operators cannot be chained; add parentheses")
			}
			continue
		}
		right := p.parseBinary(prec + 1)
		left = &BinaryExpr{P: Pos(pos), Op: op, L: left, R: right}
	}
}

// binaryOperator identifies the operator at the current token without
// consuming it; width is the number of tokens it spans.
func (p *parser) binaryOperator() (op string, prec int, width int) {
	t := p.tok
	switch t.kind {
	case tokPunct:
		switch t.val {
		case "+", "-":
			return t.val, precAdd, 1
		case "*", "/", "%":
			return t.val, precMul, 1
		case "==", "!=", "<", "<=", ">", ">=", "=~", "!~":
			return t.val, precCompare, 1
		case "<>":
			return "!=", precCompare, 1
		case "!":
			n := p.peek(1)
			if n.kind == tokIdent && n.pos == t.end {
				w := n.val
				if stringOperators[w] || w == "between" {
					return "!" + w, precCompare, 2
				}
				if w == "in" {
					if n2 := p.peek(2); n2.kind == tokPunct && n2.val == "~" && n2.pos == n.end {
						return "!in~", precCompare, 3
					}
					return "!in", precCompare, 2
				}
			}
		}
	case tokIdent:
		switch w := t.val; {
		case w == "and":
			return "and", precAnd, 1
		case w == "or":
			return "or", precOr, 1
		case stringOperators[w] || w == "has_any" || w == "has_all" || w == "between":
			return w, precCompare, 1
		case w == "in":
			if n := p.peek(1); n.kind == tokPunct && n.val == "~" && n.pos == t.end {
				return "in~", precCompare, 2
			}
			return "in", precCompare, 1
		case w == "matches":
			if n := p.peek(1); n.kind == tokIdent && n.val == "regex" {
				return "matches regex", precCompare, 2
			}
		}
	}
	return "", 0, 0
}

func (p *parser) parseInList(pos int, op string, x Expr) Expr {
	in := &InExpr{P: Pos(pos), Op: op, X: x}
	if !p.isPunct("(") {
		// "x in dynamic([...])" or "x has_any (list)": a single expression.
		if op == "has_any" || op == "has_all" || p.tok.kind == tokIdent {
			in.List = []Expr{p.parseUnary()}
			return in
		}
		p.fail("expected '(' after %s, found %s", op, p.describe())
	}
	// A parenthesised pipeline makes a tabular operand.
	if p.parenHoldsPipeline() {
		p.advance()
		in.Tabular = p.parsePipeline(false)
		p.expectPunct(")")
		return in
	}
	p.advance()
	for !p.isPunct(")") {
		in.List = append(in.List, p.parseExpr())
		if !p.isPunct(",") {
			break
		}
		p.advance()
	}
	p.expectPunct(")")
	if len(in.List) == 0 {
		p.errorAt(pos, CodeParserFailure, "the list of %s is empty", op)
	}
	return in
}

// parenHoldsPipeline looks ahead from "(" for a "|" at depth one, or a
// leading table-ish form, to tell a subquery from a value list.
func (p *parser) parenHoldsPipeline() bool {
	depth := 0
	for i := 0; i < 10000; i++ {
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
				if depth == 0 {
					return false
				}
			case "|":
				if depth == 1 {
					return true
				}
			}
		}
	}
	return false
}

func (p *parser) parseBetween(pos int, not bool, x Expr) Expr {
	p.expectPunct("(")
	lo := p.parseBinary(precAdd)
	if !(p.isPunct(".") && p.peek(1).kind == tokPunct && p.peek(1).val == ".") {
		p.fail("expected '..' in between, found %s", p.describe())
	}
	p.advance()
	p.advance()
	hi := p.parseBinary(precAdd)
	p.expectPunct(")")
	return &BetweenExpr{P: Pos(pos), Not: not, X: x, Lo: lo, Hi: hi}
}

func (p *parser) parseUnary() Expr {
	if p.isPunct("-") || p.isPunct("+") {
		pos := p.tok.pos
		op := p.tok.val
		p.advance()
		p.enter()
		defer p.leave()
		return &UnaryExpr{P: Pos(pos), Op: op, X: p.parseUnary()}
	}
	return p.parsePostfix(p.parsePrimary())
}

func (p *parser) parsePostfix(x Expr) Expr {
	for {
		switch {
		case p.isPunct("."):
			// ".." belongs to between.
			if n := p.peek(1); n.kind == tokPunct && n.val == "." {
				return x
			}
			pos := p.tok.pos
			p.advance()
			switch {
			case p.tok.kind == tokIdent:
				x = &MemberExpr{P: Pos(pos), X: x, Name: p.tok.val}
				p.advance()
			case p.tok.kind == tokRawLit:
				// x.datetime(...) cannot happen; a raw literal name after a
				// dot is a member named like a type followed by a call.
				p.fail("unexpected %s after '.'", p.describe())
			case p.isPunct("["):
				x = &MemberExpr{P: Pos(pos), X: x, Name: p.parseBracketName()}
			default:
				p.fail("expected a property name after '.', found %s", p.describe())
			}
		case p.isPunct("["):
			pos := p.tok.pos
			p.advance()
			idx := p.parseExpr()
			p.expectPunct("]")
			x = &IndexExpr{P: Pos(pos), X: x, Index: idx}
		default:
			return x
		}
	}
}

func (p *parser) parsePrimary() Expr {
	pos := Pos(p.tok.pos)
	t := p.tok
	switch t.kind {
	case tokInt:
		p.advance()
		var n int64
		var err error
		if strings.HasPrefix(t.val, "0x") || strings.HasPrefix(t.val, "0X") {
			var u uint64
			u, err = strconv.ParseUint(t.val[2:], 16, 64)
			n = int64(u)
		} else {
			n, err = strconv.ParseInt(t.val, 10, 64)
		}
		if err != nil {
			// Too large for a long: Kusto makes it a real.
			f, ferr := strconv.ParseFloat(t.val, 64)
			if ferr != nil {
				p.errorAt(t.pos, CodeParserFailure, "invalid number %q", t.val)
			}
			return &Literal{P: pos, Text: t.raw, Val: realValue(f)}
		}
		return &Literal{P: pos, Text: t.raw, Val: longValue(n)}
	case tokReal:
		p.advance()
		f, err := strconv.ParseFloat(t.val, 64)
		if err != nil && !math.IsInf(f, 0) {
			p.errorAt(t.pos, CodeParserFailure, "invalid number %q", t.val)
		}
		return &Literal{P: pos, Text: t.raw, Val: realValue(f)}
	case tokTimespan:
		p.advance()
		ts, ok := parseTimespanLiteral(t.val)
		if !ok {
			p.errorAt(t.pos, CodeParserFailure, "invalid timespan %q", t.raw)
		}
		return &Literal{P: pos, Text: t.raw, Val: timespanValue(ts)}
	case tokString:
		p.advance()
		// Adjacent string literals concatenate ("a" "b" == "ab").
		val, text := t.val, t.raw
		for p.tok.kind == tokString {
			val += p.tok.val
			text += " " + p.tok.raw
			p.advance()
		}
		return &Literal{P: pos, Text: text, Val: stringValue(val)}
	case tokRawLit:
		p.advance()
		return p.rawLiteral(t)
	case tokPunct:
		switch t.val {
		case "(":
			p.advance()
			x := p.parseExpr()
			p.expectPunct(")")
			return &ParenExpr{P: pos, X: x}
		case "[":
			return &Ident{P: pos, Name: p.parseBracketName()}
		case "*":
			p.advance()
			return &StarExpr{P: pos}
		}
	case tokIdent:
		switch t.val {
		case "true", "false":
			p.advance()
			return &Literal{P: pos, Text: t.val, Val: boolValue(t.val == "true")}
		case "dynamic":
			if n := p.peek(1); n.kind == tokPunct && n.val == "(" {
				p.advance()
				p.advance()
				var b dynBuilder
				p.parseDynamicLiteral(&b)
				p.expectPunct(")")
				d := b.done()
				return &Literal{P: pos, Text: "dynamic(" + dynLiteralText(d) + ")", Val: dynValue(d)}
			}
		case "typeof":
			if n := p.peek(1); n.kind == tokPunct && n.val == "(" {
				p.advance()
				p.advance()
				typ := p.parseTypeName()
				p.expectPunct(")")
				return &TypeExpr{P: pos, Type: typ}
			}
		}
		p.advance()
		if p.isPunct("(") {
			return p.parseCall(pos, t.val)
		}
		return &Ident{P: pos, Name: t.val}
	}
	p.fail("expected an expression, found %s", p.describe())
	return nil
}

func (p *parser) parseCall(pos Pos, name string) Expr {
	p.expectPunct("(")
	call := &CallExpr{P: pos, Name: name}
	for !p.isPunct(")") {
		call.Args = append(call.Args, p.parseExpr())
		if !p.isPunct(",") {
			break
		}
		p.advance()
	}
	p.expectPunct(")")
	return call
}

// rawLiteral builds the literal for datetime(...), timespan(...), long(...)
// and friends; the text inside the parentheses is not tokenized.
func (p *parser) rawLiteral(t token) Expr {
	pos := Pos(t.pos)
	inner := t.val
	text := t.raw + "(" + inner + ")"
	typ, _ := parseTypeName(t.raw)
	if strings.EqualFold(inner, "null") {
		return &Literal{P: pos, Text: text, Val: nullOf(typ)}
	}
	lit := func(v Value) Expr { return &Literal{P: pos, Text: text, Val: v} }
	switch typ {
	case TypeDateTime:
		if ticks, ok := parseDatetime(unquote(inner)); ok {
			return lit(datetimeValue(ticks))
		}
	case TypeTimespan:
		if ts, ok := parseTimespan(unquote(inner)); ok {
			return lit(timespanValue(ts))
		}
	case TypeGuid:
		if g, ok := parseGuid(unquote(inner)); ok {
			return lit(guidValue(g))
		}
	case TypeBool:
		switch strings.ToLower(inner) {
		case "true":
			return lit(boolValue(true))
		case "false":
			return lit(boolValue(false))
		}
	case TypeInt, TypeLong:
		s := strings.ReplaceAll(inner, " ", "")
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if typ == TypeInt {
				if n != int64(int32(n)) {
					break
				}
				return lit(intValue(n))
			}
			return lit(longValue(n))
		}
	case TypeReal, TypeDecimal:
		s := strings.ToLower(strings.ReplaceAll(inner, " ", ""))
		switch s {
		case "nan":
			return lit(Value{T: typ, n: int64(math.Float64bits(math.NaN()))})
		case "+inf", "inf":
			return lit(Value{T: typ, n: int64(math.Float64bits(math.Inf(1)))})
		case "-inf":
			return lit(Value{T: typ, n: int64(math.Float64bits(math.Inf(-1)))})
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return lit(Value{T: typ, n: int64(math.Float64bits(f))})
		}
	}
	p.errorAt(t.pos, CodeParserFailure, "invalid %s literal %q", t.raw, inner)
	return lit(nullOf(typ))
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// parseGuid validates and normalises a GUID to lower case 8-4-4-4-12 form.
func parseGuid(s string) (string, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(strings.TrimSuffix(s, "}"), "{")
	if len(s) == 32 {
		s = s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
	}
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return "", false
			}
		} else if !isHexDigit(s[i]) {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

// parseDynamicLiteral parses the JSON-like body of dynamic(...) from tokens.
func (p *parser) parseDynamicLiteral(b *dynBuilder) {
	p.enter()
	defer p.leave()
	t := p.tok
	switch {
	case p.isPunct("["):
		p.advance()
		start := b.begin(tagArray)
		for !p.isPunct("]") {
			p.parseDynamicLiteral(b)
			if !p.isPunct(",") {
				break
			}
			p.advance()
		}
		p.expectPunct("]")
		b.end(start)
	case p.isPunct("{"):
		p.advance()
		start := b.begin(tagObject)
		for !p.isPunct("}") {
			if p.tok.kind != tokString && p.tok.kind != tokIdent {
				p.fail("expected a property name in dynamic literal, found %s", p.describe())
			}
			b.key(p.tok.val)
			p.advance()
			p.expectPunct(":")
			p.parseDynamicLiteral(b)
			if !p.isPunct(",") {
				break
			}
			p.advance()
		}
		p.expectPunct("}")
		b.end(start)
	case p.isPunct("-") || p.isPunct("+"):
		neg := p.isPunct("-")
		p.advance()
		x := p.parsePrimary()
		lit, ok := x.(*Literal)
		if !ok || !lit.Val.T.isNumeric() && lit.Val.T != TypeTimespan {
			p.fail("expected a number after sign in dynamic literal")
		}
		v := lit.Val
		if neg {
			switch v.T {
			case TypeReal, TypeDecimal:
				v = realValue(-v.Float())
			default:
				v.n = -v.n
			}
		}
		b.value(v)
	case t.kind == tokIdent && t.val == "null":
		p.advance()
		b.null()
	case t.kind == tokString || t.kind == tokInt || t.kind == tokReal || t.kind == tokTimespan || t.kind == tokRawLit ||
		t.kind == tokIdent && (t.val == "true" || t.val == "false"):
		x := p.parsePrimary()
		lit, ok := x.(*Literal)
		if !ok {
			p.fail("expected a constant in dynamic literal")
		}
		b.value(lit.Val)
	default:
		p.fail("expected a constant in dynamic literal, found %s", p.describe())
	}
}

// dynLiteralText renders a dynamic value in the syntax of dynamic(...)
// literals: JSON-like, but typed scalars keep their KQL literal form so the
// printed text parses back to the same value.
func dynLiteralText(d Dyn) string {
	var b strings.Builder
	var walk func(d Dyn)
	walk = func(d Dyn) {
		switch d.kind() {
		case dynArray:
			b.WriteByte('[')
			first := true
			d.each(func(_ string, v Dyn) bool {
				if !first {
					b.WriteString(", ")
				}
				first = false
				walk(v)
				return true
			})
			b.WriteByte(']')
		case dynObject:
			b.WriteByte('{')
			first := true
			d.each(func(k string, v Dyn) bool {
				if !first {
					b.WriteString(", ")
				}
				first = false
				b.WriteString(quoteString(k))
				b.WriteString(": ")
				walk(v)
				return true
			})
			b.WriteByte('}')
		case dynNull:
			b.WriteString("null")
		case dynString:
			b.WriteString(quoteString(d.str()))
		case dynReal:
			f := d.scalar().Float()
			switch {
			case math.IsNaN(f):
				b.WriteString("real(nan)")
			case math.IsInf(f, 1):
				b.WriteString("real(+inf)")
			case math.IsInf(f, -1):
				b.WriteString("real(-inf)")
			default:
				b.Write(appendReal(nil, f))
			}
		case dynDatetime:
			b.WriteString("datetime(" + formatDatetimeISO(int64(d.fixed())) + ")")
		case dynTimespan:
			b.WriteString("timespan(" + formatTimespan(int64(d.fixed())) + ")")
		default:
			b.WriteString(toStringValue(d.scalar()))
		}
	}
	walk(d)
	return b.String()
}
