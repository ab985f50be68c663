package exemption_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

// FuzzFromDocument reads stored exemption documents (and imported ones):
// never a panic; a document that reads renders and reads back the same.
func FuzzFromDocument(f *testing.F) {
	for _, v := range versions {
		e, err := exemption.Parse([]byte(body(`"policyDefinitionReferenceIds":["a"],"expiresOn":"2026-12-31T23:59:00Z","resourceSelectors":[{"name":"r","selectors":[{"kind":"resourceLocation","in":["westeurope"]}]}]`)), v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(exemption.Document(exemptionID, "n", e, sd, v))
	}
	f.Add([]byte(`{"id":"/x","properties":{"policyAssignmentId":"/a","exemptionCategory":"Waiver","expiresOn":"not a time"},"systemData":{"createdAt":1}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		e, _, err := exemption.FromDocument(doc)
		if err != nil {
			return
		}
		roundTrip(t, e)
	})
}

// FuzzLoadRules reads the governance rules file: errors are coded
// EINVALID errors; rules that load write out and load again the same, and
// check any exemption without a panic.
func FuzzLoadRules(f *testing.F) {
	for _, s := range []string{`{}`, `{"requiredMetadata":["ticket","Owner"],"maxDays":{"waiver":{"high":90,"Medium":180}},"waiverRequiresExpiry":true}`,
		`{"maxDays":{"Mitigated":{"Low":0}}}`, `{"maxDays":{"Waiver":{"High":36501}}}`, `{"unknown":1}`, `{"requiredMetadata":[""]}`, `{} {}`} {
		f.Add([]byte(s))
	}
	e, err := exemption.Parse([]byte(body(`"expiresOn":"2027-01-01T00:00:00Z","metadata":{"ticket":"T-1"}`)), v2022)
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := exemption.LoadRules(b)
		if err != nil {
			if pe, ok := err.(*posture.Error); !ok || pe.Kind != posture.EINVALID || pe.Code == "" {
				t.Fatalf("LoadRules(%q): %v", b, err)
			}
			return
		}
		out, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		again, err := exemption.LoadRules(out)
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("%q → %s → %+v, %v; want %+v", b, out, again, err, r)
		}
		for _, sev := range []string{"High", "Medium", "Low", ""} {
			if err := r.Check(e, now, sev); err != nil && posture.ErrorKind(err) != posture.EINVALID {
				t.Fatalf("Check: %v", err)
			}
		}
	})
}
