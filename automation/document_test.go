package automation_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/automation"
)

const (
	secretURI = "https://prod-01.westeurope.logic.azure.com/workflows/w/triggers/manual/paths/invoke?sig=TOPSECRET"
	secretCS  = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=KEYSECRET=;EntityPath=hub"
)

// full is an automation with every kind of action, parsed from a body.
func full(t *testing.T, version string) *automation.Automation {
	t.Helper()
	a, err := automation.Parse(body(`"description":"all","isEnabled":true,
		"scopes":[{"description":"sub","scopePath":"/subscriptions/`+sub+`"}],
		"sources":[{"eventSource":"Assessments","ruleSets":[{"rules":[{"propertyJPath":"properties.status.code","propertyType":"String","expectedValue":"Unhealthy","operator":"Equals"}]}]}],
		"actions":[
			{"actionType":"LogicApp","logicAppResourceId":"`+logicAppID+`","uri":"`+secretURI+`"},
			{"actionType":"EventHub","eventHubResourceId":"`+eventHubID+`","connectionString":"`+secretCS+`","isTrustedServiceEnabled":true},
			{"actionType":"Workspace","workspaceResourceId":"`+workspaceID+`"}]`), version)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The spec marks uri and connectionString "it will not be included in any
// response" and sasPolicyName read-only; isTrustedServiceEnabled exists
// from 2023-12-01-preview.
func TestDocumentWriteOnlyAndReadOnly(t *testing.T) {
	for _, v := range automation.Versions {
		a := full(t, automation.V2023)
		doc := automation.Document(exampleID, "exampleAutomation", a, "", v)
		for _, secret := range []string{"TOPSECRET", "KEYSECRET", `"uri"`, `"connectionString"`} {
			if bytes.Contains(doc, []byte(secret)) {
				t.Errorf("%s: %s rendered: %s", v, secret, doc)
			}
		}
		var d struct {
			ETag       *string `json:"etag"`
			Properties struct {
				Actions []map[string]any `json:"actions"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			t.Fatal(err)
		}
		eh := d.Properties.Actions[1]
		if eh["sasPolicyName"] != "send" || eh["actionType"] != "EventHub" {
			t.Errorf("%s: EventHub action %v", v, eh)
		}
		_, trusted := eh["isTrustedServiceEnabled"]
		if trusted != (v == automation.V2023) {
			t.Errorf("%s: isTrustedServiceEnabled rendered %v", v, trusted)
		}
		if d.ETag != nil {
			t.Errorf("%s: empty etag rendered", v)
		}
	}
}

// A minimal automation renders every collection, as Azure's examples do
// ("tags": {}, "ruleSets": []), and the resource type.
func TestDocumentEmpty(t *testing.T) {
	a, err := automation.Parse([]byte(`{"properties":{"sources":[{"eventSource":"SecureScores"}]}}`), automation.V2019)
	if err != nil {
		t.Fatal(err)
	}
	got := automation.Document("/x", "n", a, "W/\"1\"", automation.V2019)
	want := `{"id":"/x","name":"n","type":"Microsoft.Security/automations","etag":"W/\"1\"","tags":{},"properties":{"isEnabled":false,"scopes":[],"sources":[{"eventSource":"SecureScores","ruleSets":[]}],"actions":[]}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// Storage keeps what clients never see, and reads back to the same value.
func TestStoredRoundTrip(t *testing.T) {
	a := full(t, automation.V2023)
	a.Kind, a.Tags = "k", map[string]string{"<&>": "\u2028"}
	stored := automation.StoredDocument(a)
	if !bytes.Contains(stored, []byte("TOPSECRET")) || !bytes.Contains(stored, []byte("KEYSECRET")) {
		t.Fatalf("secrets not stored: %s", stored)
	}
	back, err := automation.FromStored(stored)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, a) {
		t.Fatalf("round trip changed the automation:\n in  %+v\n out %+v", a, back)
	}
	if _, err := automation.FromStored([]byte(`{"properties":{"scopes":[{}]}}`)); posture.ErrorKind(err) != posture.EINTERNAL {
		t.Fatalf("corrupt document: %v", err)
	}
}

// A stored source that an older version's enum lacks is still rendered.
func TestDocumentNewerSourceInOlderVersion(t *testing.T) {
	a, err := automation.Parse(body(`"sources":[{"eventSource":"AttackPaths"}]`), automation.V2023)
	if err != nil {
		t.Fatal(err)
	}
	if doc := automation.Document("/x", "n", a, "", automation.V2019); !bytes.Contains(doc, []byte(`"eventSource":"AttackPaths"`)) {
		t.Fatalf("%s", doc)
	}
}
