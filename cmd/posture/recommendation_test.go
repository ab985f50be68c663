package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// apiAssessments counts the API's assessments of the subscriptions by key
// and status, and collects their ids by key.
func apiAssessments(t *testing.T, s *server, subs []string) (map[string]recCounts, map[string][]string) {
	t.Helper()
	counts, ids := map[string]recCounts{}, map[string][]string{}
	for _, sub := range subs {
		for _, raw := range apiList(t, s, "/subscriptions/"+sub+"/providers/Microsoft.Security/assessments", url.Values{"api-version": {assessmentAPIVersion}}) {
			var a struct {
				ID         string
				Name       string
				Properties struct {
					Status struct{ Code, Cause string }
				}
			}
			json.Unmarshal(raw, &a)
			c := counts[a.Name]
			switch a.Properties.Status.Code {
			case "Unhealthy":
				c.Unhealthy++
			case "Healthy":
				c.Healthy++
			default:
				c.NotApplicable++
			}
			if a.Properties.Status.Cause == "Exempt" {
				c.Exempt++
			}
			counts[a.Name] = c
			ids[a.Name] = append(ids[a.Name], strings.ToLower(a.ID))
		}
	}
	return counts, ids
}

// TestRecommendationCommand: recommendation list and show against the
// demo, checked against the assessments and assessmentMetadata APIs.
func TestRecommendationCommand(t *testing.T) {
	isolateConfig(t)
	s := startServer(t, "--demo")
	const prod = "ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	var subs []string
	for _, raw := range apiList(t, s, "/subscriptions", url.Values{"api-version": {subscriptionAPIVersion}}) {
		var sub struct{ SubscriptionID string }
		json.Unmarshal(raw, &sub)
		subs = append(subs, sub.SubscriptionID)
	}
	// An exemption, so that some counts are exempt.
	mustCLI(t, s, "exemption", "create", "--scope", "/subscriptions/"+prod, "-n", "rec-ex", "-a", "/subscriptions/"+prod+"/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn",
		"-e", "Mitigated", "-r", "StorageDisallowPublicAccess")
	counts, ids := apiAssessments(t, s, subs)

	var rows []recommendationRow
	if err := json.Unmarshal([]byte(mustCLI(t, s, "recommendation", "list", "-o", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(counts) || len(rows) == 0 {
		t.Errorf("recommendation list: %d rows, the API assesses %d recommendations", len(rows), len(counts))
	}
	exempt := 0
	for i, r := range rows {
		if r.recCounts != counts[r.Key] {
			t.Errorf("%s: counts %+v, API %+v", r.Key, r.recCounts, counts[r.Key])
		}
		if want := counts[r.Key].status(); r.Status != want {
			t.Errorf("%s: status %s, want %s", r.Key, r.Status, want)
		}
		exempt += r.Exempt
		if i < 3 && !sameJSON(t, r.Metadata, s.get(t, "/providers/Microsoft.Security/assessmentMetadata/"+r.Key+"?api-version="+assessmentAPIVersion)) {
			t.Errorf("%s: metadata differs from the API's", r.Key)
		}
	}
	if exempt == 0 {
		t.Error("no exempt count after an exemption")
	}
	if rows[0].Status != "Unhealthy" || rows[0].Severity != "High" {
		t.Errorf("first row %+v: want an unhealthy High recommendation first", rows[0])
	}
	var all []recommendationRow
	json.Unmarshal([]byte(mustCLI(t, s, "recommendation", "list", "--all", "-o", "json")), &all)
	if len(all) != 223 {
		t.Errorf("recommendation list --all: %d rows, want the benchmark's 223", len(all))
	}

	// Filters.
	header, recs := parseCSV(t, mustCLI(t, s, "recommendation", "list", "--severity", "High", "--status", "Healthy", "-o", "csv"))
	wantN := 0
	for _, r := range rows {
		if r.Severity == "High" && r.Status == "Healthy" {
			wantN++
		}
	}
	if strings.Join(header, ",") != "key,severity,status,unhealthy,healthy,notApplicable,exempt,displayName" || len(recs) != wantN || wantN == 0 {
		t.Errorf("--severity High --status Healthy: %v %d rows, want %d", header, len(recs), wantN)
	}
	for _, r := range recs {
		if r[1] != "High" || r[2] != "Healthy" || r[3] != "0" {
			t.Errorf("filtered row %v", r)
		}
	}
	prodCounts, _ := apiAssessments(t, s, []string{prod})
	var prodRows []recommendationRow
	json.Unmarshal([]byte(mustCLI(t, s, "recommendation", "list", "--subscription", prod, "-o", "json")), &prodRows)
	if len(prodRows) != len(prodCounts) {
		t.Errorf("--subscription: %d rows, API %d", len(prodRows), len(prodCounts))
	}
	for _, r := range prodRows {
		if r.recCounts != prodCounts[r.Key] {
			t.Errorf("--subscription %s: counts %+v, API %+v", r.Key, r.recCounts, prodCounts[r.Key])
		}
	}
	if table := mustCLI(t, s, "recommendation", "list"); !strings.HasPrefix(table, "KEY ") || !strings.Contains(table, "NOT APPLICABLE") {
		t.Errorf("recommendation list table:\n%s", table[:min(len(table), 400)])
	}

	// show: the metadata, its policy definition, every assessment.
	key := rows[0].Key
	var d struct {
		Metadata         json.RawMessage
		PolicyDefinition struct{ ID string }
		Counts           recCounts
		Status           string
		Assessments      []struct{ ID, Name string }
	}
	if err := json.Unmarshal([]byte(mustCLI(t, s, "recommendation", "show", key, "-o", "json")), &d); err != nil {
		t.Fatal(err)
	}
	var meta recMeta
	json.Unmarshal(d.Metadata, &meta)
	if !sameJSON(t, d.Metadata, s.get(t, "/providers/Microsoft.Security/assessmentMetadata/"+key+"?api-version="+assessmentAPIVersion)) ||
		!strings.EqualFold(d.PolicyDefinition.ID, meta.Properties.PolicyDefinitionID) || meta.Properties.PolicyDefinitionID == "" {
		t.Errorf("show: metadata or definition wrong: %s %s", d.PolicyDefinition.ID, meta.Properties.PolicyDefinitionID)
	}
	if d.Counts != counts[key] || d.Status != "Unhealthy" || len(d.Assessments) != len(ids[key]) {
		t.Errorf("show: %+v %s, %d assessments; API %+v, %d", d.Counts, d.Status, len(d.Assessments), counts[key], len(ids[key]))
	}
	want := map[string]bool{}
	for _, id := range ids[key] {
		want[id] = true
	}
	for _, a := range d.Assessments {
		if !want[strings.ToLower(a.ID)] || a.Name != key {
			t.Errorf("show: assessment %s is not the API's", a.ID)
		}
	}
	header, recs = parseCSV(t, mustCLI(t, s, "recommendation", "show", key, "--status", "Unhealthy", "-o", "csv"))
	if strings.Join(header, ",") != "status,cause,resourceId,subscriptionId,description,id" || len(recs) != counts[key].Unhealthy {
		t.Errorf("show --status Unhealthy -o csv: %v %d rows, want %d", header, len(recs), counts[key].Unhealthy)
	}
	for _, r := range recs {
		if r[0] != "Unhealthy" || !strings.HasPrefix(strings.ToLower(r[5]), strings.ToLower(r[2])+"/providers/microsoft.security/assessments/") {
			t.Errorf("show row %v", r)
		}
	}
	y := mustCLI(t, s, "recommendation", "show", key, "--top", "2", "-o", "yaml")
	var fromYAML struct {
		Metadata    json.RawMessage
		Assessments []struct{ ID string }
	}
	if err := json.Unmarshal(yamlAsJSON(t, y), &fromYAML); err != nil || len(fromYAML.Assessments) != 2 || !sameJSON(t, fromYAML.Metadata, d.Metadata) {
		t.Errorf("show --top 2 -o yaml: %v\n%s", err, y)
	}
	table := mustCLI(t, s, "recommendation", "show", key, "--top", "3")
	total := counts[key].Unhealthy + counts[key].Healthy + counts[key].NotApplicable
	if !strings.Contains(table, "Recommendation:  ") || !strings.Contains(table, "Severity:") || !strings.Contains(table, "STATUS") ||
		!strings.Contains(table, "the first 3 of "+strconv.Itoa(total)) {
		t.Errorf("show table:\n%s", table)
	}
	if code, _, _ := runCLI(t, s, "recommendation", "show", "00000000-0000-0000-0000-00000000dead"); code != exitNotFound {
		t.Errorf("show of an unknown key: exit %d, want 3", code)
	}
}
