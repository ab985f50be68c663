package automation_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/automation"
)

const (
	sub         = "a5caac9c-5c04-49af-b3d0-e204f40345d5"
	otherSub    = "e54a4a18-5b94-4f90-9471-bd3decad8a2e"
	logicAppID  = "/subscriptions/" + otherSub + "/resourceGroups/sample/providers/Microsoft.Logic/workflows/MyTest1"
	eventHubID  = "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.EventHub/namespaces/ns/eventhubs/hub"
	workspaceID = "/subscriptions/" + sub + "/resourceGroups/rg1/providers/Microsoft.OperationalInsights/workspaces/ws"
)

// body builds a PUT body with the given properties (JSON members).
func body(props string) []byte {
	return []byte(`{"location":"westeurope","properties":{` + props + `}}`)
}

// problems returns the errors err reports: itself, or its Details when
// there are several. err must be an EINVALID *posture.Error.
func problems(t *testing.T, err error) []*posture.Error {
	t.Helper()
	var e *posture.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *posture.Error", err, err)
	}
	if e.Kind != posture.EINVALID {
		t.Fatalf("kind %q, want %q", e.Kind, posture.EINVALID)
	}
	if len(e.Details) > 0 {
		return e.Details
	}
	return []*posture.Error{e}
}

func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		name, version string
		body          []byte
		want          *automation.Automation
	}{
		{"empty body: every property is optional in the spec", automation.V2019, []byte(`{}`), &automation.Automation{}},
		{"properties null", automation.V2023, []byte(`{"properties":null,"tags":null}`), &automation.Automation{}},
		{
			// The built-in continuous export policies send lower-case
			// names and enum values ("propertyjpath", "string",
			// "actiontype"); ARM reads names case-insensitively.
			"lower-case names and enum values, as Azure's export policies send them", automation.V2019,
			[]byte(`{"location":"northeurope","tags":{},"properties":{"description":"d","isenabled":true,
				"scopes":[{"description":"s","scopepath":"/subscriptions/` + sub + `"}],
				"sources":[{"eventsource":"assessments","rulesets":[{"rules":[
					{"propertyjpath":"type","propertytype":"string","expectedvalue":"Microsoft.Security/assessments","operator":"contains"},
					{"propertyjpath":"properties.metadata.severity","propertytype":"string","expectedvalue":"High","operator":"equals"}]}]}],
				"actions":[{"actiontype":"workspace","workspaceresourceid":"` + workspaceID + `"}]}}`),
			&automation.Automation{
				Location: "northeurope", Description: "d", IsEnabled: true,
				Scopes: []automation.Scope{{Description: "s", ScopePath: "/subscriptions/" + sub}},
				Sources: []automation.Source{{EventSource: automation.Assessments, RuleSets: []automation.RuleSet{{Rules: []automation.Rule{
					{PropertyJPath: "type", PropertyType: "String", ExpectedValue: "Microsoft.Security/assessments", Operator: "Contains"},
					{PropertyJPath: "properties.metadata.severity", PropertyType: "String", ExpectedValue: "High", Operator: "Equals"},
				}}}}},
				Actions: []automation.Action{{ActionType: automation.Workspace, WorkspaceResourceID: workspaceID}},
			},
		},
		{
			// Azure's export policies send expectedValue null and ruleSets
			// null (HMCTS copy of the built-in Event Hub export policy).
			"null expectedValue and ruleSets", automation.V2019,
			body(`"sources":[{"eventSource":"SecureScores","ruleSets":null},{"eventSource":"SecureScoreControls","ruleSets":[{"rules":[{"propertyJPath":"name","propertyType":"String","expectedValue":null,"operator":"Equals"}]}]}]`),
			&automation.Automation{Location: "westeurope", Sources: []automation.Source{
				{EventSource: automation.SecureScores},
				{EventSource: automation.SecureScoreControls, RuleSets: []automation.RuleSet{{Rules: []automation.Rule{{PropertyJPath: "name", PropertyType: "String", Operator: "Equals"}}}}},
			}},
		},
		{
			// sasPolicyName is read-only: the body's is ignored and the
			// connection string's SharedAccessKeyName is reported.
			"EventHub: sasPolicyName from the connection string; isTrustedServiceEnabled in 2023", automation.V2023,
			body(`"actions":[{"actionType":"EventHub","eventHubResourceId":"` + eventHubID + `","sasPolicyName":"ignored","isTrustedServiceEnabled":false,
				"connectionString":"Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=abc=;EntityPath=hub"}]`),
			&automation.Automation{Location: "westeurope", Actions: []automation.Action{{
				ActionType: automation.EventHub, EventHubResourceID: eventHubID, SASPolicyName: "RootManageSharedAccessKey",
				ConnectionString:        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=abc=;EntityPath=hub",
				IsTrustedServiceEnabled: new(bool),
			}}},
		},
		{
			// isTrustedServiceEnabled is not in the 2019-01-01-preview
			// schema: ignored, as ARM ignores unknown properties.
			"isTrustedServiceEnabled ignored in 2019", automation.V2019,
			body(`"actions":[{"actionType":"EventHub","isTrustedServiceEnabled":true,"connectionString":"https://hook.example/x"}]`),
			&automation.Automation{Location: "westeurope", Actions: []automation.Action{{ActionType: automation.EventHub, ConnectionString: "https://hook.example/x"}}},
		},
		{
			// Fields of another action type are not the action's.
			"fields of other action types are dropped", automation.V2023,
			body(`"actions":[{"actionType":"LogicApp","uri":"https://a.example/t","connectionString":"x","workspaceResourceId":"y"}]`),
			&automation.Automation{Location: "westeurope", Actions: []automation.Action{{ActionType: automation.LogicApp, URI: "https://a.example/t"}}},
		},
		{"AttackPaths is a 2023-12-01-preview source", automation.V2023,
			body(`"sources":[{"eventSource":"AttackPaths"},{"eventSource":"attackpathssnapshot"}]`),
			&automation.Automation{Location: "westeurope", Sources: []automation.Source{{EventSource: automation.AttackPaths}, {EventSource: automation.AttackPathsSnapshot}}}},
		{"unknown and read-only fields are ignored", automation.V2019,
			[]byte(`{"id":"x","name":"y","type":"z","etag":"w","kind":"k","tags":{"a":"b"},"properties":{"bogus":1,"description":"d"},"extra":[]}`),
			&automation.Automation{Kind: "k", Tags: map[string]string{"a": "b"}, Description: "d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := automation.Parse(tc.body, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Every api-version accepts exactly its spec's eventSource enum: 11 values
// in the newest 2019-01-01-preview file, those plus AttackPaths and
// AttackPathsSnapshot in 2023-12-01-preview.
func TestEventSourcesPerVersion(t *testing.T) {
	all := []string{"Assessments", "AssessmentsSnapshot", "SubAssessments", "SubAssessmentsSnapshot", "Alerts",
		"SecureScores", "SecureScoresSnapshot", "SecureScoreControls", "SecureScoreControlsSnapshot",
		"RegulatoryComplianceAssessment", "RegulatoryComplianceAssessmentSnapshot", "AttackPaths", "AttackPathsSnapshot"}
	for _, v := range automation.Versions {
		for _, src := range all {
			_, err := automation.Parse(body(`"sources":[{"eventSource":"`+src+`"}]`), v)
			want2023Only := strings.HasPrefix(src, "AttackPaths")
			switch {
			case want2023Only && v == automation.V2019:
				if posture.ErrorCode(err) != "InvalidEventSource" {
					t.Errorf("%s in %s: %v, want InvalidEventSource", src, v, err)
				}
			case err != nil:
				t.Errorf("%s in %s: %v", src, v, err)
			}
		}
	}
}

func TestParseInvalid(t *testing.T) {
	type problem struct{ code, target string }
	for _, tc := range []struct {
		name, version string
		body          string
		want          []problem
	}{
		{"not JSON", automation.V2023, `{"properties":`, []problem{{"InvalidRequestContent", ""}}},
		{"not an object", automation.V2023, `[1]`, []problem{{"InvalidRequestContent", ""}}},
		{"JSON null", automation.V2023, `null`, []problem{{"InvalidRequestContent", ""}}},
		{"not UTF-8", automation.V2023, "{\"location\":\"\xff\"}", []problem{{"InvalidRequestContent", ""}}},
		{"properties not an object", automation.V2023, `{"properties":[]}`, []problem{{"InvalidRequestContent", "properties"}}},
		{"wrong JSON types", automation.V2019,
			`{"location":1,"tags":{"a":1},"properties":{"description":true,"isEnabled":"yes","scopes":{},"sources":"x","actions":[1]}}`,
			[]problem{{"InvalidRequestContent", "location"}, {"InvalidRequestContent", "tags"},
				{"InvalidRequestContent", "properties.description"}, {"InvalidRequestContent", "properties.isEnabled"},
				{"InvalidRequestContent", "properties.scopes"}, {"InvalidRequestContent", "properties.sources"},
				{"InvalidRequestContent", "properties.actions[0]"}}},
		{"scope without scopePath; scope not a subscription or resource group", automation.V2023,
			`{"properties":{"scopes":[{"description":"x"},{"scopePath":"` + logicAppID + `"},{"scopePath":"subscriptions/` + sub + `"},{"scopePath":"/providers/Microsoft.Management/managementGroups/mg"}]}}`,
			[]problem{{"MissingRequiredProperty", "properties.scopes[0].scopePath"}, {"InvalidScopePath", "properties.scopes[1].scopePath"},
				{"InvalidScopePath", "properties.scopes[2].scopePath"}, {"InvalidScopePath", "properties.scopes[3].scopePath"}}},
		{"source without eventSource; AttackPaths in 2019; unknown source", automation.V2019,
			`{"properties":{"sources":[{"ruleSets":[]},{"eventSource":"AttackPaths"},{"eventSource":"Recommendations"}]}}`,
			[]problem{{"MissingRequiredProperty", "properties.sources[0].eventSource"}, {"InvalidEventSource", "properties.sources[1].eventSource"},
				{"InvalidEventSource", "properties.sources[2].eventSource"}}},
		{"rule fields", automation.V2023,
			`{"properties":{"sources":[{"eventSource":"Assessments","ruleSets":[{"rules":[{"expectedValue":"x"},{"propertyJPath":"a","propertyType":"Text","operator":"Like","expectedValue":3}]},{"rules":{}}]}]}}`,
			[]problem{{"MissingRequiredProperty", "properties.sources[0].ruleSets[0].rules[0].propertyJPath"},
				{"MissingRequiredProperty", "properties.sources[0].ruleSets[0].rules[0].propertyType"},
				{"MissingRequiredProperty", "properties.sources[0].ruleSets[0].rules[0].operator"},
				{"InvalidRequestContent", "properties.sources[0].ruleSets[0].rules[1].expectedValue"},
				{"InvalidPropertyType", "properties.sources[0].ruleSets[0].rules[1].propertyType"},
				{"InvalidOperator", "properties.sources[0].ruleSets[0].rules[1].operator"},
				{"InvalidRequestContent", "properties.sources[0].ruleSets[1].rules"}}},
		{"actions: actionType required and in the enum; uri absolute", automation.V2023,
			`{"properties":{"actions":[{"logicAppResourceId":"x"},{"actionType":"Email"},{"actionType":"LogicApp","uri":"/relative"},{"actionType":"EventHub","isTrustedServiceEnabled":"yes"}]}}`,
			[]problem{{"MissingRequiredProperty", "properties.actions[0].actionType"}, {"InvalidActionType", "properties.actions[1].actionType"},
				{"InvalidUri", "properties.actions[2].uri"}, {"InvalidRequestContent", "properties.actions[3].isTrustedServiceEnabled"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := automation.Parse([]byte(tc.body), tc.version)
			var got []problem
			for _, e := range problems(t, err) {
				got = append(got, problem{e.Code, e.Target})
				if e.Message == "" {
					t.Errorf("%s at %s has no message", e.Code, e.Target)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

// Only the versions with an automations.json are served; 2020-01-01 has
// none on the specs' main branch (SOURCE.md).
func TestParseVersions(t *testing.T) {
	for _, v := range []string{"2020-01-01", "2023-10-01-preview", "", "2019-01-01"} {
		_, err := automation.Parse([]byte(`{}`), v)
		if posture.ErrorCode(err) != "InvalidApiVersionParameter" || !strings.Contains(err.Error(), "2023-12-01-preview,2019-01-01-preview") {
			t.Errorf("%q: %v", v, err)
		}
	}
	if !reflect.DeepEqual(automation.Versions, []string{"2019-01-01-preview", "2023-12-01-preview"}) {
		t.Fatalf("Versions %v", automation.Versions)
	}
}

// Names: 1-260 letters, digits, underscores and hyphens (ARM template
// reference for Microsoft.Security/automations).
func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"exampleAutomation": true, "ExportToWorkspace": true, "export-to_hub-2": true, strings.Repeat("a", 260): true,
		"": false, strings.Repeat("a", 261): false, "has space": false, "dot.name": false, "slash/x": false, "é": false,
	} {
		err := automation.ValidateName(name)
		if (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
		if err != nil && (posture.ErrorCode(err) != "InvalidResourceName" || problems(t, err)[0].Target != "name") {
			t.Errorf("%q: %v", name, err)
		}
	}
}
