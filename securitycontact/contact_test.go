package securitycontact_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/posture/posture/securitycontact"
)

// The Request-ResourceExemption playbook GETs securityContacts at
// 2020-01-01-preview and gives properties.emails to the Office 365 "Send an
// email (V2)" action, whose To is addresses separated by semicolons: the
// two addresses of "a@x.com;b@y.com; " are mailed, the blank tail is not
// an address.
func TestRecipientsAsThePlaybook(t *testing.T) {
	c := mustParse(t, "default", `{"properties":{"emails":"a@x.com;b@y.com; "}}`, v2020)
	if got := c.Recipients(); !slices.Equal(got, []string{"a@x.com", "b@y.com"}) {
		t.Fatalf("%q", got)
	}
}

func TestRecipients(t *testing.T) {
	for _, tc := range []struct {
		name, body, version string
		want                []string
	}{
		{"repeats ignoring case, first spelling kept", `{"properties":{"emails":"Jane@contoso.com;john@contoso.com;jane@CONTOSO.com;John@Contoso.com"}}`, v2020,
			[]string{"Jane@contoso.com", "john@contoso.com"}},
		// Alert settings do not matter: notices such as exemption
		// requests go to the addresses whatever they are.
		{"alerts off", `{"properties":{"emails":"a@x.com","alertNotifications":{"state":"Off"}}}`, v2020, []string{"a@x.com"}},
		{"2017 single address", `{"properties":{"email":"a@x.com","alertNotifications":"Off","alertsToAdmins":"Off"}}`, v2017, []string{"a@x.com"}},
		{"no addresses", `{"properties":{"notificationsByRole":{"state":"On","roles":["Owner"]}}}`, v2023, nil},
		{"disabled", `{"properties":{"emails":"a@x.com;b@y.com","isEnabled":false}}`, v2023, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustParse(t, "default", tc.body, tc.version).Recipients(); !slices.Equal(got, tc.want) {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}

func TestNotifiesRoles(t *testing.T) {
	for _, tc := range []struct {
		name, body, version string
		want                []string
	}{
		{"on", `{"properties":{"notificationsByRole":{"state":"On","roles":["AccountAdmin","Owner"]}}}`, v2020, []string{"AccountAdmin", "Owner"}},
		{"off", `{"properties":{"notificationsByRole":{"state":"Off","roles":["Owner"]}}}`, v2020, nil},
		// Without a state nothing says the roles are notified.
		{"no state", `{"properties":{"notificationsByRole":{"roles":["Owner"]}}}`, v2023, nil},
		{"disabled", `{"properties":{"isEnabled":false,"notificationsByRole":{"state":"On","roles":["Owner"]}}}`, v2023, nil},
		// alertsToAdmins is e-mail to the subscription owners (CIS 2.19,
		// built-in policy 0b15565f).
		{"2017 alertsToAdmins", `{"properties":{"email":"a@x.com","alertNotifications":"Off","alertsToAdmins":"On"}}`, v2017, []string{"Owner"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustParse(t, "default", tc.body, tc.version).NotifiesRoles(); !slices.Equal(got, tc.want) {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}

// Thresholds per the MinimalSeverity enum descriptions: High is High only,
// Medium is Medium or High, Low is Low, Medium or High. An unset threshold
// is High, Azure's documented default.
func TestWantsSeverity(t *testing.T) {
	all := []string{"Informational", "Low", "Medium", "High"}
	for _, tc := range []struct {
		name, body, version string
		want                []string // of all, those wanted
	}{
		{"2017 On is High", `{"properties":{"email":"a@x.com","alertNotifications":"On","alertsToAdmins":"Off"}}`, v2017, []string{"High"}},
		{"2017 Off", `{"properties":{"email":"a@x.com","alertNotifications":"Off","alertsToAdmins":"On"}}`, v2017, nil},
		{"2020 Low", `{"properties":{"alertNotifications":{"state":"On","minimalSeverity":"Low"}}}`, v2020, []string{"Low", "Medium", "High"}},
		{"2020 Medium", `{"properties":{"alertNotifications":{"state":"On","minimalSeverity":"Medium"}}}`, v2020, []string{"Medium", "High"}},
		{"2020 High", `{"properties":{"alertNotifications":{"state":"On","minimalSeverity":"High"}}}`, v2020, []string{"High"}},
		{"2020 no threshold", `{"properties":{"alertNotifications":{"state":"On"}}}`, v2020, []string{"High"}},
		{"2020 Off", `{"properties":{"alertNotifications":{"state":"Off","minimalSeverity":"Low"}}}`, v2020, nil},
		{"2020 absent", `{"properties":{}}`, v2020, nil},
		{"2023 Alert Medium", `{"properties":{"notificationsSources":[{"sourceType":"Alert","minimalSeverity":"Medium"}]}}`, v2023, []string{"Medium", "High"}},
		{"2023 attack paths only", `{"properties":{"notificationsSources":[{"sourceType":"AttackPath","minimalRiskLevel":"Low"}]}}`, v2023, nil},
		{"2023 disabled", `{"properties":{"isEnabled":false,"notificationsSources":[{"sourceType":"Alert","minimalSeverity":"Low"}]}}`, v2023, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, "default", tc.body, tc.version)
			var got []string
			for _, s := range all {
				if c.WantsSeverity(s) {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
	c := mustParse(t, "default", `{"properties":{"alertNotifications":{"state":"On","minimalSeverity":"Medium"}}}`, v2020)
	if !c.WantsSeverity("high") || c.WantsSeverity("severe") || c.WantsSeverity("") {
		t.Fatal("severity is matched ignoring case; unknown severities are not wanted")
	}
}

// Thresholds per the MinimalRiskLevel enum descriptions.
func TestWantsRiskLevel(t *testing.T) {
	all := []string{"Low", "Medium", "High", "Critical"}
	for _, tc := range []struct {
		name, body, version string
		want                []string
	}{
		{"Critical", `{"properties":{"notificationsSources":[{"sourceType":"AttackPath","minimalRiskLevel":"Critical"}]}}`, v2023, []string{"Critical"}},
		{"Medium", `{"properties":{"notificationsSources":[{"sourceType":"AttackPath","minimalRiskLevel":"Medium"}]}}`, v2023, []string{"Medium", "High", "Critical"}},
		{"no threshold", `{"properties":{"notificationsSources":[{"sourceType":"AttackPath"}]}}`, v2023, []string{"High", "Critical"}},
		{"no AttackPath source", `{"properties":{"notificationsSources":[{"sourceType":"Alert","minimalSeverity":"Low"}]}}`, v2023, nil},
		{"disabled", `{"properties":{"isEnabled":false,"notificationsSources":[{"sourceType":"AttackPath","minimalRiskLevel":"Low"}]}}`, v2023, nil},
		// 2020 has no attack path e-mails.
		{"2020", `{"properties":{"alertNotifications":{"state":"On","minimalSeverity":"Low"}}}`, v2020, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, "default", tc.body, tc.version)
			var got []string
			for _, s := range all {
				if c.WantsRiskLevel(s) {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}

// Without a configured contact, subscription owners get e-mails about
// high-severity alerts and attack paths (configure-email-notifications.md).
func TestDefault(t *testing.T) {
	c := securitycontact.Default()
	if c.Recipients() != nil || !slices.Equal(c.NotifiesRoles(), []string{"Owner"}) ||
		!c.WantsSeverity("High") || c.WantsSeverity("Medium") ||
		!c.WantsRiskLevel("High") || !c.WantsRiskLevel("Critical") || c.WantsRiskLevel("Medium") {
		t.Fatalf("%+v", c)
	}
	// Default keeps AlertNotifications and the Alert source in step, as
	// Parse does: it reads back the same.
	back, err := securitycontact.FromDocument(securitycontact.Document(defaultID, "default", c, securitycontact.StoredVersion))
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("%+v, %v", back, err)
	}
}

// Hand-built contacts: an Alert source wins over AlertNotifications;
// without one, AlertNotifications applies.
func TestAlertPrecedence(t *testing.T) {
	c := &securitycontact.Contact{IsEnabled: true, AlertNotifications: securitycontact.AlertNotifications{State: "On", MinimalSeverity: "Low"}}
	if !c.WantsSeverity("Low") {
		t.Fatal("AlertNotifications without a source")
	}
	c.NotificationsSources = []securitycontact.Source{{SourceType: "Alert", MinimalSeverity: "High"}}
	if c.WantsSeverity("Medium") || !c.WantsSeverity("High") {
		t.Fatal("the Alert source wins")
	}
}

func TestApplyPatch(t *testing.T) {
	base := `{"properties":{"email":"a@x.com","phone":"1","alertNotifications":"Off","alertsToAdmins":"Off"}}`
	for _, tc := range []struct {
		name, before, beforeVersion, patch string
		want                               func(c *securitycontact.Contact) bool
	}{
		{"nothing", base, v2017, `{}`, func(c *securitycontact.Contact) bool {
			return reflect.DeepEqual(c, mustParse(t, "default1", base, v2017))
		}},
		{"nulls change nothing", base, v2017, `{"properties":{"email":null,"phone":null,"alertNotifications":null}}`, func(c *securitycontact.Contact) bool {
			return reflect.DeepEqual(c, mustParse(t, "default1", base, v2017))
		}},
		{"alerts on from High", base, v2017, `{"properties":{"alertNotifications":"on"}}`, func(c *securitycontact.Contact) bool {
			return c.WantsSeverity("High") && !c.WantsSeverity("Medium") && c.AlertNotifications.State == "On"
		}},
		{"admins on", base, v2017, `{"properties":{"alertsToAdmins":"On"}}`, func(c *securitycontact.Contact) bool {
			return slices.Equal(c.NotifiesRoles(), []string{"Owner"})
		}},
		// The "default" contact written at 2020 has two addresses, a
		// Medium threshold and roles; a 2017 PATCH changes what 2017 shows
		// and keeps the rest.
		{"email replaces the first address", `{"properties":{"emails":"a@x.com;b@y.com","alertNotifications":{"state":"On","minimalSeverity":"Medium"},"notificationsByRole":{"state":"On","roles":["Contributor"]}}}`, v2020,
			`{"properties":{"email":"c@z.com","alertNotifications":"On"}}`, func(c *securitycontact.Contact) bool {
				return slices.Equal(c.Emails, []string{"c@z.com", "b@y.com"}) && c.WantsSeverity("Medium") &&
					slices.Equal(c.NotifiesRoles(), []string{"Contributor"})
			}},
		{"alerts off keeps attack paths", `{"properties":{"notificationsSources":[{"sourceType":"Alert"},{"sourceType":"AttackPath","minimalRiskLevel":"Low"}]}}`, v2023,
			`{"properties":{"alertNotifications":"Off"}}`, func(c *securitycontact.Contact) bool {
				return !c.WantsSeverity("High") && c.WantsRiskLevel("Low") && c.AlertNotifications.State == "Off" && len(c.NotificationsSources) == 1
			}},
		{"email on a contact without addresses", `{"properties":{}}`, v2023, `{"properties":{"email":"a@x.com"}}`, func(c *securitycontact.Contact) bool {
			return slices.Equal(c.Emails, []string{"a@x.com"})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, "default", tc.before, tc.beforeVersion)
			if tc.beforeVersion == v2017 {
				c = mustParse(t, "default1", tc.before, v2017)
			}
			if err := c.ApplyPatch([]byte(tc.patch), v2017); err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Fatalf("%+v", c)
			}
		})
	}
}

func TestApplyPatchInvalid(t *testing.T) {
	base := `{"properties":{"email":"a@x.com","phone":"1","alertNotifications":"On","alertsToAdmins":"On"}}`
	for _, tc := range []struct {
		name, patch, version string
		want                 []codeTarget
	}{
		{"bad values", `{"properties":{"email":"a@x.com;b@y.com","phone":"\u0001","alertNotifications":"Maybe","alertsToAdmins":1}}`, v2017, []codeTarget{
			{"InvalidInputJson", "properties.email"},
			{"InvalidPhoneNumber", "properties.phone"},
			{"InvalidState", "properties.alertNotifications"},
			{"InvalidRequestContent", "properties.alertsToAdmins"},
		}},
		{"blank email", `{"properties":{"email":""}}`, v2017, []codeTarget{{"MissingRequiredProperty", "properties.email"}}},
		{"not JSON", `{`, v2017, []codeTarget{{"InvalidRequestContent", ""}}},
		// SecurityContacts_Update exists at 2017-08-01-preview only.
		{"2020", `{"properties":{}}`, v2020, []codeTarget{{"InvalidApiVersionParameter", ""}}},
		{"2023", `{"properties":{}}`, v2023, []codeTarget{{"InvalidApiVersionParameter", ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustParse(t, "default1", base, v2017)
			before := mustParse(t, "default1", base, v2017)
			err := c.ApplyPatch([]byte(tc.patch), tc.version)
			if got := codeTargets(t, err); !slices.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
			if !reflect.DeepEqual(c, before) {
				t.Fatalf("a failed PATCH changed the contact: %+v", c)
			}
		})
	}
	if !securitycontact.SupportsPatch(v2017) || securitycontact.SupportsPatch(v2020) || securitycontact.SupportsPatch(v2023) {
		t.Fatal("SupportsPatch")
	}
}
