package graph

import (
	"encoding/json"
	"maps"
	"testing"
)

// topFields gives what json.Unmarshal into a map of raw messages gives,
// for any valid JSON object; for anything else it says so.
func FuzzTopFields(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":"}"}], "d":{"e":"\"{"} } `, `{"a":1,"a":2}`, `{"k\u0065y":"v","\"q":null}`,
		`{"properties":{"x":[true,false,null,-1.5e3]},"tags":{}}`, `{"a":"\\"}`, `[1]`, `{"a":`, `{"a" 1}`, `{"a":1}x`, `"s"`, ``, `{"é":"ü"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, ok := topFields(doc)
		var want map[string]json.RawMessage
		err := json.Unmarshal(doc, &want)
		if err != nil || want == nil {
			if ok && json.Valid(doc) {
				t.Fatalf("%q: topFields accepts what is not an object: %v", doc, got)
			}
			return // invalid input: either answer is fine, the caller falls back
		}
		if !ok {
			t.Fatalf("%q: a valid object refused", doc)
		}
		if !maps.EqualFunc(got, want, func(a, b json.RawMessage) bool { return string(a) == string(b) }) {
			t.Fatalf("%q:\n got %q\nwant %q", doc, got, want)
		}
	})
}

// A resource's row carries its document's members as they are.
func TestResourceRowMembers(t *testing.T) {
	g := &Service{TenantID: "t"}
	r := benchDocs()[2] // the storage account
	_, row := g.resourceRow(r)
	var got, doc map[string]json.RawMessage
	if err := json.Unmarshal(row, &got); err != nil {
		t.Fatalf("%v\n%s", err, row)
	}
	json.Unmarshal(r.Body, &doc)
	if string(got["kind"]) != `"StorageV2"` || string(got["managedBy"]) != `""` || string(got["plan"]) != "null" {
		t.Errorf("kind %s, managedBy %s, plan %s", got["kind"], got["managedBy"], got["plan"])
	}
	for _, k := range []string{"sku", "tags", "identity", "properties"} {
		if string(got[k]) != string(doc[k]) {
			t.Errorf("%s is %s, the document has %s", k, got[k], doc[k])
		}
	}
}
