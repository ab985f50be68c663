package securitycontact_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/securitycontact"
)

var names = []string{"default", "Default", "default1", "a/b", ""}

// Any body either parses or fails with an EINVALID *posture.Error (and so
// does every problem in Details). A contact that parses renders at every
// version as JSON, reads back from its own version's document and from the
// stored document unchanged, and answers the notifier's questions.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"properties":{"email":"a@x.com","phone":"","alertNotifications":"off","alertsToAdmins":"ON"}}`,
		`{"properties":{"emails":"a@x.com;b@y.com; ","alertNotifications":{"state":"On","minimalSeverity":"low"},"notificationsByRole":{"state":"On","roles":["Owner","owner","Admin"]}}}`,
		`{"properties":{"isEnabled":false,"emails":"A@X.com;a@x.com","notificationsSources":[{"sourceType":"AttackPath","minimalRiskLevel":"Critical"},{"sourceType":"Alert"},{"sourceType":"Alert"}]}}`,
		`{"properties":{"alertNotifications":"On","notificationsSources":{}}}`,
		`{"properties":null}`,
		`{"properties":{"phone":"\u0000"}}`,
		`[]`,
	}
	// The spec's example files are seeds too.
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		var e example
		if json.Unmarshal(b, &e) == nil && len(e.Parameters.SecurityContact) > 0 {
			seeds = append(seeds, string(e.Parameters.SecurityContact))
		}
	}
	for _, s := range seeds {
		for v := range versions {
			f.Add([]byte(s), uint8(v), uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, v, n uint8) {
		version := versions[int(v)%len(versions)]
		name := names[int(n)%len(names)]
		c, err := securitycontact.Parse(name, body, version)
		if err != nil {
			checkInvalid(t, err)
			return
		}
		check(t, c, version)
	})
}

// FuzzParseFields reaches past the JSON syntax: the fuzzed strings go into
// well-formed bodies of every version.
func FuzzParseFields(f *testing.F) {
	f.Add("a@x.com;b@y.com", "(214)275-4038", "On", "Medium", "Owner", "Alert", "Critical", true)
	f.Add(" ; ", "", "off", "", "contributor", "attackpath", "low", false)
	f.Add("x@localhost,y", "\t", "ON", "High", "Admin", "Alert", "", true)
	f.Fuzz(func(t *testing.T, emails, phone, state, severity, role, sourceType, risk string, enabled bool) {
		bodies := map[string]any{
			v2017: map[string]any{"email": emails, "phone": phone, "alertNotifications": state, "alertsToAdmins": state},
			v2020: map[string]any{"emails": emails, "phone": phone,
				"alertNotifications":  map[string]any{"state": state, "minimalSeverity": severity},
				"notificationsByRole": map[string]any{"state": state, "roles": []string{role, "Owner"}}},
			v2023: map[string]any{"emails": emails, "phone": phone, "isEnabled": enabled,
				"notificationsByRole": map[string]any{"state": state, "roles": []string{role}},
				"notificationsSources": []any{
					map[string]any{"sourceType": sourceType, "minimalSeverity": severity, "minimalRiskLevel": risk},
					map[string]any{"sourceType": "AttackPath", "minimalRiskLevel": risk},
				}},
		}
		for version, props := range bodies {
			body, err := json.Marshal(map[string]any{"properties": props})
			if err != nil {
				return // not UTF-8
			}
			c, err := securitycontact.Parse("default", body, version)
			if err != nil {
				checkInvalid(t, err)
				continue
			}
			check(t, c, version)
			if c.WantsSeverity(severity) && c.AlertNotifications.State != "On" {
				t.Fatalf("%+v wants %q with alerts off", c, severity)
			}
		}
	})
}

func checkInvalid(t *testing.T, err error) {
	t.Helper()
	var pe *posture.Error
	if !errors.As(err, &pe) || pe.Kind != posture.EINVALID || pe.Code == "" {
		t.Fatalf("error %v is not an EINVALID *posture.Error", err)
	}
	for _, d := range pe.Details {
		if d.Kind != posture.EINVALID || d.Code == "" {
			t.Fatalf("detail %v", d)
		}
	}
}

func check(t *testing.T, c *securitycontact.Contact, version string) {
	t.Helper()
	for _, v := range versions {
		if doc := securitycontact.Document(defaultID, "default", c, v); !json.Valid(doc) {
			t.Fatalf("%s: invalid JSON %s", v, doc)
		}
	}
	doc := securitycontact.Document(defaultID, "default", c, version)
	back, err := securitycontact.Parse("default", doc, version)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("%s does not read back at %s:\n in  %+v\n out %+v, %v", doc, version, c, back, err)
	}
	stored := securitycontact.Document(defaultID, "default", c, securitycontact.StoredVersion)
	back, err = securitycontact.FromDocument(stored)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("%s does not read back:\n in  %+v\n out %+v, %v", stored, c, back, err)
	}
	// AlertNotifications and the Alert source agree.
	a := c.AlertNotifications
	var alert *securitycontact.Source
	for i := range c.NotificationsSources {
		if c.NotificationsSources[i].SourceType == securitycontact.SourceAlert {
			alert = &c.NotificationsSources[i]
		}
	}
	if (a.State == "On") != (alert != nil) || alert != nil && alert.MinimalSeverity != a.MinimalSeverity {
		t.Fatalf("alert settings disagree: %+v", c)
	}
	seen := map[string]bool{}
	for _, r := range c.Recipients() {
		if seen[strings.ToLower(r)] {
			t.Fatalf("repeated recipient %q", r)
		}
		seen[strings.ToLower(r)] = true
	}
	c.NotifiesRoles()
}
