package automation_test

import (
	"testing"

	"github.com/posture/posture/automation"
)

const (
	rg1      = "/subscriptions/" + sub + "/resourceGroups/rg1"
	vm1      = rg1 + "/providers/Microsoft.Compute/virtualMachines/vm1"
	assessVM = vm1 + "/providers/Microsoft.Security/assessments/4fb67663-9ab9-475d-b026-8c544cced439"
	// A subscription-level assessment and the secure score documents live
	// under the subscription, in no resource group.
	assessSub    = "/subscriptions/" + sub + "/providers/Microsoft.Security/assessments/94de3da4-54a7-4a48-8f6e-1c1dba1fbd5f"
	scoreID      = "/subscriptions/" + sub + "/providers/Microsoft.Security/secureScores/ascScore"
	controlID    = scoreID + "/securescorecontrols/1195afff-c881-495e-9bc5-1486211ae03f"
	assessmentEv = `{"id":"` + assessVM + `","name":"4fb67663-9ab9-475d-b026-8c544cced439","type":"Microsoft.Security/assessments",
		"properties":{"resourceDetails":{"source":"Azure","id":"` + vm1 + `","Source":"Azure","Id":"` + vm1 + `"},
		"displayName":"Install endpoint protection","status":{"code":"Unhealthy"},
		"metadata":{"displayName":"Install endpoint protection","severity":"High","assessmentType":"BuiltIn"}}}`
	// Shapes of the 2020-01-01 secureScore examples.
	scoreEv   = `{"id":"` + scoreID + `","name":"ascScore","type":"Microsoft.Security/secureScores","properties":{"displayName":"ASC score","score":{"max":39,"current":28.5,"percentage":0.7308},"weight":0}}`
	controlEv = `{"id":"` + controlID + `","name":"1195afff-c881-495e-9bc5-1486211ae03f","type":"Microsoft.Security/secureScores/secureScoreControls",
		"properties":{"displayName":"Enable MFA","healthyResourceCount":0,"unhealthyResourceCount":1,"notApplicableResourceCount":0,"score":{"max":10,"current":0,"percentage":0}}}`
)

