package automation_test

import (
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/automation"
)

const logicAppAction = `{"actionType":"LogicApp","logicAppResourceId":"` + logicAppID + `","uri":"https://prod.example/invoke"}`

func validated(t *testing.T, props string) automation.ValidationResult {
	t.Helper()
	a, err := automation.Parse(body(props), automation.V2023)
	if err != nil {
		t.Fatal(err)
	}
	return a.Validate(sub)
}

func TestValidate(t *testing.T) {
	base := func(extra string) string {
		return `"isEnabled":true,"scopes":[{"scopePath":"/subscriptions/` + sub + `"}],` + extra
	}
	for _, tc := range []struct {
		name, props string
		valid       bool
		says        []string // substrings of the message
	}{
		{"valid", base(`"sources":[{"eventSource":"Assessments"}],"actions":[` + logicAppAction + `]`), true, []string{"Validation Successful"}},
		{"loopback http is allowed, for tests", base(`"sources":[{"eventSource":"Assessments"}],"actions":[{"actionType":"LogicApp","uri":"http://127.0.0.1:8080/hook"},{"actionType":"EventHub","connectionString":"Endpoint=http://localhost:9/x"}]`), true, nil},
		{"nothing at all", ``, false, []string{"Validation failed.", "no scopes", "no sources", "no actions", "disabled"}},
		// The spec: "Can be the subscription on which the automation is
		// defined on or a resource group under that subscription".
		{"scope in another subscription", `"scopes":[{"scopePath":"/subscriptions/` + otherSub + `/resourceGroups/x"}],"sources":[{"eventSource":"Assessments"}],"actions":[` + logicAppAction + `]`,
			false, []string{"properties.scopes[0].scopePath", "outside the automation's subscription"}},
		{"malformed rule", base(`"sources":[{"eventSource":"Assessments","ruleSets":[{"rules":[{"propertyJPath":"properties.score","propertyType":"Integer","expectedValue":"x","operator":"Contains"}]}]}],"actions":[` + logicAppAction + `]`),
			false, []string{"properties.sources[0].ruleSets[0].rules[0]", "operator 'Contains' does not apply to Integer"}},
		{"LogicApp without uri", base(`"sources":[{"eventSource":"Assessments"}],"actions":[{"actionType":"LogicApp","logicAppResourceId":"` + logicAppID + `"}]`),
			false, []string{"properties.actions[0]", "no uri"}},
		{"LogicApp over plain http", base(`"sources":[{"eventSource":"Assessments"}],"actions":[{"actionType":"LogicApp","uri":"http://hooks.example/x"}]`),
			false, []string{"https"}},
		{"LogicApp id of the wrong type", base(`"sources":[{"eventSource":"Assessments"}],"actions":[{"actionType":"LogicApp","logicAppResourceId":"` + workspaceID + `","uri":"https://a.example"}]`),
			false, []string{"not the id of a Logic App"}},
		{"EventHub without connection string", base(`"sources":[{"eventSource":"Assessments"}],"actions":[{"actionType":"EventHub","eventHubResourceId":"` + eventHubID + `"}]`),
			false, []string{"no connectionString"}},
		{"EventHub with an unusable endpoint", base(`"sources":[{"eventSource":"Assessments"}],"actions":[{"actionType":"EventHub","connectionString":"Endpoint=ftp://x/;SharedAccessKeyName=a"}]`),
			false, []string{"endpoint must be an https URL"}},
		// Accepted and stored, but posture does nothing with them.
		{"Workspace export is a note", base(`"sources":[{"eventSource":"Assessments"}],"actions":[{"actionType":"Workspace","workspaceResourceId":"` + workspaceID + `"}]`),
			true, []string{"Validation Successful.", "Workspace (Log Analytics) export is not supported by posture"}},
		{"Event Hubs over AMQP is a note", base(`"sources":[{"eventSource":"Assessments"}],"actions":[{"actionType":"EventHub","eventHubResourceId":"` + eventHubID + `","connectionString":"` + secretCS + `"}]`),
			true, []string{"Event Hubs", "not supported by posture"}},
		{"sources posture never emits are a note", base(`"sources":[{"eventSource":"Alerts"},{"eventSource":"SubAssessments"},{"eventSource":"Alerts"},{"eventSource":"SecureScores"}],"actions":[` + logicAppAction + `]`),
			true, []string{"never raises events of Alerts, SubAssessments (it emits Assessments, SecureScores, SecureScoreControls)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := validated(t, tc.props)
			if got.IsValid != tc.valid {
				t.Fatalf("isValid %v: %s", got.IsValid, got.Message)
			}
			for _, s := range tc.says {
				if !strings.Contains(got.Message, s) {
					t.Errorf("message %q lacks %q", got.Message, s)
				}
			}
			for _, secret := range []string{"KEYSECRET", "prod.example"} {
				if strings.Contains(got.Message, secret) {
					t.Errorf("message echoes a write-only value: %s", got.Message)
				}
			}
		})
	}
}

func TestCheckScopes(t *testing.T) {
	a, err := automation.Parse(body(`"scopes":[{"scopePath":"/subscriptions/`+strings.ToUpper(sub)+`"},{"scopePath":"`+rg1+`"},{"scopePath":"/subscriptions/`+otherSub+`"}]`), automation.V2023)
	if err != nil {
		t.Fatal(err)
	}
	ps := problems(t, a.CheckScopes(sub))
	if len(ps) != 1 || ps[0].Code != "ScopeOutsideSubscription" || ps[0].Target != "properties.scopes[2].scopePath" {
		t.Fatalf("%v", ps)
	}
	a.Scopes = a.Scopes[:2]
	if err := a.CheckScopes(sub); err != nil {
		t.Fatal(err)
	}
	a.Scopes = []automation.Scope{{ScopePath: "garbage"}}
	if posture.ErrorCode(a.CheckScopes(sub)) != "InvalidScopePath" {
		t.Fatal("hand-made bad scope accepted")
	}
}
