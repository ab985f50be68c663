package kql

import (
	"regexp"
	"strings"
)

func (c *compiler) compileBinary(e *BinaryExpr, in *plan) compiledExpr {
	if _, star := e.L.(*StarExpr); star {
		return c.compileStarSearch(e, in)
	}
	l := c.compileExpr(e.L, in)
	r := c.compileExpr(e.R, in)
	lf, rf := l.fn, r.fn
	var out compiledExpr
	switch op := e.Op; op {
	case "and", "or":
		for _, x := range []compiledExpr{l, r} {
			if x.typ != TypeBool && x.typ != TypeDynamic {
				c.errorf(x.node.Position(), CodeInvalidQuery, "the operands of %s must be bool, not %s", op, x.typ)
			}
		}
		lp, rp := predOf(l), predOf(r)
		if op == "and" {
			out = withPred(func(row *row) int8 {
				a := lp(row)
				if a == 0 {
					return 0
				}
				b := rp(row)
				if b == 0 {
					return 0
				}
				if a == 1 && b == 1 {
					return 1
				}
				return -1
			})
		} else {
			out = withPred(func(row *row) int8 {
				a := lp(row)
				if a == 1 {
					return 1
				}
				b := rp(row)
				if b == 1 {
					return 1
				}
				if a == 0 && b == 0 {
					return 0
				}
				return -1
			})
		}
	case "+", "-", "*", "/", "%":
		typ, ok := arithType(op, l.typ, r.typ)
		if !ok {
			c.errorf(e.P, CodeInvalidQuery, "operator %s cannot be applied to %s and %s", op, l.typ, r.typ)
		}
		out = compiledExpr{typ: typ, fn: func(row *row) Value { return arith(op, lf(row), rf(row), typ) }}
	case "==", "!=":
		if !comparableTypes(l.typ, r.typ) {
			c.errorf(e.P, CodeInvalidQuery, "cannot compare %s with %s using %s", l.typ, r.typ, op)
		}
		if fast, ok := c.fastStringEquality(l, r, op == "!="); ok {
			out = fast
			break
		}
		not := op == "!="
		out = compiledExpr{typ: TypeBool, fn: func(row *row) Value {
			eq, ok := equalValues(lf(row), rf(row))
			if !ok {
				return nullOf(TypeBool)
			}
			return boolValue(eq != not)
		}}
	case "<", "<=", ">", ">=":
		if !comparableTypes(l.typ, r.typ) {
			c.errorf(e.P, CodeInvalidQuery, "cannot compare %s with %s using %s", l.typ, r.typ, op)
		}
		out = compiledExpr{typ: TypeBool, fn: func(row *row) Value {
			cmp, ok := compareValues(lf(row), rf(row))
			if !ok {
				return nullOf(TypeBool)
			}
			var b bool
			switch op {
			case "<":
				b = cmp < 0
			case "<=":
				b = cmp <= 0
			case ">":
				b = cmp > 0
			default:
				b = cmp >= 0
			}
			return boolValue(b)
		}}
	case "=~", "!~":
		not := op == "!~"
		if r.konst != nil {
			needle := toStringValue(*r.konst)
			if fast, ok := c.fastFoldEquality(l, needle, not); ok {
				out = fast
				break
			}
		}
		out = compiledExpr{typ: TypeBool, fn: func(row *row) Value {
			a, b := lf(row), rf(row)
			return boolValue(strings.EqualFold(toStringValue(a), toStringValue(b)) != not)
		}}
	case "matches regex":
		not := false
		if r.konst != nil {
			re, err := compileRegex(toStringValue(*r.konst))
			if err != nil {
				c.errorf(e.R.Position(), CodeInvalidQuery, "invalid regular expression: %v", err)
			}
			out = compiledExpr{typ: TypeBool, fn: func(row *row) Value {
				return boolValue(re.MatchString(toStringValue(lf(row))) != not)
			}}
			break
		}
		out = compiledExpr{typ: TypeBool, fn: func(row *row) Value {
			re, err := cachedRegex(toStringValue(rf(row)))
			if err != nil {
				return nullOf(TypeBool)
			}
			return boolValue(re.MatchString(toStringValue(lf(row))))
		}}
	default:
		base := strings.TrimSuffix(strings.TrimPrefix(op, "!"), "_cs")
		if !stringOperators[base] && !stringOperators[base+"_cs"] {
			c.errorf(e.P, CodeUnsupportedOperator, "operator %s is not supported", op)
		}
		not := strings.HasPrefix(op, "!")
		if r.konst != nil {
			m := newStringMatcher(op, toStringValue(*r.konst))
			out = c.stringOpConst(l, m, not)
			break
		}
		out = compiledExpr{typ: TypeBool, fn: func(row *row) Value {
			m := newStringMatcher(op, toStringValue(rf(row)))
			return boolValue(m.match(toStringValue(lf(row))) != not)
		}}
	}
	return foldConst(out, l, r)
}

