package exemption_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

const exemptionID = "/subscriptions/ae640e6b-ba3e-4256-9d62-2993eecfa6f2/resourceGroups/demoCluster/providers/Microsoft.Authorization/policyExemptions/DemoExpensiveVM"

var sd = exemption.SystemData{
	CreatedBy: "alice@contoso.com", CreatedByType: "User", CreatedAt: time.Date(2020, 7, 1, 1, 1, 1, 107505600, time.UTC),
	LastModifiedBy: "app", LastModifiedByType: "Application", LastModifiedAt: time.Date(2020, 7, 1, 2, 1, 1, 0, time.UTC),
}

func full(t *testing.T) *exemption.Exemption {
	t.Helper()
	e, err := exemption.Parse([]byte(body(`"policyDefinitionReferenceIds":["Limit_Skus"],"expiresOn":"2026-12-31T23:59:00Z",
		"displayName":"Exempt <demo> & co","description":"d","metadata":{"reason":"r","n":1},
		"assignmentScopeValidation":"DoNotValidate","exemptionManagementMode":"UserSelfServe",
		"resourceSelectors":[{"name":"SDPRegions","selectors":[{"kind":"resourceLocation","in":["eastus2euap"]}]}]`)), v2025)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// keys decodes a document and returns the key sets of the envelope and of
// properties.
func keys(t *testing.T, doc []byte) (top, props map[string]json.RawMessage) {
	t.Helper()
	if err := json.Unmarshal(doc, &top); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	if err := json.Unmarshal(top["properties"], &props); err != nil {
		t.Fatal(err)
	}
	return top, props
}

// Which properties each api-version shows: azure-api-spec.md §1.1/§1.3 and
// the REST spec's PolicyExemptionProperties per version.
func TestDocumentPerVersion(t *testing.T) {
	always := []string{"policyAssignmentId", "policyDefinitionReferenceIds", "exemptionCategory", "expiresOn", "displayName", "description", "metadata"}
	for _, tc := range []struct {
		version string
		extra   []string
	}{
		{v2020, nil},
		{v2022, []string{"assignmentScopeValidation", "resourceSelectors"}},
		{v2024, []string{"assignmentScopeValidation", "resourceSelectors"}},
		{v2025, []string{"assignmentScopeValidation", "resourceSelectors", "exemptionManagementMode"}},
	} {
		t.Run(tc.version, func(t *testing.T) {
			top, props := keys(t, exemption.Document(exemptionID, "DemoExpensiveVM", full(t), sd, tc.version))
			want := append(append([]string{}, always...), tc.extra...)
			if got := sortedKeys(props); !reflect.DeepEqual(got, sorted(want)) {
				t.Errorf("properties %v, want %v", got, sorted(want))
			}
			if got := sortedKeys(top); !reflect.DeepEqual(got, []string{"id", "name", "properties", "systemData", "type"}) {
				t.Errorf("envelope %v", got)
			}
			var env struct {
				ID, Name, Type string
				SystemData     map[string]string
			}
			json.Unmarshal(exemption.Document(exemptionID, "DemoExpensiveVM", full(t), sd, tc.version), &env)
			if env.ID != exemptionID || env.Name != "DemoExpensiveVM" || env.Type != "Microsoft.Authorization/policyExemptions" {
				t.Errorf("envelope %+v", env)
			}
			wantSD := map[string]string{"createdBy": "alice@contoso.com", "createdByType": "User", "createdAt": "2020-07-01T01:01:01.1075056Z",
				"lastModifiedBy": "app", "lastModifiedByType": "Application", "lastModifiedAt": "2020-07-01T02:01:01Z"}
			if !reflect.DeepEqual(env.SystemData, wantSD) {
				t.Errorf("systemData %v", env.SystemData)
			}
		})
	}
}

func TestDocumentMinimal(t *testing.T) {
	e, err := exemption.Parse([]byte(body("")), v2020)
	if err != nil {
		t.Fatal(err)
	}
	// Absent optional properties are omitted; assignmentScopeValidation is
	// shown as its default from 2022-07-01-preview; no mode is not shown.
	for version, want := range map[string][]string{
		v2020: {"exemptionCategory", "policyAssignmentId"},
		v2022: {"assignmentScopeValidation", "exemptionCategory", "policyAssignmentId"},
		v2025: {"assignmentScopeValidation", "exemptionCategory", "policyAssignmentId"},
	} {
		_, props := keys(t, exemption.Document(exemptionID, "n", e, exemption.SystemData{}, version))
		if got := sortedKeys(props); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", version, got, want)
		}
		if version != v2020 && string(props["assignmentScopeValidation"]) != `"Default"` {
			t.Errorf("%s: assignmentScopeValidation %s", version, props["assignmentScopeValidation"])
		}
	}
	// A hand-built exemption without AssignmentScopeValidation also shows Default.
	_, props := keys(t, exemption.Document(exemptionID, "n", &exemption.Exemption{PolicyAssignmentID: assignment, Category: exemption.Waiver}, exemption.SystemData{}, v2022))
	if string(props["assignmentScopeValidation"]) != `"Default"` {
		t.Errorf("assignmentScopeValidation %s", props["assignmentScopeValidation"])
	}
}

