package kql

import (
	"slices"
	"strings"
)

// compiledExpr is a bound scalar expression.
type compiledExpr struct {
	fn    getter
	typ   Type
	name  string // inferred result name, "" when Kusto would say ColumnN
	konst *Value // set when the expression is a constant
	// dyn, when set, reads the value as a Dyn without wrapping (paths).
	dyn func(r *row) Dyn
	// strCode, when set, returns the dictionary code of a string-valued
	// expression read straight from storage (ok=false: not an interned
	// string at this row).
	strCode func(r *row) (uint32, bool)
	dict    *Dict
	node    Expr
	// isNull, when set, tells whether the value is null without building it
	// (set together with a cached strCode).
	isNull func(r *row) bool
	// pred, when set, evaluates a bool expression without building a Value
	// (the hot path of where): 1 true, 0 false, -1 null.
	pred func(r *row) int8
}

// predOf returns a predicate for a compiled bool expression.
func predOf(ce compiledExpr) func(r *row) int8 {
	if ce.pred != nil {
		return ce.pred
	}
	f := ce.fn
	return func(r *row) int8 {
		v := f(r)
		if v.T == TypeBool {
			if v.Null {
				return -1
			}
			return int8(v.n)
		}
		b, ok := truth(v)
		if !ok {
			return -1
		}
		if b {
			return 1
		}
		return 0
	}
}

// withPred fills fn from pred.
func withPred(p func(r *row) int8) compiledExpr {
	return compiledExpr{typ: TypeBool, pred: p, fn: func(r *row) Value {
		switch p(r) {
		case 1:
			return boolValue(true)
		case 0:
			return boolValue(false)
		}
		return nullOf(TypeBool)
	}}
}

func b2i(b bool) int8 {
	if b {
		return 1
	}
	return 0
}

func constExpr(v Value, node Expr) compiledExpr {
	vv := v
	return compiledExpr{fn: func(*row) Value { return vv }, typ: v.T, konst: &vv, node: node}
}

// joinSides is set while compiling join conditions.
type joinSides struct{ left, right *plan }

func (c *compiler) compileExpr(e Expr, in *plan) compiledExpr {
	ce := c.compileExpr0(e, in)
	ce.node = e
	if ce.name == "" {
		ce.name = inferName(e)
	}
	return ce
}

func (c *compiler) compileExpr0(e Expr, in *plan) compiledExpr {
	switch e := e.(type) {
	case *Literal:
		return constExpr(e.Val, e)
	case *ParenExpr:
		return c.compileExpr(e.X, in)
	case *Ident:
		return c.compileIdent(e, in)
	case *MemberExpr, *IndexExpr:
		return c.compilePath(e, in)
	case *UnaryExpr:
		x := c.compileExpr(e.X, in)
		if e.Op == "+" {
			return x
		}
		if x.typ != TypeDynamic && !x.typ.isNumeric() && x.typ != TypeTimespan {
			c.errorf(e.P, CodeInvalidQuery, "unary minus needs a number or timespan, not %s", x.typ)
		}
		f := x.fn
		out := compiledExpr{typ: x.typ, fn: func(r *row) Value { return negate(f(r)) }}
		return foldConst(out, x)
	case *BinaryExpr:
		return c.compileBinary(e, in)
	case *InExpr:
		return c.compileIn(e, in)
	case *BetweenExpr:
		return c.compileBetween(e, in)
	case *CallExpr:
		return c.compileCall(e, in)
	case *TypeExpr:
		c.errorf(e.P, CodeInvalidQuery, "typeof(%s) is only valid as a function argument", e.Type)
	case *StarExpr:
		c.errorf(e.P, CodeInvalidQuery, "'*' is only valid as an argument of arg_max/arg_min")
	}
	panic(newError(CodeInternal, "unknown expression %T", e))
}

// foldConst evaluates an expression once when all its inputs are constant.
func foldConst(out compiledExpr, inputs ...compiledExpr) compiledExpr {
	for _, in := range inputs {
		if in.konst == nil {
			return out
		}
	}
	v := out.fn(&row{})
	out.konst = &v
	out.fn = func(*row) Value { return v }
	return out
}

