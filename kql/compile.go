package kql

import (
	"strings"
)

// The binder/compiler turns the AST into a plan: an output schema (names and
// types, named as Kusto names them) plus an iterator factory. Scalar
// expressions become closures over a row, so evaluation does not walk the
// tree. Semantic errors are positioned *Error values raised with panic and
// recovered at Run, promql style.

// row is one row flowing through a pipeline. Rows straight from a table
// keep a reference to their chunk (ch, i) and read columns lazily; computed
// columns live in vals. Once returned, a row's vals are never modified, so
// operators may keep rows without copying.
type row struct {
	ch   *chunk
	i    int32
	vals []Value
}

// getter reads one column of a row.
type getter func(r *row) Value

// iterator is a pull-based operator: next fills *r and returns true, or
// returns false when exhausted. Filling the caller's row (instead of
// returning one) keeps the per-row cost to a few stores.
type iterator interface {
	next(r *row) bool
}

// plan is a compiled tabular expression.
type plan struct {
	cols    []Column
	get     []getter
	base    *Table // non-nil while rows still come straight from this table
	baseCol []int  // for base columns: table column index, else -1
	open    func(st *execState) iterator
	// sizeHint is an upper bound on rows (for pre-allocation); -1 unknown.
	sizeHint int
	// valsWidth is the number of vals the plan's rows carry.
	valsWidth int
	// scan is set while the plan is a table scan plus where filters, so
	// that the filters run inside the scan loop.
	scan *scanSpec
}

// scanSpec is a table scan with the predicates fused into it.
type scanSpec struct {
	t      *Table
	filter func(ch *chunk, i int) bool
	preds  []func(r *row) int8
}

func (s *scanSpec) open(st *execState) iterator {
	it := &scanIter{st: st, t: s.t, filter: s.filter, ci: 0, ri: -1}
	switch len(s.preds) {
	case 0:
	case 1:
		it.pred = s.preds[0]
	default:
		preds := s.preds
		it.pred = func(r *row) int8 {
			for _, p := range preds {
				if p(r) != 1 {
					return 0
				}
			}
			return 1
		}
	}
	return it
}