// stringOpConst evaluates a string operator with a constant right side.
// Values interned in the table dictionary are tested once per code.
func (c *compiler) stringOpConst(l compiledExpr, m *stringMatcher, not bool) compiledExpr {
	lf := l.fn
	if l.strCode != nil && l.dict != nil {
		memo := newCodeMemo()
		dict := l.dict
		sc := l.strCode
		return compiledExpr{typ: TypeBool, fn: func(row *row) Value {
			if code, ok := sc(row); ok {
				return boolValue(memo.get(code, func() bool { return m.match(dict.Get(code)) }) != not)
			}
			return boolValue(m.match(toStringValue(lf(row))) != not)
		}}
	}
	return compiledExpr{typ: TypeBool, fn: func(row *row) Value {
		return boolValue(m.match(toStringValue(lf(row))) != not)
	}}
}

// codeMemo caches a predicate's result per dictionary code.
type codeMemo struct {
	m              map[uint32]bool
	lastCode       uint32
	lastOK, primed bool
}

func newCodeMemo() *codeMemo { return &codeMemo{m: map[uint32]bool{}} }

func (m *codeMemo) get(code uint32, compute func() bool) bool {
	if m.primed && code == m.lastCode {
		return m.lastOK
	}
	v, ok := m.m[code]
	if !ok {
		v = compute()
		if len(m.m) < 1<<16 {
			m.m[code] = v
		}
	}
	m.lastCode, m.lastOK, m.primed = code, v, true
	return v
}

// fastStringEquality compiles "x == 'const'" where x reads an interned
// string straight from storage into an integer comparison.
func (c *compiler) fastStringEquality(l, r compiledExpr, not bool) (compiledExpr, bool) {
	if l.konst != nil && r.konst == nil {
		l, r = r, l
	}
	if r.konst == nil || l.strCode == nil || l.dict == nil {
		return compiledExpr{}, false
	}
	kv := scalarOf(*r.konst)
	if kv.T != TypeString {
		return compiledExpr{}, false
	}
	needle := kv.s
	dict := l.dict
	code, present := dict.Lookup(needle)
	lf, sc, isNull := l.fn, l.strCode, l.isNull
	isDyn := l.typ == TypeDynamic
	return withPred(func(row *row) int8 {
		if got, ok := sc(row); ok {
			return b2i((present && got == code) != not)
		}
		if isNull != nil && isNull(row) {
			return b2i(not)
		}
		v := lf(row)
		if isDyn && v.Null {
			return b2i(not) // null == 'x' is false, null != 'x' is true
		}
		eq, _ := equalValues(v, kv)
		return b2i(eq != not)
	}), true
}

// fastFoldEquality compiles "x =~ 'const'" with a per-code memo.
func (c *compiler) fastFoldEquality(l compiledExpr, needle string, not bool) (compiledExpr, bool) {
	if l.strCode == nil || l.dict == nil {
		return compiledExpr{}, false
	}
	memo := newCodeMemo()
	dict, sc, lf := l.dict, l.strCode, l.fn
	return compiledExpr{typ: TypeBool, fn: func(row *row) Value {
		if code, ok := sc(row); ok {
			return boolValue(memo.get(code, func() bool { return strings.EqualFold(dict.Get(code), needle) }) != not)
		}
		return boolValue(strings.EqualFold(toStringValue(lf(row)), needle) != not)
	}}, true
}

var regexCache = newLRU[string, *regexp.Regexp](256)

func compileRegex(s string) (*regexp.Regexp, error) {
	if len(s) > 4096 {
		return nil, errString("regular expression too long")
	}
	return regexp.Compile(s)
}

