package kql

import "strings"

// parseOperatorRecovering parses one operator; on error it skips to the next
// "|" so later errors are reported too.
func (p *parser) parseOperatorRecovering() (op Operator) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(operatorError); !ok {
				panic(r)
			}
			op = nil
			p.skipToRecovery()
		}
	}()
	return p.parseOperator()
}

func (p *parser) parseOperator() Operator {
	pos := Pos(p.tok.pos)
	if p.tok.kind != tokIdent {
		p.fail("expected a tabular operator after '|', found %s", p.describe())
	}
	word := p.tok.val
	switch word {
	case "where", "filter":
		p.advance()
		return &WhereOp{P: pos, Pred: p.parseExpr()}
	case "extend":
		p.advance()
		return &ExtendOp{P: pos, Cols: p.parseNamedList(false)}
	case "project":
		p.advance()
		return &ProjectOp{P: pos, Cols: p.parseNamedList(false)}
	case "project-away", "project-keep":
		p.advance()
		return &ProjectAwayOp{P: pos, Names: p.parseWildcardNames(), Keep: word == "project-keep"}
	case "project-reorder":
		p.advance()
		return &ProjectReorderOp{P: pos, Names: p.parseWildcardNames()}
	case "project-rename":
		p.advance()
		op := &ProjectRenameOp{P: pos}
		for {
			newName := p.parseName()
			p.expectPunct("=")
			op.Pairs = append(op.Pairs, RenamePair{New: newName, Old: p.parseName()})
			if !p.isPunct(",") {
				break
			}
			p.advance()
		}
		return op
	case "summarize":
		p.advance()
		p.skipHints()
		op := &SummarizeOp{P: pos}
		if !p.isWord("by") {
			op.Aggs = p.parseNamedList(true)
		}
		if p.isWord("by") {
			p.advance()
			op.By = p.parseNamedList(false)
		}
		if len(op.Aggs) == 0 && len(op.By) == 0 {
			p.fail("summarize needs an aggregation or a by clause")
		}
		return op
	case "count":
		p.advance()
		return &CountOp{P: pos}
	case "distinct":
		p.advance()
		if p.isPunct("*") {
			p.advance()
			return &DistinctOp{P: pos, Star: true}
		}
		return &DistinctOp{P: pos, Cols: p.parseNamedList(false)}
	case "take", "limit":
		p.advance()
		return &TakeOp{P: pos, N: p.parseExpr()}
	case "order", "sort":
		p.advance()
		p.expectWord("by")
		op := &OrderOp{P: pos}
		for {
			op.Keys = append(op.Keys, p.parseSortKey())
			if !p.isPunct(",") {
				break
			}
			p.advance()
		}
		return op
	case "top":
		p.advance()
		op := &TopOp{P: pos, N: p.parseExpr()}
		p.expectWord("by")
		op.Key = p.parseSortKey()
		return op
	case "join":
		return p.parseJoin()
	case "union":
		return p.parseUnion()
	case "mv-expand", "mvexpand":
		return p.parseMvExpand()
	case "parse":
		return p.parseParse()
	}
	if unsupportedOperators[word] {
		p.failCode(CodeUnsupportedOperator, "the %s operator is not supported by posture", word)
	}
	p.fail("unknown tabular operator %q", word)
	return nil
}

// skipHints rejects hint.x=y clauses: ARG accepts no strategy hints.
func (p *parser) skipHints() {
	if p.isWord("hint") && p.peek(1).kind == tokPunct && p.peek(1).val == "." {
		p.failCode(CodeUnsupportedOperator, "query hints are not supported")
	}
}

// parseNamedList parses "[name =] expr, ...". In aggregate lists a name
// may also be a tuple "(a, b) = arg_max(...)", which posture rejects.
func (p *parser) parseNamedList(aggregates bool) []NamedExpr {
	var out []NamedExpr
	for {
		var ne NamedExpr
		if name, ok := p.tryAssignTarget(); ok {
			ne.Name = name
		}
		ne.Expr = p.parseExpr()
		out = append(out, ne)
		if !p.isPunct(",") {
			return out
		}
		p.advance()
	}
}

