package kql

import (
	"math"
	"strings"
)

// Scalar function registry. Each function declares its arity, its result
// type and an evaluator; e1/e2/e3 avoid a slice allocation for common
// arities. A function can instead provide compile, to pre-compute constant
// arguments (regular expressions) or read the query clock.

type fnSpec struct {
	min, max int
	typ      Type
	typFn    func(args []compiledExpr) Type
	e1       func(a Value) Value
	e2       func(a, b Value) Value
	e3       func(a, b, c Value) Value
	en       func(args []Value) Value
	compile  func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr
	volatile bool // not constant-foldable (new_guid)
}

var functions map[string]*fnSpec

func init() {
	functions = map[string]*fnSpec{}
	registerConversionFunctions()
	registerStringFunctions()
	registerDynamicFunctions()
	registerMathFunctions()
	registerTimeFunctions()
	registerLogicFunctions()
}

func reg(name string, s *fnSpec, aliases ...string) {
	functions[name] = s
	for _, a := range aliases {
		functions[a] = s
	}
}

// aggregate names, to give a clear error when used outside summarize.
func (c *compiler) compileCall(e *CallExpr, in *plan) compiledExpr {
	spec, ok := functions[e.Name]
	if !ok {
		if _, isAgg := aggregates[e.Name]; isAgg {
			c.errorf(e.P, CodeInvalidQuery, "aggregate function %s() can only be used in summarize", e.Name)
		}
		c.errorf(e.P, CodeUnsupportedFunction, "function %s() is not supported", e.Name)
	}
	if len(e.Args) < spec.min || (spec.max >= 0 && len(e.Args) > spec.max) {
		c.errorf(e.P, CodeInvalidQuery, "function %s() expects %s, got %d", e.Name, arityText(spec), len(e.Args))
	}
	args := make([]compiledExpr, len(e.Args))
	for i, a := range e.Args {
		if t, ok := a.(*TypeExpr); ok {
			// typeof(T) argument: a constant carrying the type.
			v := Value{T: TypeString, s: t.Type.String()}
			args[i] = constExpr(v, a)
			args[i].typ = TypeUnknown
			continue
		}
		args[i] = c.compileExpr(a, in)
	}
	if e.Name == "tostring" && len(args) == 1 && args[0].strCode != nil && args[0].dict != nil {
		// tostring of an interned string is that string: keep the code path
		// so that comparisons and grouping stay integer operations.
		a := args[0]
		f := a.fn
		return compiledExpr{typ: TypeString, fn: func(r *row) Value { return stringValue(toStringValue(f(r))) },
			strCode: a.strCode, dict: a.dict}
	}
	if spec.compile != nil {
		out := spec.compile(c, e, args)
		if spec.volatile {
			return out
		}
		return foldConst(out, args...)
	}
	typ := spec.typ
	if spec.typFn != nil {
		typ = spec.typFn(args)
	}
	out := compiledExpr{typ: typ}
	switch {
	case spec.e1 != nil && len(args) == 1:
		f, a := spec.e1, args[0].fn
		out.fn = func(r *row) Value { return f(a(r)) }
	case spec.e2 != nil && len(args) == 2:
		f, a, b := spec.e2, args[0].fn, args[1].fn
		out.fn = func(r *row) Value { return f(a(r), b(r)) }
	case spec.e3 != nil && len(args) == 3:
		f, a, b, cc := spec.e3, args[0].fn, args[1].fn, args[2].fn
		out.fn = func(r *row) Value { return f(a(r), b(r), cc(r)) }
	case spec.en != nil:
		f := spec.en
		fns := make([]getter, len(args))
		for i := range args {
			fns[i] = args[i].fn
		}
		out.fn = func(r *row) Value {
			vals := make([]Value, len(fns))
			for i, g := range fns {
				vals[i] = g(r)
			}
			return f(vals)
		}
	default:
		c.errorf(e.P, CodeInternal, "function %s() has no evaluator for %d arguments", e.Name, len(args))
	}
	if spec.volatile {
		return out
	}
	return foldConst(out, args...)
}

