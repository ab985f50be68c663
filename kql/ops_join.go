package kql

import (
	"strings"
)

// join, union, datatable and tabular subqueries.

// tablesOf lists the tables a pipeline reads (for ARG's join limits).
func tablesOf(p *Pipeline, out map[string]bool) {
	switch s := p.Source.(type) {
	case *TableRef:
		out[strings.ToLower(s.Name)] = true
	case *ParenSource:
		tablesOf(s.Inner, out)
	case *UnionSource:
		for _, l := range s.Union.Legs {
			tablesOf(l, out)
		}
	}
	for _, op := range p.Ops {
		switch op := op.(type) {
		case *JoinOp:
			tablesOf(op.Right, out)
		case *UnionOp:
			for _, l := range op.Legs {
				tablesOf(l, out)
			}
		}
	}
}

// checkRemote applies ARG's cross-table rule: at most MaxRemoteTables
// tables other than the query's primary table, where Resources and
// ResourceContainers count as one family.
func (c *compiler) checkRemote(pos Pos, right *Pipeline) {
	ts := map[string]bool{}
	tablesOf(right, ts)
	if c.remote == nil {
		c.remote = map[string]bool{}
	}
	family := func(t string) bool { return t == "resources" || t == "resourcecontainers" }
	for t := range ts {
		if t == c.primary || family(t) && family(c.primary) {
			continue
		}
		if _, isLet := c.lets[t]; isLet {
			continue
		}
		c.remote[t] = true
	}
	if len(c.remote) > c.limits.MaxRemoteTables {
		c.errorf(pos, CodeTooManyRemoteTables, "the query joins more than %d table(s) other than %s", c.limits.MaxRemoteTables, c.primary)
	}
}

func (c *compiler) compileJoin(op *JoinOp, left *plan) *plan {
	kind := op.Kind
	if kind == "" {
		kind = "innerunique"
	}
	switch kind {
	case "anti", "leftantisemi":
		kind = "leftanti"
	case "rightantisemi":
		kind = "rightanti"
	}
	if !c.limits.AllowedJoinKinds[kind] && !c.limits.AllowedJoinKinds[op.Kind] {
		c.errorf(op.P, CodeUnsupportedJoinFlavor, "join kind=%s is not supported", kind)
	}
	c.joins++
	if c.joins > c.limits.MaxJoins {
		c.errorf(op.P, CodeTooManyJoins, "the query has more than %d joins", c.limits.MaxJoins)
	}
	c.checkRemote(op.P, op.Right)
	right := c.compilePipeline(op.Right)
	// Keys.
	var lk, rk []getter
	for _, cond := range op.On {
		switch e := unparen(cond).(type) {
		case *Ident:
			li, ri := left.colIndex(e.Name), right.colIndex(e.Name)
			if li < 0 || ri < 0 {
				c.errorf(e.P, CodeInvalidQuery, "join: column '%s' must exist on both sides", e.Name)
			}
			lk = append(lk, left.get[li])
			rk = append(rk, right.get[ri])
		case *BinaryExpr:
			if e.Op != "==" {
				c.errorf(e.P, CodeInvalidQuery, "join conditions must be equalities")
			}
			a, aSide := c.sideColumn(e.L, left, right)
			b, bSide := c.sideColumn(e.R, left, right)
			if aSide == bSide {
				c.errorf(e.P, CodeInvalidQuery, "a join condition must compare $left with $right")
			}
			if aSide == "right" {
				a, b = b, a
			}
			lk = append(lk, a)
			rk = append(rk, b)
		default:
			c.errorf(cond.Position(), CodeInvalidQuery, "join conditions must be column names or $left.x == $right.y")
		}
	}
	// Output schema: left columns then right columns; clashing right names
	// get a numeric suffix. Semi/anti joins keep one side only.
	var cols []Column
	var gets []getter
	leftOnly := kind == "leftsemi" || kind == "leftanti"
	rightOnly := kind == "rightsemi" || kind == "rightanti"
	taken := map[string]bool{}
	if !rightOnly {
		for i, col := range left.cols {
			cols = append(cols, col)
			gets = append(gets, left.get[i])
			taken[col.Name] = true
		}
	}
	nLeft := len(cols)
	if !leftOnly {
		for i, col := range right.cols {
			name := col.Name
			for n := 1; taken[name]; n++ {
				name = col.Name + itoa(n)
			}
			taken[name] = true
			cols = append(cols, Column{Name: name, Type: col.Type})
			gets = append(gets, right.get[i])
		}
	}
	out := valsPlan(cols)
	lopen, ropen := left.open, right.open
	rwidth := len(right.cols)
	out.open = func(st *execState) iterator {
		rrows := drain(st, ropen(st), rwidth)
		index := map[string][]int{}
		var kb []byte
		for i := range rrows {
			st.check()
			kb = kb[:0]
			null := false
			for _, k := range rk {
				v := k(&rrows[i])
				null = null || v.Null
				kb = appendKey(kb, v)
			}
			if null {
				continue // null keys never match
			}
			index[string(kb)] = append(index[string(kb)], i)
		}
		matchedRight := make([]bool, len(rrows))
		var result []row
		emit := func(l *row, r *row) {
			st.check()
			vals := make([]Value, len(cols))
			for i, g := range gets {
				switch {
				case i < nLeft:
					if l == nil {
						vals[i] = nullOf(cols[i].Type)
					} else {
						vals[i] = g(l)
					}
				default:
					if r == nil {
						vals[i] = nullOf(cols[i].Type)
					} else {
						vals[i] = g(r)
					}
				}
			}
			result = append(result, row{vals: vals})
			st.charge(int64(40 + 64*len(cols)))
			st.chargeRows(len(result))
		}
		seenLeftKey := map[string]bool{}
		lit := lopen(st)
		lp := new(row)
		for lit.next(lp) {
			kb = kb[:0]
			null := false
			for _, k := range lk {
				v := k(lp)
				null = null || v.Null
				kb = appendKey(kb, v)
			}
			var matches []int
			if !null {
				matches = index[string(kb)]
			}
			switch kind {
			case "innerunique":
				if null || seenLeftKey[string(kb)] {
					continue
				}
				seenLeftKey[string(kb)] = true
				for _, m := range matches {
					emit(lp, &rrows[m])
				}
			case "inner":
				for _, m := range matches {
					emit(lp, &rrows[m])
				}
			case "leftouter", "fullouter", "rightouter":
				for _, m := range matches {
					matchedRight[m] = true
					emit(lp, &rrows[m])
				}
				if len(matches) == 0 && kind != "rightouter" {
					emit(lp, nil)
				}
			case "leftsemi":
				if len(matches) > 0 {
					emit(lp, nil)
				}
			case "leftanti":
				if len(matches) == 0 {
					emit(lp, nil)
				}
			case "rightsemi", "rightanti":
				for _, m := range matches {
					matchedRight[m] = true
				}
			}
		}
		switch kind {
		case "fullouter", "rightouter":
			for i := range rrows {
				if !matchedRight[i] {
					emit(nil, &rrows[i])
				}
			}
		case "rightsemi", "rightanti":
			for i := range rrows {
				if matchedRight[i] == (kind == "rightsemi") {
					emit(nil, &rrows[i])
				}
			}
		}
		return &sliceIter{st: st, rows: result}
	}
	return out
}