// tryAssignTarget consumes "name =" or "['name'] =" if present.
func (p *parser) tryAssignTarget() (string, bool) {
	if p.tok.kind == tokIdent {
		n := p.peek(1)
		if n.kind == tokPunct && n.val == "=" {
			name := p.tok.val
			p.advance()
			p.advance()
			return name, true
		}
	}
	if p.isPunct("[") && p.peek(1).kind == tokString {
		if c, eq := p.peek(2), p.peek(3); c.kind == tokPunct && c.val == "]" && eq.kind == tokPunct && eq.val == "=" {
			name := p.peek(1).val
			p.advance()
			p.advance()
			p.advance()
			p.advance()
			return name, true
		}
	}
	return "", false
}

// parseWildcardNames parses "a, b*, ['c d']" for project-away/keep/reorder.
func (p *parser) parseWildcardNames() []string {
	var names []string
	for {
		var name string
		switch {
		case p.isPunct("*"):
			name = "*"
			p.advance()
		default:
			name = p.parseName()
		}
		// Glue adjacent "*" and name parts: prop*, *Id, a*b.
		for (p.isPunct("*") || p.tok.kind == tokIdent) && p.tok.pos == p.prev.end {
			name += p.tok.val
			p.advance()
		}
		names = append(names, name)
		if p.isWord("asc") || p.isWord("desc") || p.isWord("granny-asc") || p.isWord("granny-desc") {
			p.fail("project-reorder sort options are not supported")
		}
		if !p.isPunct(",") {
			return names
		}
		p.advance()
	}
}

func (p *parser) parseSortKey() SortKey {
	k := SortKey{Expr: p.parseExpr()}
	switch {
	case p.isWord("asc"):
		k.Asc = true
		p.advance()
	case p.isWord("desc"):
		p.advance()
	}
	if p.isWord("nulls") {
		p.advance()
		switch {
		case p.isWord("first"):
			k.Nulls = "first"
		case p.isWord("last"):
			k.Nulls = "last"
		default:
			p.fail("expected first or last after nulls, found %s", p.describe())
		}
		p.advance()
	}
	return k
}

// parseKindOption parses "name=value" options such as kind=inner.
func (p *parser) parseOption(name string) (string, bool) {
	if !p.isWord(name) {
		return "", false
	}
	if n := p.peek(1); !(n.kind == tokPunct && n.val == "=") {
		return "", false
	}
	p.advance()
	p.advance()
	if p.isPunct("[") {
		return p.parseBracketName(), true
	}
	if p.tok.kind != tokIdent && p.tok.kind != tokString && p.tok.kind != tokInt {
		p.fail("expected a value for %s, found %s", name, p.describe())
	}
	v := p.tok.val
	p.advance()
	return v, true
}

var joinKinds = map[string]bool{
	"innerunique": true, "inner": true, "leftouter": true, "rightouter": true, "fullouter": true,
	"leftanti": true, "anti": true, "leftantisemi": true, "rightanti": true, "rightantisemi": true,
	"leftsemi": true, "rightsemi": true,
}

func (p *parser) parseJoin() *JoinOp {
	op := &JoinOp{P: Pos(p.tok.pos)}
	p.advance()
	for {
		if v, ok := p.parseOption("kind"); ok {
			v = strings.ToLower(v)
			if !joinKinds[v] {
				p.fail("unknown join kind %q", v)
			}
			op.Kind = v
			continue
		}
		if p.isWord("hint") {
			p.failCode(CodeUnsupportedOperator, "join hints are not supported")
		}
		break
	}
	op.Right = p.parseLeg()
	p.expectWord("on")
	for {
		op.On = append(op.On, p.parseExpr())
		if !p.isPunct(",") {
			break
		}
		p.advance()
	}
	return op
}

