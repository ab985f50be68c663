package drift_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/drift"
	"github.com/posture/posture/policy"
)

// fuzzFields reads built-in fields, plain paths, [*] paths and case
// variants, over whatever document the fuzzer makes.
var fuzzFields = []string{
	"id", "name", "fullName", "type", "location", "kind", "tags", "tags['env']",
	"properties", "properties.a", "properties.A.b", "properties.a[*]", "properties.a[*].b",
	"properties.a[*].b[*]", "properties.allowBlobPublicAccess", "properties.networkAcls.ipRules[*].value",
}

// FuzzTake: arbitrary JSON never panics, and the digest depends on the
// decoded values only: re-encoding the document (sorted keys, numbers
// respelled by encoding/json) and decoding it again gives the same
// fingerprint.
func FuzzTake(f *testing.F) {
	if data, err := os.ReadFile("testdata/storageAccount.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"properties": {"a": [{"b": 1.0}, {"B": [1e2, null]}, {}], "A": {"b": -0}}}`))
	f.Add([]byte(`{"id": "/subscriptions/s/resourceGroups/g/providers/A.B/c/d", "tags": {"Env": "x\u00e9"}, "properties": {"a": "\ud800"}}`))
	f.Add([]byte(`[1, 2]`))
	f.Add([]byte(`{"properties": {"AB": 1, "Ab": 2, "a": {"b": 3}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return
		}
		doc, ok := v.(map[string]any)
		if !ok {
			doc = map[string]any{"properties": v}
		}
		if id, _ := doc["id"].(string); id == "" {
			doc["id"] = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/sa"
		}
		first, err := json.Marshal(doc)
		if err != nil {
			return
		}
		r1, err := policy.NewResourceJSON(first)
		if err != nil {
			return
		}
		fp1 := drift.Take(fuzzFields, r1)

		// Decode again through encoding/json (a different decoder, its own
		// number spelling) and fingerprint that.
		var again map[string]any
		if err := json.Unmarshal(first, &again); err != nil {
			t.Fatal(err)
		}
		second, _ := json.Marshal(again)
		r2, err := policy.NewResourceJSON(second)
		if err != nil {
			t.Fatalf("re-encoded document does not decode: %v", err)
		}
		fp2 := drift.Take(fuzzFields, r2)
		if fp1.Digest != fp2.Digest {
			t.Fatalf("digest changed on re-decoding: %v\n%s\n%s", drift.Changed(fp1, fp2), first, second)
		}
		if c := drift.Changed(fp1, fp2); c != nil {
			t.Fatalf("equal digests, changes %v", c)
		}
		for _, fv := range fp1.Fields {
			if fv.Value != nil && !json.Valid(fv.Value) {
				t.Fatalf("%s: value %q is not JSON", fv.Path, fv.Value)
			}
			_ = drift.Change{Path: fv.Path, Kind: drift.Modified, Old: &fv.Reading, New: &fv.Reading}.String()
		}
		if _, err := json.Marshal(fp1); err != nil {
			t.Fatalf("fingerprint does not marshal: %v", err)
		}
	})
}

// FuzzParseEvidence: arbitrary conditions never panic; a condition either
// parses and checks (holding, failing or erroring) or is a coded error.
func FuzzParseEvidence(f *testing.F) {
	for _, s := range []string{
		`{"field":"Microsoft.Storage/storageAccounts/networkAcls.defaultAction","equals":"Deny"}`,
		`{"allOf":[{"field":"type","equals":"Microsoft.Storage/storageAccounts"},{"not":{"field":"name","like":"a*"}}]}`,
		`{"count":{"field":"Microsoft.Storage/storageAccounts/networkAcls.ipRules[*]","where":{"field":"Microsoft.Storage/storageAccounts/networkAcls.ipRules[*].value","match":"#.#.#.#"}},"greater":0}`,
		`{"value":"[concat(field('name'), utcNow())]","contains":"x"}`,
		`{"count":{"value":[1,2],"name":"i","where":{"value":"[current('i')]","equals":1}},"equals":1}`,
		`{"field":"tags['env']","in":["prod"]}`,
		`{"anyOf":[]}`,
		`{"field":"[parameters('p')]","equals":1}`,
	} {
		f.Add([]byte(s))
	}
	data, err := os.ReadFile("testdata/storageAccount.json")
	if err != nil {
		f.Fatal(err)
	}
	r, err := policy.NewResourceJSON(data)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := drift.ParseEvidence(raw)
		if err != nil {
			if code := drift.CodeInvalidEvidence; posture.ErrorCode(err) != code {
				t.Fatalf("error without code %s: %v", code, err)
			}
			return
		}
		holds, why, err := ev.Check(r)
		if err == nil && !holds && why == "" {
			t.Fatal("a failing check without a reason")
		}
		if holds && why != "" {
			t.Fatalf("a holding check with a reason: %s", why)
		}
	})
}
