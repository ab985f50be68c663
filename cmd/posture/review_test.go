package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armpolicy"

	"github.com/posture/posture/client"
)

// TestExemptionFilterAndReview runs posture's two extensions end to end on
// a real server: an exemption that selects resources by tag (explained by
// `posture exemption explain`, still readable by the unchanged Azure SDK),
// and a resource exemption that goes to review when the field its rule
// reads changes, visible in the API and in Resource Graph.
func TestExemptionFilterAndReview(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := client.New(s.url, s.token)
	const sub = "00000000-0000-0000-0000-0000000000f1"
	rg := "/subscriptions/" + sub + "/resourceGroups/rg-f"
	storage := func(name, env string, https bool) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"id":"%s/providers/Microsoft.Storage/storageAccounts/%s","type":"Microsoft.Storage/storageAccounts","location":"westeurope",
			"tags":{"env":%q},"properties":{"supportsHttpsTrafficOnly":%v,"minimumTlsVersion":"TLS1_2"}}`, rg, name, env, https))
	}
	if _, err := c.Import(ctx, []json.RawMessage{
		json.RawMessage(`{"id":"/subscriptions/` + sub + `","displayName":"Filters"}`),
		json.RawMessage(`{"id":"` + rg + `","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`),
		storage("sadev", "dev", false), storage("saprod", "prod", false),
	}); err != nil {
		t.Fatal(err)
	}
	assignment := "/subscriptions/" + sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
	const ref = "secureTransferToStorageAccountMonitoring"
	expires := time.Now().UTC().Add(30 * 24 * time.Hour).Format(time.RFC3339) // within the default 90-day limit for High
	body := func(extra string) string {
		return `{"properties":{"policyAssignmentId":"` + assignment + `","exemptionCategory":"Waiver","policyDefinitionReferenceIds":["` + ref + `"],
			"expiresOn":"` + expires + `"` + extra + `}}`
	}
	filtered := rg + "/providers/Microsoft.Authorization/policyExemptions/dev-only"
	put := func(id, b string) {
		t.Helper()
		var out json.RawMessage
		if _, err := c.Do(ctx, "PUT", id, "2022-07-01-preview", nil, []byte(b), &out); err != nil {
			t.Fatalf("PUT %s: %v", id, err)
		}
	}
	put(filtered, body(`,"resourceFilter":{"field":"tags['env']","equals":"dev"}`))

	// The unchanged SDK reads it (it ignores posture's own properties).
	ex, err := armpolicy.NewExemptionsClient(sub, tokenCredential(s.token), sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ex.Get(ctx, rg, "dev-only", nil)
	if err != nil || *got.Properties.ExemptionCategory != armpolicy.ExemptionCategoryWaiver {
		t.Fatalf("SDK get: %+v %v", got, err)
	}

	explain := func(resource string) string {
		out, errOut := &safeBuffer{}, &safeBuffer{}
		code := Main(ctx, []string{"exemption", "explain", "dev-only", "--server", s.url, "--token", s.token,
			"--resource", rg + "/providers/Microsoft.Storage/storageAccounts/" + resource}, &IO{Out: out, Err: errOut})
		if code != 0 {
			t.Fatalf("explain %s: exit %d %s", resource, code, errOut)
		}
		return out.String()
	}
	if out := explain("sadev"); !strings.Contains(out, "\n  covers\n") || !strings.Contains(out, "✓ resourceFilter") || !strings.Contains(out, `"dev"`) {
		t.Errorf("explain sadev:\n%s", out)
	}
	if out := explain("saprod"); !strings.Contains(out, "does not cover") || !strings.Contains(out, "✗ resourceFilter") || !strings.Contains(out, `"prod"`) {
		t.Errorf("explain saprod:\n%s", out)
	}

	// A resource exemption, then the field its rule reads changes.
	sa := rg + "/providers/Microsoft.Storage/storageAccounts/saprod"
	waived := sa + "/providers/Microsoft.Authorization/policyExemptions/waive-prod"
	put(waived, body(""))
	if _, err := c.Import(ctx, []json.RawMessage{storage("saprod", "prod", true)}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			PostureStatus string `json:"postureStatus"`
			Review        struct {
				State, Reason, Detail string
			} `json:"review"`
		} `json:"properties"`
	}
	if _, err := c.Do(ctx, "GET", waived, "2022-07-01-preview", nil, nil, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Properties.PostureStatus != "NeedsReview" || doc.Properties.Review.Reason != "Drift" || !strings.Contains(doc.Properties.Review.Detail, "supportsHttpsTrafficOnly") {
		t.Errorf("after drift: %+v", doc.Properties)
	}
	out := &safeBuffer{}
	q := `policyresources | where type == 'microsoft.authorization/policyexemptions' | where name in ('waive-prod', 'dev-only') | project name, status = tostring(properties.postureStatus), review = tostring(properties.review.state) | order by name asc`
	if code := Main(ctx, []string{"query", q, "--server", s.url, "--token", s.token, "-o", "csv"}, &IO{Out: out, Err: &safeBuffer{}}); code != 0 {
		t.Fatalf("query: exit %d", code)
	}
	if want := "name,status,review\ndev-only,Active,\nwaive-prod,NeedsReview,NeedsReview\n"; out.String() != want {
		t.Errorf("Resource Graph:\n%s\nwant\n%s", out, want)
	}

	// The portal: the list's status filter and the exemption's page.
	b := signIn(t, s, s.token)
	list := b.page("/exemptions?status=needs-review")
	if !strings.Contains(list, "waive-prod") || strings.Contains(list, "dev-only") || !strings.Contains(list, `st-needs-review`) {
		t.Errorf("needs-review list:\n%s", list)
	}
	view := b.page("/exemptions/view?id=" + url.QueryEscape(waived))
	if !strings.Contains(view, `id="review"`) || !strings.Contains(view, "supportsHttpsTrafficOnly: false → true") {
		t.Errorf("exemption page lacks the review:\n%s", view)
	}
	if view := b.page("/exemptions/view?id=" + url.QueryEscape(filtered)); !strings.Contains(view, `<code id="filter">tags[&#39;env&#39;]`) {
		t.Errorf("exemption page lacks the filter:\n%s", view)
	}
}