// sideColumn resolves $left.x / $right.x (or a bare name) in a join
// condition.
func (c *compiler) sideColumn(e Expr, left, right *plan) (getter, string) {
	m, ok := unparen(e).(*MemberExpr)
	if ok {
		if id, ok := m.X.(*Ident); ok && (id.Name == "$left" || id.Name == "$right") {
			p := left
			side := "left"
			if id.Name == "$right" {
				p, side = right, "right"
			}
			i := p.colIndex(m.Name)
			if i < 0 {
				c.errorf(m.P, CodeInvalidQuery, "join: column '%s' does not exist on the %s side", m.Name, side)
			}
			return p.get[i], side
		}
	}
	c.errorf(e.Position(), CodeInvalidQuery, "join conditions must use $left.column and $right.column")
	return nil, ""
}

// compileUnion compiles "in | union legs" (in may be nil for a leading union).
func (c *compiler) compileUnion(op *UnionOp, in *plan) *plan {
	legs := len(op.Legs)
	if in != nil {
		legs++
	}
	if legs > c.limits.MaxUnionLegs {
		c.errorf(op.P, CodeTooManyUnionLegs, "union has %d legs; the limit is %d", legs, c.limits.MaxUnionLegs)
	}
	var plans []*plan
	var names []string
	if in != nil {
		plans = append(plans, in)
		names = append(names, "union_arg0")
	}
	for _, l := range op.Legs {
		if c.primary != "" {
			// Unions across tables follow the same family rule as joins.
			c.checkRemote(op.P, l)
		}
		plans = append(plans, c.compilePipeline(l))
		name := "union_arg" + itoa(len(names))
		if t, ok := l.Source.(*TableRef); ok && len(l.Ops) == 0 {
			name = t.Name
			if tb := c.snap.Table(t.Name); tb != nil {
				name = tb.name
			}
		}
		names = append(names, name)
	}
	// Unified schema: by name in order of appearance; a name seen with two
	// types becomes dynamic. kind=inner keeps only names present everywhere.
	var cols []Column
	pos := map[string]int{}
	count := map[string]int{}
	for _, p := range plans {
		for _, col := range p.cols {
			count[col.Name]++
			if i, ok := pos[col.Name]; ok {
				if cols[i].Type != col.Type {
					cols[i].Type = TypeDynamic
				}
				continue
			}
			pos[col.Name] = len(cols)
			cols = append(cols, col)
		}
	}
	if op.Kind == "inner" {
		var kept []Column
		for _, col := range cols {
			if count[col.Name] == len(plans) {
				kept = append(kept, col)
			}
		}
		cols = kept
	}
	if op.WithSource != "" {
		cols = append([]Column{{Name: op.WithSource, Type: TypeString}}, cols...)
	}
	out := valsPlan(cols)
	// For each leg, the getter of each output column (nil: null).
	maps := make([][]getter, len(plans))
	for li, p := range plans {
		m := make([]getter, len(cols))
		for i, col := range cols {
			if op.WithSource != "" && i == 0 {
				name := names[li]
				m[i] = func(*row) Value { return stringValue(name) }
				continue
			}
			if j := p.colIndex(col.Name); j >= 0 {
				m[i] = p.get[j]
			}
		}
		maps[li] = m
	}
	out.open = func(st *execState) iterator {
		return &unionIter{st: st, plans: plans, maps: maps, cols: cols}
	}
	return out
}

