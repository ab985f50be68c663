package securitycontact_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/securitycontact"
)

func TestParseValid(t *testing.T) {
	type C = securitycontact.Contact
	type A = securitycontact.AlertNotifications
	type R = securitycontact.NotificationsByRole
	type S = securitycontact.Source
	for _, tc := range []struct {
		name, contact, version, body string
		want                         *C
	}{
		// The request azure-cli sent at 2017-08-01-preview, lowercase
		// states and an empty phone; Azure answered "Off" (recording in
		// SOURCE.md).
		{"2017 lowercase states", "default1", v2017,
			`{"properties": {"email": "john@contoso.com", "phone": "", "alertNotifications": "off", "alertsToAdmins": "off"}}`,
			&C{Emails: []string{"john@contoso.com"}, IsEnabled: true, AlertNotifications: A{State: "Off"},
				NotificationsByRole: R{State: "Off", Roles: []string{"Owner"}}}},
		// 2017 names are free: the Update example's path name, and the
		// address-derived names of Azure's 2021 list.
		{"2017 free name", "john", v2017,
			`{"properties":{"email":" chen@contoso.com ","alertNotifications":"On","alertsToAdmins":"Off"}}`,
			&C{Emails: []string{"chen@contoso.com"}, IsEnabled: true, AlertNotifications: A{State: "On", MinimalSeverity: "High"},
				NotificationsByRole: R{State: "Off", Roles: []string{"Owner"}}, NotificationsSources: []S{{SourceType: "Alert", MinimalSeverity: "High"}}}},
		{"2017 address-derived name", "ahabas-microsoft.com", v2017,
			`{"properties":{"email":"ahabas@microsoft.com","alertNotifications":"Off","alertsToAdmins":"Off"}}`,
			&C{Emails: []string{"ahabas@microsoft.com"}, IsEnabled: true, AlertNotifications: A{State: "Off"},
				NotificationsByRole: R{State: "Off", Roles: []string{"Owner"}}}},
		// The docs' 2020 API example: roles AccountAdmin and Owner, an
		// empty phone.
		{"2020 docs example", "default", v2020,
			`{"properties":{"emails":"admin@contoso.com;admin2@contoso.com","notificationsByRole":{"state":"On","roles":["AccountAdmin","Owner"]},"alertNotifications":{"state":"On","minimalSeverity":"Medium"},"phone":""}}`,
			&C{Emails: []string{"admin@contoso.com", "admin2@contoso.com"}, IsEnabled: true,
				AlertNotifications:   A{State: "On", MinimalSeverity: "Medium"},
				NotificationsByRole:  R{State: "On", Roles: []string{"AccountAdmin", "Owner"}},
				NotificationsSources: []S{{SourceType: "Alert", MinimalSeverity: "Medium"}}}},
		// The 2020 spec's enum spelt the name "Default".
		{"2020 name Default", "Default", v2020, `{"properties":{}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		// The playbook hands emails to a To field that splits at ';'; a
		// trailing "; " adds no address.
		{"2020 trailing separator", "default", v2020, `{"properties":{"emails":"a@x.com;b@y.com; "}}`,
			&C{Emails: []string{"a@x.com", "b@y.com"}, IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		{"2020 blank entries and spaces", "default", v2020, `{"properties":{"emails":" ; a@x.com ;;\tb@y.com"}}`,
			&C{Emails: []string{"a@x.com", "b@y.com"}, IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		// Repeats are kept as given; Recipients drops them.
		{"2020 repeated address kept", "default", v2020, `{"properties":{"emails":"a@x.com;A@X.COM"}}`,
			&C{Emails: []string{"a@x.com", "A@X.COM"}, IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		// The CIS remediation PUT: alertNotifications only, no emails.
		{"2020 alerts only", "default", v2020, `{"properties":{"alertNotifications":{"state":"On","minimalSeverity":"High"}}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "On", MinimalSeverity: "High"},
				NotificationsSources: []S{{SourceType: "Alert", MinimalSeverity: "High"}}}},
		{"2020 on without threshold", "default", v2020, `{"properties":{"alertNotifications":{"state":"on"}}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "On"}, NotificationsSources: []S{{SourceType: "Alert"}}}},
		{"2020 off drops the threshold", "default", v2020, `{"properties":{"alertNotifications":{"state":"Off","minimalSeverity":"low"}}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		// A body written for 2023 read at 2020: isEnabled and
		// notificationsSources are not 2020 properties and are ignored.
		{"2020 ignores 2023 properties", "default", v2020,
			`{"properties":{"isEnabled":false,"notificationsSources":[{"sourceType":"Alert","minimalSeverity":"Low"}]}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		{"2023 roles canonical, without repeats", "default", v2023,
			`{"properties":{"notificationsByRole":{"state":"on","roles":["owner","Contributor","OWNER"]}}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "Off"},
				NotificationsByRole: R{State: "On", Roles: []string{"Owner", "Contributor"}}}},
		{"2023 disabled", "default", v2023,
			`{"properties":{"isEnabled":false,"emails":"a@x.com","notificationsSources":[{"sourceType":"attackpath"},{"sourceType":"Alert","minimalSeverity":"low"}]}}`,
			&C{Emails: []string{"a@x.com"}, AlertNotifications: A{State: "On", MinimalSeverity: "Low"},
				NotificationsSources: []S{{SourceType: "AttackPath"}, {SourceType: "Alert", MinimalSeverity: "Low"}}}},
		// A source's threshold of the other type is not its property and
		// is ignored.
		{"2023 other type's threshold ignored", "default", v2023,
			`{"properties":{"notificationsSources":[{"sourceType":"Alert","minimalRiskLevel":"Critical"}]}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "On"}, NotificationsSources: []S{{SourceType: "Alert"}}}},
		{"2023 empty lists", "default", v2023,
			`{"properties":{"emails":"","notificationsSources":[],"notificationsByRole":{"roles":[]}}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		{"names ignore case; unknown properties ignored", "DEFAULT", v2023,
			`{"Properties":{"EMAILS":"a@x.com","IsEnabled":true,"bogus":1},"location":"West Europe","etag":"x"}`,
			&C{Emails: []string{"a@x.com"}, IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		{"nulls are absent", "default", v2023,
			`{"properties":{"emails":null,"phone":null,"isEnabled":null,"notificationsByRole":null,"notificationsSources":null}}`,
			&C{IsEnabled: true, AlertNotifications: A{State: "Off"}}},
		{"address forms", "default", v2023,
			`{"properties":{"emails":"first.last+tag@sub.example.co.uk;o'brien@x-y.org;a@localhost"}}`,
			&C{Emails: []string{"first.last+tag@sub.example.co.uk", "o'brien@x-y.org", "a@localhost"}, IsEnabled: true, AlertNotifications: A{State: "Off"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := securitycontact.Parse(tc.contact, []byte(tc.body), tc.version)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	type ct = codeTarget
	for _, tc := range []struct {
		name, contact, version, body string
		want                         []ct
	}{
		{"not JSON", "default", v2020, `{"properties":`, []ct{{"InvalidRequestContent", ""}}},
		{"not an object", "default", v2020, `[1]`, []ct{{"InvalidRequestContent", ""}}},
		{"not UTF-8", "default", v2020, "{\"properties\":{\"phone\":\"\xff\"}}", []ct{{"InvalidRequestContent", ""}}},
		{"no properties", "default", v2023, `{}`, []ct{{"MissingRequiredProperty", "properties"}}},
		{"null body", "default", v2023, `null`, []ct{{"MissingRequiredProperty", "properties"}}},
		{"properties not an object", "default", v2023, `{"properties":"x"}`, []ct{{"InvalidRequestContent", "properties"}}},
		// The 2017 spec requires email, alertNotifications and
		// alertsToAdmins.
		{"2017 required", "default1", v2017, `{"properties":{"phone":"1"}}`, []ct{
			{"MissingRequiredProperty", "properties.email"},
			{"MissingRequiredProperty", "properties.alertNotifications"},
			{"MissingRequiredProperty", "properties.alertsToAdmins"},
		}},
		{"2017 blank email", "default1", v2017, `{"properties":{"email":"  ","alertNotifications":"On","alertsToAdmins":"On"}}`,
			[]ct{{"MissingRequiredProperty", "properties.email"}}},
		// Azure answered InvalidInputJson for a comma-separated 2017 email
		// (terraform-provider-azurerm #6150); 2017 holds one address.
		{"2017 comma list", "default1", v2017, `{"properties":{"email":"xxx@domain.com,yyy@domain.com","alertNotifications":"On","alertsToAdmins":"On"}}`,
			[]ct{{"InvalidInputJson", "properties.email"}}},
		{"2017 semicolon list", "default1", v2017, `{"properties":{"email":"a@x.com;b@y.com","alertNotifications":"On","alertsToAdmins":"On"}}`,
			[]ct{{"InvalidInputJson", "properties.email"}}},
		{"2017 states", "default1", v2017, `{"properties":{"email":"a@x.com","alertNotifications":"Yes","alertsToAdmins":true}}`, []ct{
			{"InvalidState", "properties.alertNotifications"},
			{"InvalidRequestContent", "properties.alertsToAdmins"},
		}},
		// The 2020 shape of alertNotifications is an object.
		{"2020 alertNotifications as 2017 string", "default", v2020, `{"properties":{"alertNotifications":"On"}}`,
			[]ct{{"InvalidRequestContent", "properties.alertNotifications"}}},
		{"2020 bad address", "default", v2020, `{"properties":{"emails":"a@x.com;not-an-address;b@y.com"}}`,
			[]ct{{"InvalidInputJson", "properties.emails"}}},
		// The portal takes commas; the API's separator is ';'.
		{"2020 comma list", "default", v2020, `{"properties":{"emails":"a@x.com,b@y.com"}}`,
			[]ct{{"InvalidInputJson", "properties.emails"}}},
		{"2020 display name", "default", v2020, `{"properties":{"emails":"John <john@contoso.com>"}}`,
			[]ct{{"InvalidInputJson", "properties.emails"}}},
		{"2020 emails not a string", "default", v2020, `{"properties":{"emails":["a@x.com"]}}`,
			[]ct{{"InvalidRequestContent", "properties.emails"}}},
		{"2020 enums", "default", v2020,
			`{"properties":{"alertNotifications":{"state":"Enabled","minimalSeverity":"Critical"},"notificationsByRole":{"state":"","roles":["Owner","Admin",3]}}}`, []ct{
				{"InvalidState", "properties.alertNotifications.state"},
				{"InvalidMinimalSeverity", "properties.alertNotifications.minimalSeverity"},
				{"InvalidState", "properties.notificationsByRole.state"},
				{"InvalidSecurityContactRole", "properties.notificationsByRole.roles[1]"},
				{"InvalidRequestContent", "properties.notificationsByRole.roles[2]"},
			}},
		{"2020 roles not a list", "default", v2020, `{"properties":{"notificationsByRole":{"roles":"Owner"}}}`,
			[]ct{{"InvalidRequestContent", "properties.notificationsByRole.roles"}}},
		{"2020 notificationsByRole not an object", "default", v2020, `{"properties":{"notificationsByRole":["Owner"]}}`,
			[]ct{{"InvalidRequestContent", "properties.notificationsByRole"}}},
		{"2023 isEnabled not a boolean", "default", v2023, `{"properties":{"isEnabled":"true"}}`,
			[]ct{{"InvalidRequestContent", "properties.isEnabled"}}},
		{"2023 sources", "default", v2023, `{"properties":{"notificationsSources":[
			{"minimalSeverity":"High"},
			{"sourceType":"Recommendation"},
			{"sourceType":"Alert","minimalSeverity":"Critical"},
			{"sourceType":"AttackPath","minimalRiskLevel":"Severe"},
			{"sourceType":"alert"},
			"Alert"]}}`, []ct{
			{"MissingRequiredProperty", "properties.notificationsSources[0].sourceType"},
			{"InvalidNotificationsSourceType", "properties.notificationsSources[1].sourceType"},
			{"InvalidMinimalSeverity", "properties.notificationsSources[2].minimalSeverity"},
			{"InvalidMinimalRiskLevel", "properties.notificationsSources[3].minimalRiskLevel"},
			{"DuplicateNotificationsSource", "properties.notificationsSources[4].sourceType"},
			{"InvalidRequestContent", "properties.notificationsSources[5]"},
		}},
		{"2023 sources not a list", "default", v2023, `{"properties":{"notificationsSources":{"sourceType":"Alert"}}}`,
			[]ct{{"InvalidRequestContent", "properties.notificationsSources"}}},
		{"phone too long", "default", v2023, `{"properties":{"phone":"` + strings.Repeat("1", 101) + `"}}`,
			[]ct{{"InvalidPhoneNumber", "properties.phone"}}},
		{"phone control character", "default", v2023, `{"properties":{"phone":"1\n2"}}`,
			[]ct{{"InvalidPhoneNumber", "properties.phone"}}},
		// From 2020-01-01-preview on "default" is the only name (the
		// specs' pattern; Azure's error in missionlz #801).
		{"2020 other name", "default1", v2020, `{"properties":{}}`, []ct{{"InvalidSecurityContactName", "name"}}},
		{"2023 other name", "security contact", v2023, `{"properties":{}}`, []ct{{"InvalidSecurityContactName", "name"}}},
		{"2017 bad name", "a/b", v2017, `{"properties":{"email":"a@x.com","alertNotifications":"On","alertsToAdmins":"On"}}`,
			[]ct{{"InvalidSecurityContactName", "name"}}},
		{"name and body", "x", v2023, `{"properties":{"isEnabled":1}}`, []ct{
			{"InvalidSecurityContactName", "name"},
			{"InvalidRequestContent", "properties.isEnabled"},
		}},
		{"unserved api-version", "default", "2019-01-01-preview", `{"properties":{}}`, []ct{{"InvalidApiVersionParameter", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := securitycontact.Parse(tc.contact, []byte(tc.body), tc.version)
			if err == nil {
				t.Fatalf("no error; parsed %+v", c)
			}
			if got := codeTargets(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// With several problems the top error is the first, and Details has all.
func TestParseReportsAll(t *testing.T) {
	_, err := securitycontact.Parse("default1", []byte(`{"properties":{}}`), v2017)
	e := err.(*posture.Error)
	if len(e.Details) != 3 || e.Code != e.Details[0].Code || e.Target != e.Details[0].Target || len(e.Details[0].Details) != 0 {
		t.Fatalf("%+v", e)
	}
}

func TestCanonicalName(t *testing.T) {
	for _, tc := range []struct {
		name, version, want string
		ok                  bool
	}{
		{"default", v2023, "default", true},
		{"Default", v2020, "default", true}, // the 2020 enum's spelling
		{"DEFAULT", v2017, "default", true}, // the same resource at 2017
		{"default1", v2017, "default1", true},
		{"ahabas-microsoft.com", v2017, "ahabas-microsoft.com", true},
		{"a_b.C-9", v2017, "a_b.C-9", true},
		{strings.Repeat("a", 90), v2017, strings.Repeat("a", 90), true},
		{strings.Repeat("a", 91), v2017, "", false},
		{"", v2017, "", false},
		{"-a", v2017, "", false},
		{"a.", v2017, "", false},
		{"a@b", v2017, "", false},
		{"a b", v2017, "", false},
		{"défaut", v2017, "", false},
		{"default1", v2020, "", false},
		{"default1", v2023, "", false},
		{"defaults", v2023, "", false},
		{"", v2023, "", false},
	} {
		got, err := securitycontact.CanonicalName(tc.name, tc.version)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("CanonicalName(%q, %s) = %q, %v", tc.name, tc.version, got, err)
		}
		if err != nil && (posture.ErrorCode(err) != "InvalidSecurityContactName" || posture.ErrorKind(err) != posture.EINVALID) {
			t.Errorf("%q: %v", tc.name, err)
		}
	}
}
