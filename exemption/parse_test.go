package exemption_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

const (
	v2020 = "2020-07-01-preview"
	v2022 = "2022-07-01-preview"
	v2024 = "2024-12-01-preview"
	v2025 = "2025-12-01-preview"

	assignment = "/subscriptions/ae640e6b-ba3e-4256-9d62-2993eecfa6f2/providers/Microsoft.Authorization/policyAssignments/CostManagement"
)

// body builds a PUT body: a valid minimal exemption with props merged in.
func body(props string) string {
	base := `"policyAssignmentId":"` + assignment + `","exemptionCategory":"Waiver"`
	if props != "" {
		base += "," + props
	}
	return `{"properties":{` + base + `}}`
}

// problem returns the *posture.Error of err and the errors it reports:
// itself, or its Details when there are several.
func problem(t *testing.T, err error) (*posture.Error, []*posture.Error) {
	t.Helper()
	var e *posture.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *posture.Error", err, err)
	}
	if e.Kind != posture.EINVALID {
		t.Fatalf("kind %q, want %q", e.Kind, posture.EINVALID)
	}
	if len(e.Details) > 0 {
		return e, e.Details
	}
	return e, []*posture.Error{e}
}

// The request body of Azure's createOrUpdatePolicyExemptionWithResourceSelectors
// example (2022-07-01-preview) parses to these properties.
func TestParseAzureExample(t *testing.T) {
	in := `{"properties":{
		"policyAssignmentId":"` + assignment + `",
		"policyDefinitionReferenceIds":["Limit_Skus"],
		"exemptionCategory":"Waiver",
		"displayName":"Exempt demo cluster",
		"description":"Exempt demo cluster from limit sku",
		"metadata":{"reason":"Temporary exemption for a expensive VM demo"},
		"assignmentScopeValidation":"Default",
		"resourceSelectors":[{"name":"SDPRegions","selectors":[{"kind":"resourceLocation","in":["eastus2euap","centraluseuap"]}]}]}}`
	got, err := exemption.Parse([]byte(in), v2022)
	if err != nil {
		t.Fatal(err)
	}
	want := &exemption.Exemption{
		PolicyAssignmentID:           assignment,
		PolicyDefinitionReferenceIDs: []string{"Limit_Skus"},
		Category:                     exemption.Waiver,
		DisplayName:                  "Exempt demo cluster",
		Description:                  "Exempt demo cluster from limit sku",
		Metadata:                     json.RawMessage(`{"reason":"Temporary exemption for a expensive VM demo"}`),
		ResourceSelectors: []exemption.ResourceSelector{{Name: "SDPRegions", Selectors: []exemption.Selector{
			{Kind: "resourceLocation", In: []string{"eastus2euap", "centraluseuap"}}}}},
		AssignmentScopeValidation: "Default",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		name, body, version string
		check               func(t *testing.T, e *exemption.Exemption)
	}{
		{"minimal 2020", body(""), v2020, func(t *testing.T, e *exemption.Exemption) {
			// Absent assignmentScopeValidation is Default (REST spec default).
			if e.AssignmentScopeValidation != "Default" || e.PolicyDefinitionReferenceIDs != nil || !e.ExpiresOn.IsZero() || e.Metadata != nil {
				t.Errorf("%+v", e)
			}
		}},
		{"lowercase category, as the exemption structure docs write it", `{"properties":{"policyAssignmentId":"` + assignment + `","exemptionCategory":"mitigated"}}`, v2020,
			func(t *testing.T, e *exemption.Exemption) {
				if e.Category != exemption.Mitigated {
					t.Errorf("category %q", e.Category)
				}
			}},
		// Accepted, kept to the microsecond: policy states store microseconds,
		// and a finer expiry would never equal its stamp.
		{"expiresOn with 7 fractional digits (docs format) kept to the microsecond", body(`"expiresOn":"2020-12-31T23:59:00.1234567Z"`), v2020,
			func(t *testing.T, e *exemption.Exemption) {
				want := time.Date(2020, 12, 31, 23, 59, 0, 123456000, time.UTC)
				if !e.ExpiresOn.Equal(want) || e.ExpiresOn.Location() != time.UTC {
					t.Errorf("expiresOn %v", e.ExpiresOn)
				}
			}},
		{"expiresOn with an offset becomes UTC", body(`"expiresOn":"2026-01-01T02:00:00+02:00"`), v2022,
			func(t *testing.T, e *exemption.Exemption) {
				if !e.ExpiresOn.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) || e.ExpiresOn.Location() != time.UTC {
					t.Errorf("expiresOn %v", e.ExpiresOn)
				}
			}},
		{"past expiresOn is accepted (kept, not honoured)", body(`"expiresOn":"2001-01-01T00:00:00Z"`), v2022, nil},
		{"unknown fields are ignored", `{"location":"x","properties":{"policyAssignmentId":"` + assignment + `","exemptionCategory":"Waiver","bogus":{"a":1}},"tags":{}}`, v2022, nil},
		{"property names ignore case, as ARM's", `{"Properties":{"PolicyAssignmentId":"` + assignment + `","EXEMPTIONCATEGORY":"waiver"}}`, v2022,
			func(t *testing.T, e *exemption.Exemption) {
				if e.Category != exemption.Waiver || e.PolicyAssignmentID != assignment {
					t.Errorf("%+v", e)
				}
			}},
		{"2022 fields are ignored, not checked, at 2020", body(`"resourceSelectors":"junk","assignmentScopeValidation":"Nope"`), v2020,
			func(t *testing.T, e *exemption.Exemption) {
				if e.ResourceSelectors != nil || e.AssignmentScopeValidation != "Default" {
					t.Errorf("%+v", e)
				}
			}},
		{"exemptionManagementMode is ignored before 2025-12", body(`"exemptionManagementMode":"Nope"`), v2024,
			func(t *testing.T, e *exemption.Exemption) {
				if e.ExemptionManagementMode != "" {
					t.Errorf("mode %q", e.ExemptionManagementMode)
				}
			}},
		{"exemptionManagementMode from 2025-12, canonical case", body(`"exemptionManagementMode":"userselfserve"`), v2025,
			func(t *testing.T, e *exemption.Exemption) {
				if e.ExemptionManagementMode != "UserSelfServe" {
					t.Errorf("mode %q", e.ExemptionManagementMode)
				}
			}},
		{"assignmentScopeValidation canonical case", body(`"assignmentScopeValidation":"donotvalidate"`), v2024,
			func(t *testing.T, e *exemption.Exemption) {
				if e.AssignmentScopeValidation != "DoNotValidate" {
					t.Errorf("%q", e.AssignmentScopeValidation)
				}
			}},
		{"empty lists mean none", body(`"policyDefinitionReferenceIds":[],"resourceSelectors":[]`), v2022,
			func(t *testing.T, e *exemption.Exemption) {
				if e.PolicyDefinitionReferenceIDs != nil || e.ResourceSelectors != nil {
					t.Errorf("%+v", e)
				}
			}},
		{"nulls mean absent", body(`"expiresOn":null,"metadata":null,"displayName":null,"resourceSelectors":null`), v2022, nil},
		{"metadata is kept compact, in the client's key order", body(`"metadata": { "b" : 1, "a" : [ 1.50 , "<&>" ] }`), v2022,
			func(t *testing.T, e *exemption.Exemption) {
				if string(e.Metadata) != `{"b":1,"a":[1.50,"<&>"]}` {
					t.Errorf("metadata %s", e.Metadata)
				}
			}},
		{"selector kinds and subscriptionLevelResources are canonicalised", body(`"resourceSelectors":[
			{"name":"a","selectors":[{"kind":"RESOURCETYPE","notIn":["Microsoft.Compute/virtualMachines"]},{"kind":"resourcewithoutlocation","in":["SubscriptionLevelResources"]}]},
			{"name":"b","selectors":[{"kind":"policydefinitionreferenceid","in":["x"]}]},
			{"name":"c"}]`), v2022,
			func(t *testing.T, e *exemption.Exemption) {
				want := []exemption.ResourceSelector{
					{Name: "a", Selectors: []exemption.Selector{
						{Kind: "resourceType", NotIn: []string{"Microsoft.Compute/virtualMachines"}},
						{Kind: "resourceWithoutLocation", In: []string{"subscriptionLevelResources"}}}},
					{Name: "b", Selectors: []exemption.Selector{{Kind: "policyDefinitionReferenceId", In: []string{"x"}}}},
					// selectors is optional in the assignment structure docs.
					{Name: "c", Selectors: []exemption.Selector{}},
				}
				if !reflect.DeepEqual(e.ResourceSelectors, want) {
					t.Errorf("%+v", e.ResourceSelectors)
				}
			}},
		{"10 resource selectors and 50 values are the documented maximum", body(`"resourceSelectors":` + selectorsJSON(10, 50)), v2022, nil},
		{"display name of 128 characters counted as runes", body(`"displayName":"` + strings.Repeat("é", 128) + `","description":"` + strings.Repeat("ü", 512) + `"`), v2022, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := exemption.Parse([]byte(tc.body), tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if e.PolicyAssignmentID != assignment {
				t.Errorf("assignment %q", e.PolicyAssignmentID)
			}
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// selectorsJSON returns n resource selectors, each with one resourceType
// selector of values values.
func selectorsJSON(n, values int) string {
	vals := make([]string, values)
	for i := range vals {
		vals[i] = `"Microsoft.Test/t` + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + `"`
	}
	sets := make([]string, n)
	for i := range sets {
		sets[i] = `{"name":"rs` + string(rune('a'+i)) + `","selectors":[{"kind":"resourceType","in":[` + strings.Join(vals, ",") + `]}]}`
	}
	return "[" + strings.Join(sets, ",") + "]"
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, version, code, target string
	}{
		{"not JSON", `{"properties":`, v2022, "InvalidRequestContent", ""},
		{"not an object", `[1]`, v2022, "InvalidRequestContent", ""},
		{"not UTF-8", "{\"properties\":{\"displayName\":\"\xff\"}}", v2022, "InvalidRequestContent", ""},
		{"properties missing", `{}`, v2022, "MissingRequiredProperty", "properties"},
		{"properties null", `{"properties":null}`, v2022, "MissingRequiredProperty", "properties"},
		{"properties not an object", `{"properties":"x"}`, v2022, "InvalidRequestContent", "properties"},
		{"assignment missing", `{"properties":{"exemptionCategory":"Waiver"}}`, v2022, "MissingRequiredProperty", "properties.policyAssignmentId"},
		{"assignment empty", `{"properties":{"policyAssignmentId":"","exemptionCategory":"Waiver"}}`, v2022, "MissingRequiredProperty", "properties.policyAssignmentId"},
		{"assignment not a string", `{"properties":{"policyAssignmentId":7,"exemptionCategory":"Waiver"}}`, v2022, "InvalidRequestContent", "properties.policyAssignmentId"},
		{"assignment is a definition id", `{"properties":{"policyAssignmentId":"/providers/Microsoft.Authorization/policyDefinitions/x","exemptionCategory":"Waiver"}}`, v2022, "InvalidPolicyAssignmentId", "properties.policyAssignmentId"},
		{"assignment not an id", `{"properties":{"policyAssignmentId":"CostManagement","exemptionCategory":"Waiver"}}`, v2022, "InvalidPolicyAssignmentId", "properties.policyAssignmentId"},
		{"category missing", `{"properties":{"policyAssignmentId":"` + assignment + `"}}`, v2022, "MissingRequiredProperty", "properties.exemptionCategory"},
		{"category unknown", `{"properties":{"policyAssignmentId":"` + assignment + `","exemptionCategory":"Exempt"}}`, v2022, "InvalidExemptionCategory", "properties.exemptionCategory"},
		{"category not a string", `{"properties":{"policyAssignmentId":"` + assignment + `","exemptionCategory":true}}`, v2022, "InvalidRequestContent", "properties.exemptionCategory"},
		{"expiresOn without zone", body(`"expiresOn":"2026-12-31T23:59:00"`), v2022, "InvalidExpiresOn", "properties.expiresOn"},
		{"expiresOn a date only", body(`"expiresOn":"2026-12-31"`), v2022, "InvalidExpiresOn", "properties.expiresOn"},
		{"expiresOn empty", body(`"expiresOn":""`), v2022, "InvalidExpiresOn", "properties.expiresOn"},
		{"expiresOn before year 1 in UTC", body(`"expiresOn":"0001-01-01T00:00:00+01:00"`), v2022, "InvalidExpiresOn", "properties.expiresOn"},
		{"expiresOn a number", body(`"expiresOn":1767225600`), v2022, "InvalidRequestContent", "properties.expiresOn"},
		{"displayName 129", body(`"displayName":"` + strings.Repeat("a", 129) + `"`), v2022, "DisplayNameTooLong", "properties.displayName"},
		{"description 513", body(`"description":"` + strings.Repeat("a", 513) + `"`), v2022, "DescriptionTooLong", "properties.description"},
		{"metadata an array", body(`"metadata":["a"]`), v2022, "InvalidMetadata", "properties.metadata"},
		{"metadata a string", body(`"metadata":"a"`), v2022, "InvalidMetadata", "properties.metadata"},
		{"metadata over 32 KiB", body(`"metadata":{"a":"` + strings.Repeat("x", 32<<10) + `"}`), v2022, "PolicyExemptionMetadataTooLarge", "properties.metadata"},
		{"reference ids not an array", body(`"policyDefinitionReferenceIds":"a"`), v2022, "InvalidRequestContent", "properties.policyDefinitionReferenceIds"},
		{"reference id empty", body(`"policyDefinitionReferenceIds":["a",""]`), v2022, "InvalidPolicyDefinitionReferenceId", "properties.policyDefinitionReferenceIds[1]"},
		{"reference id duplicate ignoring case", body(`"policyDefinitionReferenceIds":["Limit_Skus","limit_skus"]`), v2022, "DuplicatePolicyDefinitionReferenceId", "properties.policyDefinitionReferenceIds[1]"},
		{"assignmentScopeValidation unknown", body(`"assignmentScopeValidation":"Never"`), v2022, "InvalidAssignmentScopeValidation", "properties.assignmentScopeValidation"},
		{"exemptionManagementMode unknown", body(`"exemptionManagementMode":"Owner"`), v2025, "InvalidExemptionManagementMode", "properties.exemptionManagementMode"},
		{"resourceSelectors not an array", body(`"resourceSelectors":{}`), v2022, "InvalidRequestContent", "properties.resourceSelectors"},
		{"11 resource selectors", body(`"resourceSelectors":` + selectorsJSON(11, 1)), v2022, "TooManyResourceSelectors", "properties.resourceSelectors"},
		{"51 values", body(`"resourceSelectors":` + selectorsJSON(1, 51)), v2022, "TooManySelectorValues", "properties.resourceSelectors[0].selectors[0].in"},
		{"resource selector without name", body(`"resourceSelectors":[{"selectors":[{"kind":"resourceType","in":["a/b"]}]}]`), v2022, "MissingRequiredProperty", "properties.resourceSelectors[0].name"},
		{"resource selector names repeat ignoring case", body(`"resourceSelectors":[{"name":"A","selectors":[]},{"name":"a","selectors":[]}]`), v2022, "DuplicateResourceSelectorName", "properties.resourceSelectors[1].name"},
		{"selector without kind", body(`"resourceSelectors":[{"name":"a","selectors":[{"in":["x"]}]}]`), v2022, "MissingRequiredProperty", "properties.resourceSelectors[0].selectors[0].kind"},
		{"selector kind unknown (preview identity kinds are not supported)", body(`"resourceSelectors":[{"name":"a","selectors":[{"kind":"userPrincipalId","in":["x"]}]}]`), v2022, "InvalidSelectorKind", "properties.resourceSelectors[0].selectors[0].kind"},
		{"selector kind twice", body(`"resourceSelectors":[{"name":"a","selectors":[{"kind":"resourceType","in":["a/b"]},{"kind":"ResourceType","notIn":["c/d"]}]}]`), v2022, "DuplicateSelectorKind", "properties.resourceSelectors[0].selectors[1].kind"},
		{"location with withoutLocation", body(`"resourceSelectors":[{"name":"a","selectors":[{"kind":"resourceLocation","in":["eastus"]},{"kind":"resourceWithoutLocation","in":["subscriptionLevelResources"]}]}]`), v2022, "ConflictingSelectorKinds", "properties.resourceSelectors[0].selectors"},
		{"in and notIn", body(`"resourceSelectors":[{"name":"a","selectors":[{"kind":"resourceType","in":["a/b"],"notIn":["c/d"]}]}]`), v2022, "InvalidSelectorValues", "properties.resourceSelectors[0].selectors[0]"},
		{"neither in nor notIn", body(`"resourceSelectors":[{"name":"a","selectors":[{"kind":"resourceType","in":[]}]}]`), v2022, "InvalidSelectorValues", "properties.resourceSelectors[0].selectors[0]"},
		{"empty value", body(`"resourceSelectors":[{"name":"a","selectors":[{"kind":"resourceType","notIn":["a/b"," "]}]}]`), v2022, "InvalidSelectorValues", "properties.resourceSelectors[0].selectors[0].notIn[1]"},
		{"withoutLocation other value", body(`"resourceSelectors":[{"name":"a","selectors":[{"kind":"resourceWithoutLocation","in":["eastus"]}]}]`), v2022, "InvalidSelectorValues", "properties.resourceSelectors[0].selectors[0].in[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := exemption.Parse([]byte(tc.body), tc.version)
			if err == nil {
				t.Fatalf("accepted: %+v", e)
			}
			top, all := problem(t, err)
			if top.Code != tc.code || top.Target != tc.target {
				t.Fatalf("got %s at %q (%s), want %s at %q", top.Code, top.Target, top.Message, tc.code, tc.target)
			}
			if len(all) != 1 {
				t.Errorf("want one problem, got %d: %v", len(all), all)
			}
		})
	}
}

// Several mistakes are all reported: the first is the error, all are in
// Details, and the first does not contain itself.
func TestParseCollectsAll(t *testing.T) {
	in := `{"properties":{"exemptionCategory":"Sometimes","displayName":"` + strings.Repeat("a", 129) + `","metadata":[]}}`
	_, err := exemption.Parse([]byte(in), v2022)
	top, all := problem(t, err)
	var got []string
	for _, p := range all {
		got = append(got, p.Code+"@"+p.Target)
		if len(p.Details) != 0 {
			t.Errorf("detail %s has details", p.Code)
		}
	}
	want := []string{
		"MissingRequiredProperty@properties.policyAssignmentId",
		"InvalidExemptionCategory@properties.exemptionCategory",
		"DisplayNameTooLong@properties.displayName",
		"InvalidMetadata@properties.metadata",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if top.Code != want[0][:strings.Index(want[0], "@")] || len(top.Details) != 4 {
		t.Fatalf("top %s with %d details", top.Code, len(top.Details))
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"DemoExpensiveVM":       true,
		"a b":                   true,
		" lead":                 true, // the pattern allows a leading space, only the last character may not be one
		strings.Repeat("n", 64): true, // 1-64 (ARM template reference)
		strings.Repeat("é", 64): true,
		strings.Repeat("n", 65): false,
		"":                      false,
		"trail ":                false,
		"dot.":                  false,
		"a.b":                   false,
		"a/b":                   false,
		"50%":                   false,
		"a?b":                   false,
		"a\\b":                  false,
		"tab\tname":             false,
		"a<b>":                  false,
		"x*y":                   false,
		"x&y":                   false,
		"x:y":                   false,
		"x+y":                   false,
	} {
		err := exemption.ValidateName(name)
		if (err == nil) != ok {
			t.Errorf("%q: err %v, want ok %v", name, err, ok)
			continue
		}
		if err != nil {
			if top, _ := problem(t, err); top.Code != "InvalidResourceName" || top.Target != "name" {
				t.Errorf("%q: %s at %q", name, top.Code, top.Target)
			}
		}
	}
}

func TestApplyPatch(t *testing.T) {
	base := func() *exemption.Exemption {
		e, err := exemption.Parse([]byte(body(`"displayName":"d","assignmentScopeValidation":"DoNotValidate","exemptionManagementMode":"Admin",
			"resourceSelectors":[{"name":"old","selectors":[{"kind":"resourceType","in":["a/b"]}]}]`)), v2025)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, tc := range []struct {
		name, body, version string
		want                func(e *exemption.Exemption) // changes from base
		code, target        string
	}{
		{"empty body changes nothing", `{}`, v2022, func(e *exemption.Exemption) {}, "", ""},
		{"empty properties change nothing", `{"properties":{}}`, v2022, func(e *exemption.Exemption) {}, "", ""},
		{"resourceSelectors replaced", `{"properties":{"resourceSelectors":[{"name":"new","selectors":[{"kind":"resourceLocation","notIn":["westus"]}]}]}}`, v2022,
			func(e *exemption.Exemption) {
				e.ResourceSelectors = []exemption.ResourceSelector{{Name: "new", Selectors: []exemption.Selector{{Kind: "resourceLocation", NotIn: []string{"westus"}}}}}
			}, "", ""},
		{"resourceSelectors emptied", `{"properties":{"resourceSelectors":[]}}`, v2022, func(e *exemption.Exemption) { e.ResourceSelectors = nil }, "", ""},
		{"null resets to defaults", `{"properties":{"resourceSelectors":null,"assignmentScopeValidation":null,"exemptionManagementMode":null}}`, v2025,
			func(e *exemption.Exemption) {
				e.ResourceSelectors, e.AssignmentScopeValidation, e.ExemptionManagementMode = nil, "Default", ""
			}, "", ""},
		{"assignmentScopeValidation set", `{"properties":{"assignmentScopeValidation":"default"}}`, v2022, func(e *exemption.Exemption) { e.AssignmentScopeValidation = "Default" }, "", ""},
		{"exemptionManagementMode set at 2025-12", `{"properties":{"exemptionManagementMode":"UserSelfServe"}}`, v2025, func(e *exemption.Exemption) { e.ExemptionManagementMode = "UserSelfServe" }, "", ""},
		{"exemptionManagementMode ignored before 2025-12", `{"properties":{"exemptionManagementMode":"bogus"}}`, v2024, func(e *exemption.Exemption) {}, "", ""},
		{"other properties are not patchable and are ignored", `{"properties":{"displayName":"x","exemptionCategory":"Mitigated","policyAssignmentId":7}}`, v2022, func(e *exemption.Exemption) {}, "", ""},
		{"bad selector", `{"properties":{"resourceSelectors":[{"name":"n","selectors":[{"kind":"resourceLocation"}]}]}}`, v2022, nil, "InvalidSelectorValues", "properties.resourceSelectors[0].selectors[0]"},
		{"bad mode", `{"properties":{"exemptionManagementMode":"x"}}`, v2025, nil, "InvalidExemptionManagementMode", "properties.exemptionManagementMode"},
		{"not JSON", `nope`, v2022, nil, "InvalidRequestContent", ""},
		{"properties not an object", `{"properties":[]}`, v2022, nil, "InvalidRequestContent", "properties"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := base()
			err := e.ApplyPatch([]byte(tc.body), tc.version)
			if tc.code != "" {
				if err == nil {
					t.Fatal("accepted")
				}
				if top, _ := problem(t, err); top.Code != tc.code || top.Target != tc.target {
					t.Fatalf("got %s at %q, want %s at %q", top.Code, top.Target, tc.code, tc.target)
				}
				if !reflect.DeepEqual(e, base()) {
					t.Fatalf("a failed patch changed the exemption: %+v", e)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base()
			tc.want(want)
			if !reflect.DeepEqual(e, want) {
				t.Fatalf("got  %+v\nwant %+v", e, want)
			}
		})
	}
}