type unionIter struct {
	st    *execState
	plans []*plan
	maps  [][]getter
	cols  []Column
	cur   int
	it    iterator
	row   row
}

func (u *unionIter) next(out *row) bool {
	for u.cur < len(u.plans) {
		if u.it == nil {
			u.it = u.plans[u.cur].open(u.st)
		}
		if !u.it.next(&u.row) {
			u.cur++
			u.it = nil
			continue
		}
		vals := make([]Value, len(u.cols))
		for i, g := range u.maps[u.cur] {
			if g == nil {
				vals[i] = nullOf(u.cols[i].Type)
			} else {
				vals[i] = g(&u.row)
			}
		}
		*out = row{vals: vals}
		return true
	}
	return false
}

func (c *compiler) compileDatatable(s *DatatableSource) *plan {
	n := len(s.Columns)
	if len(s.Values)%n != 0 {
		c.errorf(s.P, CodeInvalidQuery, "datatable has %d values, not a multiple of its %d columns", len(s.Values), n)
	}
	cols := make([]Column, n)
	for i, cd := range s.Columns {
		cols[i] = Column{Name: cd.Name, Type: cd.Type}
	}
	var rows []row
	for i := 0; i < len(s.Values); i += n {
		vals := make([]Value, n)
		for j := 0; j < n; j++ {
			ce := c.compileExpr(s.Values[i+j], &plan{})
			if ce.konst == nil {
				c.errorf(s.Values[i+j].Position(), CodeInvalidQuery, "datatable values must be constants")
			}
			v := *ce.konst
			if v.T != cols[j].Type && !(v.Null && v.T == TypeDynamic) {
				if !(v.T.isNumeric() && cols[j].Type.isNumeric()) && cols[j].Type != TypeDynamic && !(v.T == TypeString && cols[j].Type == TypeGuid) {
					c.errorf(s.Values[i+j].Position(), CodeInvalidQuery, "datatable: value of type %s does not match column '%s' of type %s", v.T, cols[j].Name, cols[j].Type)
				}
			}
			vals[j] = convertTo(v, cols[j].Type)
		}
		rows = append(rows, row{vals: vals})
	}
	p := valsPlan(cols)
	p.sizeHint = len(rows)
	p.open = func(st *execState) iterator { return &sliceIter{st: st, rows: rows} }
	return p
}

// compileSubquery runs a single-column tabular expression once, at compile
// time, and returns its values as a constant dynamic array (for in (...)).
func (c *compiler) compileSubquery(pl *Pipeline) compiledExpr {
	p := c.compilePipeline(pl)
	if len(p.cols) != 1 {
		c.errorf(pl.P, CodeInvalidQuery, "a subquery used with in must have exactly one column, not %d", len(p.cols))
	}
	if c.st == nil {
		c.errorf(pl.P, CodeInternal, "subquery outside of an execution")
	}
	rows := drain(c.st, p.open(c.st), 1)
	vals := make([]Value, len(rows))
	for i := range rows {
		vals[i] = p.get[0](&rows[i])
	}
	v := newArray(vals)
	return constExpr(v, nil)
}
