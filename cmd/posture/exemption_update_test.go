package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestExemptionUpdateCommand: exemption update changes what it is told
// and nothing else, by PATCH for selectors and scope validation and by GET
// + PUT with If-Match otherwise; a change made meanwhile is refused (exit
// 5), not overwritten.
func TestExemptionUpdateCommand(t *testing.T) {
	isolateConfig(t)
	s := startServer(t, "--demo")
	const sub = "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	assignment := sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
	exPath := sub + "/providers/Microsoft.Authorization/policyExemptions/upd"
	target := []string{"--scope", sub, "-n", "upd"}
	mustCLI(t, s, append([]string{"exemption", "create", "-a", assignment, "-e", "Mitigated", "-r", "StorageDisallowPublicAccess",
		"--expires-on", "240h", "--display-name", "Proxy", "--metadata", "ticketRef=CHG-1", "--metadata", "owner=bob"}, target...)...)

	type doc struct {
		Properties struct {
			ExemptionCategory            string
			PolicyDefinitionReferenceIDs []string `json:"policyDefinitionReferenceIds"`
			ExpiresOn                    *time.Time
			DisplayName, Description     string
			Metadata                     map[string]any
			AssignmentScopeValidation    string
			ResourceSelectors            []struct{ Name string }
		}
	}
	apiDoc := func() ([]byte, doc) {
		t.Helper()
		b := s.get(t, exPath+"?api-version="+exemptionAPIVersion)
		var d doc
		json.Unmarshal(b, &d)
		return b, d
	}
	update := func(args ...string) string {
		t.Helper()
		out := mustCLI(t, s, append(append([]string{"exemption", "update"}, target...), args...)...)
		printed := []byte(out)
		if strings.Contains(strings.Join(args, " "), "-o yaml") {
			printed = yamlAsJSON(t, out)
		}
		if b, _ := apiDoc(); !sameJSON(t, printed, b) {
			t.Errorf("update %v printed what the API does not hold:\n%s", args, out)
		}
		return out
	}

	// GET + PUT: the properties given change, the others stay.
	update("--description", "Handled by the proxy", "--metadata", "owner=ann", "--expires-on", "480h")
	_, d := apiDoc()
	p := d.Properties
	if p.Description != "Handled by the proxy" || p.DisplayName != "Proxy" || p.ExemptionCategory != "Mitigated" || p.Metadata["ticketRef"] != "CHG-1" || p.Metadata["owner"] != "ann" ||
		p.ExpiresOn == nil || time.Until(*p.ExpiresOn) < 470*time.Hour || len(p.PolicyDefinitionReferenceIDs) != 1 {
		t.Errorf("after update: %+v", p)
	}
	// A metadata key removed; the expiry removed.
	update("--metadata", "owner=", "--expires-on", "never")
	if _, d = apiDoc(); d.Properties.Metadata["owner"] != nil || d.Properties.Metadata["ticketRef"] != "CHG-1" || d.Properties.ExpiresOn != nil {
		t.Errorf("after removing owner and the expiry: %+v", d.Properties)
	}

	// PATCH: selectors and scope validation.
	out := update("--resource-selectors", `[{"name":"eu","selectors":[{"kind":"resourceLocation","in":["westeurope"]}]}]`, "--assignment-scope-validation", "DoNotValidate", "-o", "yaml")
	if !strings.Contains(out, "resourceSelectors:") {
		t.Errorf("update -o yaml:\n%s", out)
	}
	if _, d = apiDoc(); len(d.Properties.ResourceSelectors) != 1 || d.Properties.ResourceSelectors[0].Name != "eu" || d.Properties.AssignmentScopeValidation != "DoNotValidate" || d.Properties.Description != "Handled by the proxy" {
		t.Errorf("after PATCH: %+v", d.Properties)
	}
	// A PUT keeps what the PATCH set.
	update("--category", "Waiver", "--expires-on", "240h")
	if _, d = apiDoc(); d.Properties.ExemptionCategory != "Waiver" || len(d.Properties.ResourceSelectors) != 1 || d.Properties.AssignmentScopeValidation != "DoNotValidate" {
		t.Errorf("after changing the category: %+v", d.Properties)
	}
	var hist struct{ Value []struct{ Kind string } }
	json.Unmarshal(s.get(t, exPath+"/history?api-version="+exemptionAPIVersion), &hist)
	if len(hist.Value) != 5 || hist.Value[4].Kind != "Updated" {
		t.Errorf("history: %+v", hist.Value)
	}

	// A change between the GET and the PUT: refused with exit 5, and the
	// other change stands.
	beforeUpdatePut = func() {
		code, _, b := s.raw(t, http.MethodPatch, exPath+"?api-version="+exemptionAPIVersion, `{"properties":{"assignmentScopeValidation":"Default"}}`)
		if code != http.StatusOK {
			t.Errorf("the concurrent PATCH: %d %s", code, b)
		}
	}
	t.Cleanup(func() { beforeUpdatePut = nil })
	code, out, errOut := runCLI(t, s, append([]string{"exemption", "update", "--description", "mine"}, target...)...)
	beforeUpdatePut = nil
	if code != exitConflict || !strings.Contains(errOut, "changed since it was read") || out != "" {
		t.Errorf("update racing another change: exit %d\n%s%s", code, out, errOut)
	}
	if _, d = apiDoc(); d.Properties.Description != "Handled by the proxy" || d.Properties.AssignmentScopeValidation != "Default" {
		t.Errorf("the concurrent change was overwritten: %+v", d.Properties)
	}
	// --if-match with a stale ETag: refused for a PUT and for a PATCH.
	if code, _, errOut := runCLI(t, s, append([]string{"exemption", "update", "--description", "x", "--if-match", "0000"}, target...)...); code != exitConflict {
		t.Errorf("--if-match stale (PUT): exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, s, append([]string{"exemption", "update", "--assignment-scope-validation", "DoNotValidate", "--if-match", `"0000"`}, target...)...); code != exitConflict {
		t.Errorf("--if-match stale (PATCH): exit %d %s", code, errOut)
	}
	_, h, _ := s.raw(t, http.MethodGet, exPath+"?api-version="+exemptionAPIVersion, "")
	update("--display-name", "Proxy 2", "--if-match", h.Get("ETag"))
	if _, d = apiDoc(); d.Properties.DisplayName != "Proxy 2" || d.Properties.Description != "Handled by the proxy" {
		t.Errorf("after an update with the current ETag: %+v", d.Properties)
	}

	// Errors: the governance rules (exit 1), no such exemption (3),
	// nothing to change (2), bad selectors (2).
	if code, _, errOut := runCLI(t, s, append([]string{"exemption", "update", "--expires-on", "never"}, target...)...); code != exitFailure || !strings.Contains(errOut, "ExemptionPolicyViolation") {
		t.Errorf("an open-ended waiver: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, s, "exemption", "update", "--scope", sub, "-n", "missing", "--description", "x"); code != exitNotFound {
		t.Errorf("update of a missing exemption: exit %d, want 3", code)
	}
	if code, _, _ := runCLI(t, s, "exemption", "update", "--scope", sub, "-n", "missing", "--assignment-scope-validation", "Default"); code != exitNotFound {
		t.Errorf("PATCH of a missing exemption: exit %d, want 3", code)
	}
	if code, _, errOut := runCLI(t, s, append([]string{"exemption", "update"}, target...)...); code != exitUsage || !strings.Contains(errOut, "nothing to change") {
		t.Errorf("update without changes: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, s, append([]string{"exemption", "update", "--resource-selectors", "{"}, target...)...); code != exitUsage {
		t.Errorf("bad selectors: exit %d, want 2", code)
	}
}
