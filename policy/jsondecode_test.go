package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseJSON checks parseJSON against encoding/json: the same verdict on
// every input and the same value for every valid one.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `null`, `true`, `-0.5e+3`, `"a\u00e9\ud83d\ude00\"\\"`, `{"a":[1,{"b":null}],"a":2}`,
		`"\xff"`, `01`, `1.`, `{"a" 1}`, `[1,]`, `"tab	"`, `1e400`, ` {"x" : [ true , false ] } `,
	} {
		f.Add([]byte(s))
	}
	files, _ := filepath.Glob("testdata/cases/*/*.yaml")
	for _, file := range files[:min(len(files), 20)] {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := parseJSON(data)
		var want any
		wantErr := json.Unmarshal(data, &want)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("parseJSON(%q) error %v, encoding/json %v", data, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("parseJSON(%q) = %#v, encoding/json %#v", data, got, want)
		}
	})
}

func BenchmarkParseJSON(b *testing.B) {
	data, err := os.ReadFile("../demo/examples/Microsoft.Web_sites.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.Run("parseJSON", func(b *testing.B) {
		for b.Loop() {
			if _, err := parseJSON(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
