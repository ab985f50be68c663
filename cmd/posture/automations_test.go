package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"
)

// TestWorkflowAutomation: an automation written with the unchanged
// armsecurity SDK (2023-12-01-preview) selects Unhealthy assessments of
// its subscription; a storage account without secure transfer makes its
// Logic App receive the assessment document, and the write-only uri never
// comes back from the API.
func TestWorkflowAutomation(t *testing.T) {
	logicApp, appURL := startRecorder(t, nil)
	s := startServer(t, "--no-default-assignment")
	for _, d := range []struct{ path, body string }{
		{reqSub + "?api-version=2022-12-01", `{"displayName":"apps"}`},
		{reqRG + "?api-version=2022-09-01", `{"location":"westeurope"}`},
		{reqSub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn?api-version=2022-06-01", `{"properties":{"policyDefinitionId":"/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"}}`},
	} {
		if code, _, b := s.raw(t, http.MethodPut, d.path, d.body); code >= 300 {
			t.Fatalf("PUT %s: %d %s", d.path, code, b)
		}
	}
	ctx := context.Background()
	sub := strings.TrimPrefix(reqSub, "/subscriptions/")
	client, err := armsecurity.NewAutomationsClient(sub, tokenCredential(s.token), sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	a := armsecurity.Automation{
		Location: to.Ptr("westeurope"),
		Properties: &armsecurity.AutomationProperties{
			Description: to.Ptr("Unhealthy storage to the SOC"),
			IsEnabled:   to.Ptr(true),
			Scopes:      []*armsecurity.AutomationScope{{ScopePath: to.Ptr(reqSub)}},
			Sources: []*armsecurity.AutomationSource{{
				EventSource: to.Ptr(armsecurity.EventSourceAssessments),
				RuleSets: []*armsecurity.AutomationRuleSet{{Rules: []*armsecurity.AutomationTriggeringRule{{
					PropertyJPath: to.Ptr("properties.status.code"), PropertyType: to.Ptr(armsecurity.PropertyTypeString),
					ExpectedValue: to.Ptr("unhealthy"), Operator: to.Ptr(armsecurity.OperatorEquals),
				}}}},
			}},
			Actions: []armsecurity.AutomationActionClassification{&armsecurity.AutomationActionLogicApp{
				ActionType:         to.Ptr(armsecurity.ActionTypeLogicApp),
				LogicAppResourceID: to.Ptr(reqRG + "/providers/Microsoft.Logic/workflows/soc"),
				URI:                to.Ptr(appURL + "/workflows/soc/triggers/manual/run?sig=secret-signature"),
			}},
		},
	}
	valid, err := client.Validate(ctx, "apps", "soc", a, nil)
	if err != nil || valid.IsValid == nil || !*valid.IsValid {
		t.Fatalf("validate: %+v %v", valid, err)
	}
	if _, err := client.CreateOrUpdate(ctx, "apps", "soc", a, nil); err != nil {
		t.Fatal(err)
	}
	got, err := client.Get(ctx, "apps", "soc", nil)
	if err != nil {
		t.Fatal(err)
	}
	act, ok := got.Properties.Actions[0].(*armsecurity.AutomationActionLogicApp)
	if !ok || act.URI != nil || act.LogicAppResourceID == nil {
		t.Fatalf("GET action: %+v", got.Properties.Actions[0])
	}
	rows := s.rbacGraphRows(t, s.token, `securityresources | where type == "microsoft.security/automations" | project p = tostring(properties)`)
	if len(rows) != 1 || strings.Contains(rows[0]["p"].(string), "secret-signature") {
		t.Fatalf("automation rows: %v", rows)
	}

	// A storage account without secure transfer: Unhealthy, delivered.
	storage := reqRG + "/providers/Microsoft.Storage/storageAccounts/plain"
	if code, _, b := s.raw(t, http.MethodPut, storage+"?api-version=2023-01-01", `{"location":"westeurope","kind":"StorageV2","properties":{"supportsHttpsTrafficOnly":false}}`); code >= 300 {
		t.Fatalf("PUT storage: %d %s", code, b)
	}
	eventually(t, "the Logic App call", func() bool {
		for _, r := range logicApp.all() {
			if strings.Contains(string(r.body), secureTransferKey) {
				return true
			}
		}
		return false
	})
	for _, r := range logicApp.all() {
		var doc struct {
			ID         string
			Type       string
			Properties struct{ Status struct{ Code string } }
		}
		if err := json.Unmarshal(r.body, &doc); err != nil || !strings.EqualFold(doc.Type, "Microsoft.Security/assessments") || doc.Properties.Status.Code != "Unhealthy" {
			t.Errorf("Logic App got %s", r.body)
		}
		if !strings.HasPrefix(strings.ToLower(doc.ID), strings.ToLower(reqSub)) {
			t.Errorf("event of another scope: %s", doc.ID)
		}
	}

	// A body the API refuses is invalid for validate too.
	bad := a
	bad.Properties = &armsecurity.AutomationProperties{Scopes: []*armsecurity.AutomationScope{{ScopePath: to.Ptr("/subscriptions/00000000-0000-0000-0000-00000000dead")}}}
	valid, err = client.Validate(ctx, "apps", "soc", bad, nil)
	if err != nil || valid.IsValid == nil || *valid.IsValid {
		t.Fatalf("validate of another subscription's scope: %+v %v", valid, err)
	}
	if _, err := client.Delete(ctx, "apps", "soc", nil); err != nil {
		t.Fatal(err)
	}
}

// TestSecurityContactsSDK: the armsecurity SDK (2023-12-01-preview) writes
// the contact; the playbook's 2020-01-01-preview read sees the same
// addresses; a bad address is a coded 400.
func TestSecurityContactsSDK(t *testing.T) {
	s := startServer(t, "--no-default-assignment")
	if code, _, b := s.raw(t, http.MethodPut, reqSub+"?api-version=2022-12-01", `{"displayName":"apps"}`); code >= 300 {
		t.Fatalf("PUT subscription: %d %s", code, b)
	}
	ctx := context.Background()
	client, err := armsecurity.NewContactsClient(strings.TrimPrefix(reqSub, "/subscriptions/"), tokenCredential(s.token), sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	c := armsecurity.Contact{Properties: &armsecurity.ContactProperties{
		Emails: to.Ptr("secops@example.com;lead@example.com"), Phone: to.Ptr("+1-555-0100"), IsEnabled: to.Ptr(true),
		NotificationsByRole: &armsecurity.ContactPropertiesNotificationsByRole{State: to.Ptr(armsecurity.StateOn), Roles: []*armsecurity.SecurityContactRole{to.Ptr(armsecurity.SecurityContactRoleOwner)}},
	}}
	if _, err := client.Create(ctx, armsecurity.SecurityContactNameDefault, c, nil); err != nil {
		t.Fatal(err)
	}
	got, err := client.Get(ctx, armsecurity.SecurityContactNameDefault, nil)
	if err != nil || got.Properties == nil || *got.Properties.Emails != "secops@example.com;lead@example.com" {
		t.Fatalf("GET: %+v %v", got, err)
	}
	var list struct {
		Value []struct{ Properties struct{ Emails string } }
	}
	json.Unmarshal(s.get(t, reqSub+"/providers/Microsoft.Security/securityContacts?api-version=2020-01-01-preview"), &list)
	if len(list.Value) != 1 || list.Value[0].Properties.Emails != "secops@example.com;lead@example.com" {
		t.Errorf("2020-01-01-preview list: %+v", list)
	}
	code, _, b := s.raw(t, http.MethodPut, reqSub+"/providers/Microsoft.Security/securityContacts/default?api-version=2020-01-01-preview", `{"properties":{"emails":"not an address"}}`)
	if code != http.StatusBadRequest || !strings.Contains(string(b), `"code":`) {
		t.Errorf("bad address: %d %s", code, b)
	}
}
