package securitycontact_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/posture/posture/securitycontact"
)

// Contacts the spec's examples describe, written out from the example
// files and the mapping in SOURCE.md: at 2017-08-01-preview
// alertNotifications On is alert e-mails from High up and alertsToAdmins On
// is e-mail to the Owner role; at 2020-01-01-preview alertNotifications is
// the Alert source; an absent isEnabled is true.
var (
	john2017 = &securitycontact.Contact{
		Emails:               []string{"john@contoso.com"},
		Phone:                "(214)275-4038",
		IsEnabled:            true,
		AlertNotifications:   securitycontact.AlertNotifications{State: "On", MinimalSeverity: "High"},
		NotificationsByRole:  securitycontact.NotificationsByRole{State: "On", Roles: []string{"Owner"}},
		NotificationsSources: []securitycontact.Source{{SourceType: "Alert", MinimalSeverity: "High"}},
	}
	chen2017 = &securitycontact.Contact{
		Emails:               []string{"chen@contoso.com"},
		IsEnabled:            true,
		AlertNotifications:   securitycontact.AlertNotifications{State: "On", MinimalSeverity: "High"},
		NotificationsByRole:  securitycontact.NotificationsByRole{State: "On", Roles: []string{"Owner"}},
		NotificationsSources: []securitycontact.Source{{SourceType: "Alert", MinimalSeverity: "High"}},
	}
	default2017 = &securitycontact.Contact{
		Emails:               []string{"default1@contoso.com"},
		Phone:                "(214)275-4038",
		IsEnabled:            true,
		AlertNotifications:   securitycontact.AlertNotifications{State: "On", MinimalSeverity: "High"},
		NotificationsByRole:  securitycontact.NotificationsByRole{State: "On", Roles: []string{"Owner"}},
		NotificationsSources: []securitycontact.Source{{SourceType: "Alert", MinimalSeverity: "High"}},
	}
	johnJane2020 = &securitycontact.Contact{
		Emails:               []string{"john@contoso.com", "jane@contoso.com"},
		Phone:                "(214)275-4038",
		IsEnabled:            true,
		AlertNotifications:   securitycontact.AlertNotifications{State: "On", MinimalSeverity: "Low"},
		NotificationsByRole:  securitycontact.NotificationsByRole{State: "On", Roles: []string{"Owner"}},
		NotificationsSources: []securitycontact.Source{{SourceType: "Alert", MinimalSeverity: "Low"}},
	}
	johnJane2023 = &securitycontact.Contact{
		Emails:              []string{"john@contoso.com", "jane@contoso.com"},
		Phone:               "(214)275-4038",
		IsEnabled:           true,
		AlertNotifications:  securitycontact.AlertNotifications{State: "On", MinimalSeverity: "Medium"},
		NotificationsByRole: securitycontact.NotificationsByRole{State: "On", Roles: []string{"Owner"}},
		NotificationsSources: []securitycontact.Source{
			{SourceType: "AttackPath", MinimalRiskLevel: "Critical"},
			{SourceType: "Alert", MinimalSeverity: "Medium"},
		},
	}
)

// The request bodies of the Create examples parse to the contacts they
// describe.
func TestExampleRequests(t *testing.T) {
	for _, tc := range []struct {
		file string
		want *securitycontact.Contact
	}{
		{"2017-08-01-preview/CreateSecurityContact_full_example.json", john2017},
		{"2017-08-01-preview/CreateSecurityContact_min_example.json", chen2017},
		{"2020-01-01-preview/CreateSecurityContact_example.json", johnJane2020},
		{"2023-12-01-preview/CreateSecurityContact_example.json", johnJane2023},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := loadExample(t, tc.file)
			got, err := securitycontact.Parse(e.Parameters.SecurityContactName, e.Parameters.SecurityContact, e.Parameters.APIVersion)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A GET response of the examples parses to its contact, and Document
// renders that contact as the same JSON. The Create responses of 2020 and
// 2023 are left out: they change the type to the singular
// "securityContact" and the addresses (testdata/SOURCE.md).
func TestExampleResponses(t *testing.T) {
	for _, tc := range []struct {
		file, status, version string
		want                  *securitycontact.Contact
	}{
		{"2017-08-01-preview/CreateSecurityContact_full_example.json", "200", v2017, john2017},
		{"2017-08-01-preview/CreateSecurityContact_min_example.json", "200", v2017, chen2017},
		{"2017-08-01-preview/GetSecurityContact_full_example.json", "200", v2017, default2017},
		// Its api-version parameter is misspelt "2017-20-01-preview"; the
		// file is the 2020-01-01-preview example.
		{"2020-01-01-preview/GetSecurityContact_example.json", "200", v2020, johnJane2020},
		{"2023-12-01-preview/GetSecurityContact_example.json", "200", v2023, johnJane2023},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := loadExample(t, tc.file)
			body := e.Responses[tc.status].Body
			var env struct {
				ID, Name, Type string
				Properties     json.RawMessage
			}
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatal(err)
			}
			got, err := securitycontact.Parse(env.Name, body, tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			doc := securitycontact.Document(env.ID, env.Name, got, tc.version)
			if !sameJSON(t, doc, body) {
				t.Fatalf("document\n%s\nis not the example's\n%s", doc, body)
			}
		})
	}
}

