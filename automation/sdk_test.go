package automation_test

import (
	"encoding/json"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/posture/posture/automation"
)

// The armsecurity SDK (v0.15.0, api-version 2023-12-01-preview) sends
// bodies Parse reads, and reads Document's output back into the same
// model: its action discriminator switch is case-sensitive
// (polymorphic_helpers.go), so the canonical spelling matters.
func TestSDKRoundTrip(t *testing.T) {
	sent := armsecurity.Automation{
		Location: to.Ptr("westeurope"),
		Tags:     map[string]*string{"team": to.Ptr("sec")},
		Properties: &armsecurity.AutomationProperties{
			Description: to.Ptr("export"),
			IsEnabled:   to.Ptr(true),
			Scopes: []*armsecurity.AutomationScope{{
				Description: to.Ptr("rg"),
				ScopePath:   to.Ptr("/subscriptions/" + sub + "/resourceGroups/rg1"),
			}},
			Sources: []*armsecurity.AutomationSource{{
				EventSource: to.Ptr(armsecurity.EventSourceAssessments),
				RuleSets: []*armsecurity.AutomationRuleSet{{Rules: []*armsecurity.AutomationTriggeringRule{{
					PropertyJPath: to.Ptr("properties.status.code"),
					PropertyType:  to.Ptr(armsecurity.PropertyTypeString),
					ExpectedValue: to.Ptr("Unhealthy"),
					Operator:      to.Ptr(armsecurity.OperatorEquals),
				}}}},
			}, {EventSource: to.Ptr(armsecurity.EventSourceAttackPaths)}},
			Actions: []armsecurity.AutomationActionClassification{
				&armsecurity.AutomationActionLogicApp{
					LogicAppResourceID: to.Ptr(logicAppID),
					URI:                to.Ptr("https://prod-00.westeurope.logic.azure.com/workflows/x/triggers/manual/paths/invoke?sig=secret"),
				},
				&armsecurity.AutomationActionEventHub{
					EventHubResourceID:      to.Ptr(eventHubID),
					ConnectionString:        to.Ptr("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=c2VjcmV0=;EntityPath=hub"),
					IsTrustedServiceEnabled: to.Ptr(true),
				},
				&armsecurity.AutomationActionWorkspace{WorkspaceResourceID: to.Ptr(workspaceID)},
			},
		},
	}
	body, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	a, err := automation.Parse(body, automation.V2023)
	if err != nil {
		t.Fatal(err)
	}
	doc := automation.Document(exampleID, "exampleAutomation", a, "e1", automation.V2023)
	var got armsecurity.Automation
	if err := json.Unmarshal(doc, &got); err != nil {
		t.Fatalf("the SDK cannot read %s: %v", doc, err)
	}
	if *got.ID != exampleID || *got.Type != automation.Type || *got.Etag != "e1" || *got.Location != "westeurope" || *got.Tags["team"] != "sec" {
		t.Fatalf("resource fields: %s", doc)
	}
	p := got.Properties
	if !*p.IsEnabled || *p.Description != "export" || len(p.Scopes) != 1 || len(p.Sources) != 2 || len(p.Actions) != 3 {
		t.Fatalf("properties: %s", doc)
	}
	if r := p.Sources[0].RuleSets[0].Rules[0]; *r.PropertyJPath != "properties.status.code" || *r.Operator != armsecurity.OperatorEquals {
		t.Fatalf("rule: %s", doc)
	}
	la, ok := p.Actions[0].(*armsecurity.AutomationActionLogicApp)
	if !ok || *la.LogicAppResourceID != logicAppID || la.URI != nil {
		t.Fatalf("LogicApp action %#v: the uri is write-only", p.Actions[0])
	}
	eh, ok := p.Actions[1].(*armsecurity.AutomationActionEventHub)
	if !ok || eh.ConnectionString != nil || eh.SasPolicyName == nil || *eh.SasPolicyName != "send" || eh.IsTrustedServiceEnabled == nil || !*eh.IsTrustedServiceEnabled {
		t.Fatalf("EventHub action %#v: connectionString write-only, sasPolicyName read-only", p.Actions[1])
	}
	if ws, ok := p.Actions[2].(*armsecurity.AutomationActionWorkspace); !ok || *ws.WorkspaceResourceID != workspaceID {
		t.Fatalf("Workspace action %#v", p.Actions[2])
	}
}
