package automation_test

import (
	"reflect"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/automation"
)

// PATCH (Automations_Update, 2023-12-01-preview only) takes
// AutomationUpdateModel {tags, properties}: present properties replace,
// absent ones stay, null resets.
func TestApplyPatch(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		check      func(t *testing.T, before, after *automation.Automation)
	}{
		{"empty body changes nothing", `{}`, func(t *testing.T, before, after *automation.Automation) {
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("%+v", after)
			}
		}},
		{"tags replace the whole map; location and etag are not in the update model", `{"tags":{"x":"1"},"location":"eastus","etag":"e"}`,
			func(t *testing.T, before, after *automation.Automation) {
				if !reflect.DeepEqual(after.Tags, map[string]string{"x": "1"}) || after.Location != before.Location {
					t.Fatalf("%+v", after)
				}
			}},
		{"null tags and description reset them", `{"tags":null,"properties":{"description":null}}`,
			func(t *testing.T, before, after *automation.Automation) {
				if after.Tags != nil || after.Description != "" || !after.IsEnabled || len(after.Actions) != 3 {
					t.Fatalf("%+v", after)
				}
			}},
		{"isEnabled false disables; the rest stays", `{"properties":{"isEnabled":false}}`,
			func(t *testing.T, before, after *automation.Automation) {
				want := *before
				want.IsEnabled = false
				if !reflect.DeepEqual(after, &want) {
					t.Fatalf("%+v", after)
				}
			}},
		{"sources replace the whole list", `{"properties":{"sources":[{"eventSource":"SecureScores"}]}}`,
			func(t *testing.T, before, after *automation.Automation) {
				if !reflect.DeepEqual(after.Sources, []automation.Source{{EventSource: automation.SecureScores}}) {
					t.Fatalf("%+v", after.Sources)
				}
			}},
		{
			// A client that read the automation (no uri, no connection
			// string: write-only) and PATCHes the actions back keeps them.
			"actions read back from GET keep their write-only values",
			`{"properties":{"actions":[
				{"actionType":"LogicApp","logicAppResourceId":"` + logicAppID + `"},
				{"actionType":"EventHub","eventHubResourceId":"` + eventHubID + `","sasPolicyName":"send"}]}}`,
			func(t *testing.T, before, after *automation.Automation) {
				if len(after.Actions) != 2 || after.Actions[0].URI != secretURI || after.Actions[1].ConnectionString != secretCS || after.Actions[1].SASPolicyName != "send" {
					t.Fatalf("%+v", after.Actions)
				}
			}},
		{"a new uri replaces the stored one; another Logic App gets none", `{"properties":{"actions":[
				{"actionType":"LogicApp","logicAppResourceId":"` + logicAppID + `","uri":"https://new.example/t"},
				{"actionType":"LogicApp","logicAppResourceId":"/subscriptions/` + sub + `/resourceGroups/r/providers/Microsoft.Logic/workflows/Other"}]}}`,
			func(t *testing.T, before, after *automation.Automation) {
				if after.Actions[0].URI != "https://new.example/t" || after.Actions[1].URI != "" {
					t.Fatalf("%+v", after.Actions)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := full(t, automation.V2023)
			before.Tags = map[string]string{"a": "b"}
			after := full(t, automation.V2023)
			after.Tags = map[string]string{"a": "b"}
			if err := after.ApplyPatch([]byte(tc.body), automation.V2023); err != nil {
				t.Fatal(err)
			}
			tc.check(t, before, after)
		})
	}
}

func TestApplyPatchErrors(t *testing.T) {
	for _, tc := range []struct{ name, body, version, code, target string }{
		// 2019-01-01-preview has no PATCH operation.
		{"no PATCH in 2019-01-01-preview", `{}`, automation.V2019, "InvalidApiVersionParameter", ""},
		{"unknown version", `{}`, "2020-01-01", "InvalidApiVersionParameter", ""},
		{"not JSON", `{`, automation.V2023, "InvalidRequestContent", ""},
		{"bad source", `{"tags":{"a":"b"},"properties":{"sources":[{"eventSource":"Nope"}]}}`, automation.V2023, "InvalidEventSource", "properties.sources[0].eventSource"},
		{"bad scope", `{"properties":{"scopes":[{"scopePath":"/x"}]}}`, automation.V2023, "InvalidScopePath", "properties.scopes[0].scopePath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := full(t, automation.V2023)
			want := full(t, automation.V2023)
			err := a.ApplyPatch([]byte(tc.body), tc.version)
			ps := problems(t, err)
			if ps[0].Code != tc.code || ps[0].Target != tc.target {
				t.Fatalf("%v (target %q)", err, ps[0].Target)
			}
			if !reflect.DeepEqual(a, want) {
				t.Fatalf("a failed PATCH changed the automation: %+v", a)
			}
		})
	}
	if posture.ErrorKind(full(t, automation.V2023).ApplyPatch([]byte(`[]`), automation.V2023)) != posture.EINVALID {
		t.Fatal("array body accepted")
	}
}

// KeepSecrets matches actions by type and resource id, ignoring case, and
// never overwrites a value the client gave.
func TestKeepSecrets(t *testing.T) {
	prev := full(t, automation.V2023)
	a := &automation.Automation{Actions: []automation.Action{
		{ActionType: automation.LogicApp, LogicAppResourceID: "/SUBSCRIPTIONS/" + otherSub + "/resourcegroups/SAMPLE/providers/microsoft.logic/workflows/mytest1"},
		{ActionType: automation.EventHub, EventHubResourceID: eventHubID, ConnectionString: "https://mine.example/x"},
		{ActionType: automation.LogicApp}, // no id: nothing to match
	}}
	a.KeepSecrets(prev)
	a.KeepSecrets(nil)
	if a.Actions[0].URI != secretURI || a.Actions[1].ConnectionString != "https://mine.example/x" || a.Actions[2].URI != "" {
		t.Fatalf("%+v", a.Actions)
	}
}
