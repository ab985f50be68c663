package drift

import (
	"encoding/json"
	"math"
	"testing"
)

func TestAppendCanonical(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{nil, "null"},
		{true, "true"},
		{1.0, "1"},
		{math.Copysign(0, -1), "0"},
		{-1.5, "-1.5"},
		{0.000001, "0.000001"},
		{1e-7, "1e-7"},
		{123456789012345680000.0, "123456789012345680000"},
		{1e21, "1e+21"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{math.Inf(1), `"+Inf"`},
		// Strings as encoding/json writes them with HTML escaping off
		// (jsonw): U+2028 escaped, invalid UTF-8 as \ufffd.
		{"a\"b\\c\n\x01\u00e9<>&\u2028", `"a\"b\\c\n\u0001é<>&\u2028"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{[]any{}, "[]"},
		{map[string]any{}, "{}"},
		{map[string]any{"b": 1.0, "a": []any{nil, "x"}, "B": false}, `{"B":false,"a":[null,"x"],"b":1}`},
		// Documents built in Go.
		{map[string]any{"n": 3, "u": uint8(4), "f": float32(0.5)}, `{"f":0.5,"n":3,"u":4}`},
		{map[string]string{"z": "1", "a": "2"}, `{"a":"2","z":"1"}`},
		{json.Number("1.0"), "1"},
		{[]int{1, 2}, "[1,2]"},
	}
	for _, tt := range tests {
		if got := string(appendCanonical(nil, tt.v)); got != tt.want {
			t.Errorf("appendCanonical(%#v) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

// For values without special characters the canonical form is what
// encoding/json writes (sorted keys, shortest numbers), except that it
// does not escape HTML characters.
func TestAppendCanonicalMatchesEncodingJSON(t *testing.T) {
	for _, src := range []string{
		`{"z":[1,2.5,-3e-9,1e300,{"k":"v"}],"a":{"y":null,"x":true},"m":"plain"}`,
		`[0.1,0.2,0.30000000000000004,100000000000000000000,1e21,5e-324]`,
	} {
		var v any
		if err := json.Unmarshal([]byte(src), &v); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(v)
		if got := appendCanonical(nil, v); string(got) != string(want) {
			t.Errorf("canonical %s\nencoding/json %s", got, want)
		}
	}
}
