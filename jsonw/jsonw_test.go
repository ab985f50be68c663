package jsonw_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/posture/posture/jsonw"
)

// AppendString writes what encoding/json writes with HTML escaping off.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"plain", `q"uote\back`, "<&>", "line\nbreak\t\r\x01\b\f", "é\u2028\u2029", "\xff\xfe", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := jsonw.AppendString(nil, s); string(got) != string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("%q: got %s, want %s", s, got, want.Bytes())
		}
	})
}
