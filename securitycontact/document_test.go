package securitycontact_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/securitycontact"
)

// The 2023 Create example's contact (two addresses, roles Owner, attack
// paths from Critical, alerts from Medium) in each version's shape, per the
// mapping in SOURCE.md: 2017 shows the first address and On for both
// switches; 2020 shows the Alert source as alertNotifications and has no
// attack paths.
func TestDocumentPerVersion(t *testing.T) {
	const env = `"id":"` + defaultID + `","name":"default","type":"Microsoft.Security/securityContacts"}`
	for _, tc := range []struct{ version, want string }{
		{v2017, `{"properties":{"alertNotifications":"On","alertsToAdmins":"On","email":"john@contoso.com","phone":"(214)275-4038"},` + env},
		{v2020, `{"properties":{"alertNotifications":{"minimalSeverity":"Medium","state":"On"},"emails":"john@contoso.com;jane@contoso.com","notificationsByRole":{"roles":["Owner"],"state":"On"},"phone":"(214)275-4038"},` + env},
		{v2023, `{"properties":{"emails":"john@contoso.com;jane@contoso.com","isEnabled":true,"notificationsByRole":{"roles":["Owner"],"state":"On"},"notificationsSources":[{"minimalRiskLevel":"Critical","sourceType":"AttackPath"},{"minimalSeverity":"Medium","sourceType":"Alert"}],"phone":"(214)275-4038"},` + env},
		// A date between two versions gets the older one's shape.
		{"2021-06-01", `{"properties":{"alertNotifications":{"minimalSeverity":"Medium","state":"On"},"emails":"john@contoso.com;jane@contoso.com","notificationsByRole":{"roles":["Owner"],"state":"On"},"phone":"(214)275-4038"},` + env},
	} {
		if got := string(securitycontact.Document(defaultID, "default", johnJane2023, tc.version)); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.version, got, tc.want)
		}
	}
}

// A disabled contact sends nothing; the versions without isEnabled show
// every switch Off so that their clients read what is sent.
func TestDocumentDisabled(t *testing.T) {
	c := mustParse(t, "default", `{"properties":{"isEnabled":false,"emails":"a@x.com","notificationsByRole":{"state":"On","roles":["Owner"]},"notificationsSources":[{"sourceType":"Alert","minimalSeverity":"Low"}]}}`, v2023)
	const env = `"id":"` + defaultID + `","name":"default","type":"Microsoft.Security/securityContacts"}`
	for _, tc := range []struct{ version, want string }{
		{v2017, `{"properties":{"alertNotifications":"Off","alertsToAdmins":"Off","email":"a@x.com"},` + env},
		{v2020, `{"properties":{"alertNotifications":{"state":"Off"},"emails":"a@x.com","notificationsByRole":{"roles":["Owner"],"state":"Off"}},` + env},
		{v2023, `{"properties":{"emails":"a@x.com","isEnabled":false,"notificationsByRole":{"roles":["Owner"],"state":"On"},"notificationsSources":[{"minimalSeverity":"Low","sourceType":"Alert"}]},` + env},
	} {
		if got := string(securitycontact.Document(defaultID, "default", c, tc.version)); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.version, got, tc.want)
		}
	}
}

