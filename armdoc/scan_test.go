package armdoc

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzSplitTop checks the hand-written splitter against encoding/json on
// any valid JSON object: same members, same values, and a correct verdict
// on compactness.
func FuzzSplitTop(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"a" : [1, 2], "b":{"c":"}]\"{"}}`,
		`{"k\"ey":"v\\","n":null,"t":true,"f":-1.5e3,"s":"a b"}`,
		"{\n  \"id\": \"/x\",\n  \"tags\": {}\n}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]json.RawMessage
		if !json.Valid(b) || json.Unmarshal(b, &want) != nil || want == nil {
			return
		}
		o, compact, err := splitTop(b)
		if err != nil {
			t.Fatalf("splitTop(%q): %v", b, err)
		}
		got := map[string]json.RawMessage{}
		for _, fld := range o {
			got[fld.key] = fld.raw // later duplicates win, as in encoding/json
		}
		if len(got) != len(want) {
			t.Fatalf("splitTop(%q) members %v, want %v", b, got, want)
		}
		for k, w := range want {
			var a, c bytes.Buffer
			json.Compact(&a, got[k])
			json.Compact(&c, w)
			if a.String() != c.String() {
				t.Fatalf("member %q = %s, want %s", k, got[k], w)
			}
		}
		var c bytes.Buffer
		json.Compact(&c, b)
		if isCompact := c.Len() == len(b); compact != isCompact {
			t.Fatalf("compact(%q) = %v, want %v", b, compact, isCompact)
		}
	})
}
