package main

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestScoreCommand: posture score against the demo, checked against the
// secureScores and secureScoreControls APIs.
func TestScoreCommand(t *testing.T) {
	isolateConfig(t)
	s := startServer(t, "--demo")
	const subID = "ce4b1091-e228-4a73-bfe9-32528bfbdb4d"

	// Every subscription by default: the API's ascScore documents.
	subs := apiList(t, s, "/subscriptions", url.Values{"api-version": {subscriptionAPIVersion}})
	var want []json.RawMessage
	for _, raw := range subs {
		var sub struct{ SubscriptionID string }
		json.Unmarshal(raw, &sub)
		want = append(want, s.get(t, "/subscriptions/"+sub.SubscriptionID+"/providers/Microsoft.Security/secureScores/ascScore?api-version="+scoreAPIVersion))
	}
	wantJSON, _ := json.Marshal(want)
	out := mustCLI(t, s, "score", "-o", "json")
	if len(want) != 3 || !sameJSON(t, []byte(out), wantJSON) {
		t.Errorf("score -o json is not the API's scores:\n%s", out)
	}
	if y := mustCLI(t, s, "score", "-o", "yaml"); !sameJSON(t, yamlAsJSON(t, y), wantJSON) {
		t.Errorf("score -o yaml:\n%s", y)
	}
	header, rows := parseCSV(t, mustCLI(t, s, "score", "-o", "csv"))
	if strings.Join(header, ",") != "name,current,max,percent,weight,scope" || len(rows) != 3 {
		t.Fatalf("score -o csv: %v %v", header, rows)
	}
	for i, r := range rows {
		var d scoreDoc
		json.Unmarshal(want[i], &d)
		pct, _ := strconv.ParseFloat(r[3], 64)
		if !strings.HasPrefix(r[0], "Contoso ") || !strings.EqualFold(r[5], strings.TrimSuffix(d.ID, "/providers/Microsoft.Security/secureScores/ascScore")) ||
			pct != round2(100*d.Properties.Score.Percentage) || r[2] != strconv.FormatFloat(d.Properties.Score.Max, 'f', -1, 64) {
			t.Errorf("score row %v, API %+v", r, d.Properties)
		}
	}
	if table := mustCLI(t, s, "score"); !strings.HasPrefix(table, "NAME ") || !strings.Contains(table, "PERCENT") || !strings.Contains(table, "Contoso Production") {
		t.Errorf("score table:\n%s", table)
	}

	// One subscription's controls: the API's controls, most potential
	// first, the potential being the points missing over the score's max.
	controls := apiList(t, s, "/subscriptions/"+subID+"/providers/Microsoft.Security/secureScoreControls", url.Values{"api-version": {scoreAPIVersion}})
	var total scoreDoc
	json.Unmarshal(s.get(t, "/subscriptions/"+subID+"/providers/Microsoft.Security/secureScores/ascScore?api-version="+scoreAPIVersion), &total)
	out = mustCLI(t, s, "score", "-s", subID, "--controls", "-o", "json")
	var got []json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != len(controls) || len(got) == 0 {
		t.Fatalf("score --controls -o json: %d controls (API %d) %v", len(got), len(controls), err)
	}
	byName := map[string]json.RawMessage{}
	for _, c := range controls {
		var d scoreDoc
		json.Unmarshal(c, &d)
		byName[d.Name] = c
	}
	for _, c := range got {
		var d scoreDoc
		json.Unmarshal(c, &d)
		if !sameJSON(t, c, byName[d.Name]) {
			t.Errorf("control %s differs from the API's:\n%s", d.Name, c)
		}
	}
	header, rows = parseCSV(t, mustCLI(t, s, "score", "-s", "/subscriptions/"+subID, "--controls", "-o", "csv"))
	if strings.Join(header, ",") != "scope,control,current,max,percent,potentialIncrease,unhealthy,healthy,notApplicable,controlId" || len(rows) != len(controls) {
		t.Fatalf("score --controls -o csv: %v (%d rows)", header, len(rows))
	}
	prev := 101.0
	for _, r := range rows {
		var d scoreDoc
		json.Unmarshal(byName[r[9]], &d)
		pot, _ := strconv.ParseFloat(r[5], 64)
		wantPot := round2(100 * (d.Properties.Score.Max - d.Properties.Score.Current) / total.Properties.Score.Max)
		if r[0] != "Contoso Production" || r[1] != d.Properties.DisplayName || pot != wantPot || r[6] != strconv.FormatInt(d.Properties.Unhealthy, 10) || pot > prev {
			t.Errorf("control row %v: API %+v, potential %v", r, d.Properties, wantPot)
		}
		prev = pot
	}

	// A management group: its score document.
	mgs := apiList(t, s, "/providers/Microsoft.Management/managementGroups", url.Values{"api-version": {managementGroupAPIVersion}})
	var mg struct {
		Name       string
		Properties struct{ DisplayName string }
	}
	json.Unmarshal(mgs[0], &mg)
	mgScore := s.get(t, "/providers/Microsoft.Management/managementGroups/"+mg.Name+"/providers/Microsoft.Security/secureScores/ascScore?api-version="+scoreAPIVersion)
	wantJSON, _ = json.Marshal([]json.RawMessage{mgScore})
	if out := mustCLI(t, s, "score", "-m", mg.Name, "-o", "json"); !sameJSON(t, []byte(out), wantJSON) {
		t.Errorf("score -m %s -o json:\n%s", mg.Name, out)
	}
	if out := mustCLI(t, s, "score", "-m", mg.Name); !strings.Contains(out, mg.Properties.DisplayName) {
		t.Errorf("score -m table lacks the group's name %q:\n%s", mg.Properties.DisplayName, out)
	}

	// An unknown subscription: exit 3.
	if code, _, errOut := runCLI(t, s, "score", "-s", "00000000-0000-0000-0000-000000000009"); code != exitNotFound || !strings.Contains(errOut, "SubscriptionNotFound") {
		t.Errorf("unknown subscription: exit %d %s", code, errOut)
	}
}
