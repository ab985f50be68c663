package desired_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posture/posture/desired"
)

var fuzzExts = []string{".yaml", ".json", ".jsonc", ""}

// FuzzParse: any YAML or JSON input is parsed without panicking; every
// problem has a code, a message and a line when the file has content;
// and an input that parses cleanly writes and reads back to the same
// entries.
func FuzzParse(f *testing.F) {
	seed(f, "*.yaml", "*.json", "*.jsonc")
	for _, s := range []string{
		"exemptions: []",
		"exemptions:\n  - {name: a, category: waiver, scope: /subscriptions/x, recommendation: r, metadata: {n: 0x1F, f: .inf, t: 2027-01-31}}",
		`{"exemptions":[{"name":"\ud83d\ude00\ud800","x":1e400,}]} // c`,
		"x: &a [1]\ny: *a\n",
		"a: 1\n---\nb: 2\n",
		"\xef\xbb\xbf{}",
	} {
		for i := range fuzzExts {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, ext uint8) {
		check(t, "fuzz"+fuzzExts[int(ext)%len(fuzzExts)], data)
	})
}

// FuzzParseCSV is FuzzParse for EPAC CSV files.
func FuzzParseCSV(f *testing.F) {
	seed(f, "*.csv")
	f.Add([]byte("name,displayName,exemptionCategory,scopes,assignmentReferenceId\na,b,Waiver,/subscriptions/x&/subscriptions/y,policyDefinitions/p\n"), uint8(0))
	f.Add([]byte("name,\"x\ny\"\n\"a\"\"b,c\n"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, _ uint8) {
		check(t, "fuzz.csv", data)
	})
}

func seed(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		files, _ := filepath.Glob(filepath.Join("testdata", "*", p))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			for i := range fuzzExts {
				f.Add(data, uint8(i))
			}
		}
	}
}

func check(t *testing.T, file string, data []byte) {
	entries, probs := desired.Parse(file, data, now)
	content := len(bytes.TrimSpace(data)) > 0
	for _, p := range probs {
		if p.Code == "" || p.Message == "" || p.Pos.File != file {
			t.Fatalf("incomplete problem %#v", p)
		}
		if content && p.Pos.Line < 1 {
			t.Fatalf("problem without a line: %v", p)
		}
		if strings.Contains(p.Error(), "%!") && !bytes.Contains(data, []byte("%!")) {
			t.Fatalf("bad format: %v", p)
		}
	}
	if len(probs) > 0 {
		return
	}
	for _, e := range entries {
		if e.Name == "" || e.Category == "" || len(e.Scopes) == 0 {
			t.Fatalf("an entry without problems lacks a required field: %+v", e)
		}
	}
	got, _ := roundTrip(t, entries)
	compare(t, got, sorted(entries), false)
}
