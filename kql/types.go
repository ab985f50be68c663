package kql

import (
	"math"
	"strings"
)

// Type is a KQL scalar type.
type Type uint8

// KQL types. Decimal is carried as a real (float64): posture has no decimal
// arithmetic; this is one of the documented differences from Kusto.
const (
	TypeUnknown Type = iota
	TypeBool
	TypeInt
	TypeLong
	TypeReal
	TypeDecimal
	TypeString
	TypeDateTime
	TypeTimespan
	TypeGuid
	TypeDynamic
)

var typeNames = [...]string{"unknown", "bool", "int", "long", "real", "decimal", "string", "datetime", "timespan", "guid", "dynamic"}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// parseTypeName accepts KQL type names and their synonyms.
func parseTypeName(s string) (Type, bool) {
	switch strings.ToLower(s) {
	case "bool", "boolean":
		return TypeBool, true
	case "int", "int32":
		return TypeInt, true
	case "long", "int64":
		return TypeLong, true
	case "real", "double", "float":
		return TypeReal, true
	case "decimal":
		return TypeDecimal, true
	case "string":
		return TypeString, true
	case "datetime", "date":
		return TypeDateTime, true
	case "timespan", "time":
		return TypeTimespan, true
	case "guid", "uuid", "uniqueid":
		return TypeGuid, true
	case "dynamic":
		return TypeDynamic, true
	}
	return TypeUnknown, false
}

// ARGType is the column type name ARG uses in the "table" result format.
func (t Type) ARGType() string {
	switch t {
	case TypeBool:
		return "boolean"
	case TypeInt, TypeLong:
		return "integer"
	case TypeReal, TypeDecimal:
		return "number"
	case TypeDateTime:
		return "datetime"
	case TypeDynamic:
		return "object"
	}
	return "string"
}

func (t Type) isNumeric() bool {
	return t == TypeInt || t == TypeLong || t == TypeReal || t == TypeDecimal
}
func (t Type) isInteger() bool { return t == TypeInt || t == TypeLong }

// Time is kept in ticks (100 ns) since 0001-01-01 UTC, as .NET and Kusto do,
// so the full datetime range fits an int64.
const (
	ticksPerMilli  int64 = 10_000
	ticksPerSecond int64 = 10_000_000
	ticksPerMinute int64 = 60 * ticksPerSecond
	ticksPerHour   int64 = 60 * ticksPerMinute
	ticksPerDay    int64 = 24 * ticksPerHour
	unixEpochTicks int64 = 621_355_968_000_000_000
	maxTicks       int64 = 3_155_378_975_999_999_999 // 9999-12-31 23:59:59.9999999
)

// Value is one KQL scalar. It is a small struct passed by value so that
// evaluation does not allocate; which fields matter depends on T.
//   - bool, int, long, datetime, timespan: n
//   - real, decimal: math.Float64frombits(n)
//   - string, guid: s (a string is never null; a missing string is "")
//   - dynamic: d
//
// Null marks a typed null (long(null)); a dynamic null has Null set too.
type Value struct {
	T    Type
	Null bool
	n    int64
	s    string
	d    Dyn
}

// Null values.
var (
	nullValue   = Value{T: TypeDynamic, Null: true}
	emptyString = Value{T: TypeString}
)

func nullOf(t Type) Value {
	if t == TypeString {
		return emptyString
	}
	if t == TypeUnknown {
		t = TypeDynamic
	}
	return Value{T: t, Null: true}
}

// Constructors.
func boolValue(b bool) Value {
	if b {
		return Value{T: TypeBool, n: 1}
	}
	return Value{T: TypeBool}
}
func longValue(n int64) Value     { return Value{T: TypeLong, n: n} }
func intValue(n int64) Value      { return Value{T: TypeInt, n: int64(int32(n))} }
func realValue(f float64) Value   { return Value{T: TypeReal, n: int64(math.Float64bits(f))} }
func stringValue(s string) Value  { return Value{T: TypeString, s: s} }
func datetimeValue(t int64) Value { return Value{T: TypeDateTime, n: t} }
func timespanValue(t int64) Value { return Value{T: TypeTimespan, n: t} }
func guidValue(s string) Value    { return Value{T: TypeGuid, s: s} }

// Bool returns the boolean, false when null.
func (v Value) Bool() bool { return !v.Null && v.n != 0 }

// Int returns integer-like payloads (long, int, datetime ticks, timespan ticks).
func (v Value) Int() int64 { return v.n }

// Float returns the real payload.
func (v Value) Float() float64 { return math.Float64frombits(uint64(v.n)) }

// Str returns the string payload.
func (v Value) Str() string { return v.s }

// IsNull reports whether v is null. Strings are never null.
func (v Value) IsNull() bool { return v.Null }

// asFloat converts a numeric value to float64.
func (v Value) asFloat() float64 {
	switch v.T {
	case TypeReal, TypeDecimal:
		return v.Float()
	}
	return float64(v.n)
}

// Interface converts v to a plain Go value as encoding/json would produce it:
// nil, bool, int64, float64, string, []any, map[string]any; datetimes are
// RFC 3339 strings and timespans Kusto's [-][d.]hh:mm:ss[.fffffff] text.
func (v Value) Interface() any {
	if v.Null {
		return nil
	}
	switch v.T {
	case TypeBool:
		return v.n != 0
	case TypeInt, TypeLong:
		return v.n
	case TypeReal, TypeDecimal:
		return v.Float()
	case TypeString, TypeGuid:
		return v.s
	case TypeDateTime:
		return formatDatetimeISO(v.n)
	case TypeTimespan:
		return formatTimespan(v.n)
	case TypeDynamic:
		return v.d.Interface()
	}
	return nil
}

// String renders v the way tostring() does.
func (v Value) String() string { return toStringValue(v) }
