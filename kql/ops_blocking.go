package kql

import (
	"encoding/binary"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Blocking operators: summarize, count, distinct, order/sort and top. They
// drain their input, so they charge the memory budget.

// appendKey encodes a value into a group/distinct key.
func appendKey(b []byte, v Value) []byte {
	v = scalarOf(v)
	if v.Null {
		return append(b, 0)
	}
	switch v.T {
	case TypeString, TypeGuid:
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(v.s)))
		return append(b, v.s...)
	case TypeDynamic:
		j := v.d.appendJSON(nil)
		b = append(b, 2)
		b = binary.AppendUvarint(b, uint64(len(j)))
		return append(b, j...)
	case TypeReal, TypeDecimal:
		f := v.Float()
		if f == math.Trunc(f) && math.Abs(f) < 1e18 {
			b = append(b, 3)
			return binary.AppendVarint(b, int64(f))
		}
		b = append(b, 4)
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	case TypeInt, TypeLong:
		b = append(b, 3)
		return binary.AppendVarint(b, v.n)
	}
	b = append(b, 5+byte(v.T))
	return binary.AppendVarint(b, v.n)
}

type aggCol struct {
	factory func() aggState
	argMax  *argExtremeSpec
	plain   bool // count() without arguments: counted in the group itself
}

// argExtremeSpec is arg_max/arg_min: compare expr, and columns to return.
type argExtremeSpec struct {
	sign int
	cmp  getter
	outs []getter
}

type argExtremeState struct {
	spec  *argExtremeSpec
	best  Value
	vals  []Value
	found bool
}

func (s *argExtremeState) add(r *row) {
	v := s.spec.cmp(r)
	if v.Null {
		if !s.found && s.vals == nil {
			s.vals = make([]Value, len(s.spec.outs))
			for i, g := range s.spec.outs {
				s.vals[i] = g(r)
			}
		}
		return
	}
	if s.found {
		if c, ok := compareValues(v, s.best); !ok || c*s.spec.sign <= 0 {
			return
		}
	}
	s.best, s.found = v, true
	if s.vals == nil {
		s.vals = make([]Value, len(s.spec.outs))
	}
	for i, g := range s.spec.outs {
		s.vals[i] = g(r)
	}
}
func (s *argExtremeState) result() Value { return Value{} }

