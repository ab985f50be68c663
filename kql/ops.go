package kql

import (
	"strconv"
	"strings"
)

// Compilation of the row-at-a-time operators: where, extend, project and
// its variants, take, parse, mv-expand. Blocking operators are in
// ops_blocking.go, join and union in ops_join.go.

func (c *compiler) compileOperator(op Operator, in *plan) *plan {
	switch op := op.(type) {
	case *WhereOp:
		return c.compileWhere(op, in)
	case *ExtendOp:
		return c.compileExtend(op.Cols, in)
	case *ProjectOp:
		return c.compileProject(op, in)
	case *ProjectAwayOp:
		return c.compileProjectAway(op, in)
	case *ProjectRenameOp:
		return c.compileProjectRename(op, in)
	case *ProjectReorderOp:
		return c.compileProjectReorder(op, in)
	case *TakeOp:
		return c.compileTake(op.N, in)
	case *SummarizeOp:
		return c.compileSummarize(op, in)
	case *CountOp:
		return c.compileCount(in)
	case *DistinctOp:
		return c.compileDistinct(op, in)
	case *OrderOp:
		return c.compileOrder(op.Keys, in, nil)
	case *TopOp:
		p := c.compileOrder([]SortKey{op.Key}, in, op.N)
		return p
	case *JoinOp:
		return c.compileJoin(op, in)
	case *UnionOp:
		return c.compileUnion(op, in)
	case *MvExpandOp:
		return c.compileMvExpand(op, in)
	case *ParseOp:
		return c.compileParse(op, in)
	case *UnsupportedOp:
		c.errorf(op.P, CodeUnsupportedOperator, "the %s operator is not supported", op.Name)
	}
	panic(newError(CodeInternal, "unknown operator %T", op))
}

// derive copies a plan's schema so that an operator can change it while
// rows pass through unchanged.
func derive(in *plan) *plan {
	return &plan{
		cols: append([]Column(nil), in.cols...), get: append([]getter(nil), in.get...),
		base: in.base, baseCol: append([]int(nil), in.baseCol...), open: in.open, sizeHint: in.sizeHint,
		valsWidth: in.valsWidth,
	}
}

type filterIter struct {
	in   iterator
	pred func(r *row) int8
}

func (f *filterIter) next(r *row) bool {
	for f.in.next(r) {
		if f.pred(r) == 1 {
			return true
		}
	}
	return false
}

func (c *compiler) compileWhere(op *WhereOp, in *plan) *plan {
	pred := c.compileExpr(op.Pred, in)
	if pred.typ != TypeBool && pred.typ != TypeDynamic {
		c.errorf(op.Pred.Position(), CodeInvalidQuery, "the where predicate must be bool, not %s", pred.typ)
	}
	out := derive(in)
	pf := predOf(pred)
	if in.scan != nil {
		// Straight on a table scan: run the predicate inside the scan loop.
		spec := *in.scan
		spec.preds = append(append([]func(r *row) int8(nil), in.scan.preds...), pf)
		out.scan = &spec
		out.open = spec.open
		return out
	}
	prev := in.open
	out.open = func(st *execState) iterator { return &filterIter{in: prev(st), pred: pf} }
	return out
}

// columnName picks the name of an unnamed, un-inferable column: Column1,
// Column2, ... skipping names already taken.
func nextColumnName(taken func(string) bool, counter *int) string {
	for {
		*counter++
		n := "Column" + strconv.Itoa(*counter)
		if !taken(n) {
			return n
		}
	}
}

// mapIter appends computed values to each row's vals.
type mapIter struct {
	in    iterator
	fns   []getter
	nvals int // number of vals the input rows carry
	st    *execState
	slab  []Value
}

// valsSlabRows is how many rows' vals one allocation holds: rows keep
// sub-slices, so the allocator is called once per slab, not once per row.
// Kept small: a row that survives a later filter pins its whole slab.
const valsSlabRows = 16