func arityText(s *fnSpec) string {
	switch {
	case s.max == s.min:
		return sprintf("%d argument(s)", s.min)
	case s.max < 0:
		return sprintf("at least %d argument(s)", s.min)
	}
	return sprintf("%d to %d arguments", s.min, s.max)
}

// firstArgType is the result type of functions returning their input type.
func firstArgType(args []compiledExpr) Type {
	if len(args) == 0 {
		return TypeDynamic
	}
	return args[0].typ
}

// commonType picks the type of iff/case/coalesce branches.
func commonType(args []compiledExpr) Type {
	var t Type
	for _, a := range args {
		if a.konst != nil && a.konst.Null && a.typ == TypeDynamic {
			continue // untyped null
		}
		switch {
		case t == TypeUnknown:
			t = a.typ
		case t == a.typ:
		case t.isNumeric() && a.typ.isNumeric():
			if a.typ == TypeReal || t == TypeReal {
				t = TypeReal
			} else {
				t = TypeLong
			}
		default:
			t = TypeDynamic
		}
	}
	if t == TypeUnknown {
		return TypeDynamic
	}
	return t
}

func registerConversionFunctions() {
	reg("tostring", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value { return stringValue(toStringValue(a)) }})
	toLongF := func(a Value) Value {
		if n, ok := toLong(a); ok {
			return longValue(n)
		}
		return nullOf(TypeLong)
	}
	reg("tolong", &fnSpec{min: 1, max: 1, typ: TypeLong, e1: toLongF})
	reg("toint", &fnSpec{min: 1, max: 1, typ: TypeInt, e1: func(a Value) Value {
		if n, ok := toLong(a); ok && n == int64(int32(n)) {
			return intValue(n)
		}
		return nullOf(TypeInt)
	}})
	toRealF := func(a Value) Value {
		if f, ok := toReal(a); ok {
			return realValue(f)
		}
		return nullOf(TypeReal)
	}
	reg("todouble", &fnSpec{min: 1, max: 1, typ: TypeReal, e1: toRealF}, "toreal")
	reg("todecimal", &fnSpec{min: 1, max: 1, typ: TypeDecimal, e1: func(a Value) Value { return convertTo(a, TypeDecimal) }})
	reg("tobool", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value {
		if b, ok := toBool(a); ok {
			return boolValue(b)
		}
		return nullOf(TypeBool)
	}}, "toboolean")
	reg("todatetime", &fnSpec{min: 1, max: 1, typ: TypeDateTime, e1: func(a Value) Value { return convertTo(a, TypeDateTime) }})
	reg("totimespan", &fnSpec{min: 1, max: 1, typ: TypeTimespan, e1: func(a Value) Value { return convertTo(a, TypeTimespan) }}, "totime")
	reg("toguid", &fnSpec{min: 1, max: 1, typ: TypeGuid, e1: func(a Value) Value { return convertTo(a, TypeGuid) }})
	reg("todynamic", &fnSpec{min: 1, max: 1, typ: TypeDynamic, e1: toDynamic}, "parse_json", "toobject")
	reg("gettype", &fnSpec{min: 1, max: 1, typ: TypeString, e1: func(a Value) Value { return stringValue(getType(a)) }})
	reg("tohex", &fnSpec{min: 1, max: 2, typ: TypeString, en: func(a []Value) Value {
		n, ok := toLong(a[0])
		if !ok {
			return emptyString
		}
		s := strings.ToLower(sprintf("%x", uint64(n)))
		if n >= 0 {
			s = sprintf("%x", n)
		}
		if len(a) > 1 {
			if w, ok := toLong(a[1]); ok && int(w) > len(s) && w < 64 {
				s = strings.Repeat("0", int(w)-len(s)) + s
			}
		}
		return stringValue(s)
	}})
}

// getType returns gettype()'s name for a value.
func getType(v Value) string {
	if v.T == TypeDynamic {
		if v.Null {
			return "null"
		}
		switch v.d.kind() {
		case dynArray:
			return "array"
		case dynObject:
			return "dictionary"
		case dynString:
			return "string"
		case dynLong:
			return "long"
		case dynReal:
			return "real"
		case dynBool:
			return "bool"
		case dynDatetime:
			return "datetime"
		case dynTimespan:
			return "timespan"
		}
		return "null"
	}
	if v.T == TypeDecimal {
		return "decimal"
	}
	return v.T.String()
}

