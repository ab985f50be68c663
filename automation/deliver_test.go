package automation_test

import (
	"reflect"
	"testing"

	"github.com/posture/posture/automation"
)

func TestEndpoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action automation.Action
		want   string
		ok     bool
	}{
		{"LogicApp https", automation.Action{ActionType: automation.LogicApp, URI: secretURI}, secretURI, true},
		{"LogicApp http to 127.0.0.1", automation.Action{ActionType: automation.LogicApp, URI: "http://127.0.0.1:5000/x"}, "http://127.0.0.1:5000/x", true},
		{"LogicApp http to [::1]", automation.Action{ActionType: automation.LogicApp, URI: "http://[::1]:5000/x"}, "http://[::1]:5000/x", true},
		{"LogicApp http to LOCALHOST", automation.Action{ActionType: automation.LogicApp, URI: "http://LOCALHOST/x"}, "http://LOCALHOST/x", true},
		{"LogicApp http elsewhere", automation.Action{ActionType: automation.LogicApp, URI: "http://hooks.example/x"}, "", false},
		{"LogicApp http to a host named like loopback", automation.Action{ActionType: automation.LogicApp, URI: "http://127.0.0.1.example/x"}, "", false},
		{"LogicApp with credentials in the URL", automation.Action{ActionType: automation.LogicApp, URI: "https://u:p@hooks.example/x"}, "", false},
		{"LogicApp without uri", automation.Action{ActionType: automation.LogicApp}, "", false},
		{"EventHub Endpoint=https", automation.Action{ActionType: automation.EventHub, ConnectionString: "Endpoint=https://ingest.example/events;SharedAccessKeyName=send;SharedAccessKey=k=="},
			"https://ingest.example/events", true},
		{"EventHub keys ignore case and spaces", automation.Action{ActionType: automation.EventHub, ConnectionString: " endpoint = https://ingest.example/e ; entitypath=x"},
			"https://ingest.example/e", true},
		{"EventHub plain https URL", automation.Action{ActionType: automation.EventHub, ConnectionString: "https://ingest.example/e?code=a=b"}, "https://ingest.example/e?code=a=b", true},
		{"EventHub real Event Hubs (sb://)", automation.Action{ActionType: automation.EventHub, ConnectionString: secretCS}, "", false},
		{"EventHub without connection string", automation.Action{ActionType: automation.EventHub}, "", false},
		{"Workspace", automation.Action{ActionType: automation.Workspace, WorkspaceResourceID: workspaceID}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.action.Endpoint()
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %q %v, want %q %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// Deliverable keeps the LogicApp and the https EventHub action, in order,
// and drops Workspace and sb:// Event Hubs actions (stored, not delivered).
func TestDeliverable(t *testing.T) {
	a := full(t, automation.V2023) // LogicApp https, EventHub sb://, Workspace
	a.Actions = append(a.Actions, automation.Action{ActionType: automation.EventHub, ConnectionString: "Endpoint=https://ingest.example/e"})
	got := a.Deliverable()
	want := []automation.Action{a.Actions[0], a.Actions[3]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	if (&automation.Automation{}).Deliverable() != nil {
		t.Fatal("no actions, something deliverable")
	}
}
