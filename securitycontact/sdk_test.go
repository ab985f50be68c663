package securitycontact_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

	"github.com/posture/posture/securitycontact"
)

// The Go SDK (armsecurity v0.15.0, api-version 2023-12-01-preview) sends
// the body of its Create example, which Parse takes, and reads Document's
// 2023 output back into the same values, the polymorphic
// notificationsSources included.
func TestSDKRoundTrip(t *testing.T) {
	sent := armsecurity.Contact{Properties: &armsecurity.ContactProperties{
		Emails:    to.Ptr("john@contoso.com;jane@contoso.com"),
		IsEnabled: to.Ptr(true),
		NotificationsByRole: &armsecurity.ContactPropertiesNotificationsByRole{
			Roles: []*armsecurity.SecurityContactRole{to.Ptr(armsecurity.SecurityContactRoleOwner)},
			State: to.Ptr(armsecurity.StateOn),
		},
		NotificationsSources: []armsecurity.NotificationsSourceClassification{
			&armsecurity.NotificationsSourceAttackPath{MinimalRiskLevel: to.Ptr(armsecurity.MinimalRiskLevelCritical), SourceType: to.Ptr(armsecurity.SourceTypeAttackPath)},
			&armsecurity.NotificationsSourceAlert{MinimalSeverity: to.Ptr(armsecurity.MinimalSeverityMedium), SourceType: to.Ptr(armsecurity.SourceTypeAlert)},
		},
		Phone: to.Ptr("(214)275-4038"),
	}}
	body, err := json.Marshal(sent)
	if err != nil {
		t.Fatal(err)
	}
	c, err := securitycontact.Parse(string(armsecurity.SecurityContactNameDefault), body, v2023)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if !reflect.DeepEqual(c, johnJane2023) {
		t.Fatalf("got  %+v\nwant %+v", c, johnJane2023)
	}

	var got armsecurity.Contact
	if err := json.Unmarshal(securitycontact.Document(defaultID, "default", c, v2023), &got); err != nil {
		t.Fatal(err)
	}
	if *got.ID != defaultID || *got.Name != "default" || *got.Type != securitycontact.Type {
		t.Fatalf("%s %s %s", *got.ID, *got.Name, *got.Type)
	}
	again, _ := json.Marshal(got.Properties)
	want, _ := json.Marshal(sent.Properties)
	if string(again) != string(want) {
		t.Fatalf("the SDK reads\n%s\nwant\n%s", again, want)
	}
}
