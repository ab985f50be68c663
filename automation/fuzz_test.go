package automation_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/automation"
)

// Any body either parses or fails with a coded EINVALID *posture.Error,
// never a panic. One that parses: renders as JSON without its write-only
// values in every version, reads back from storage unchanged, still parses
// after a PATCH with itself, and validates and matches without panicking.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`{}`, `null`, `[]`, `{"properties":null}`,
		`{"location":"x","tags":{"a":"b"},"kind":"k","properties":{"description":"<&>\u2028","isEnabled":true,
			"scopes":[{"scopePath":"/subscriptions/` + sub + `/resourceGroups/rg"}],
			"sources":[{"eventSource":"assessments","ruleSets":[{"rules":[{"propertyJPath":"$['a'][0].b","propertyType":"number","expectedValue":"1e3","operator":"lesserthan"}]}]}],
			"actions":[{"actionType":"LogicApp","uri":"https://a.example/x"},{"actionType":"eventhub","connectionString":"Endpoint=https://h/;SharedAccessKeyName=k","isTrustedServiceEnabled":true},{"actionType":"Workspace"}]}}`,
		`{"properties":{"sources":[{"eventSource":"AttackPaths","ruleSets":[{"rules":[]},null]}],"actions":[{"actionType":"x"}]}}`,
	}
	entries, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			f.Fatal(err)
		}
		var ex example
		if json.Unmarshal(b, &ex) == nil && ex.Parameters.Automation != nil {
			seeds = append(seeds, string(ex.Parameters.Automation))
		}
	}
	for _, s := range seeds {
		for v := range automation.Versions {
			f.Add([]byte(s), uint8(v))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, v uint8) {
		version := automation.Versions[int(v)%len(automation.Versions)]
		a, err := automation.Parse(in, version)
		if err != nil {
			var pe *posture.Error
			if !errors.As(err, &pe) || pe.Kind != posture.EINVALID || pe.Code == "" {
				t.Fatalf("error %v is not a coded EINVALID *posture.Error", err)
			}
			return
		}
		for _, ver := range automation.Versions {
			doc := automation.Document("/x", "n", a, "e", ver)
			if !json.Valid(doc) {
				t.Fatalf("invalid JSON: %s", doc)
			}
			var d struct {
				Properties struct {
					Actions []map[string]json.RawMessage `json:"actions"`
				} `json:"properties"`
			}
			if err := json.Unmarshal(doc, &d); err != nil {
				t.Fatal(err)
			}
			for _, ac := range d.Properties.Actions {
				if ac["uri"] != nil || ac["connectionString"] != nil {
					t.Fatalf("write-only value rendered: %s", doc)
				}
			}
		}
		back, err := automation.FromStored(automation.StoredDocument(a))
		if err != nil {
			t.Fatalf("stored document does not read back: %v", err)
		}
		if !reflect.DeepEqual(back, a) {
			t.Fatalf("storage changed the automation:\n in  %+v\n out %+v", a, back)
		}
		if version == automation.V2023 {
			if err := a.ApplyPatch(in, version); err != nil {
				t.Fatalf("a body that parses does not patch: %v", err)
			}
		}
		a.Validate(sub)
		a.Deliverable()
		for _, src := range a.Sources {
			a.Matches(src.EventSource, "/subscriptions/"+sub+"/resourceGroups/rg/providers/A.B/c/d", in)
		}
	})
}

// FuzzRule reaches the path parser and the comparisons with odd values.
func FuzzRule(f *testing.F) {
	f.Add("properties.a[0]['b']", "String", "Contains", "x", `{"properties":{"a":[{"b":"xx"}]}}`)
	f.Add("$..a", "Integer", "GreaterThan", "-1", `{"a":1e400}`)
	f.Add("a", "Boolean", "Equals", "TRUE", `{"a":"true"}`)
	f.Fuzz(func(t *testing.T, path, typ, op, expected, event string) {
		r := automation.Rule{PropertyJPath: path, PropertyType: typ, Operator: op, ExpectedValue: expected}
		ok := r.Holds([]byte(event))
		if ok && r.Check() != "" {
			t.Fatalf("a malformed rule held: %s", r.Check())
		}
	})
}