func registerLogicFunctions() {
	iff := &fnSpec{min: 3, max: 3, typFn: func(a []compiledExpr) Type {
		if a[0].typ != TypeBool && a[0].typ != TypeDynamic {
			return TypeUnknown
		}
		return commonType(a[1:])
	}, compile: func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
		if args[0].typ != TypeBool && args[0].typ != TypeDynamic {
			c.errorf(call.P, CodeInvalidQuery, "%s(): the first argument must be bool, not %s", call.Name, args[0].typ)
		}
		typ := commonType(args[1:])
		p, a, b := args[0].fn, args[1].fn, args[2].fn
		return compiledExpr{typ: typ, fn: func(r *row) Value {
			if t, ok := truth(p(r)); ok && t {
				return coerceTo(a(r), typ)
			}
			return coerceTo(b(r), typ)
		}}
	}}
	reg("iff", iff, "iif")
	reg("case", &fnSpec{min: 3, max: -1, compile: func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
		if len(args)%2 == 0 {
			c.errorf(call.P, CodeInvalidQuery, "case() needs predicate/value pairs and an else value")
		}
		var vals []compiledExpr
		for i := 1; i < len(args); i += 2 {
			vals = append(vals, args[i])
		}
		vals = append(vals, args[len(args)-1])
		typ := commonType(vals)
		fns := make([]getter, len(args))
		for i := range args {
			fns[i] = args[i].fn
		}
		return compiledExpr{typ: typ, fn: func(r *row) Value {
			for i := 0; i+1 < len(fns); i += 2 {
				if t, ok := truth(fns[i](r)); ok && t {
					return coerceTo(fns[i+1](r), typ)
				}
			}
			return coerceTo(fns[len(fns)-1](r), typ)
		}}
	}})
	reg("coalesce", &fnSpec{min: 1, max: 64, compile: func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
		typ := commonType(args)
		fns := make([]getter, len(args))
		for i := range args {
			fns[i] = args[i].fn
		}
		return compiledExpr{typ: typ, fn: func(r *row) Value {
			for _, f := range fns {
				v := f(r)
				if isEmptyValue(v) {
					continue
				}
				return coerceTo(v, typ)
			}
			return nullOf(typ)
		}}
	}})
	reg("isnull", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value { return boolValue(a.Null) }})
	reg("isnotnull", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value { return boolValue(!a.Null) }}, "notnull")
	reg("isempty", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value { return boolValue(isEmptyValue(a)) }})
	reg("isnotempty", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value { return boolValue(!isEmptyValue(a)) }}, "notempty")
	reg("not", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value {
		if t, ok := truth(a); ok {
			return boolValue(!t)
		}
		return nullOf(TypeBool)
	}})
	reg("isnan", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value {
		f, ok := toReal(a)
		return boolValue(ok && math.IsNaN(f))
	}})
	reg("isinf", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value {
		f, ok := toReal(a)
		return boolValue(ok && math.IsInf(f, 0))
	}})
	reg("isfinite", &fnSpec{min: 1, max: 1, typ: TypeBool, e1: func(a Value) Value {
		f, ok := toReal(a)
		return boolValue(ok && !math.IsInf(f, 0) && !math.IsNaN(f))
	}})
}

// isEmptyValue is isempty(): null, "" or an empty dynamic string.
func isEmptyValue(v Value) bool {
	if v.Null {
		return true
	}
	switch v.T {
	case TypeString:
		return v.s == ""
	case TypeDynamic:
		return v.d.kind() == dynString && v.d.str() == "" || v.d.kind() == dynNull
	}
	return false
}

// coerceTo converts a branch value to the common type of iff/case.
func coerceTo(v Value, t Type) Value {
	if v.T == t || t == TypeDynamic || t == TypeUnknown {
		if v.Null && t != TypeUnknown {
			return nullOf(t)
		}
		return v
	}
	if v.Null {
		return nullOf(t)
	}
	if t.isNumeric() && v.T.isNumeric() {
		return convertTo(v, t)
	}
	return v
}