func cachedRegex(s string) (*regexp.Regexp, error) {
	if re, ok := regexCache.get(s); ok {
		return re, nil
	}
	re, err := compileRegex(s)
	if err != nil {
		return nil, err
	}
	regexCache.put(s, re)
	return re, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// compileIn compiles in, !in, in~, !in~, has_any and has_all.
func (c *compiler) compileIn(e *InExpr, in *plan) compiledExpr {
	x := c.compileExpr(e.X, in)
	var items []compiledExpr
	if e.Tabular != nil {
		sub := c.compileSubquery(e.Tabular)
		items = []compiledExpr{sub}
	} else {
		for _, it := range e.List {
			items = append(items, c.compileExpr(it, in))
		}
	}
	op := e.Op
	xf := x.fn
	allConst := true
	for _, it := range items {
		if it.konst == nil {
			allConst = false
		}
	}
	// Flatten the list (dynamic arrays contribute their elements).
	flatten := func(r *row) []Value {
		var out []Value
		for _, it := range items {
			v := it.fn(r)
			if v.T == TypeDynamic && !v.Null && v.d.kind() == dynArray {
				v.d.each(func(_ string, el Dyn) bool { out = append(out, el.scalar()); return true })
				continue
			}
			out = append(out, v)
		}
		return out
	}
	switch op {
	case "has_any", "has_all":
		all := op == "has_all"
		var matchers []*stringMatcher
		if allConst {
			for _, v := range flatten(&row{}) {
				matchers = append(matchers, newStringMatcher("has", toStringValue(v)))
			}
		}
		out := compiledExpr{typ: TypeBool, fn: func(r *row) Value {
			ms := matchers
			if !allConst {
				ms = nil
				for _, v := range flatten(r) {
					ms = append(ms, newStringMatcher("has", toStringValue(v)))
				}
			}
			s := toStringValue(xf(r))
			for _, m := range ms {
				hit := m.match(s)
				if hit && !all {
					return boolValue(true)
				}
				if !hit && all {
					return boolValue(false)
				}
			}
			return boolValue(all && len(ms) > 0)
		}}
		return foldConst(out, append(items, x)...)
	}
	fold := strings.HasSuffix(op, "~")
	not := strings.HasPrefix(op, "!")
	if allConst {
		list := flatten(&row{})
		// Strings go into a set; the rest are compared one by one.
		set := map[string]bool{}
		var others []Value
		for _, v := range list {
			v = scalarOf(v)
			if v.T == TypeString {
				if fold {
					set[strings.ToLower(v.s)] = true
				} else {
					set[v.s] = true
				}
			} else {
				others = append(others, v)
			}
		}
		memo := newCodeMemo()
		sc, dict := x.strCode, x.dict
		test := func(v Value) bool {
			v = scalarOf(v)
			if v.Null {
				return false
			}
			if v.T == TypeString || v.T == TypeGuid {
				s := v.s
				if fold {
					s = strings.ToLower(s)
				}
				if set[s] {
					return true
				}
			} else if len(set) > 0 && v.T != TypeDynamic {
				if fold {
					if set[strings.ToLower(toStringValue(v))] {
						return true
					}
				}
			}
			for _, o := range others {
				if eq, ok := equalValues(v, o); ok && eq {
					return true
				}
			}
			return false
		}
		return compiledExpr{typ: TypeBool, fn: func(r *row) Value {
			if sc != nil && dict != nil {
				if code, ok := sc(r); ok {
					return boolValue(memo.get(code, func() bool { return test(stringValue(dict.Get(code))) }) != not)
				}
			}
			v := xf(r)
			if v.Null && !not {
				return boolValue(false)
			}
			return boolValue(test(v) != not)
		}}
	}
	return compiledExpr{typ: TypeBool, fn: func(r *row) Value {
		v := scalarOf(xf(r))
		hit := false
		for _, o := range flatten(r) {
			if fold {
				if !v.Null && !o.Null && strings.EqualFold(toStringValue(v), toStringValue(o)) {
					hit = true
					break
				}
			} else if eq, ok := equalValues(v, o); ok && eq {
				hit = true
				break
			}
		}
		return boolValue(hit != not)
	}}
}

// compileStarSearch implements "* has 'x'" / "* contains 'x'": true when
// the operator holds for any column's string value.
func (c *compiler) compileStarSearch(e *BinaryExpr, in *plan) compiledExpr {
	base := strings.TrimSuffix(strings.TrimPrefix(e.Op, "!"), "_cs")
	if !stringOperators[base] || strings.HasPrefix(e.Op, "!") {
		c.errorf(e.P, CodeInvalidQuery, "'*' can only be searched with a positive string operator such as has or contains")
	}
	r := c.compileExpr(e.R, in)
	if r.konst == nil {
		c.errorf(e.R.Position(), CodeInvalidQuery, "the term searched in '*' must be a constant")
	}
	m := newStringMatcher(e.Op, toStringValue(*r.konst))
	gets := append([]getter(nil), in.get...)
	return compiledExpr{typ: TypeBool, fn: func(row *row) Value {
		for _, g := range gets {
			if m.match(toStringValue(g(row))) {
				return boolValue(true)
			}
		}
		return boolValue(false)
	}}
}
