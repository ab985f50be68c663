package main

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcegraph/armresourcegraph"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armpolicy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"
)

// The seed's query (Defender for Cloud's resource exemption article): every
// exempted assessment.
const seedQuery = `securityresources
| where type == 'microsoft.security/assessments' and properties.status.cause == 'Exempt'
| extend assessmentKey = name, resourceId = tolower(trim(' ',tostring(properties.resourceDetails.Id))), healthStatus = properties.status.code, cause = properties.status.cause, reason = properties.status.description, displayName = properties.displayName
| project assessmentKey, id, name, displayName, resourceId, healthStatus, cause, reason`

// TestAzureSDKExemptions is the contract: the unchanged armpolicy
// ExemptionsClient creates, gets, lists (with each filter), patches and
// deletes exemptions against posture serve --demo, and armsecurity and
// Resource Graph see the assessments and the score change at once.
func TestAzureSDKExemptions(t *testing.T) {
	s := startServer(t, "--demo")
	ctx := context.Background()
	cred := tokenCredential(s.token)
	opts := sdkOptions(s.url)
	const sub = "ce4b1091-e228-4a73-bfe9-32528bfbdb4d" // the demo's "Contoso Production"
	assignment := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"

	// An unhealthy assessment of a resource in a resource group.
	as, err := armsecurity.NewAssessmentsClient(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	var target *armsecurity.AssessmentResponse
	for p := as.NewListPager("/subscriptions/"+sub, nil); p.More() && target == nil; {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Value {
			if *a.Properties.Status.Code == armsecurity.AssessmentStatusCodeUnhealthy && strings.Contains(strings.ToLower(*a.ID), "/resourcegroups/") {
				target = a
				break
			}
		}
	}
	if target == nil {
		t.Fatal("the demo has no unhealthy resource assessment")
	}
	resourceID := target.Properties.ResourceDetails.(*armsecurity.AzureResourceDetails).ID
	ref := *target.Properties.AdditionalData["policyDefinitionReferenceId"]
	key := *target.Name
	rid, err := arm.ParseResourceID(*resourceID)
	if err != nil {
		t.Fatal(err)
	}

	scores, err := armsecurity.NewSecureScoresClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	scoreBefore, err := scores.Get(ctx, "ascScore", nil)
	if err != nil {
		t.Fatal(err)
	}

	ex, err := armpolicy.NewExemptionsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(time.Second)
	created, err := ex.CreateOrUpdate(ctx, *resourceID, "sdk-waiver", armpolicy.Exemption{Properties: &armpolicy.ExemptionProperties{
		PolicyAssignmentID:           to.Ptr(assignment),
		ExemptionCategory:            to.Ptr(armpolicy.ExemptionCategoryWaiver),
		PolicyDefinitionReferenceIDs: []*string{to.Ptr(ref)},
		ExpiresOn:                    to.Ptr(expires),
		DisplayName:                  to.Ptr("Accepted until the migration"),
		Metadata:                     map[string]any{"ticketRef": "CHG-1"},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := created.Properties
	if !strings.EqualFold(*created.ID, *resourceID+"/providers/Microsoft.Authorization/policyExemptions/sdk-waiver") || *created.Name != "sdk-waiver" ||
		*p.ExemptionCategory != armpolicy.ExemptionCategoryWaiver || !p.ExpiresOn.Equal(expires) || *p.AssignmentScopeValidation != armpolicy.AssignmentScopeValidationDefault ||
		created.SystemData == nil || created.SystemData.CreatedBy == nil || *created.SystemData.CreatedByType != armpolicy.CreatedByTypeUser {
		t.Fatalf("created: %+v %+v", created.Exemption, created.SystemData)
	}

	// When the PUT has returned, the assessment is exempted.
	a, err := as.Get(ctx, *resourceID, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if *a.Properties.Status.Code != armsecurity.AssessmentStatusCodeNotApplicable || *a.Properties.Status.Cause != "Exempt" ||
		!strings.Contains(*a.Properties.Status.Description, "sdk-waiver") {
		t.Errorf("exempted assessment: %+v", a.Properties.Status)
	}
	got, err := ex.Get(ctx, *resourceID, "sdk-waiver", nil)
	if err != nil || *got.Properties.DisplayName != "Accepted until the migration" || got.Properties.Metadata.(map[string]any)["ticketRef"] != "CHG-1" {
		t.Errorf("get: %v %+v", err, got.Properties)
	}

	// The seed's query returns it.
	graph, err := armresourcegraph.NewClient(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	q, err := graph.Resources(ctx, armresourcegraph.QueryRequest{Query: to.Ptr(seedQuery)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := q.Data.([]any)
	found := false
	for _, r := range rows {
		row := r.(map[string]any)
		if row["assessmentKey"] == key && strings.EqualFold(row["resourceId"].(string), *resourceID) && row["healthStatus"] == "NotApplicable" {
			found = true
		}
	}
	if !found {
		t.Errorf("the seed's query does not return the exemption: %v", rows)
	}
	// PolicyResources has the exemption (the API's JSON, with posture's
	// status) and the Exempt policy state.
	for query, want := range map[string]string{
		`policyresources | where type == 'microsoft.authorization/policyexemptions' and name == 'sdk-waiver' | project status = tostring(properties.postureStatus), category = tostring(properties.exemptionCategory)`:                                                                                                             "Active/Waiver",
		`policyresources | where type == 'microsoft.policyinsights/policystates' and properties.complianceState == 'Exempt' | where tolower(properties.resourceId) == '` + strings.ToLower(*resourceID) + `' | project status = tostring(properties.complianceState), category = tostring(properties.policyDefinitionReferenceId)`: "Exempt/" + strings.ToLower(ref),
	} {
		q, err := graph.Resources(ctx, armresourcegraph.QueryRequest{Query: to.Ptr(query)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := q.Data.([]any)
		if len(rows) != 1 || rows[0].(map[string]any)["status"].(string)+"/"+rows[0].(map[string]any)["category"].(string) != want {
			t.Errorf("%s: %v, want %s", query, rows, want)
		}
	}

	// PATCH: a selector leaving the resource's location out lifts the
	// exemption from it.
	patched, err := ex.Update(ctx, *resourceID, "sdk-waiver", armpolicy.ExemptionUpdate{Properties: &armpolicy.ExemptionUpdateProperties{
		ResourceSelectors: []*armpolicy.ResourceSelector{{Name: to.Ptr("elsewhere"), Selectors: []*armpolicy.Selector{{
			Kind: to.Ptr(armpolicy.SelectorKindResourceLocation), NotIn: []*string{to.Ptr(locationOf(t, s, *resourceID))},
		}}}},
	}}, nil)
	if err != nil || len(patched.Properties.ResourceSelectors) != 1 || *patched.Properties.ExemptionCategory != armpolicy.ExemptionCategoryWaiver {
		t.Fatalf("patch: %v %+v", err, patched.Properties)
	}
	if a, _ := as.Get(ctx, *resourceID, key, nil); *a.Properties.Status.Code != armsecurity.AssessmentStatusCodeUnhealthy {
		t.Errorf("after the patch: %+v", a.Properties.Status)
	}

	// A Mitigated exemption of the whole assignment at the resource group:
	// every assessment of its resources is NotApplicable and the score's
	// weight drops.
	rg := "/subscriptions/" + sub + "/resourceGroups/" + rid.ResourceGroupName
	if _, err := ex.CreateOrUpdate(ctx, rg, "sdk-mitigated", armpolicy.Exemption{Properties: &armpolicy.ExemptionProperties{
		PolicyAssignmentID: to.Ptr(assignment), ExemptionCategory: to.Ptr(armpolicy.ExemptionCategoryMitigated),
	}}, nil); err != nil {
		t.Fatal(err)
	}
	scoreAfter, err := scores.Get(ctx, "ascScore", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *scoreAfter.Properties.Weight >= *scoreBefore.Properties.Weight {
		t.Errorf("score weight %d, before %d: the exempted resources must drop out", *scoreAfter.Properties.Weight, *scoreBefore.Properties.Weight)
	}
	if a, _ := as.Get(ctx, *resourceID, key, nil); *a.Properties.Status.Code != armsecurity.AssessmentStatusCodeNotApplicable || !strings.Contains(*a.Properties.Status.Description, "Mitigated") {
		t.Errorf("under the rg exemption: %+v", a.Properties.Status)
	}

	// Lists with each filter.
	names := func(pager interface {
		More() bool
	}, next func() ([]*armpolicy.Exemption, error)) []string {
		var out []string
		for pager.More() {
			v, err := next()
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range v {
				out = append(out, *e.Name)
			}
		}
		slices.Sort(out)
		return out
	}
	list := func(filter string) []string {
		var o *armpolicy.ExemptionsClientListOptions
		if filter != "" {
			o = &armpolicy.ExemptionsClientListOptions{Filter: to.Ptr(filter)}
		}
		pg := ex.NewListPager(o)
		return names(pg, func() ([]*armpolicy.Exemption, error) { r, err := pg.NextPage(ctx); return r.Value, err })
	}
	both := []string{"sdk-mitigated", "sdk-waiver"}
	for filter, want := range map[string][]string{
		"":                 both,
		"atScope()":        nil, // both lie below the subscription
		"atExactScope()":   nil,
		"excludeExpired()": both,
		"policyAssignmentId eq '" + assignment + "'": both,
		"policyAssignmentId eq '/subscriptions/" + sub + "/providers/Microsoft.Authorization/policyAssignments/other'": nil,
	} {
		if got := list(filter); !slices.Equal(got, want) {
			t.Errorf("list %q: %v, want %v", filter, got, want)
		}
	}
	rgPager := ex.NewListForResourceGroupPager(rid.ResourceGroupName, &armpolicy.ExemptionsClientListForResourceGroupOptions{Filter: to.Ptr("atExactScope()")})
	if got := names(rgPager, func() ([]*armpolicy.Exemption, error) { r, err := rgPager.NextPage(ctx); return r.Value, err }); !slices.Equal(got, []string{"sdk-mitigated"}) {
		t.Errorf("resource group, atExactScope(): %v", got)
	}
	resPager := ex.NewListForResourcePager(rid.ResourceGroupName, rid.ResourceType.Namespace, parentPath(rid), lastType(rid), rid.Name, nil)
	if got := names(resPager, func() ([]*armpolicy.Exemption, error) { r, err := resPager.NextPage(ctx); return r.Value, err }); !slices.Equal(got, both) {
		t.Errorf("resource: %v", got)
	}
	mgPager := ex.NewListForManagementGroupPager("contoso-landingzones", nil)
	if got := names(mgPager, func() ([]*armpolicy.Exemption, error) { r, err := mgPager.NextPage(ctx); return r.Value, err }); !slices.Equal(got, both) {
		t.Errorf("management group: %v", got)
	}

	// Delete: 200, then 204; the score is back.
	for _, d := range []struct{ scope, name string }{{*resourceID, "sdk-waiver"}, {rg, "sdk-mitigated"}, {rg, "sdk-mitigated"}} {
		if _, err := ex.Delete(ctx, d.scope, d.name, nil); err != nil {
			t.Fatalf("delete %s: %v", d.name, err)
		}
	}
	if back, _ := scores.Get(ctx, "ascScore", nil); *back.Properties.Weight != *scoreBefore.Properties.Weight || *back.Properties.Score.Current != *scoreBefore.Properties.Score.Current {
		t.Errorf("after deleting: %+v, before %+v", back.Properties.Score, scoreBefore.Properties.Score)
	}
	if _, err := ex.Get(ctx, *resourceID, "sdk-waiver", nil); !isCode(err, http.StatusNotFound, "PolicyExemptionNotFound") {
		t.Errorf("get after delete: %v", err)
	}
}

func parentPath(id *arm.ResourceID) string {
	if id.Parent == nil || id.Parent.ResourceType.String() == "Microsoft.Resources/resourceGroups" {
		return ""
	}
	return strings.TrimPrefix(id.Parent.String(), "/subscriptions/"+id.SubscriptionID+"/resourceGroups/"+id.ResourceGroupName+"/providers/"+id.ResourceType.Namespace+"/")
}

func lastType(id *arm.ResourceID) string {
	types := id.ResourceType.Types
	return types[len(types)-1]
}

// locationOf reads a resource's location with a plain GET.
func locationOf(t *testing.T, s *server, id string) string {
	t.Helper()
	var doc struct{ Location string }
	if err := json.Unmarshal(s.get(t, id+"?api-version=2021-04-01"), &doc); err != nil || doc.Location == "" {
		t.Fatalf("location of %s: %v", id, err)
	}
	return doc.Location
}

// TestExemptionHTTP: versions' shapes, posture's additions and bad input
// over plain HTTP, each refusal in ARM's error envelope with its code.
func TestExemptionHTTP(t *testing.T) {
	s := startServer(t, "--demo")
	const sub = "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	assignment := sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
	path := func(name, version string) string {
		return sub + "/providers/Microsoft.Authorization/policyExemptions/" + name + "?api-version=" + version
	}
	body := func(extra string) string {
		return `{"properties":{"policyAssignmentId":"` + assignment + `","exemptionCategory":"Mitigated"` + extra + `}}`
	}
	props := func(b []byte) map[string]any {
		t.Helper()
		var d struct{ Properties map[string]any }
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return d.Properties
	}
	selectors := `,"resourceSelectors":[{"name":"eu","selectors":[{"kind":"resourceLocation","in":["westeurope"]}]}]`

	// 2020-07-01-preview has neither resource selectors nor
	// assignmentScopeValidation; 2022-07-01-preview has both.
	code, _, b := s.raw(t, http.MethodPut, path("old", "2020-07-01-preview"), body(selectors))
	if p := props(b); code != http.StatusCreated || p["resourceSelectors"] != nil || p["assignmentScopeValidation"] != nil || p["postureStatus"] != "Active" {
		t.Errorf("2020-07-01-preview PUT: %d %s", code, b)
	}
	code, _, b = s.raw(t, http.MethodPut, path("new", "2022-07-01-preview"), body(selectors+`,"unknownField":1`))
	if p := props(b); code != http.StatusCreated || p["resourceSelectors"] == nil || p["assignmentScopeValidation"] != "Default" || p["unknownField"] != nil {
		t.Errorf("2022-07-01-preview PUT: %d %s", code, b)
	}
	code, hdr, b := s.raw(t, http.MethodPut, path("new", "2022-07-01-preview"), body(selectors))
	etag := hdr.Get("ETag")
	if code != http.StatusOK || etag == "" {
		t.Errorf("update: %d %s", code, b)
	}
	code, _, b = s.raw(t, http.MethodPut, path("mode", "2026-01-01-preview"), body(`,"exemptionManagementMode":"Admin"`))
	if p := props(b); code != http.StatusCreated || p["exemptionManagementMode"] != "Admin" {
		t.Errorf("2026-01-01-preview PUT: %d %s", code, b)
	}
	if p := props(s.get(t, path("mode", "2022-07-01-preview"))); p["exemptionManagementMode"] != nil {
		t.Errorf("2022-07-01-preview shows exemptionManagementMode: %v", p)
	}

	// An expiresOn in the past: accepted, flagged, with a warning header.
	code, hdr, b = s.raw(t, http.MethodPut, path("past", "2022-07-01-preview"), body(`,"expiresOn":"2021-01-01T00:00:00Z"`))
	if p := props(b); code != http.StatusCreated || p["postureStatus"] != "Expired" || !strings.HasPrefix(hdr.Get("Warning"), "299 posture") {
		t.Errorf("past expiresOn: %d %v %s", code, hdr.Get("Warning"), b)
	}

	// History and preview.
	var hist struct {
		Value []struct{ Kind, Actor string }
	}
	if err := json.Unmarshal(s.get(t, sub+"/providers/Microsoft.Authorization/policyExemptions/new/history?api-version=2022-07-01-preview"), &hist); err != nil ||
		len(hist.Value) != 2 || hist.Value[0].Kind != "Created" || hist.Value[1].Kind != "Updated" || hist.Value[0].Actor == "" {
		t.Errorf("history: %+v %v", hist, err)
	}
	code, _, b = s.raw(t, http.MethodPost, sub+"/providers/Microsoft.Authorization/policyExemptions/p/preview?api-version=2022-07-01-preview", body(""))
	var prev struct {
		Covered  []map[string]any
		Warnings []string
		Scores   []struct{ Before, After struct{ Percentage float64 } }
	}
	if err := json.Unmarshal(b, &prev); code != http.StatusOK || err != nil || len(prev.Covered) == 0 || len(prev.Scores) != 1 || len(prev.Warnings) == 0 {
		t.Errorf("preview: %d %v %.300s", code, err, b)
	}
	if code, _, _ := s.raw(t, http.MethodGet, path("p", "2022-07-01-preview"), ""); code != http.StatusNotFound {
		t.Errorf("the preview stored the exemption: %d", code)
	}

	bigMeta := `,"metadata":{"blob":"` + strings.Repeat("x", 40<<10) + `"}`
	for _, tc := range []struct {
		name, method, path, body string
		header                   []string
		status                   int
		code                     string
	}{
		{"stale If-Match", http.MethodPut, path("new", "2022-07-01-preview"), body(""), []string{"If-Match", `"stale"`}, http.StatusPreconditionFailed, "PreconditionFailed"},
		{"bad category", http.MethodPut, path("x", "2022-07-01-preview"), strings.Replace(body(""), "Mitigated", "Ignore", 1), nil, http.StatusBadRequest, "InvalidExemptionCategory"},
		{"long displayName", http.MethodPut, path("x", "2022-07-01-preview"), body(`,"displayName":"` + strings.Repeat("d", 129) + `"`), nil, http.StatusBadRequest, "DisplayNameTooLong"},
		{"long description", http.MethodPut, path("x", "2022-07-01-preview"), body(`,"description":"` + strings.Repeat("d", 513) + `"`), nil, http.StatusBadRequest, "DescriptionTooLong"},
		{"huge metadata", http.MethodPut, path("x", "2022-07-01-preview"), body(bigMeta), nil, http.StatusBadRequest, "PolicyExemptionMetadataTooLarge"},
		{"bad JSON", http.MethodPut, path("x", "2022-07-01-preview"), `{"properties":`, nil, http.StatusBadRequest, "InvalidRequestContent"},
		{"bad name", http.MethodPut, path("a.b", "2022-07-01-preview"), body(""), nil, http.StatusBadRequest, "InvalidResourceName"},
		{"open-ended waiver", http.MethodPut, path("x", "2022-07-01-preview"), strings.Replace(body(""), "Mitigated", "Waiver", 1), nil, http.StatusBadRequest, "ExemptionPolicyViolation"},
		{"reference on a non-member", http.MethodPut, path("x", "2022-07-01-preview"), body(`,"policyDefinitionReferenceIds":["nope"]`), nil, http.StatusBadRequest, "InvalidPolicyDefinitionReference"},
		{"unknown assignment", http.MethodPut, path("x", "2022-07-01-preview"), strings.Replace(body(""), "SecurityCenterBuiltIn", "gone", 1), nil, http.StatusNotFound, "PolicyAssignmentNotFound"},
		{"too many selectors", http.MethodPut, path("x", "2022-07-01-preview"), body(`,"resourceSelectors":[` + strings.Repeat(`{"name":"n","selectors":[]},`, 10) + `{"name":"m","selectors":[]}]`), nil, http.StatusBadRequest, "TooManyResourceSelectors"},
		{"PATCH before 2022-07", http.MethodPatch, path("new", "2020-07-01-preview"), `{"properties":{}}`, nil, http.StatusBadRequest, "InvalidApiVersionParameter"},
		{"unknown api-version", http.MethodGet, path("new", "2021-01-01-preview"), "", nil, http.StatusBadRequest, "InvalidApiVersionParameter"},
		{"bad filter", http.MethodGet, sub + "/providers/Microsoft.Authorization/policyExemptions?api-version=2022-07-01-preview&$filter=atScopeAndBelow()", "", nil, http.StatusBadRequest, "InvalidFilterInQueryString"},
		{"missing", http.MethodGet, path("missing", "2022-07-01-preview"), "", nil, http.StatusNotFound, "PolicyExemptionNotFound"},
	} {
		code, _, b := s.raw(t, tc.method, tc.path, tc.body, tc.header...)
		var env struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(b, &env); code != tc.status || err != nil || env.Error.Message == "" || env.Error.Code != tc.code {
			t.Errorf("%s: %d %.300s, want %d %s", tc.name, code, b, tc.status, tc.code)
		}
	}
	// Nothing refused was written.
	if code, _, _ := s.raw(t, http.MethodGet, path("x", "2022-07-01-preview"), ""); code != http.StatusNotFound {
		t.Errorf("a refused PUT stored something: %d", code)
	}
	if p := props(s.get(t, path("new", "2022-07-01-preview"))); p["description"] != nil {
		t.Errorf("the stale If-Match PUT changed the exemption: %v", p)
	}
	// DELETE: 200 with the document, then 204.
	if code, _, _ := s.raw(t, http.MethodDelete, path("new", "2022-07-01-preview"), ""); code != http.StatusOK {
		t.Errorf("delete: %d", code)
	}
	if code, _, _ := s.raw(t, http.MethodDelete, path("new", "2022-07-01-preview"), ""); code != http.StatusNoContent {
		t.Errorf("delete again: %d", code)
	}
}

// TestExemptionCommand: posture exemption create / preview / list /
// history / delete against a server.
func TestExemptionCommand(t *testing.T) {
	s := startServer(t, "--demo")
	const sub = "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	run := func(wantCode int, args ...string) string {
		t.Helper()
		out, errs := &safeBuffer{}, &safeBuffer{}
		code := Main(context.Background(), append(append([]string{"exemption"}, args...), "--server", s.url, "--token", s.token), &IO{Out: out, Err: errs})
		if code != wantCode {
			t.Fatalf("exemption %v: exit %d, want %d\n%s%s", args, code, wantCode, out, errs)
		}
		return out.String() + errs.String()
	}
	target := []string{"--scope", sub, "-n", "cli", "-a", sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn", "-e", "Mitigated", "-r", "StorageDisallowPublicAccess"}
	if out := run(0, append([]string{"preview"}, target...)...); !strings.Contains(out, "Covers ") || !strings.Contains(out, "SCORE NOW") || !strings.Contains(out, "warning: No expiresOn") {
		t.Errorf("preview:\n%s", out)
	}
	if out := run(0, append([]string{"create", "--metadata", "ticketRef=CHG-7", "--expires-on", "240h"}, target...)...); !strings.Contains(out, `"ticketRef": "CHG-7"`) {
		t.Errorf("create:\n%s", out)
	}
	if out := run(0, "list", "--scope", sub, "--filter", "atExactScope()"); !strings.Contains(out, "cli  ") || !strings.Contains(out, "Active") {
		t.Errorf("list:\n%s", out)
	}
	if out := run(0, "history", "--scope", sub, "-n", "cli"); !strings.Contains(out, "Created") {
		t.Errorf("history:\n%s", out)
	}
	if out := run(1, "create", "--scope", sub, "-n", "w", "-a", sub+"/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn", "-e", "Waiver"); !strings.Contains(out, "ExemptionPolicyViolation") {
		t.Errorf("an open-ended waiver:\n%s", out)
	}
	if out := run(0, "delete", "--scope", sub, "-n", "cli"); !strings.Contains(out, "deleted") {
		t.Errorf("delete:\n%s", out)
	}
}