func (p *plan) colIndex(name string) int {
	for i, c := range p.cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

type letBinding struct {
	scalar  *compiledExpr
	tabular *Pipeline
}

type compiler struct {
	q      *Query
	src    string
	snap   *Snapshot
	limits Limits
	now    int64
	filter *RowFilter
	lets   map[string]*letBinding
	st     *execState

	joins, mvexpands int
	remote           map[string]bool
	primary          string
}

func (c *compiler) errorf(pos Pos, code Code, format string, args ...any) {
	panic(positioned(c.src, int(pos), code, format, args...))
}

func (c *compiler) compileQuery() *plan {
	for _, l := range c.q.Lets {
		b := &letBinding{}
		if l.Tabular != nil {
			b.tabular = l.Tabular
		} else {
			ce := c.compileExpr(l.Scalar, &plan{})
			b.scalar = &ce
		}
		c.lets[l.Name] = b
	}
	return c.compilePipeline(c.q.Body)
}

func (c *compiler) compilePipeline(pl *Pipeline) *plan {
	p := c.compileSource(pl.Source)
	for _, op := range pl.Ops {
		p = c.compileOperator(op, p)
	}
	return p
}

func (c *compiler) compileSource(s Source) *plan {
	switch s := s.(type) {
	case *TableRef:
		if b, ok := c.lets[s.Name]; ok && b.tabular != nil {
			delete(c.lets, s.Name) // no recursion through let
			p := c.compilePipeline(b.tabular)
			c.lets[s.Name] = b
			return p
		}
		t := c.snap.Table(s.Name)
		if t == nil {
			c.errorf(s.P, CodeUnknownTable, "table %q does not exist", s.Name)
		}
		if c.primary == "" {
			c.primary = strings.ToLower(t.name)
		}
		return c.scanPlan(t)
	case *DatatableSource:
		return c.compileDatatable(s)
	case *ParenSource:
		return c.compilePipeline(s.Inner)
	case *UnionSource:
		return c.compileUnion(s.Union, nil)
	}
	panic(newError(CodeInternal, "unknown source %T", s))
}

// scanPlan reads a table, applying the row filter.
func (c *compiler) scanPlan(t *Table) *plan {
	p := &plan{base: t, sizeHint: t.rows}
	for i, col := range t.cols {
		p.cols = append(p.cols, Column{Name: col.Name, Type: col.Type})
		p.get = append(p.get, baseGetter(t, col))
		p.baseCol = append(p.baseCol, i)
	}
	p.scan = &scanSpec{t: t, filter: compileRowFilter(c.filter, t)}
	p.open = p.scan.open
	return p
}

func baseGetter(t *Table, col colDef) getter {
	dict := t.dict
	ord := col.ord
	if col.kind == colString {
		return func(r *row) Value { return Value{T: TypeString, s: dict.Get(r.ch.stringCode(ord, int(r.i)))} }
	}
	return func(r *row) Value { return dynValue(r.ch.dynamic(ord, int(r.i), dict)) }
}

// scanIter walks the chunks of a table.
type scanIter struct {
	st     *execState
	t      *Table
	filter func(ch *chunk, i int) bool
	pred   func(r *row) int8 // fused where predicates, or nil
	ci, ri int
}

func (s *scanIter) next(r *row) bool {
	for s.ci < len(s.t.chunks) {
		ch := s.t.chunks[s.ci]
		s.ri++
		if s.ri >= ch.n {
			s.ci++
			s.ri = -1
			// The context is checked once per chunk.
			if s.st.ctx.Err() != nil {
				panic(ctxError(s.st.ctx))
			}
			continue
		}
		if s.filter != nil && !s.filter(ch, s.ri) {
			continue
		}
		r.ch, r.i, r.vals = ch, int32(s.ri), nil
		if s.pred != nil && s.pred(r) != 1 {
			continue
		}
		return true
	}
	return false
}

// compileRowFilter prepares the authorization filter for one table.
func compileRowFilter(f *RowFilter, t *Table) func(ch *chunk, i int) bool {
	if f == nil {
		return nil
	}
	subs := map[string]bool{}
	for _, s := range f.Subscriptions {
		subs[strings.ToLower(s)] = true
	}
	scopes := make([]string, 0, len(f.Scopes))
	for _, s := range f.Scopes {
		scopes = append(scopes, strings.TrimRight(s, "/"))
	}
	subOrd := t.cols[t.byName["subscriptionId"]].ord
	idOrd := t.cols[t.byName["id"]].ord
	// Decisions per subscription code are memoised: O(1) per row.
	memo := map[uint32]bool{}
	lastCode, lastOK := uint32(1<<32-1), false
	dict := t.dict
	return func(ch *chunk, i int) bool {
		code := ch.stringCode(subOrd, i)
		if code != lastCode {
			ok, seen := memo[code]
			if !seen {
				ok = subs[strings.ToLower(dict.Get(code))]
				memo[code] = ok
			}
			lastCode, lastOK = code, ok
		}
		if lastOK {
			return true
		}
		if len(scopes) == 0 && f.Allow == nil {
			return false
		}
		id := dict.Get(ch.stringCode(idOrd, i))
		for _, s := range scopes {
			if idUnderScope(id, s) {
				return true
			}
		}
		return f.Allow != nil && f.Allow(id)
	}
}

// idUnderScope reports whether id equals scope or lies below it, comparing
// case-insensitively and only at segment boundaries.
func idUnderScope(id, scope string) bool {
	if len(id) < len(scope) || !strings.EqualFold(id[:len(scope)], scope) {
		return false
	}
	return len(id) == len(scope) || id[len(scope)] == '/'
}

// sliceIter iterates over materialised rows.
type sliceIter struct {
	st   *execState
	rows []row
	i    int
}

func (s *sliceIter) next(r *row) bool {
	if s.i >= len(s.rows) {
		return false
	}
	s.st.check()
	s.i++
	*r = s.rows[s.i-1]
	return true
}

// drain reads all rows of an iterator, charging the memory budget.
func drain(st *execState, it iterator, width int) []row {
	var rows []row
	per := int64(40 + 64*width)
	var r row
	for it.next(&r) {
		rows = append(rows, r)
		st.charge(per)
		st.chargeRows(len(rows))
	}
	return rows
}

// valsPlan builds a plan whose columns are all in row.vals.
func valsPlan(cols []Column) *plan {
	p := &plan{cols: cols, sizeHint: -1, valsWidth: len(cols)}
	for i := range cols {
		p.get = append(p.get, valsGetter(i))
		p.baseCol = append(p.baseCol, -1)
	}
	return p
}

func valsGetter(i int) getter { return func(r *row) Value { return r.vals[i] } }

// materialize evaluates every column of r.
func materialize(p *plan, r *row) []Value {
	vals := make([]Value, len(p.get))
	for i, g := range p.get {
		vals[i] = g(r)
	}
	return vals
}