// Field order follows Azure's createOrUpdatePolicyExemptionWithResourceSelectors
// example; HTML characters are not escaped; output is stable.
func TestDocumentLayout(t *testing.T) {
	e := full(t)
	doc := exemption.Document(exemptionID, "DemoExpensiveVM", e, sd, v2025)
	order := []string{`{"properties":{"policyAssignmentId"`, `"policyDefinitionReferenceIds"`, `"exemptionCategory"`, `"expiresOn":"2026-12-31T23:59:00Z"`,
		`"displayName":"Exempt <demo> & co"`, `"description"`, `"metadata":{"reason":"r","n":1}`, `"assignmentScopeValidation"`, `"resourceSelectors"`,
		`"exemptionManagementMode"`, `"systemData"`, `"id"`, `"type"`, `"name":"DemoExpensiveVM"}`}
	at := 0
	for _, part := range order {
		i := bytes.Index(doc[at:], []byte(part))
		if i < 0 {
			t.Fatalf("%q not found after offset %d in %s", part, at, doc)
		}
		at += i + len(part)
	}
	if again := exemption.Document(exemptionID, "DemoExpensiveVM", full(t), sd, v2025); !bytes.Equal(doc, again) {
		t.Fatalf("not deterministic:\n%s\n%s", doc, again)
	}
}

func TestFromDocumentRoundTrip(t *testing.T) {
	minimal, err := exemption.Parse([]byte(body("")), v2022)
	if err != nil {
		t.Fatal(err)
	}
	noSelectors, err := exemption.Parse([]byte(body(`"resourceSelectors":[{"name":"all"}],"metadata":{}`)), v2022)
	if err != nil {
		t.Fatal(err)
	}
	for name, e := range map[string]*exemption.Exemption{"full": full(t), "minimal": minimal, "empty selector list": noSelectors} {
		for _, s := range []exemption.SystemData{sd, {}} {
			doc := exemption.Document(exemptionID, "DemoExpensiveVM", e, s, exemption.StoredVersion)
			got, gotSD, err := exemption.FromDocument(doc)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !reflect.DeepEqual(got, e) {
				t.Errorf("%s: exemption\n got  %+v\n want %+v", name, got, e)
			}
			if !reflect.DeepEqual(gotSD, s) {
				t.Errorf("%s: systemData\n got  %+v\n want %+v", name, gotSD, s)
			}
		}
	}
}

func TestFromDocumentCorrupt(t *testing.T) {
	for _, doc := range []string{`nope`, `{"properties":{}}`, body(`"expiresOn":"soon"`),
		`{"properties":{"policyAssignmentId":"` + assignment + `","exemptionCategory":"Waiver"},"systemData":{"createdAt":"yesterday"}}`} {
		_, _, err := exemption.FromDocument([]byte(doc))
		if err == nil || posture.ErrorKind(err) != posture.EINTERNAL || strings.Contains(err.(*posture.Error).Message, "expiresOn") {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func sortedKeys(m map[string]json.RawMessage) []string { return slices.Sorted(maps.Keys(m)) }

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