// parseLeg parses a join right side or union leg: a table name, a
// parenthesised pipeline or a datatable.
func (p *parser) parseLeg() *Pipeline {
	pos := Pos(p.tok.pos)
	switch {
	case p.isPunct("("):
		p.advance()
		inner := p.parsePipeline(false)
		p.expectPunct(")")
		return inner
	case p.isWord("datatable"):
		return &Pipeline{P: pos, Source: p.parseDatatable()}
	case p.tok.kind == tokIdent && !strings.HasPrefix(p.tok.val, "$"):
		name := p.tok.val
		p.advance()
		if p.isPunct("*") && p.tok.pos == p.prev.end {
			p.fail("wildcard table names are not supported")
		}
		return &Pipeline{P: pos, Source: &TableRef{P: pos, Name: name}}
	case p.isPunct("["):
		return &Pipeline{P: pos, Source: &TableRef{P: pos, Name: p.parseBracketName()}}
	}
	p.fail("expected a table or a parenthesised query, found %s", p.describe())
	return nil
}

func (p *parser) parseUnion() *UnionOp {
	op := &UnionOp{P: Pos(p.tok.pos)}
	p.advance()
	for {
		if v, ok := p.parseOption("kind"); ok {
			v = strings.ToLower(v)
			if v != "inner" && v != "outer" {
				p.fail("union kind must be inner or outer, not %q", v)
			}
			op.Kind = v
			continue
		}
		if v, ok := p.parseOption("withsource"); ok {
			op.WithSource = v
			continue
		}
		if _, ok := p.parseOption("isfuzzy"); ok {
			p.failCode(CodeUnsupportedOperator, "union isfuzzy is not supported")
		}
		break
	}
	for {
		op.Legs = append(op.Legs, p.parseLeg())
		if !p.isPunct(",") {
			break
		}
		p.advance()
	}
	return op
}

func (p *parser) parseMvExpand() *MvExpandOp {
	op := &MvExpandOp{P: Pos(p.tok.pos), Legacy: p.tok.val == "mvexpand"}
	p.advance()
	for {
		if v, ok := p.parseOption("bagexpansion"); ok {
			v = strings.ToLower(v)
			if v != "bag" && v != "array" {
				p.fail("bagexpansion must be bag or array, not %q", v)
			}
			op.BagExpansion = v
			continue
		}
		if v, ok := p.parseOption("with_itemindex"); ok {
			op.ItemIndex = v
			continue
		}
		if p.isWord("kind") {
			p.failCode(CodeUnsupportedOperator, "mv-expand kind= is not supported")
		}
		break
	}
	for {
		var it MvExpandItem
		if name, ok := p.tryAssignTarget(); ok {
			it.Name = name
		}
		it.Expr = p.parseExpr()
		if p.isWord("to") {
			p.advance()
			p.expectWord("typeof")
			p.expectPunct("(")
			it.ToType = p.parseTypeName()
			p.expectPunct(")")
		}
		op.Items = append(op.Items, it)
		if !p.isPunct(",") {
			break
		}
		p.advance()
	}
	if p.isWord("limit") {
		p.advance()
		op.Limit = p.parseExpr()
	}
	return op
}

func (p *parser) parseParse() *ParseOp {
	op := &ParseOp{P: Pos(p.tok.pos)}
	p.advance()
	if v, ok := p.parseOption("kind"); ok {
		v = strings.ToLower(v)
		if v != "simple" && v != "regex" && v != "relaxed" {
			p.fail("parse kind must be simple, regex or relaxed, not %q", v)
		}
		op.Kind = v
		if v != "simple" {
			p.failCode(CodeUnsupportedOperator, "parse kind=%s is not supported", v)
		}
	}
	if _, ok := p.parseOption("flags"); ok {
		p.failCode(CodeUnsupportedOperator, "parse flags are not supported")
	}
	op.Source = p.parseExpr()
	p.expectWord("with")
	for {
		switch {
		case p.tok.kind == tokString:
			op.Pattern = append(op.Pattern, ParsePart{IsLit: true, Literal: p.tok.val})
			p.advance()
		case p.isPunct("*"):
			op.Pattern = append(op.Pattern, ParsePart{Star: true})
			p.advance()
		case p.tok.kind == tokIdent || p.isPunct("["):
			part := ParsePart{Name: p.parseName()}
			if p.isPunct(":") {
				p.advance()
				part.Type = p.parseTypeName()
			}
			op.Pattern = append(op.Pattern, part)
		default:
			if len(op.Pattern) == 0 {
				p.fail("expected a parse pattern after with, found %s", p.describe())
			}
			return op
		}
	}
}
