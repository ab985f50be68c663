package kql

import (
	"math"
	"time"
)

func registerMathFunctions() {
	num1 := func(f func(float64) float64) *fnSpec {
		return &fnSpec{min: 1, max: 1, typ: TypeReal, e1: func(a Value) Value {
			x, ok := toReal(a)
			if !ok {
				return nullOf(TypeReal)
			}
			return realValue(f(x))
		}}
	}
	reg("sqrt", num1(math.Sqrt))
	reg("exp", num1(math.Exp))
	reg("log", num1(math.Log))
	reg("log10", num1(math.Log10))
	reg("log2", num1(math.Log2))
	reg("ceiling", num1(math.Ceil))
	reg("pow", &fnSpec{min: 2, max: 2, typ: TypeReal, e2: func(a, b Value) Value {
		x, ok1 := toReal(a)
		y, ok2 := toReal(b)
		if !ok1 || !ok2 {
			return nullOf(TypeReal)
		}
		return realValue(math.Pow(x, y))
	}})
	reg("abs", &fnSpec{min: 1, max: 1, typFn: firstArgType, e1: func(a Value) Value {
		a = scalarOf(a)
		switch {
		case a.Null:
			return a
		case a.T == TypeReal || a.T == TypeDecimal:
			return realValue(math.Abs(a.Float()))
		case a.T.isInteger() || a.T == TypeTimespan:
			if a.n < 0 {
				a.n = -a.n
			}
			return a
		}
		return nullValue
	}})
	reg("sign", &fnSpec{min: 1, max: 1, typFn: firstArgType, e1: func(a Value) Value {
		f, ok := toReal(a)
		if !ok {
			return nullOf(TypeReal)
		}
		switch {
		case f > 0:
			return longValue(1)
		case f < 0:
			return longValue(-1)
		}
		return longValue(0)
	}})
	reg("round", &fnSpec{min: 1, max: 2, typFn: func(a []compiledExpr) Type {
		if a[0].typ.isInteger() {
			return a[0].typ
		}
		return TypeReal
	}, en: func(a []Value) Value {
		v := scalarOf(a[0])
		if v.Null {
			return nullOf(TypeReal)
		}
		if v.T.isInteger() && len(a) == 1 {
			return v
		}
		x, ok := toReal(v)
		if !ok {
			return nullOf(TypeReal)
		}
		digits := int64(0)
		if len(a) > 1 {
			if d, ok := toLong(a[1]); ok {
				digits = d
			}
		}
		p := math.Pow(10, float64(digits))
		r := roundHalfAwayFromZero(x*p) / p
		if v.T.isInteger() {
			return longValue(int64(r))
		}
		return realValue(r)
	}})
	binSpec := &fnSpec{min: 2, max: 2, typFn: firstArgType, e2: binValue}
	reg("bin", binSpec, "floor")
	reg("bin_at", &fnSpec{min: 3, max: 3, typFn: firstArgType, e3: func(v, size, at Value) Value {
		sh := arith("-", v, at, TypeUnknown)
		b := binValue(sh, size)
		return arith("+", b, at, TypeUnknown)
	}})
	reg("min_of", &fnSpec{min: 1, max: 64, typFn: commonType, en: func(a []Value) Value { return extremum(a, -1) }})
	reg("max_of", &fnSpec{min: 1, max: 64, typFn: commonType, en: func(a []Value) Value { return extremum(a, 1) }})
}

func roundHalfAwayFromZero(x float64) float64 { return math.Round(x) }

func extremum(a []Value, sign int) Value {
	var best Value
	found := false
	for _, v := range a {
		v = scalarOf(v)
		if v.Null {
			continue
		}
		if !found {
			best, found = v, true
			continue
		}
		if c, ok := compareValues(v, best); ok && c*sign > 0 {
			best = v
		}
	}
	if !found {
		return nullValue
	}
	return best
}