// Azure's responses carry etag and location at every version (azure-cli
// recordings; the playbook's Parse JSON requires both); systemData belongs
// to the 2023 model only.
func TestDocumentMeta(t *testing.T) {
	c := mustParse(t, "default", `{"properties":{}}`, v2023)
	m := securitycontact.Meta{ETag: `"0100399f-0000-0d00-0000-5e4e4ddb0000"`, Location: "West Europe", SystemData: securitycontact.SystemData{
		CreatedBy: "alice@contoso.com", CreatedByType: "User", CreatedAt: time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
	}}
	const env = `"id":"` + defaultID + `","name":"default","type":"Microsoft.Security/securityContacts","etag":"\"0100399f-0000-0d00-0000-5e4e4ddb0000\"","location":"West Europe"`
	for _, tc := range []struct{ version, want string }{
		{v2017, `{"properties":{"alertNotifications":"Off","alertsToAdmins":"Off"},` + env + `}`},
		{v2020, `{"properties":{"alertNotifications":{"state":"Off"}},` + env + `}`},
		{v2023, `{"properties":{"isEnabled":true},` + env + `,"systemData":{"createdBy":"alice@contoso.com","createdByType":"User","createdAt":"2024-01-02T02:04:05Z"}}`},
	} {
		if got := string(securitycontact.DocumentWith(defaultID, "default", c, tc.version, m)); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.version, got, tc.want)
		}
	}
	// No HTML escaping, as Azure writes JSON.
	if got := string(securitycontact.Document("/x&<y>", "default", c, v2023)); got != `{"properties":{"isEnabled":true},"id":"/x&<y>","name":"default","type":"Microsoft.Security/securityContacts"}` {
		t.Error(got)
	}
}

