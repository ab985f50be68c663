package exemption_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

var versions = []string{v2020, v2022, v2024, v2025}

// Any body either parses or fails with an EINVALID *posture.Error; one that
// parses renders and reads back to the same Exemption, and still parses
// after a PATCH that it renders and reads back too.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		body(""),
		body(`"policyDefinitionReferenceIds":["a","B"],"expiresOn":"2026-12-31T23:59:00.1234567+05:30","displayName":"<&>\u2028","metadata":{"a":[1e400,"\ud800"]}`),
		body(`"resourceSelectors":[{"name":"r","selectors":[{"kind":"resourcewithoutlocation","notIn":["SUBSCRIPTIONLEVELRESOURCES"]},{"kind":"resourceType","in":["x/y"]}]}],"assignmentScopeValidation":"donotvalidate","exemptionManagementMode":"admin"`),
		body(`"resourceSelectors":[{"name":"r"}],"metadata":{}`),
		`{"properties":{"exemptionCategory":"x","metadata":[]}}`,
		`{"properties":null}`,
	} {
		for i := range versions {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, v uint8) {
		version := versions[int(v)%len(versions)]
		e, err := exemption.Parse(in, version)
		if err != nil {
			var pe *posture.Error
			if !errors.As(err, &pe) || pe.Kind != posture.EINVALID || pe.Code == "" {
				t.Fatalf("error %v is not an EINVALID *posture.Error", err)
			}
			return
		}
		roundTrip(t, e)
		if err := e.ApplyPatch(in, version); err != nil {
			t.Fatalf("a body that parses does not patch: %v", err)
		}
		roundTrip(t, e)
	})
}

// FuzzParseFields reaches past the JSON syntax: the fuzzed strings go into
// a well-formed body, so the checks and the round trip see odd values.
func FuzzParseFields(f *testing.F) {
	f.Add("waiver", "2026-12-31T23:59:00Z", "name", "resourceLocation", "East US", "ref", `{"a":1}`, uint8(3))
	f.Add("Mitigated", "0001-01-01T00:00:00Z", "", "resourceWithoutLocation", "subscriptionlevelresources", "", `{}`, uint8(1))
	f.Fuzz(func(t *testing.T, category, expires, display, kind, value, ref, metadata string, v uint8) {
		props := map[string]any{
			"policyAssignmentId":           assignment,
			"exemptionCategory":            category,
			"expiresOn":                    expires,
			"displayName":                  display,
			"description":                  value,
			"policyDefinitionReferenceIds": []string{ref, value},
			"metadata":                     json.RawMessage(metadata),
			"resourceSelectors": []any{map[string]any{"name": display, "selectors": []any{
				map[string]any{"kind": kind, "in": []string{value}},
				map[string]any{"kind": "policyDefinitionReferenceId", "notIn": []string{ref}},
			}}},
			"assignmentScopeValidation": category,
			"exemptionManagementMode":   value,
		}
		in, err := json.Marshal(map[string]any{"properties": props})
		if err != nil {
			return // metadata was not JSON
		}
		e, err := exemption.Parse(in, versions[int(v)%len(versions)])
		if err != nil {
			if posture.ErrorKind(err) != posture.EINVALID {
				t.Fatal(err)
			}
			return
		}
		roundTrip(t, e)
		e.Covers(ref, value, value)
	})
}

func roundTrip(t *testing.T, e *exemption.Exemption) {
	t.Helper()
	doc := exemption.Document(exemptionID, "n", e, sd, exemption.StoredVersion)
	back, backSD, err := exemption.FromDocument(doc)
	if err != nil {
		t.Fatalf("%s does not read back: %v", doc, err)
	}
	if !reflect.DeepEqual(back, e) || backSD != sd {
		t.Fatalf("round trip changed the exemption:\n in  %+v\n out %+v", e, back)
	}
}

// ParseFilter never panics, errors are InvalidFilterInQueryString, and a
// filter that parses means the same after being written out again.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "atScope()", "atExactScope() and excludeExpired()", "policyAssignmentId eq 'it''s' and atScope()", "policyAssignmentId eq 'a", "and"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := exemption.ParseFilter(s)
		if err != nil {
			if posture.ErrorCode(err) != "InvalidFilterInQueryString" {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		again, err := exemption.ParseFilter(format(got))
		if err != nil || again != got {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, got, format(got), again, err)
		}
	})
}

// format writes a Filter back as a $filter.
func format(f exemption.Filter) string {
	var terms []string
	if f.AtScope {
		terms = append(terms, "atScope()")
	}
	if f.AtExactScope {
		terms = append(terms, "atExactScope()")
	}
	if f.ExcludeExpired {
		terms = append(terms, "excludeExpired()")
	}
	if f.PolicyAssignmentID != "" {
		terms = append(terms, "policyAssignmentId eq '"+strings.ReplaceAll(f.PolicyAssignmentID, "'", "''")+"'")
	}
	return strings.Join(terms, " and ")
}