func (c *compiler) compileSummarize(op *SummarizeOp, in *plan) *plan {
	var outCols []Column
	taken := func(n string) bool {
		for _, col := range outCols {
			if col.Name == n {
				return true
			}
		}
		return false
	}
	unique := func(n string) string {
		if !taken(n) {
			return n
		}
		for i := 1; ; i++ {
			if cand := n + itoa(i); !taken(cand) {
				return cand
			}
		}
	}
	counter := 0
	var keys []getter
	var keyExprs []compiledExpr
	for _, ne := range op.By {
		ce := c.compileExpr(ne.Expr, in)
		keyExprs = append(keyExprs, ce)
		name := ne.Name
		if name == "" {
			name = ce.name
		}
		if name == "" {
			name = nextColumnName(taken, &counter)
		}
		if taken(name) {
			c.errorf(ne.Expr.Position(), CodeInvalidQuery, "summarize: duplicate column name '%s'", name)
		}
		outCols = append(outCols, Column{Name: name, Type: ce.typ})
		keys = append(keys, ce.fn)
	}
	var aggs []aggCol
	// Expressions over aggregates (round(100.0 * countif(p) / count(), 1))
	// are split: each aggregate call becomes a hidden column, and a final
	// projection computes the expression from them.
	var finals []NamedExpr
	hasComputed := false
	var hiddenAggs []NamedExpr
	for _, ne := range op.Aggs {
		if call, ok := unparen(ne.Expr).(*CallExpr); ok && aggregates[call.Name] != nil {
			hiddenAggs = append(hiddenAggs, ne)
			continue
		}
		n := 0
		rewritten := rewriteAggCalls(ne.Expr, func(call *CallExpr) Expr {
			n++
			name := "__agg" + itoa(len(hiddenAggs))
			hiddenAggs = append(hiddenAggs, NamedExpr{Name: name, Expr: call})
			return &Ident{P: call.P, Name: name}
		})
		if n == 0 {
			if call, ok := unparen(ne.Expr).(*CallExpr); ok && functions[call.Name] == nil {
				c.errorf(call.P, CodeUnsupportedFunction, "aggregate function %s() is not supported", call.Name)
			}
			c.errorf(ne.Expr.Position(), CodeInvalidQuery, "summarize: expected an aggregate function call")
		}
		hasComputed = true
		name := ne.Name
		if inferred := inferName(rewritten); name == "" && strings.HasPrefix(inferred, "__agg") {
			// todouble(count()) is named like count(): count_.
			if k, err := strconv.Atoi(strings.TrimPrefix(inferred, "__agg")); err == nil {
				h := unparen(hiddenAggs[k].Expr).(*CallExpr)
				name = aggResultName(h.Name, aggregates[h.Name], h.Args)
			}
		}
		finals = append(finals, NamedExpr{Name: name, Expr: rewritten})
	}
	produced := map[Expr][2]int{} // aggregate entry → its output columns
	for _, ne := range hiddenAggs {
		start := len(outCols)
		c.compileAggregate(ne, in, &outCols, &aggs, taken, unique)
		produced[ne.Expr] = [2]int{start, len(outCols)}
	}
	out := valsPlan(outCols)
	out.open = c.summarizeOpen(in, keys, keyExprs, aggs, outCols)
	if !hasComputed {
		return out
	}
	// Final projection: by columns, then each aggregate entry in order.
	proj := &ProjectOp{P: op.P}
	for _, col := range outCols[:len(keys)] {
		proj.Cols = append(proj.Cols, NamedExpr{Expr: &Ident{P: op.P, Name: col.Name}})
	}
	fi := 0
	for _, ne := range op.Aggs {
		if r, ok := produced[ne.Expr]; ok {
			for _, col := range outCols[r[0]:r[1]] {
				proj.Cols = append(proj.Cols, NamedExpr{Expr: &Ident{P: op.P, Name: col.Name}})
			}
			continue
		}
		proj.Cols = append(proj.Cols, finals[fi])
		fi++
	}
	return c.compileProject(proj, out)
}

// compileAggregate adds the output columns and state of one aggregate call.
func (c *compiler) compileAggregate(ne NamedExpr, in *plan, outCols *[]Column, aggs *[]aggCol, taken func(string) bool, unique func(string) string) {
	{
		call := unparen(ne.Expr).(*CallExpr)
		spec, ok := aggregates[call.Name]
		if !ok {
			if _, scalar := functions[call.Name]; scalar {
				c.errorf(call.P, CodeInvalidQuery, "summarize: %s() is not an aggregate function", call.Name)
			}
			c.errorf(call.P, CodeUnsupportedFunction, "aggregate function %s() is not supported", call.Name)
		}
		if len(call.Args) < spec.min || (spec.max >= 0 && len(call.Args) > spec.max) {
			c.errorf(call.P, CodeInvalidQuery, "%s() got %d arguments", call.Name, len(call.Args))
		}
		if call.Name == "arg_max" || call.Name == "arg_min" {
			*aggs = append(*aggs, c.compileArgExtreme(call, ne.Name, in, outCols, taken, unique))
			return
		}
		args := make([]compiledExpr, len(call.Args))
		for i, a := range call.Args {
			args[i] = c.compileExpr(a, in)
		}
		name := ne.Name
		if name == "" {
			name = unique(aggResultName(call.Name, spec, call.Args))
		} else if taken(name) {
			c.errorf(call.P, CodeInvalidQuery, "summarize: duplicate column name '%s'", name)
		}
		*outCols = append(*outCols, Column{Name: name, Type: spec.typ(args)})
		*aggs = append(*aggs, aggCol{factory: spec.factory(c, call, args), plain: call.Name == "count" && len(args) == 0})
	}
}