func (m *mapIter) next(r *row) bool {
	if !m.in.next(r) {
		return false
	}
	n := m.nvals + len(m.fns)
	if len(m.slab) < n {
		m.slab = make([]Value, n*valsSlabRows)
	}
	vals := m.slab[:n:n]
	m.slab = m.slab[n:]
	copy(vals, r.vals)
	for i, f := range m.fns {
		vals[m.nvals+i] = f(r)
	}
	r.vals = vals
	return true
}

func (c *compiler) compileExtend(cols []NamedExpr, in *plan) *plan {
	out := derive(in)
	out.valsWidth = in.valsWidth
	var fns []getter
	counter := 0
	for _, ne := range cols {
		ce := c.compileExpr(ne.Expr, in)
		name := ne.Name
		if name == "" {
			name = ce.name
		}
		if name == "" {
			name = nextColumnName(func(n string) bool { return out.colIndex(n) >= 0 }, &counter)
		}
		idx := out.valsWidth + len(fns)
		fns = append(fns, ce.fn)
		col := Column{Name: name, Type: ce.typ}
		if i := out.colIndex(name); i >= 0 {
			out.cols[i] = col
			out.get[i] = valsGetter(idx)
			out.baseCol[i] = -1
		} else {
			out.cols = append(out.cols, col)
			out.get = append(out.get, valsGetter(idx))
			out.baseCol = append(out.baseCol, -1)
		}
	}
	nv := in.valsWidth
	out.valsWidth = nv + len(fns)
	prev := in.open
	out.open = func(st *execState) iterator { return &mapIter{in: prev(st), fns: fns, nvals: nv, st: st} }
	return out
}

func (c *compiler) compileProject(op *ProjectOp, in *plan) *plan {
	out := &plan{base: in.base, valsWidth: in.valsWidth, sizeHint: in.sizeHint}
	var fns []getter
	counter := 0
	for _, ne := range op.Cols {
		name := ne.Name
		// A bare column keeps its getter (and stays lazy).
		if id, ok := ne.Expr.(*Ident); ok && in.colIndex(id.Name) >= 0 {
			i := in.colIndex(id.Name)
			if name == "" {
				name = id.Name
			}
			if out.colIndex(name) >= 0 {
				c.errorf(ne.Expr.Position(), CodeInvalidQuery, "project: duplicate column name '%s'", name)
			}
			out.cols = append(out.cols, Column{Name: name, Type: in.cols[i].Type})
			out.get = append(out.get, in.get[i])
			out.baseCol = append(out.baseCol, in.baseCol[i])
			continue
		}
		ce := c.compileExpr(ne.Expr, in)
		if name == "" {
			name = ce.name
		}
		if name == "" {
			name = nextColumnName(func(n string) bool { return out.colIndex(n) >= 0 }, &counter)
		}
		if out.colIndex(name) >= 0 {
			c.errorf(ne.Expr.Position(), CodeInvalidQuery, "project: duplicate column name '%s'", name)
		}
		idx := in.valsWidth + len(fns)
		fns = append(fns, ce.fn)
		out.cols = append(out.cols, Column{Name: name, Type: ce.typ})
		out.get = append(out.get, valsGetter(idx))
		out.baseCol = append(out.baseCol, -1)
	}
	prev := in.open
	if len(fns) == 0 {
		out.open = prev
		return out
	}
	nv := in.valsWidth
	out.valsWidth = nv + len(fns)
	out.open = func(st *execState) iterator { return &mapIter{in: prev(st), fns: fns, nvals: nv, st: st} }
	return out
}

// wildcardMatch matches a column name against a pattern with '*'.
func wildcardMatch(pattern, name string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == name
	}
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(name, parts[0]) {
		return false
	}
	name = name[len(parts[0]):]
	for i, p := range parts[1:] {
		if i == len(parts)-2 {
			return strings.HasSuffix(name, p)
		}
		j := strings.Index(name, p)
		if j < 0 {
			return false
		}
		name = name[j+len(p):]
	}
	return true
}

