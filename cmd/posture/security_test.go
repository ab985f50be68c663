package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resourcegraph/armresourcegraph"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/posture/posture/client"
)

// The official armsecurity SDK, unchanged, reads posture's
// recommendations, assessments and scores, and writes custom ones.
func TestAzureSDKSecurity(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := client.New(s.url, s.token)
	const sub = "00000000-0000-0000-0000-000000000003"
	const storage = "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/pub"
	if _, err := c.Import(ctx, []json.RawMessage{
		json.RawMessage(`{"id":"/subscriptions/` + sub + `","displayName":"SDK"}`),
		json.RawMessage(`{"id":"` + storage + `","location":"westus","kind":"StorageV2","properties":{"allowBlobPublicAccess":true,"supportsHttpsTrafficOnly":true}}`),
	}); err != nil {
		t.Fatal(err)
	}
	cred := tokenCredential(s.token)
	opts := sdkOptions(s.url)

	// Recommendations (2025-05-04).
	meta, err := armsecurity.NewAssessmentsMetadataClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	const publicAccess = "51fd8bb1-0db4-bbf1-7e2b-cfcba7eb66a6" // Defender's key for StorageDisallowPublicAccess (defender/data)
	m, err := meta.Get(ctx, publicAccess, nil)
	if err != nil || *m.Properties.AssessmentType != armsecurity.AssessmentTypeBuiltIn ||
		!strings.EqualFold(*m.Properties.PolicyDefinitionID, "/providers/Microsoft.Authorization/policyDefinitions/4fa4b6c0-31ca-4c0d-b10d-24b96f62a751") {
		t.Fatalf("metadata: %v %+v", err, m)
	}
	n := 0
	for p := meta.NewListPager(nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Value)
	}
	if n != 223 {
		t.Errorf("%d built-in recommendations, want 223", n)
	}
	const custom = "6e1b1a5a-2f3c-4a39-9b3e-0c0d7f6f2a11"
	if _, err := meta.CreateInSubscription(ctx, custom, armsecurity.AssessmentMetadataResponse{Properties: &armsecurity.AssessmentMetadataPropertiesResponse{
		DisplayName: to.Ptr("Storage has an owner"), Severity: to.Ptr(armsecurity.SeverityLow), AssessmentType: to.Ptr(armsecurity.AssessmentTypeCustomerManaged),
	}}, nil); err != nil {
		t.Fatalf("custom metadata: %v", err)
	}
	if _, err := meta.CreateInSubscription(ctx, publicAccess, armsecurity.AssessmentMetadataResponse{Properties: &armsecurity.AssessmentMetadataPropertiesResponse{
		DisplayName: to.Ptr("x"), Severity: to.Ptr(armsecurity.SeverityLow), AssessmentType: to.Ptr(armsecurity.AssessmentTypeCustomerManaged),
	}}, nil); !isCode(err, http.StatusBadRequest, "BuiltInAssessmentMetadataReadOnly") {
		t.Errorf("overwriting a built-in: %v", err)
	}

	// Assessments.
	as, err := armsecurity.NewAssessmentsClient(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	a, err := as.Get(ctx, storage, publicAccess, &armsecurity.AssessmentsClientGetOptions{Expand: to.Ptr(armsecurity.ExpandEnumMetadata)})
	if err != nil {
		t.Fatal(err)
	}
	details, _ := a.Properties.ResourceDetails.(*armsecurity.AzureResourceDetails)
	if *a.Properties.Status.Code != armsecurity.AssessmentStatusCodeUnhealthy || details == nil || !strings.EqualFold(*details.ID, storage) ||
		a.Properties.Metadata == nil || *a.Properties.Metadata.Severity == "" || a.Properties.Status.FirstEvaluationDate == nil {
		t.Errorf("assessment: %+v status %+v details %+v", a.Properties, a.Properties.Status, details)
	}
	if _, err := as.CreateOrUpdate(ctx, storage, custom, armsecurity.Assessment{Properties: &armsecurity.AssessmentProperties{
		ResourceDetails: &armsecurity.AzureResourceDetails{Source: to.Ptr(armsecurity.SourceAzure)},
		Status:          &armsecurity.AssessmentStatus{Code: to.Ptr(armsecurity.AssessmentStatusCodeUnhealthy), Description: to.Ptr("no owner tag")},
	}}, nil); err != nil {
		t.Fatalf("custom assessment: %v", err)
	}
	if _, err := as.CreateOrUpdate(ctx, storage, "00000000-1111-2222-3333-444444444444", armsecurity.Assessment{Properties: &armsecurity.AssessmentProperties{
		ResourceDetails: &armsecurity.AzureResourceDetails{Source: to.Ptr(armsecurity.SourceAzure)},
		Status:          &armsecurity.AssessmentStatus{Code: to.Ptr(armsecurity.AssessmentStatusCodeHealthy)},
	}}, nil); !isCode(err, http.StatusNotFound, "AssessmentMetadataNotFound") {
		t.Errorf("assessment of an unknown recommendation: %v", err)
	}
	listed, custom1 := 0, false
	for p := as.NewListPager("subscriptions/"+sub, nil); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Value {
			listed++
			custom1 = custom1 || *v.Name == custom && *v.Properties.DisplayName == "Storage has an owner"
		}
	}
	if listed < 3 || !custom1 {
		t.Errorf("listed %d assessments, custom one %v", listed, custom1)
	}

	// Secure score and controls (2020-01-01).
	scores, err := armsecurity.NewSecureScoresClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	score, err := scores.Get(ctx, "ascScore", nil)
	if err != nil || *score.Name != "ascScore" || score.Properties.Score.Max == nil || *score.Properties.Weight == 0 {
		t.Fatalf("score: %v %+v", err, score)
	}
	controls, err := armsecurity.NewSecureScoreControlsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	var sumMax int32
	var sumCurrent float64
	defined := 0
	for p := controls.NewListBySecureScorePager("ascScore", &armsecurity.SecureScoreControlsClientListBySecureScoreOptions{Expand: to.Ptr(armsecurity.ExpandControlsEnumDefinition)}); p.More(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Value {
			sumMax += *v.Properties.Score.Max
			sumCurrent += *v.Properties.Score.Current
			if v.Properties.Definition != nil && *v.Properties.Definition.Properties.MaxScore >= 0 {
				defined++
			}
		}
	}
	if sumMax != *score.Properties.Score.Max || defined != 15 || sumCurrent < *score.Properties.Score.Current-0.1 || sumCurrent > *score.Properties.Score.Current+0.1 {
		t.Errorf("controls: max %d current %.2f with %d definitions; score %+v", sumMax, sumCurrent, defined, *score.Properties.Score)
	}
	if _, err := scores.Get(ctx, "other", nil); !isCode(err, http.StatusNotFound, "SecureScoreNotFound") {
		t.Errorf("unknown score: %v", err)
	}

	// Regulatory compliance (2019-01-01-preview).
	stds, err := armsecurity.NewRegulatoryComplianceStandardsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	std, err := stds.Get(ctx, "Microsoft-cloud-security-benchmark", nil)
	if err != nil || *std.Properties.State != armsecurity.StateFailed {
		t.Errorf("standard: %v %+v", err, std)
	}

	// The same assessment in Resource Graph, with the seed's query shape.
	graph, err := armresourcegraph.NewClient(cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	q := "securityresources | where type == 'microsoft.security/assessments' and name == '" + publicAccess + "'" +
		" | extend resourceId = tolower(trim(' ',tostring(properties.resourceDetails.Id))), healthStatus = properties.status.code" +
		" | project resourceId, healthStatus"
	res, err := graph.Resources(ctx, armresourcegraph.QueryRequest{Query: to.Ptr(q), Subscriptions: []*string{to.Ptr(sub)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := res.Data.([]any)
	if len(rows) != 1 || rows[0].(map[string]any)["healthStatus"] != "Unhealthy" || rows[0].(map[string]any)["resourceId"] != strings.ToLower(storage) {
		t.Errorf("resource graph: %v", res.Data)
	}
}

// Raw HTTP: percent-encoded $expand, and bad input in the ARM envelope.
func TestSecurityHTTP(t *testing.T) {
	s := startServer(t, "--demo")
	var sub string
	base := ""
	call := func(method, url, body string) (int, map[string]any) {
		t.Helper()
		code, _, b := s.raw(t, method, strings.TrimPrefix(url, s.url), body)
		var doc map[string]any
		_ = json.Unmarshal(b, &doc)
		return code, doc
	}
	_, subs := call("GET", s.url+"/subscriptions?api-version=2022-12-01", "")
	sub = subs["value"].([]any)[0].(map[string]any)["subscriptionId"].(string)
	base = s.url + "/subscriptions/" + sub + "/providers/Microsoft.Security/assessments/77758c9d-8a56-5f54-6ff7-69a762ca6004"
	errorOf := func(doc map[string]any) (code, target string) {
		e, _ := doc["error"].(map[string]any)
		code, _ = e["code"].(string)
		target, _ = e["target"].(string)
		return code, target
	}
	// Subscriptions should have a contact email address for security
	// issues: the demo's subscriptions have security contacts.
	st, doc := call("GET", base+"?api-version=2021-06-01&%24expand=links", "")
	props, _ := doc["properties"].(map[string]any)
	links, _ := props["links"].(map[string]any)
	if st != 200 || !strings.HasPrefix(links["azurePortalUri"].(string), s.url+"/recommendations/77758c9d") {
		t.Errorf("expand=links: %d %v", st, doc)
	}
	for _, tt := range []struct {
		method, url, body string
		status            int
		code, target      string
	}{
		{"GET", base + "?api-version=2021-06-01&$expand=everything", "", 400, "InvalidExpandParameter", ""},
		{"GET", base + "?api-version=2019-06-01", "", 400, "InvalidApiVersionParameter", ""},
		{"GET", base, "", 400, "MissingApiVersionParameter", ""},
		{"PUT", base + "?api-version=2021-06-01", `{"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Fine"}}}`, 400, "InvalidStatusCode", "properties.status.code"},
		{"PUT", base + "?api-version=2021-06-01", `{"properties":`, 400, "InvalidRequestContent", ""},
		{"GET", s.url + "/subscriptions/" + sub + "/resourceGroups/nope/providers/Microsoft.Storage/storageAccounts/x/providers/Microsoft.Security/assessments/77758c9d-8a56-5f54-6ff7-69a762ca6004?api-version=2021-06-01", "", 404, "ResourceNotFound", ""},
		{"PUT", s.url + "/providers/Microsoft.Security/assessmentMetadata/77758c9d-8a56-5f54-6ff7-69a762ca6004?api-version=2021-06-01", `{}`, 400, "BuiltInAssessmentMetadataReadOnly", ""},
		{"GET", s.url + "/subscriptions/" + sub + "/providers/Microsoft.Security/secureScores/ascScore/secureScoreControls?api-version=2020-01-01&$expand=x", "", 400, "InvalidExpandParameter", ""},
		{"GET", s.url + "/subscriptions/" + sub + "/providers/Microsoft.Security/regulatoryComplianceStandards/PCI/regulatoryComplianceControls?api-version=2019-01-01-preview", "", 404, "RegulatoryComplianceStandardNotFound", ""},
	} {
		st, doc := call(tt.method, tt.url, tt.body)
		code, target := errorOf(doc)
		if st != tt.status || code != tt.code || target != tt.target {
			t.Errorf("%s %s: %d %s %q, want %d %s %q", tt.method, tt.url, st, code, target, tt.status, tt.code, tt.target)
		}
	}
	// The refused PUT changed nothing.
	if _, doc := call("GET", base+"?api-version=2021-06-01", ""); doc["properties"].(map[string]any)["status"].(map[string]any)["code"] != "Healthy" {
		t.Errorf("after refused writes: %v", doc)
	}
}

func isCode(err error, status int, code string) bool {
	var re *azcore.ResponseError
	return asResponseError(err, &re) && re.StatusCode == status && re.ErrorCode == code
}