// summarizeOpen returns the iterator factory of a summarize.
func (c *compiler) summarizeOpen(in *plan, keys []getter, keyExprs []compiledExpr, aggs []aggCol, outCols []Column) func(st *execState) iterator {
	prev := in.open
	nkeys := len(keys)
	// One string key read from storage: group by dictionary code first.
	var keyCode func(r *row) (uint32, bool)
	if nkeys == 1 && keyExprs[0].strCode != nil && keyExprs[0].dict != nil && keyExprs[0].typ == TypeString {
		keyCode = keyExprs[0].strCode
	}
	return func(st *execState) iterator {
		type group struct {
			keyVals []Value
			states  []aggState
			n       int64 // rows, for plain count()
		}
		// When every aggregate is count(), a row only bumps the group's n.
		allPlain := true
		for _, a := range aggs {
			allPlain = allPlain && a.plain
		}
		newGroup := func(r *row) *group {
			g := &group{keyVals: make([]Value, nkeys), states: make([]aggState, len(aggs))}
			for i, k := range keys {
				g.keyVals[i] = k(r)
			}
			for i, a := range aggs {
				if a.argMax != nil {
					g.states[i] = &argExtremeState{spec: a.argMax}
				} else {
					g.states[i] = a.factory()
				}
			}
			st.charge(int64(64*(nkeys+len(aggs)) + 64))
			return g
		}
		var groups []*group
		index := map[string]*group{}
		it := prev(st)
		var kb []byte
		byCode := map[uint32]*group{}
		// Most group-bys have few groups: a short list is checked before
		// the map.
		type codeGroup struct {
			code uint32
			g    *group
		}
		var few []codeGroup
		cur := new(row)
		for it.next(cur) {
			var g *group
			if nkeys == 0 {
				if len(groups) == 0 {
					groups = append(groups, newGroup(cur))
				}
				g = groups[0]
			} else {
				if keyCode != nil {
					if code, ok := keyCode(cur); ok {
						g = nil
						for k := range few {
							if few[k].code == code {
								g = few[k].g
								break
							}
						}
						if g == nil {
							g = byCode[code]
						}
						if g != nil {
							g.n++
							if !allPlain {
								for _, s := range g.states {
									s.add(cur)
								}
							}
							continue
						}
					}
				}
				kb = kb[:0]
				for _, k := range keys {
					kb = appendKey(kb, k(cur))
				}
				g = index[string(kb)]
				if g == nil {
					g = newGroup(cur)
					index[string(kb)] = g
					groups = append(groups, g)
					st.chargeRows(len(groups))
				}
				if keyCode != nil {
					if code, ok := keyCode(cur); ok {
						byCode[code] = g
						if len(few) < 8 {
							few = append(few, codeGroup{code, g})
						}
					}
				}
			}
			g.n++
			if !allPlain {
				for _, s := range g.states {
					s.add(cur)
				}
			}
		}
		if nkeys == 0 && len(groups) == 0 {
			groups = append(groups, newGroup(&row{}))
		}
		rows := make([]row, len(groups))
		for gi, g := range groups {
			vals := make([]Value, 0, len(outCols))
			vals = append(vals, g.keyVals...)
			for i, s := range g.states {
				if a := aggs[i].argMax; a != nil {
					as := s.(*argExtremeState)
					if as.vals == nil {
						for range a.outs {
							vals = append(vals, nullValue)
						}
					} else {
						vals = append(vals, as.vals...)
					}
					continue
				}
				if aggs[i].plain {
					vals = append(vals, longValue(g.n))
					continue
				}
				vals = append(vals, s.result())
			}
			rows[gi] = row{vals: vals}
		}
		return &sliceIter{st: st, rows: rows}
	}
}