func (c *compiler) compileProjectAway(op *ProjectAwayOp, in *plan) *plan {
	for _, n := range op.Names {
		if strings.Contains(n, "*") {
			continue
		}
		if in.colIndex(n) < 0 {
			c.errorf(op.P, CodeInvalidQuery, "%s: column '%s' does not exist", map[bool]string{true: "project-keep", false: "project-away"}[op.Keep], n)
		}
	}
	out := &plan{base: in.base, valsWidth: in.valsWidth, open: in.open, sizeHint: in.sizeHint}
	for i, col := range in.cols {
		matched := false
		for _, n := range op.Names {
			if wildcardMatch(n, col.Name) {
				matched = true
				break
			}
		}
		if matched == op.Keep {
			out.cols = append(out.cols, col)
			out.get = append(out.get, in.get[i])
			out.baseCol = append(out.baseCol, in.baseCol[i])
		}
	}
	return out
}

func (c *compiler) compileProjectRename(op *ProjectRenameOp, in *plan) *plan {
	out := derive(in)
	out.valsWidth = in.valsWidth
	for _, p := range op.Pairs {
		i := out.colIndex(p.Old)
		if i < 0 {
			c.errorf(op.P, CodeInvalidQuery, "project-rename: column '%s' does not exist", p.Old)
		}
		if j := out.colIndex(p.New); j >= 0 && j != i {
			c.errorf(op.P, CodeInvalidQuery, "project-rename: column '%s' already exists", p.New)
		}
		out.cols[i].Name = p.New
	}
	return out
}

func (c *compiler) compileProjectReorder(op *ProjectReorderOp, in *plan) *plan {
	out := &plan{base: in.base, valsWidth: in.valsWidth, open: in.open, sizeHint: in.sizeHint}
	used := make([]bool, len(in.cols))
	for _, n := range op.Names {
		found := false
		for i, col := range in.cols {
			if !used[i] && wildcardMatch(n, col.Name) {
				used[i], found = true, true
				out.cols = append(out.cols, col)
				out.get = append(out.get, in.get[i])
				out.baseCol = append(out.baseCol, in.baseCol[i])
			}
		}
		if !found && !strings.Contains(n, "*") {
			c.errorf(op.P, CodeInvalidQuery, "project-reorder: column '%s' does not exist", n)
		}
	}
	for i, col := range in.cols {
		if !used[i] {
			out.cols = append(out.cols, col)
			out.get = append(out.get, in.get[i])
			out.baseCol = append(out.baseCol, in.baseCol[i])
		}
	}
	return out
}

// constLong evaluates a constant integer argument (take N, top N).
func (c *compiler) constLong(e Expr, what string) int64 {
	ce := c.compileExpr(e, &plan{})
	if ce.konst == nil {
		c.errorf(e.Position(), CodeInvalidQuery, "%s must be a constant", what)
	}
	n, ok := toLong(*ce.konst)
	if !ok || n < 0 {
		c.errorf(e.Position(), CodeInvalidQuery, "%s must be a non-negative integer", what)
	}
	return n
}

type takeIter struct {
	in   iterator
	left int64
}

func (t *takeIter) next(r *row) bool {
	if t.left <= 0 {
		return false
	}
	ok := t.in.next(r)
	if ok {
		t.left--
	}
	return ok
}

func (c *compiler) compileTake(n Expr, in *plan) *plan {
	limit := c.constLong(n, "the row count of take")
	out := derive(in)
	out.valsWidth = in.valsWidth
	prev := in.open
	out.sizeHint = int(min(int64(max(in.sizeHint, 0)), limit))
	out.open = func(st *execState) iterator { return &takeIter{in: prev(st), left: limit} }
	return out
}