// binValue rounds v down to a multiple of size (bin/floor). A null, zero or
// negative size gives null.
func binValue(v, size Value) Value {
	v, size = scalarOf(v), scalarOf(size)
	if v.Null || size.Null {
		return nullOf(v.T)
	}
	switch v.T {
	case TypeDateTime, TypeTimespan:
		s, ok := toLong(size)
		if size.T == TypeReal {
			s = int64(size.Float())
		}
		if !ok || s <= 0 {
			return nullOf(v.T)
		}
		out := v
		out.n = floorDiv(v.n, s) * s
		return out
	case TypeInt, TypeLong:
		if size.T.isInteger() {
			if size.n <= 0 {
				return nullOf(v.T)
			}
			out := v
			out.n = floorDiv(v.n, size.n) * size.n
			return out
		}
		f, ok := toReal(size)
		if !ok || f <= 0 {
			return nullOf(v.T)
		}
		return realValue(math.Floor(float64(v.n)/f) * f)
	case TypeReal, TypeDecimal:
		f, ok := toReal(size)
		if !ok || f <= 0 {
			return nullOf(TypeReal)
		}
		return realValue(math.Floor(v.Float()/f) * f)
	}
	return nullValue
}

func registerTimeFunctions() {
	reg("now", &fnSpec{min: 0, max: 1, typ: TypeDateTime, compile: func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
		now := c.now
		if len(args) == 0 {
			return constExpr(datetimeValue(now), call)
		}
		off := args[0].fn
		return compiledExpr{typ: TypeDateTime, fn: func(r *row) Value {
			return arith("+", datetimeValue(now), off(r), TypeDateTime)
		}}
	}})
	reg("ago", &fnSpec{min: 1, max: 1, typ: TypeDateTime, compile: func(c *compiler, call *CallExpr, args []compiledExpr) compiledExpr {
		now := c.now
		off := args[0].fn
		return compiledExpr{typ: TypeDateTime, fn: func(r *row) Value {
			return arith("-", datetimeValue(now), off(r), TypeDateTime)
		}}
	}})
	dt1 := func(f func(int64) int64) *fnSpec {
		return &fnSpec{min: 1, max: 2, typ: TypeDateTime, en: func(a []Value) Value {
			t, ok := toDatetime(a[0])
			if !ok {
				return nullOf(TypeDateTime)
			}
			if len(a) > 1 {
				return nullOf(TypeDateTime) // offsets are not supported; see README
			}
			return checkedDatetime(f(t))
		}}
	}
	reg("startofday", dt1(startOfDay))
	reg("endofday", dt1(func(t int64) int64 { return startOfDay(t) + ticksPerDay - 1 }))
	reg("startofweek", dt1(startOfWeek))
	reg("endofweek", dt1(func(t int64) int64 { return startOfWeek(t) + 7*ticksPerDay - 1 }))
	reg("startofmonth", dt1(startOfMonth))
	reg("endofmonth", dt1(func(t int64) int64 { n, _ := addMonths(startOfMonth(t), 1); return n - 1 }))
	reg("startofyear", dt1(startOfYear))
	reg("endofyear", dt1(func(t int64) int64 { n, _ := addMonths(startOfYear(t), 12); return n - 1 }))
	part := func(f func(time.Time) int64) *fnSpec {
		return &fnSpec{min: 1, max: 1, typ: TypeInt, e1: func(a Value) Value {
			t, ok := toDatetime(a)
			if !ok {
				return nullOf(TypeInt)
			}
			return intValue(f(timeFromTicks(t)))
		}}
	}
	reg("getyear", part(func(t time.Time) int64 { return int64(t.Year()) }))
	reg("getmonth", part(func(t time.Time) int64 { return int64(t.Month()) }))
	reg("dayofmonth", part(func(t time.Time) int64 { return int64(t.Day()) }))
	reg("dayofyear", part(func(t time.Time) int64 { return int64(t.YearDay()) }))
	reg("hourofday", part(func(t time.Time) int64 { return int64(t.Hour()) }))
	reg("dayofweek", &fnSpec{min: 1, max: 1, typ: TypeTimespan, e1: func(a Value) Value {
		t, ok := toDatetime(a)
		if !ok {
			return nullOf(TypeTimespan)
		}
		return timespanValue(startOfDay(t) - startOfWeek(t))
	}})
	reg("make_datetime", &fnSpec{min: 3, max: 7, typ: TypeDateTime, en: func(a []Value) Value {
		var p [7]float64
		for i, v := range a {
			f, ok := toReal(v)
			if !ok {
				return nullOf(TypeDateTime)
			}
			p[i] = f
		}
		y, mo, d := int(p[0]), int(p[1]), int(p[2])
		if y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || p[3] < 0 || p[3] > 23 || p[4] < 0 || p[4] > 59 || p[5] < 0 || p[5] >= 60 {
			return nullOf(TypeDateTime)
		}
		t := time.Date(y, time.Month(mo), d, int(p[3]), int(p[4]), 0, 0, time.UTC)
		if t.Day() != d {
			return nullOf(TypeDateTime)
		}
		return datetimeValue(ticksFromTime(t) + int64(math.Round(p[5]*float64(ticksPerSecond))))
	}})
	reg("make_timespan", &fnSpec{min: 2, max: 5, typ: TypeTimespan, en: func(a []Value) Value {
		var p []float64
		for _, v := range a {
			f, ok := toReal(v)
			if !ok {
				return nullOf(TypeTimespan)
			}
			p = append(p, f)
		}
		var t float64
		switch len(p) {
		case 2:
			t = p[0]*float64(ticksPerHour) + p[1]*float64(ticksPerMinute)
		case 3:
			t = p[0]*float64(ticksPerHour) + p[1]*float64(ticksPerMinute) + p[2]*float64(ticksPerSecond)
		default:
			t = p[0]*float64(ticksPerDay) + p[1]*float64(ticksPerHour) + p[2]*float64(ticksPerMinute) + p[3]*float64(ticksPerSecond)
		}
		return timespanFromFloat(t)
	}})
	reg("format_datetime", &fnSpec{min: 2, max: 2, typ: TypeString, e2: func(a, f Value) Value {
		t, ok := toDatetime(a)
		if !ok {
			return emptyString
		}
		return stringValue(formatDatetime(t, str(f)))
	}})
	reg("datetime_diff", &fnSpec{min: 3, max: 3, typ: TypeLong, e3: func(p, a, b Value) Value {
		x, ok1 := toDatetime(a)
		y, ok2 := toDatetime(b)
		if !ok1 || !ok2 {
			return nullOf(TypeLong)
		}
		d, ok := datetimeDiff(str(p), x, y)
		if !ok {
			return nullOf(TypeLong)
		}
		return longValue(d)
	}})
	reg("datetime_add", &fnSpec{min: 3, max: 3, typ: TypeDateTime, e3: func(p, n, a Value) Value {
		t, ok1 := toDatetime(a)
		k, ok2 := toLong(n)
		if !ok1 || !ok2 {
			return nullOf(TypeDateTime)
		}
		switch str(p) {
		case "year", "Year":
			k *= 12
			fallthrough
		case "month", "Month":
			r, ok := addMonths(t, k)
			if !ok {
				return nullOf(TypeDateTime)
			}
			return datetimeValue(r)
		case "quarter", "Quarter":
			r, ok := addMonths(t, 3*k)
			if !ok {
				return nullOf(TypeDateTime)
			}
			return datetimeValue(r)
		}
		unit, ok := partTicks(str(p))
		if !ok || unit == 0 {
			return nullOf(TypeDateTime)
		}
		if k > maxTicks/unit || k < -maxTicks/unit {
			return nullOf(TypeDateTime)
		}
		return checkedDatetime(t + k*unit)
	}})
	reg("unixtime_seconds_todatetime", &fnSpec{min: 1, max: 1, typ: TypeDateTime, e1: func(a Value) Value {
		f, ok := toReal(a)
		if !ok || math.Abs(f) > 2.5e11 {
			return nullOf(TypeDateTime)
		}
		return checkedDatetime(unixEpochTicks + int64(f*float64(ticksPerSecond)))
	}})
	reg("unixtime_milliseconds_todatetime", &fnSpec{min: 1, max: 1, typ: TypeDateTime, e1: func(a Value) Value {
		f, ok := toReal(a)
		if !ok || math.Abs(f) > 2.5e14 {
			return nullOf(TypeDateTime)
		}
		return checkedDatetime(unixEpochTicks + int64(f*float64(ticksPerMilli)))
	}})
}