// A contact written in one version and read in another: Document in the
// reading version, then Parse of that document at the same version, gives
// the contact the mapping in SOURCE.md says.
func TestAcrossVersions(t *testing.T) {
	type C = securitycontact.Contact
	type A = securitycontact.AlertNotifications
	type R = securitycontact.NotificationsByRole
	type S = securitycontact.Source
	for _, tc := range []struct {
		name, body, from, to string
		want                 *C
	}{
		// 2017 On/On is alerts from High and the owners.
		{"2017 to 2023", `{"properties":{"email":"a@x.com","phone":"1","alertNotifications":"On","alertsToAdmins":"On"}}`, v2017, v2023,
			&C{Emails: []string{"a@x.com"}, Phone: "1", IsEnabled: true, AlertNotifications: A{State: "On", MinimalSeverity: "High"},
				NotificationsByRole: R{State: "On", Roles: []string{"Owner"}}, NotificationsSources: []S{{SourceType: "Alert", MinimalSeverity: "High"}}}},
		{"2017 to 2020", `{"properties":{"email":"a@x.com","alertNotifications":"Off","alertsToAdmins":"On"}}`, v2017, v2020,
			&C{Emails: []string{"a@x.com"}, IsEnabled: true, AlertNotifications: A{State: "Off"},
				NotificationsByRole: R{State: "On", Roles: []string{"Owner"}}}},
		// 2017 holds one address: the first. Any role notified is
		// alertsToAdmins On, read back as the owners.
		{"2020 to 2017", `{"properties":{"emails":"a@x.com;b@y.com","alertNotifications":{"state":"On","minimalSeverity":"Low"},"notificationsByRole":{"state":"On","roles":["Contributor"]}}}`, v2020, v2017,
			&C{Emails: []string{"a@x.com"}, IsEnabled: true, AlertNotifications: A{State: "On", MinimalSeverity: "High"},
				NotificationsByRole: R{State: "On", Roles: []string{"Owner"}}, NotificationsSources: []S{{SourceType: "Alert", MinimalSeverity: "High"}}}},
		{"2020 to 2023", `{"properties":{"emails":"a@x.com;b@y.com","phone":"2","alertNotifications":{"state":"On","minimalSeverity":"Low"},"notificationsByRole":{"state":"Off","roles":["Owner","AccountAdmin"]}}}`, v2020, v2023,
			&C{Emails: []string{"a@x.com", "b@y.com"}, Phone: "2", IsEnabled: true, AlertNotifications: A{State: "On", MinimalSeverity: "Low"},
				NotificationsByRole: R{State: "Off", Roles: []string{"Owner", "AccountAdmin"}}, NotificationsSources: []S{{SourceType: "Alert", MinimalSeverity: "Low"}}}},
		// 2020 has no attack paths; the alert threshold carries over.
		{"2023 to 2020", `{"properties":{"emails":"a@x.com","notificationsSources":[{"sourceType":"AttackPath","minimalRiskLevel":"Low"},{"sourceType":"Alert","minimalSeverity":"Medium"}]}}`, v2023, v2020,
			&C{Emails: []string{"a@x.com"}, IsEnabled: true, AlertNotifications: A{State: "On", MinimalSeverity: "Medium"},
				NotificationsSources: []S{{SourceType: "Alert", MinimalSeverity: "Medium"}}}},
		// A disabled contact reads as one with everything Off.
		{"2023 disabled to 2020", `{"properties":{"isEnabled":false,"emails":"a@x.com","notificationsByRole":{"state":"On","roles":["Owner"]},"notificationsSources":[{"sourceType":"Alert"}]}}`, v2023, v2020,
			&C{Emails: []string{"a@x.com"}, IsEnabled: true, AlertNotifications: A{State: "Off"},
				NotificationsByRole: R{State: "Off", Roles: []string{"Owner"}}}},
		{"2023 to 2017", `{"properties":{"emails":"b@y.com;a@x.com","phone":"3","notificationsSources":[{"sourceType":"AttackPath"}]}}`, v2023, v2017,
			&C{Emails: []string{"b@y.com"}, Phone: "3", IsEnabled: true, AlertNotifications: A{State: "Off"},
				NotificationsByRole: R{State: "Off", Roles: []string{"Owner"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, "default", tc.body, tc.from)
			doc := securitycontact.Document(defaultID, "default", c, tc.to)
			got, err := securitycontact.Parse("default", doc, tc.to)
			if err != nil {
				t.Fatalf("%s: %v", doc, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s\ngot  %+v\nwant %+v", doc, got, tc.want)
			}
		})
	}
}

// The stored document (StoredVersion) reads back to the very contact,
// whichever version wrote it.
func TestStoredRoundTrip(t *testing.T) {
	for _, tc := range []struct{ body, version string }{
		{`{"properties":{"email":"a@x.com","phone":"1","alertNotifications":"On","alertsToAdmins":"Off"}}`, v2017},
		{`{"properties":{"email":"a@x.com","alertNotifications":"Off","alertsToAdmins":"On"}}`, v2017},
		{`{"properties":{"emails":"a@x.com;b@y.com","alertNotifications":{"state":"On"},"notificationsByRole":{"roles":["Owner"]}}}`, v2020},
		{`{"properties":{"alertNotifications":{"state":"Off","minimalSeverity":"Low"}}}`, v2020},
		{`{"properties":{}}`, v2020},
		{`{"properties":{"isEnabled":false,"notificationsSources":[{"sourceType":"AttackPath","minimalRiskLevel":"Medium"},{"sourceType":"Alert"}]}}`, v2023},
	} {
		c := mustParse(t, "default", tc.body, tc.version)
		back, err := securitycontact.FromDocument(securitycontact.Document(defaultID, "default", c, securitycontact.StoredVersion))
		if err != nil || !reflect.DeepEqual(back, c) {
			t.Errorf("%s at %s: got %+v, %v; want %+v", tc.body, tc.version, back, err, c)
		}
	}
}

func TestFromDocumentCorrupt(t *testing.T) {
	for _, doc := range []string{`{`, `{"properties":{"emails":"nope"}}`, `{}`} {
		_, err := securitycontact.FromDocument([]byte(doc))
		if posture.ErrorKind(err) != posture.EINTERNAL || posture.ErrorCode(err) != "InternalServerError" {
			t.Errorf("%s: %v", doc, err)
		}
	}
}

func TestVersions(t *testing.T) {
	want := []string{"2017-08-01-preview", "2020-01-01-preview", "2023-12-01-preview"}
	if !reflect.DeepEqual(securitycontact.Versions, want) || securitycontact.StoredVersion != "2023-12-01-preview" {
		t.Fatal(securitycontact.Versions)
	}
	for _, v := range want {
		if !securitycontact.SupportsVersion(v) {
			t.Error(v)
		}
	}
	if securitycontact.SupportsVersion("2021-01-01") || securitycontact.Type != "Microsoft.Security/securityContacts" {
		t.Error("SupportsVersion or Type")
	}
}
