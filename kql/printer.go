package kql

import (
	"strings"
)

// The printer renders canonical KQL: one operator per line, minimal
// spacing, names quoted only when needed. Parsing its output gives back the
// same tree (tested by round trip), which makes String() usable for logging
// and for caching parsed queries by canonical text.

func (q *Query) String() string {
	var b strings.Builder
	for _, l := range q.Lets {
		b.WriteString(l.String())
		b.WriteString(";\n")
	}
	if q.Body != nil {
		b.WriteString(q.Body.String())
	}
	return b.String()
}

func (n *LetStmt) String() string {
	if n.Tabular != nil {
		return "let " + quoteName(n.Name) + " = " + n.Tabular.String()
	}
	return "let " + quoteName(n.Name) + " = " + exprString(n.Scalar)
}

func (n *Pipeline) String() string {
	var b strings.Builder
	implicit := false
	if t, ok := n.Source.(*TableRef); ok && t.Implicit {
		implicit = true
	} else {
		b.WriteString(n.Source.String())
	}
	for i, op := range n.Ops {
		if i > 0 || !implicit {
			b.WriteString("\n| ")
		}
		b.WriteString(op.String())
	}
	return b.String()
}

func (n *TableRef) String() string { return quoteName(n.Name) }

func (n *DatatableSource) String() string {
	var b strings.Builder
	b.WriteString("datatable(")
	for i, c := range n.Columns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteName(c.Name) + ":" + c.Type.String())
	}
	b.WriteString(")[")
	for i, v := range n.Values {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(exprString(v))
	}
	b.WriteString("]")
	return b.String()
}

func (n *ParenSource) String() string { return "(" + n.Inner.String() + ")" }
func (n *UnionSource) String() string { return n.Union.String() }

func (n *WhereOp) String() string  { return "where " + exprString(n.Pred) }
func (n *ExtendOp) String() string { return "extend " + namedList(n.Cols) }
func (n *ProjectOp) String() string {
	return "project " + namedList(n.Cols)
}

func (n *ProjectAwayOp) String() string {
	word := "project-away "
	if n.Keep {
		word = "project-keep "
	}
	return word + wildcardList(n.Names)
}

func (n *ProjectReorderOp) String() string { return "project-reorder " + wildcardList(n.Names) }

func (n *ProjectRenameOp) String() string {
	parts := make([]string, len(n.Pairs))
	for i, p := range n.Pairs {
		parts[i] = quoteName(p.New) + " = " + quoteName(p.Old)
	}
	return "project-rename " + strings.Join(parts, ", ")
}

func (n *SummarizeOp) String() string {
	s := "summarize"
	if len(n.Aggs) > 0 {
		s += " " + namedList(n.Aggs)
	}
	if len(n.By) > 0 {
		s += " by " + namedList(n.By)
	}
	return s
}

func (n *CountOp) String() string { return "count" }

func (n *DistinctOp) String() string {
	if n.Star {
		return "distinct *"
	}
	return "distinct " + namedList(n.Cols)
}

func (n *TakeOp) String() string { return "take " + exprString(n.N) }

func (n *OrderOp) String() string {
	parts := make([]string, len(n.Keys))
	for i, k := range n.Keys {
		parts[i] = k.String()
	}
	return "order by " + strings.Join(parts, ", ")
}

func (k SortKey) String() string {
	s := exprString(k.Expr)
	if k.Asc {
		s += " asc"
	} else {
		s += " desc"
	}
	if k.Nulls != "" {
		s += " nulls " + k.Nulls
	}
	return s
}

func (n *TopOp) String() string { return "top " + exprString(n.N) + " by " + n.Key.String() }

func (n *JoinOp) String() string {
	var b strings.Builder
	b.WriteString("join ")
	if n.Kind != "" {
		b.WriteString("kind=" + n.Kind + " ")
	}
	b.WriteString(legString(n.Right))
	b.WriteString(" on ")
	for i, c := range n.On {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(exprString(c))
	}
	return b.String()
}

// legString prints a join or union leg: a bare table name, a datatable, or
// a parenthesised pipeline.
func legString(p *Pipeline) string {
	if len(p.Ops) == 0 {
		switch s := p.Source.(type) {
		case *TableRef:
			if !s.Implicit {
				return s.String()
			}
		case *DatatableSource:
			return s.String()
		}
	}
	return "(" + p.String() + ")"
}

func (n *UnionOp) String() string {
	var b strings.Builder
	b.WriteString("union ")
	if n.Kind != "" {
		b.WriteString("kind=" + n.Kind + " ")
	}
	if n.WithSource != "" {
		b.WriteString("withsource=" + quoteName(n.WithSource) + " ")
	}
	for i, l := range n.Legs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(legString(l))
	}
	return b.String()
}

func (n *MvExpandOp) String() string {
	var b strings.Builder
	if n.Legacy {
		b.WriteString("mvexpand ")
	} else {
		b.WriteString("mv-expand ")
	}
	if n.BagExpansion != "" {
		b.WriteString("bagexpansion=" + n.BagExpansion + " ")
	}
	if n.ItemIndex != "" {
		b.WriteString("with_itemindex=" + quoteName(n.ItemIndex) + " ")
	}
	for i, it := range n.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		if it.Name != "" {
			b.WriteString(quoteName(it.Name) + " = ")
		}
		b.WriteString(exprString(it.Expr))
		if it.ToType != TypeUnknown {
			b.WriteString(" to typeof(" + it.ToType.String() + ")")
		}
	}
	if n.Limit != nil {
		b.WriteString(" limit " + exprString(n.Limit))
	}
	return b.String()
}