// automationOf parses a 2023-12-01-preview automation with the given scopes
// and sources.
func automationOf(t *testing.T, enabled bool, scopes, sources string) *automation.Automation {
	t.Helper()
	isEnabled := "false"
	if enabled {
		isEnabled = "true"
	}
	a, err := automation.Parse(body(`"isEnabled":`+isEnabled+`,"scopes":`+scopes+`,"sources":`+sources), automation.V2023)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func scopes(paths ...string) string {
	s := "["
	for i, p := range paths {
		if i > 0 {
			s += ","
		}
		s += `{"scopePath":"` + p + `"}`
	}
	return s + "]"
}

const (
	unhealthyHigh = `[{"eventSource":"Assessments","ruleSets":[{"rules":[
		{"propertyJPath":"properties.status.code","propertyType":"String","expectedValue":"Unhealthy","operator":"Equals"},
		{"propertyJPath":"properties.metadata.severity","propertyType":"String","expectedValue":"High","operator":"Equals"}]}]}]`
	anyAssessment = `[{"eventSource":"Assessments"}]`
)

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		name          string
		a             *automation.Automation
		source, scope string
		payload       string
		want          bool
	}{
		{"rule set holds on an unhealthy high assessment", automationOf(t, true, scopes(rg1), unhealthyHigh), automation.Assessments, assessVM, assessmentEv, true},
		{"the source name ignores case", automationOf(t, true, scopes(rg1), unhealthyHigh), "assessments", assessVM, assessmentEv, true},
		{"disabled automations never match", automationOf(t, false, scopes(rg1), unhealthyHigh), automation.Assessments, assessVM, assessmentEv, false},
		{"another source", automationOf(t, true, scopes(rg1), unhealthyHigh), automation.SecureScores, assessVM, assessmentEv, false},
		{"rules are ANDed: one fails", automationOf(t, true, scopes(rg1), unhealthyHigh), automation.Assessments, assessVM,
			`{"properties":{"status":{"code":"Unhealthy"},"metadata":{"severity":"Low"}}}`, false},
		{"no rule sets: every event of the source", automationOf(t, true, scopes(rg1), anyAssessment), automation.Assessments, assessVM, `{}`, true},
		{"no rule sets, payload not even JSON", automationOf(t, true, scopes(rg1), anyAssessment), automation.Assessments, assessVM, `not json`, true},
		{"rule sets, payload not JSON", automationOf(t, true, scopes(rg1), unhealthyHigh), automation.Assessments, assessVM, `not json`, false},
		{"an empty rule set holds", automationOf(t, true, scopes(rg1), `[{"eventSource":"Assessments","ruleSets":[{"rules":[]}]}]`),
			automation.Assessments, assessVM, assessmentEv, true},
		{"rule sets are ORed", automationOf(t, true, scopes(rg1), `[{"eventSource":"Assessments","ruleSets":[
			{"rules":[{"propertyJPath":"properties.metadata.severity","propertyType":"String","expectedValue":"Low","operator":"Equals"}]},
			{"rules":[{"propertyJPath":"properties.metadata.severity","propertyType":"String","expectedValue":"High","operator":"Equals"}]}]}]`),
			automation.Assessments, assessVM, assessmentEv, true},
		{"two sources for one event source: either", automationOf(t, true, scopes(rg1), `[
			{"eventSource":"Assessments","ruleSets":[{"rules":[{"propertyJPath":"name","propertyType":"String","expectedValue":"nope","operator":"Equals"}]}]},
			{"eventSource":"Assessments","ruleSets":[{"rules":[{"propertyJPath":"properties.metadata.assessmentType","propertyType":"String","expectedValue":"builtin","operator":"Equals"}]}]}]`),
			automation.Assessments, assessVM, assessmentEv, true},
		// Scopes: the subscription covers everything in it, a resource
		// group what is in it; segment-aware and case-insensitive.
		{"subscription scope covers a resource-group assessment", automationOf(t, true, scopes("/subscriptions/"+sub), anyAssessment), automation.Assessments, assessVM, `{}`, true},
		{"subscription scope covers a subscription assessment", automationOf(t, true, scopes("/subscriptions/"+sub), anyAssessment), automation.Assessments, assessSub, `{}`, true},
		{"resource group scope does not cover a subscription assessment", automationOf(t, true, scopes(rg1), anyAssessment), automation.Assessments, assessSub, `{}`, false},
		{"resource group ids ignore case", automationOf(t, true, scopes("/SUBSCRIPTIONS/"+sub+"/RESOURCEGROUPS/RG1"), anyAssessment), automation.Assessments, assessVM, `{}`, true},
		{"rg1 does not cover rg10", automationOf(t, true, scopes(rg1), anyAssessment), automation.Assessments,
			"/subscriptions/" + sub + "/resourceGroups/rg10/providers/Microsoft.Compute/virtualMachines/vm1", `{}`, false},
		{"another subscription", automationOf(t, true, scopes("/subscriptions/"+sub), anyAssessment), automation.Assessments,
			"/subscriptions/" + otherSub + "/providers/Microsoft.Security/assessments/x", `{}`, false},
		{"any of several scopes", automationOf(t, true, scopes("/subscriptions/"+otherSub, rg1), anyAssessment), automation.Assessments, assessVM, `{}`, true},
		{"no scopes: applies nowhere", automationOf(t, true, `[]`, anyAssessment), automation.Assessments, assessVM, `{}`, false},
		{"an event id that is not an ARM id", automationOf(t, true, scopes("/subscriptions/"+sub), anyAssessment), automation.Assessments, "not an id", `{}`, false},
		// Secure score events: numeric rules on the score documents.
		{"secure score below 80%", automationOf(t, true, scopes("/subscriptions/"+sub), `[{"eventSource":"SecureScores","ruleSets":[{"rules":[
			{"propertyJPath":"properties.score.percentage","propertyType":"Number","expectedValue":"0.8","operator":"LesserThan"}]}]}]`),
			automation.SecureScores, scoreID, scoreEv, true},
		{"a resource group scope never sees the subscription's score", automationOf(t, true, scopes(rg1), `[{"eventSource":"SecureScores"}]`),
			automation.SecureScores, scoreID, scoreEv, false},
		{"a control with unhealthy resources", automationOf(t, true, scopes("/subscriptions/"+sub), `[{"eventSource":"SecureScoreControls","ruleSets":[{"rules":[
			{"propertyJPath":"properties.unhealthyResourceCount","propertyType":"Integer","expectedValue":"0","operator":"GreaterThan"},
			{"propertyJPath":"properties.displayName","propertyType":"String","expectedValue":"mfa","operator":"Contains"}]}]}]`),
			automation.SecureScoreControls, controlID, controlEv, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.Matches(tc.source, tc.scope, []byte(tc.payload)); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
