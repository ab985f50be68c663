package kql

import (
	"math"
	"strconv"
	"strings"
)

// Conversions between types, following the Kusto documentation of
// tostring, toint, tolong, todouble, tobool, todatetime and totimespan.

// toStringValue renders v as tostring() does: null becomes "", dynamic
// strings are unquoted, arrays and bags are JSON.
func toStringValue(v Value) string {
	if v.Null {
		return ""
	}
	switch v.T {
	case TypeString, TypeGuid:
		return v.s
	case TypeBool:
		if v.n != 0 {
			return "true"
		}
		return "false"
	case TypeInt, TypeLong:
		return strconv.FormatInt(v.n, 10)
	case TypeReal, TypeDecimal:
		return formatReal(v.Float())
	case TypeDateTime:
		return formatDatetimeISO(v.n)
	case TypeTimespan:
		return formatTimespan(v.n)
	case TypeDynamic:
		switch v.d.kind() {
		case dynString:
			return v.d.str()
		case dynArray, dynObject:
			return string(v.d.appendJSON(nil))
		case dynNull:
			return ""
		}
		return toStringValue(v.d.scalar())
	}
	return ""
}

func formatReal(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// scalarOf unwraps a dynamic primitive to its typed value; other values are
// returned as they are.
func scalarOf(v Value) Value {
	if v.T == TypeDynamic && !v.Null {
		return v.d.scalar()
	}
	return v
}

// toLong converts to long; ok is false when the result is null.
func toLong(v Value) (int64, bool) {
	v = scalarOf(v)
	if v.Null {
		return 0, false
	}
	switch v.T {
	case TypeBool, TypeInt, TypeLong, TypeDateTime, TypeTimespan:
		return v.n, true
	case TypeReal, TypeDecimal:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) || f >= 9.3e18 || f <= -9.3e18 {
			return 0, false
		}
		return int64(f), true // truncation toward zero
	case TypeString:
		s := strings.TrimSpace(v.s)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && math.Abs(f) < 9.3e18 {
			return int64(f), true
		}
	}
	return 0, false
}

// toReal converts to real; ok is false when the result is null.
func toReal(v Value) (float64, bool) {
	v = scalarOf(v)
	if v.Null {
		return 0, false
	}
	switch v.T {
	case TypeBool, TypeInt, TypeLong, TypeDateTime, TypeTimespan:
		return float64(v.n), true
	case TypeReal, TypeDecimal:
		return v.Float(), true
	case TypeString:
		s := strings.TrimSpace(v.s)
		switch strings.ToLower(s) {
		case "nan":
			return math.NaN(), true
		case "inf", "+inf", "infinity":
			return math.Inf(1), true
		case "-inf", "-infinity":
			return math.Inf(-1), true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f, true
		}
	}
	return 0, false
}

// toBool converts to bool: "true"/"false" (any case) and numbers (non-zero
// is true); anything else is null.
func toBool(v Value) (bool, bool) {
	v = scalarOf(v)
	if v.Null {
		return false, false
	}
	switch v.T {
	case TypeBool, TypeInt, TypeLong:
		return v.n != 0, true
	case TypeReal, TypeDecimal:
		return v.Float() != 0, true
	case TypeString:
		switch strings.ToLower(strings.TrimSpace(v.s)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(v.s), 10, 64); err == nil {
			return n != 0, true
		}
	}
	return false, false
}

// toDatetime converts to datetime.
func toDatetime(v Value) (int64, bool) {
	v = scalarOf(v)
	if v.Null {
		return 0, false
	}
	switch v.T {
	case TypeDateTime:
		return v.n, true
	case TypeString:
		return parseDatetime(v.s)
	}
	return 0, false
}

// toTimespan converts to timespan; numbers are ticks.
func toTimespan(v Value) (int64, bool) {
	v = scalarOf(v)
	if v.Null {
		return 0, false
	}
	switch v.T {
	case TypeTimespan:
		return v.n, true
	case TypeInt, TypeLong:
		return v.n, true
	case TypeString:
		return parseTimespan(v.s)
	}
	return 0, false
}

// toDynamic implements todynamic/parse_json: dynamic passes through, a JSON
// string is parsed, any other string becomes a dynamic string, scalars are
// wrapped.
func toDynamic(v Value) Value {
	if v.Null {
		return nullValue
	}
	switch v.T {
	case TypeDynamic:
		return v
	case TypeString:
		if d, ok := parseDynamicJSON(v.s); ok {
			return dynValue(d)
		}
		return Value{T: TypeDynamic, d: dynFromString(v.s)}
	}
	var b dynBuilder
	b.value(v)
	return dynValue(b.done())
}

// convertTo converts v to type t (used by typed captures, mv-expand to
// typeof, datatable cells and extract).
func convertTo(v Value, t Type) Value {
	switch t {
	case TypeString:
		return stringValue(toStringValue(v))
	case TypeLong:
		if n, ok := toLong(v); ok {
			return longValue(n)
		}
	case TypeInt:
		if n, ok := toLong(v); ok {
			return intValue(n)
		}
	case TypeReal, TypeDecimal:
		if f, ok := toReal(v); ok {
			return Value{T: t, n: int64(math.Float64bits(f))}
		}
	case TypeBool:
		if b, ok := toBool(v); ok {
			return boolValue(b)
		}
	case TypeDateTime:
		if d, ok := toDatetime(v); ok {
			return datetimeValue(d)
		}
	case TypeTimespan:
		if d, ok := toTimespan(v); ok {
			return timespanValue(d)
		}
	case TypeGuid:
		if g, ok := parseGuid(toStringValue(v)); ok {
			return guidValue(g)
		}
	case TypeDynamic:
		if v.T == TypeDynamic {
			return v
		}
		if v.Null {
			return nullValue
		}
		var b dynBuilder
		b.value(v)
		return dynValue(b.done())
	}
	return nullOf(t)
}
