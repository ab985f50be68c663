package policy

import (
	"math"
	"strconv"
	"strings"
)

// Logical, comparison, numeric and conversion functions.

func init() {
	register("true", 0, 0, true, func(*evalCtx, []any) (any, error) { return true, nil })
	register("false", 0, 0, true, func(*evalCtx, []any) (any, error) { return false, nil })
	register("and", 2, -1, true, func(_ *evalCtx, a []any) (any, error) {
		out := true
		for i := range a {
			b, err := argBool("and", a, i)
			if err != nil {
				return nil, err
			}
			out = out && b
		}
		return out, nil
	})
	register("or", 2, -1, true, func(_ *evalCtx, a []any) (any, error) {
		out := false
		for i := range a {
			b, err := argBool("or", a, i)
			if err != nil {
				return nil, err
			}
			out = out || b
		}
		return out, nil
	})
	register("not", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		b, err := argBool("not", a, 0)
		return !b, err
	})
	registerLazy("if", 3, 3, func(c *evalCtx, a []expr) (any, error) {
		cond, err := a[0].eval(c)
		if err != nil {
			return nil, err
		}
		b, ok := cond.(bool)
		if !ok {
			return nil, evalErrorf("if: the condition must be a boolean, got %s", typeName(cond))
		}
		if b {
			return a[1].eval(c)
		}
		return a[2].eval(c)
	})
	register("coalesce", 1, -1, true, func(_ *evalCtx, a []any) (any, error) {
		for _, v := range a {
			if v != nil {
				return v, nil
			}
		}
		return nil, nil
	})
	register("equals", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		return templateEquals(a[0], a[1]), nil
	})
	register("less", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		return templateCompare("less", a, func(c int) bool { return c < 0 })
	})
	register("lessOrEquals", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		return templateCompare("lessOrEquals", a, func(c int) bool { return c <= 0 })
	})
	register("greater", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		return templateCompare("greater", a, func(c int) bool { return c > 0 })
	})
	register("greaterOrEquals", 2, 2, true, func(_ *evalCtx, a []any) (any, error) {
		return templateCompare("greaterOrEquals", a, func(c int) bool { return c >= 0 })
	})
	register("int", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		switch x := a[0].(type) {
		case float64:
			return math.Trunc(x), nil
		case string:
			i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return nil, evalErrorf("int: %q is not an integer", x)
			}
			return float64(i), nil
		case bool:
			if x {
				return float64(1), nil
			}
			return float64(0), nil
		}
		return nil, evalErrorf("int: cannot convert a %s", typeName(a[0]))
	})
	register("float", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		switch x := a[0].(type) {
		case float64:
			return x, nil
		case string:
			f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
			if err != nil {
				return nil, evalErrorf("float: %q is not a number", x)
			}
			return f, nil
		}
		return nil, evalErrorf("float: cannot convert a %s", typeName(a[0]))
	})
	register("string", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		if s, ok := scalarString(a[0]); ok && a[0] != nil {
			return s, nil
		}
		if a[0] == nil {
			return "", nil
		}
		return toJSONString(a[0]), nil
	})
	register("bool", 1, 1, true, func(_ *evalCtx, a []any) (any, error) {
		switch x := a[0].(type) {
		case bool:
			return x, nil
		case string:
			switch strings.ToLower(strings.TrimSpace(x)) {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		case float64:
			return x != 0, nil
		}
		return nil, evalErrorf("bool: cannot convert %s", toJSONString(a[0]))
	})
	register("add", 2, 2, true, arith("add", func(x, y float64) (float64, error) { return x + y, nil }))
	register("sub", 2, 2, true, arith("sub", func(x, y float64) (float64, error) { return x - y, nil }))
	register("mul", 2, 2, true, arith("mul", func(x, y float64) (float64, error) { return x * y, nil }))
	register("div", 2, 2, true, arith("div", func(x, y float64) (float64, error) {
		if y == 0 {
			return 0, evalErrorf("div: division by zero")
		}
		return math.Trunc(x / y), nil
	}))
	register("mod", 2, 2, true, arith("mod", func(x, y float64) (float64, error) {
		if y == 0 {
			return 0, evalErrorf("mod: division by zero")
		}
		return math.Mod(x, y), nil
	}))
}

func arith(fn string, op func(x, y float64) (float64, error)) func(*evalCtx, []any) (any, error) {
	return func(_ *evalCtx, a []any) (any, error) {
		x, err := argInt(fn, a, 0)
		if err != nil {
			return nil, err
		}
		y, err := argInt(fn, a, 1)
		if err != nil {
			return nil, err
		}
		return op(float64(x), float64(y))
	}
}

// templateCompare is ARM's less/greater family: integers numerically,
// strings ordinally; other combinations are errors.
func templateCompare(fn string, a []any, ok func(int) bool) (any, error) {
	switch x := a[0].(type) {
	case float64:
		y, isNum := a[1].(float64)
		if !isNum {
			return nil, evalErrorf("%s: cannot compare an Integer with a %s", fn, typeName(a[1]))
		}
		switch {
		case x < y:
			return ok(-1), nil
		case x > y:
			return ok(1), nil
		}
		return ok(0), nil
	case string:
		y, isStr := a[1].(string)
		if !isStr {
			return nil, evalErrorf("%s: cannot compare a String with a %s", fn, typeName(a[1]))
		}
		return ok(strings.Compare(x, y)), nil
	}
	return nil, evalErrorf("%s: arguments must be integers or strings, got %s", fn, typeName(a[0]))
}