func unparen(e Expr) Expr {
	for {
		p, ok := e.(*ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

func itoa(i int) string { return itoaDec(i) }

func itoaDec(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	n := len(b)
	neg := i < 0
	if neg {
		i = -i
	}
	for i > 0 {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
	}
	if neg {
		n--
		b[n] = '-'
	}
	return string(b[n:])
}

// compileArgExtreme handles arg_max(expr, cols...|*) and arg_min.
func (c *compiler) compileArgExtreme(call *CallExpr, alias string, in *plan, outCols *[]Column, taken func(string) bool, unique func(string) string) aggCol {
	cmp := c.compileExpr(call.Args[0], in)
	spec := &argExtremeSpec{sign: 1, cmp: cmp.fn}
	prefix := "max"
	if call.Name == "arg_min" {
		spec.sign, prefix = -1, "min"
	}
	first := alias
	if first == "" {
		first = cmp.name
	}
	if first == "" {
		first = prefix + "_"
	}
	*outCols = append(*outCols, Column{Name: unique(first), Type: cmp.typ})
	spec.outs = append(spec.outs, cmp.fn)
	for _, a := range call.Args[1:] {
		if _, star := a.(*StarExpr); star {
			for i, col := range in.cols {
				if taken(col.Name) {
					continue
				}
				*outCols = append(*outCols, col)
				spec.outs = append(spec.outs, in.get[i])
			}
			continue
		}
		ce := c.compileExpr(a, in)
		name := ce.name
		if name == "" {
			name = "Column" + itoaDec(len(*outCols)+1)
		}
		if taken(name) {
			continue
		}
		*outCols = append(*outCols, Column{Name: name, Type: ce.typ})
		spec.outs = append(spec.outs, ce.fn)
	}
	return aggCol{argMax: spec}
}

func (c *compiler) compileCount(in *plan) *plan {
	out := valsPlan([]Column{{Name: "Count", Type: TypeLong}})
	prev := in.open
	out.open = func(st *execState) iterator {
		it := prev(st)
		var n int64
		var r row
		for it.next(&r) {
			n++
		}
		return &sliceIter{st: st, rows: []row{{vals: []Value{longValue(n)}}}}
	}
	return out
}

func (c *compiler) compileDistinct(op *DistinctOp, in *plan) *plan {
	var cols []Column
	var fns []getter
	if op.Star {
		cols = append(cols, in.cols...)
		fns = append(fns, in.get...)
	} else {
		counter := 0
		for _, ne := range op.Cols {
			ce := c.compileExpr(ne.Expr, in)
			name := ne.Name
			if name == "" {
				name = ce.name
			}
			if name == "" {
				name = nextColumnName(func(n string) bool {
					for _, c := range cols {
						if c.Name == n {
							return true
						}
					}
					return false
				}, &counter)
			}
			cols = append(cols, Column{Name: name, Type: ce.typ})
			fns = append(fns, ce.fn)
		}
	}
	out := valsPlan(cols)
	prev := in.open
	out.open = func(st *execState) iterator {
		return &distinctIter{st: st, in: prev(st), fns: fns, seen: map[string]bool{}}
	}
	return out
}

// distinctIter streams the first row of each distinct key (so take after
// distinct stops early).
type distinctIter struct {
	st   *execState
	in   iterator
	fns  []getter
	seen map[string]bool
	kb   []byte
}

func (d *distinctIter) next(r *row) bool {
	for d.in.next(r) {
		vals := make([]Value, len(d.fns))
		d.kb = d.kb[:0]
		for i, f := range d.fns {
			vals[i] = f(r)
			d.kb = appendKey(d.kb, vals[i])
		}
		if d.seen[string(d.kb)] {
			continue
		}
		d.seen[string(d.kb)] = true
		d.st.charge(int64(len(d.kb) + 64*len(vals) + 48))
		d.st.chargeRows(len(d.seen))
		*r = row{vals: vals}
		return true
	}
	return false
}

// compileOrder implements order/sort, and top when limit is set.
func (c *compiler) compileOrder(keys []SortKey, in *plan, limit Expr) *plan {
	type key struct {
		fn         getter
		asc        bool
		nullsFirst bool
	}
	var ks []key
	for _, k := range keys {
		ce := c.compileExpr(k.Expr, in)
		nf := k.Asc
		switch k.Nulls {
		case "first":
			nf = true
		case "last":
			nf = false
		}
		ks = append(ks, key{fn: ce.fn, asc: k.Asc, nullsFirst: nf})
	}
	n := int64(-1)
	if limit != nil {
		n = c.constLong(limit, "the row count of top")
	}
	out := derive(in)
	prev := in.open
	width := len(in.cols)
	out.open = func(st *execState) iterator {
		rows := drain(st, prev(st), width)
		keyVals := make([][]Value, len(rows))
		for i := range rows {
			st.check()
			kv := make([]Value, len(ks))
			for j, k := range ks {
				kv[j] = scalarOf(k.fn(&rows[i]))
			}
			keyVals[i] = kv
		}
		idx := make([]int, len(rows))
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool {
			st.check()
			x, y := keyVals[idx[a]], keyVals[idx[b]]
			for j, k := range ks {
				xn, yn := x[j].Null, y[j].Null
				if xn || yn {
					if xn == yn {
						continue
					}
					return xn == k.nullsFirst
				}
				cmp, ok := compareValues(x[j], y[j])
				if !ok || cmp == 0 {
					if !ok {
						// Incomparable (mixed dynamic types): order by type name.
						cmp = compareStrings(getType(x[j]), getType(y[j]))
						if cmp == 0 {
							continue
						}
					} else {
						continue
					}
				}
				if k.asc {
					return cmp < 0
				}
				return cmp > 0
			}
			return false
		})
		if n >= 0 && int64(len(idx)) > n {
			idx = idx[:n]
		}
		sorted := make([]row, len(idx))
		for i, j := range idx {
			sorted[i] = rows[j]
		}
		return &sliceIter{st: st, rows: sorted}
	}
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// rewriteAggCalls returns a copy of e in which every aggregate call is
// replaced by f(call). The original tree is left untouched (a Query can be
// run many times).
func rewriteAggCalls(e Expr, f func(*CallExpr) Expr) Expr {
	var walk func(e Expr) Expr
	walk = func(e Expr) Expr {
		switch x := e.(type) {
		case *CallExpr:
			if aggregates[x.Name] != nil {
				return f(x)
			}
			cp := *x
			cp.Args = make([]Expr, len(x.Args))
			for i, a := range x.Args {
				cp.Args[i] = walk(a)
			}
			return &cp
		case *BinaryExpr:
			cp := *x
			cp.L, cp.R = walk(x.L), walk(x.R)
			return &cp
		case *UnaryExpr:
			cp := *x
			cp.X = walk(x.X)
			return &cp
		case *ParenExpr:
			cp := *x
			cp.X = walk(x.X)
			return &cp
		case *InExpr:
			cp := *x
			cp.X = walk(x.X)
			cp.List = make([]Expr, len(x.List))
			for i, a := range x.List {
				cp.List[i] = walk(a)
			}
			return &cp
		case *BetweenExpr:
			cp := *x
			cp.X, cp.Lo, cp.Hi = walk(x.X), walk(x.Lo), walk(x.Hi)
			return &cp
		case *MemberExpr:
			cp := *x
			cp.X = walk(x.X)
			return &cp
		case *IndexExpr:
			cp := *x
			cp.X, cp.Index = walk(x.X), walk(x.Index)
			return &cp
		}
		return e
	}
	return walk(e)
}