func (c *compiler) compileIdent(e *Ident, in *plan) compiledExpr {
	if i := in.colIndex(e.Name); i >= 0 {
		ce := compiledExpr{fn: in.get[i], typ: in.cols[i].Type, name: e.Name}
		if in.base != nil && in.baseCol[i] >= 0 {
			t := in.base
			col := t.cols[in.baseCol[i]]
			ord, dict := col.ord, t.dict
			if col.kind == colDynamic {
				ce.dyn = func(r *row) Dyn { return r.ch.dynamic(ord, int(r.i), dict) }
			} else {
				ce.strCode = func(r *row) (uint32, bool) { return r.ch.stringCode(ord, int(r.i)), true }
				ce.dict = dict
			}
		}
		return ce
	}
	if b, ok := c.lets[e.Name]; ok && b.scalar != nil {
		ce := *b.scalar
		ce.name = e.Name
		return ce
	}
	if strings.HasPrefix(e.Name, "$") {
		c.errorf(e.P, CodeInvalidQuery, "%s can only be used in join conditions", e.Name)
	}
	c.errorf(e.P, CodeInvalidQuery, "Failed to resolve scalar expression named '%s'", e.Name)
	return compiledExpr{}
}

// pathStep is one ".name", "['name']" or "[i]" access.
type pathStep struct {
	key   *memberKey
	index int
	isIdx bool
	dynIx getter // a non-constant subscript
}

// compilePath compiles a chain of member/index accesses into one closure
// that walks the dynamic encoding without allocating.
func (c *compiler) compilePath(e Expr, in *plan) compiledExpr {
	var steps []pathStep
	cur := e
	for {
		switch x := cur.(type) {
		case *MemberExpr:
			steps = append(steps, pathStep{key: &memberKey{name: x.Name}})
			cur = x.X
			continue
		case *IndexExpr:
			if lit, ok := x.Index.(*Literal); ok && lit.Val.T == TypeString {
				steps = append(steps, pathStep{key: &memberKey{name: lit.Val.s}})
			} else if lit, ok := x.Index.(*Literal); ok && lit.Val.T.isInteger() {
				steps = append(steps, pathStep{isIdx: true, index: int(lit.Val.n)})
			} else if u, ok := x.Index.(*UnaryExpr); ok && u.Op == "-" {
				if lit, ok := u.X.(*Literal); ok && lit.Val.T.isInteger() {
					steps = append(steps, pathStep{isIdx: true, index: -int(lit.Val.n)})
				} else {
					steps = append(steps, pathStep{dynIx: c.compileExpr(x.Index, in).fn})
				}
			} else {
				steps = append(steps, pathStep{dynIx: c.compileExpr(x.Index, in).fn})
			}
			cur = x.X
			continue
		}
		break
	}
	// steps were collected outermost first; reverse.
	for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
		steps[i], steps[j] = steps[j], steps[i]
	}
	root := c.compileExpr(cur, in)
	rootDyn := root.dyn
	if rootDyn == nil {
		rf := root.fn
		rootDyn = func(r *row) Dyn {
			v := rf(r)
			if v.T == TypeDynamic && !v.Null {
				return v.d
			}
			return Dyn{}
		}
	}
	walk := func(r *row) Dyn {
		d := rootDyn(r)
		for i := range steps {
			s := &steps[i]
			switch {
			case s.key != nil:
				d = d.member(s.key)
			case s.isIdx:
				d = d.index(s.index)
			default:
				ix := scalarOf(s.dynIx(r))
				if ix.T == TypeString {
					d = d.memberString(ix.s)
				} else if n, ok := toLong(ix); ok {
					d = d.index(int(n))
				} else {
					d = Dyn{}
				}
			}
			if len(d.b) == 0 {
				return d
			}
		}
		return d
	}
	ce := compiledExpr{typ: TypeDynamic, dyn: walk, fn: func(r *row) Value { return dynValue(walk(r)) }}
	ce.strCode = func(r *row) (uint32, bool) { return walk(r).strCode() }
	if in.base != nil {
		ce.dict = in.base.dict
	}
	// A constant path on a stored dynamic column reads its codes from the
	// chunk's path cache: after the first query, an integer per row.
	if cacheKey, ok := c.pathCacheKey(cur, steps, in); ok {
		var lastCh *chunk
		var lastCol []uint32
		walkRow := func(ch *chunk, i int) Dyn { return walk(&row{ch: ch, i: int32(i)}) }
		ce.strCode = func(r *row) (uint32, bool) {
			if r.ch != lastCh {
				lastCh, lastCol = r.ch, r.ch.pathCodes(cacheKey, walkRow)
			}
			if lastCol != nil {
				switch code := lastCol[r.i]; code {
				case pathNotString:
				case pathNull:
					return 0, false
				default:
					return code, true
				}
			}
			return walk(r).strCode()
		}
		ce.isNull = func(r *row) bool {
			if r.ch != lastCh {
				lastCh, lastCol = r.ch, r.ch.pathCodes(cacheKey, walkRow)
			}
			if lastCol != nil {
				return lastCol[r.i] == pathNull
			}
			d := walk(r)
			return len(d.b) == 0 || d.b[0] == tagNull
		}
	}
	// A path on a constant is constant only when its subscripts are: a
	// column subscript (0[A]) reads the row, which folding has not.
	if root.konst != nil && !slices.ContainsFunc(steps, func(s pathStep) bool { return s.dynIx != nil }) {
		return foldConst(ce, root)
	}
	return ce
}