func (n *ParseOp) String() string {
	var b strings.Builder
	b.WriteString("parse ")
	if n.Kind != "" {
		b.WriteString("kind=" + n.Kind + " ")
	}
	b.WriteString(exprString(n.Source))
	b.WriteString(" with")
	for _, part := range n.Pattern {
		b.WriteByte(' ')
		switch {
		case part.IsLit:
			b.WriteString(quoteString(part.Literal))
		case part.Star:
			b.WriteByte('*')
		default:
			b.WriteString(quoteName(part.Name))
			if part.Type != TypeUnknown {
				b.WriteString(":" + part.Type.String())
			}
		}
	}
	return b.String()
}

func (n *UnsupportedOp) String() string { return n.Raw }

func namedList(cols []NamedExpr) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		if c.Name != "" {
			parts[i] = quoteName(c.Name) + " = " + exprString(c.Expr)
		} else {
			parts[i] = exprString(c.Expr)
		}
	}
	return strings.Join(parts, ", ")
}

func wildcardList(names []string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		if strings.Contains(n, "*") && isPlainWildcard(n) {
			parts[i] = n
		} else {
			parts[i] = quoteName(n)
		}
	}
	return strings.Join(parts, ", ")
}

func isPlainWildcard(s string) bool {
	for _, part := range strings.Split(s, "*") {
		if part != "" && !isPlainIdent(part) {
			return false
		}
	}
	return !strings.Contains(s, "**")
}

// reservedWords are printed in brackets when used as names so the output
// re-parses as a name.
var reservedWords = map[string]bool{
	"and": true, "or": true, "by": true, "on": true, "with": true, "in": true, "between": true,
	"true": true, "false": true, "asc": true, "desc": true, "nulls": true, "to": true, "typeof": true,
	"dynamic": true, "let": true, "matches": true, "kind": true, "limit": true, "has_any": true, "has_all": true,
	"datatable": true, "union": true, "hint": true, "bagexpansion": true, "with_itemindex": true, "withsource": true,
}

func isPlainIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if i == 0 && !isIdentStart(r) || !isIdentPart(r) {
			return false
		}
	}
	if operatorKeywords[s] || unsupportedOperators[s] || stringOperators[s] || rawLiteralNames[s] {
		return false
	}
	return !reservedWords[s]
}

func quoteName(s string) string {
	if isPlainIdent(s) || (strings.HasPrefix(s, "$") && isPlainIdent(s[1:])) {
		return s
	}
	return "[" + quoteString(s) + "]"
}

// quoteString writes a string literal with backslash escapes.
func quoteString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case 0:
			b.WriteString(`\0`)
		default:
			if r < 0x20 {
				b.WriteString(sprintf(`\u%04x`, r))
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

func exprString(e Expr) string {
	if e == nil {
		return ""
	}
	return e.String()
}

func (n *Ident) String() string   { return quoteName(n.Name) }
func (n *Literal) String() string { return n.Text }

func (n *BinaryExpr) String() string {
	return exprString(n.L) + " " + n.Op + " " + exprString(n.R)
}

func (n *UnaryExpr) String() string {
	inner := exprString(n.X)
	if strings.HasPrefix(inner, "-") || strings.HasPrefix(inner, "+") {
		return n.Op + " " + inner
	}
	return n.Op + inner
}

func (n *InExpr) String() string {
	if n.Tabular != nil {
		return exprString(n.X) + " " + n.Op + " (" + n.Tabular.String() + ")"
	}
	parts := make([]string, len(n.List))
	for i, e := range n.List {
		parts[i] = exprString(e)
	}
	return exprString(n.X) + " " + n.Op + " (" + strings.Join(parts, ", ") + ")"
}

func (n *BetweenExpr) String() string {
	op := " between ("
	if n.Not {
		op = " !between ("
	}
	return exprString(n.X) + op + exprString(n.Lo) + " .. " + exprString(n.Hi) + ")"
}

func (n *CallExpr) String() string {
	parts := make([]string, len(n.Args))
	for i, a := range n.Args {
		parts[i] = exprString(a)
	}
	return n.Name + "(" + strings.Join(parts, ", ") + ")"
}

func (n *MemberExpr) String() string {
	if isSimpleName(n.Name) {
		return exprString(n.X) + "." + n.Name
	}
	return exprString(n.X) + ".[" + quoteString(n.Name) + "]"
}

// isSimpleName is an identifier made of identifier characters only (member
// names after a dot may be keywords).
func isSimpleName(s string) bool {
	if s == "" || rawLiteralNames[s] {
		return false
	}
	for i, r := range s {
		if i == 0 && !isIdentStart(r) || !isIdentPart(r) {
			return false
		}
	}
	return true
}

func (n *IndexExpr) String() string {
	return exprString(n.X) + "[" + exprString(n.Index) + "]"
}

func (n *TypeExpr) String() string  { return "typeof(" + n.Type.String() + ")" }
func (n *StarExpr) String() string  { return "*" }
func (n *ParenExpr) String() string { return "(" + exprString(n.X) + ")" }