// The TypeSpec examples of 2023-12-01-preview write properties in
// alphabetical order, as Azure's recorded responses do; Document writes
// them in the same order.
func TestExamplePropertyOrder(t *testing.T) {
	e := loadExample(t, "2023-12-01-preview/GetSecurityContact_example.json")
	var want struct{ Properties json.RawMessage }
	if err := json.Unmarshal(e.Responses["200"].Body, &want); err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want.Properties); err != nil {
		t.Fatal(err)
	}
	var got struct{ Properties json.RawMessage }
	if err := json.Unmarshal(securitycontact.Document(defaultID, "default", johnJane2023, v2023), &got); err != nil {
		t.Fatal(err)
	}
	if string(got.Properties) != compact.String() {
		t.Fatalf("properties\n%s\nwant\n%s", got.Properties, compact.String())
	}
}

// The List examples hold values the spec does not allow, which Parse
// refuses with the property named: "Admin" is not a SecurityContactRole,
// and the 2020 file gives emails as an array where the spec says string.
func TestExampleListsBreakTheSpec(t *testing.T) {
	for _, tc := range []struct {
		file, version string
		want          []codeTarget
	}{
		{"2020-01-01-preview/GetSecurityContactsSubscription_example.json", v2020, []codeTarget{
			{"InvalidRequestContent", "properties.emails"},
			{"InvalidSecurityContactRole", "properties.notificationsByRole.roles[1]"},
		}},
		{"2023-12-01-preview/GetSecurityContactsSubscription_example.json", v2023, []codeTarget{
			{"InvalidSecurityContactRole", "properties.notificationsByRole.roles[1]"},
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := loadExample(t, tc.file)
			var list struct{ Value []json.RawMessage }
			if err := json.Unmarshal(e.Responses["200"].Body, &list); err != nil || len(list.Value) != 1 {
				t.Fatalf("%v %d", err, len(list.Value))
			}
			_, err := securitycontact.Parse("default", list.Value[0], tc.version)
			if got := codeTargets(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The 2017 Update (PATCH) examples: the response is the contact before the
// PATCH with the patched properties replaced. The contact before is not in
// the examples (their data do not chain, testdata/SOURCE.md), so it is the
// response with the patched properties at other values.
func TestExamplePatches(t *testing.T) {
	for _, tc := range []struct {
		file, before string
	}{
		{"2017-08-01-preview/UpdateSecurityContact_min_example.json",
			`{"properties":{"email":"chen@contoso.com","alertNotifications":"Off","alertsToAdmins":"Off"}}`},
		{"2017-08-01-preview/UpdateSecurityContact_full_example.json",
			`{"properties":{"email":"john@contoso.com","alertNotifications":"Off","alertsToAdmins":"Off"}}`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := loadExample(t, tc.file)
			resp := e.Responses["200"].Body
			var env struct{ ID, Name string }
			if err := json.Unmarshal(resp, &env); err != nil {
				t.Fatal(err)
			}
			c := mustParse(t, env.Name, tc.before, v2017)
			if err := c.ApplyPatch(e.Parameters.SecurityContact, v2017); err != nil {
				t.Fatal(err)
			}
			if doc := securitycontact.Document(env.ID, env.Name, c, v2017); !sameJSON(t, doc, resp) {
				t.Fatalf("document\n%s\nis not the example's\n%s", doc, resp)
			}
		})
	}
}
