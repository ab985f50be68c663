package drift

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"

	"github.com/posture/posture/jsonw"
)

// appendCanonical appends the canonical JSON of v: object keys sorted
// bytewise, no spaces, numbers in their shortest round-trip form as
// JavaScript prints them (1.0 and 1 and 1e0 are all "1", -0 is "0"),
// strings escaped as jsonw writes them. It is the form digests are computed over, so
// it must never change; values of two documents that decode to the same
// value always encode the same.
func appendCanonical(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		if x {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case float64:
		return appendNumber(b, x)
	case string:
		return jsonw.AppendString(b, x)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCanonical(b, e)
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonw.AppendString(b, k)
			b = append(b, ':')
			b = appendCanonical(b, x[k])
		}
		return append(b, '}')
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return appendNumber(b, f)
		}
		return jsonw.AppendString(b, string(x))
	}
	return appendOther(b, v)
}

// appendOther handles documents built in Go rather than decoded: integers
// and float32 become numbers, anything else goes through encoding/json and
// back into the decoded value model.
func appendOther(b []byte, v any) []byte {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return appendNumber(b, float64(rv.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return appendNumber(b, float64(rv.Uint()))
	case reflect.Float32:
		return appendNumber(b, rv.Float())
	}
	data, err := json.Marshal(v)
	if err != nil {
		return jsonw.AppendString(b, fmt.Sprintf("%v", v))
	}
	var decoded any
	if err := json.Unmarshal(data, &decoded); err != nil {
		return jsonw.AppendString(b, string(data))
	}
	return appendCanonical(b, decoded)
}

// appendNumber writes f as ECMAScript's Number.prototype.toString does
// (the form RFC 8785 uses): plain notation from 1e-6 up to 1e21, exponent
// notation outside.
func appendNumber(b []byte, f float64) []byte {
	switch {
	case f == 0:
		return append(b, '0') // also -0
	case math.IsNaN(f) || math.IsInf(f, 0):
		// Not JSON; only a document built in Go can hold one.
		return jsonw.AppendString(b, strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// 1e-07 → 1e-7, 1e+21 stays: drop the exponent's leading zero.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}