// conversionFuncs take their result name from their first argument
// (Kusto's ResultNameKind.NameOfFirstArgument).
var conversionFuncs = map[string]bool{
	"tostring": true, "toint": true, "tolong": true, "todouble": true, "toreal": true, "tobool": true,
	"toboolean": true, "todatetime": true, "totimespan": true, "todecimal": true, "toguid": true,
	"todynamic": true, "toobject": true, "parse_json": true, "bin": true, "floor": true,
}

// inferName returns the column name Kusto gives an unnamed expression, or
// "" when it would use ColumnN.
func inferName(e Expr) string {
	switch e := e.(type) {
	case *Ident:
		return e.Name
	case *ParenExpr:
		return inferName(e.X)
	case *MemberExpr:
		if base := inferName(e.X); base != "" {
			return base + "_" + e.Name
		}
	case *IndexExpr:
		base := inferName(e.X)
		if lit, ok := e.Index.(*Literal); ok && base != "" {
			if lit.Val.T == TypeString {
				return base + "_" + lit.Val.s
			}
			if lit.Val.T.isInteger() {
				return base + "_" + toStringValue(lit.Val)
			}
		}
	case *CallExpr:
		if conversionFuncs[e.Name] && len(e.Args) > 0 {
			return inferName(e.Args[0])
		}
	}
	return ""
}

func (c *compiler) compileBetween(e *BetweenExpr, in *plan) compiledExpr {
	x := c.compileExpr(e.X, in)
	lo := c.compileExpr(e.Lo, in)
	hi := c.compileExpr(e.Hi, in)
	xf, lf, hf := x.fn, lo.fn, hi.fn
	not := e.Not
	out := compiledExpr{typ: TypeBool, fn: func(r *row) Value {
		v := xf(r)
		a, ok1 := compareValues(v, lf(r))
		b, ok2 := compareValues(v, hf(r))
		if !ok1 || !ok2 {
			return nullOf(TypeBool)
		}
		return boolValue((a >= 0 && b <= 0) != not)
	}}
	return foldConst(out, x, lo, hi)
}

// pathCacheKey returns the cache key of a constant member path rooted at a
// stored dynamic column, or false.
func (c *compiler) pathCacheKey(root Expr, steps []pathStep, in *plan) (string, bool) {
	id, ok := root.(*Ident)
	if !ok || in.base == nil {
		return "", false
	}
	i := in.colIndex(id.Name)
	if i < 0 || in.baseCol[i] < 0 {
		return "", false
	}
	col := in.base.cols[in.baseCol[i]]
	if col.kind != colDynamic {
		return "", false
	}
	var b strings.Builder
	b.WriteString(itoa(col.ord))
	for _, s := range steps {
		if s.key == nil {
			return "", false
		}
		b.WriteByte(0)
		b.WriteString(s.key.name)
	}
	return b.String(), true
}
