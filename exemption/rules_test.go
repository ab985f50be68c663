package exemption_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture/exemption"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ex(category exemption.Category, expires time.Time, metadata string) *exemption.Exemption {
	e := &exemption.Exemption{PolicyAssignmentID: assignment, Category: category, ExpiresOn: expires}
	if metadata != "" {
		e.Metadata = json.RawMessage(metadata)
	}
	return e
}

func days(n int) time.Time { return now.Add(time.Duration(n) * 24 * time.Hour) }

func TestDefaultRules(t *testing.T) {
	r := exemption.DefaultRules()
	for _, tc := range []struct {
		name     string
		e        *exemption.Exemption
		severity string
		rule     string // "" = allowed; else a rule name the message must contain
	}{
		{"High waiver of exactly 90 days", ex(exemption.Waiver, days(90), ""), "High", ""},
		{"High waiver a second over 90 days", ex(exemption.Waiver, days(90).Add(time.Second), ""), "High", "maxDays.Waiver.High"},
		{"Medium waiver of 180 days", ex(exemption.Waiver, days(180), ""), "Medium", ""},
		{"Medium waiver of 181 days", ex(exemption.Waiver, days(181), ""), "medium", "maxDays.Waiver.Medium"},
		{"Low waiver of 365 days", ex(exemption.Waiver, days(365), ""), "Low", ""},
		{"Low waiver of 366 days", ex(exemption.Waiver, days(366), ""), "Low", "maxDays.Waiver.Low"},
		{"unknown severity: the strictest (High) limit", ex(exemption.Waiver, days(91), ""), "", "maxDays.Waiver.High"},
		{"unknown severity within 90 days", ex(exemption.Waiver, days(90), ""), "Critical", ""},
		{"waiver without expiry", ex(exemption.Waiver, time.Time{}, ""), "Low", "waiverRequiresExpiry"},
		{"expired waiver is fine", ex(exemption.Waiver, days(-5), ""), "High", ""},
		{"mitigated has no limit", ex(exemption.Mitigated, days(5000), ""), "High", ""},
		{"mitigated needs no expiry", ex(exemption.Mitigated, time.Time{}, ""), "High", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Check(tc.e, now, tc.severity)
			if tc.rule == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("allowed")
			}
			top, all := problem(t, err)
			if len(all) != 1 || top.Code != "ExemptionPolicyViolation" || top.Target != "properties.expiresOn" || !strings.Contains(top.Message, "rule "+tc.rule) {
				t.Fatalf("%d problems; %s at %q: %s", len(all), top.Code, top.Target, top.Message)
			}
		})
	}
}

// The message names the rule and both durations, rounded up to whole days.
func TestCheckMessage(t *testing.T) {
	err := exemption.DefaultRules().Check(ex(exemption.Waiver, days(119).Add(time.Hour), ""), now, "High")
	top, _ := problem(t, err)
	want := "rule maxDays.Waiver.High: a Waiver of a High severity recommendation may last at most 90 days; this one lasts 120."
	if top.Message != want {
		t.Fatalf("message %q\nwant    %q", top.Message, want)
	}
}

func TestCheckRequiredMetadataAndLimitWithoutExpiry(t *testing.T) {
	r := exemption.Rules{
		RequiredMetadata: []string{"ticketRef", "approvedBy"},
		MaxDays:          map[exemption.Category]map[string]int{exemption.Mitigated: {"Low": 30}},
	}
	for _, tc := range []struct {
		name     string
		e        *exemption.Exemption
		severity string
		targets  []string
	}{
		{"all present, keys ignore case", ex(exemption.Mitigated, days(30), `{"TicketRef":"T-1","approvedBy":"bob"}`), "Low", nil},
		{"no metadata", ex(exemption.Waiver, time.Time{}, ""), "Low", []string{"properties.metadata.ticketRef", "properties.metadata.approvedBy"}},
		{"blank and non-string values", ex(exemption.Waiver, time.Time{}, `{"ticketRef":"  ","approvedBy":7}`), "Low", []string{"properties.metadata.ticketRef", "properties.metadata.approvedBy"}},
		// Under a MaxDays limit an exemption without expiresOn lasts forever.
		{"limit and no expiry", ex(exemption.Mitigated, time.Time{}, `{"ticketRef":"T","approvedBy":"b"}`), "Low", []string{"properties.expiresOn"}},
		{"limit exceeded and metadata missing", ex(exemption.Mitigated, days(31), `{"ticketRef":"T"}`), "Low", []string{"properties.metadata.approvedBy", "properties.expiresOn"}},
		{"no limit for High", ex(exemption.Mitigated, time.Time{}, `{"ticketRef":"T","approvedBy":"b"}`), "High", nil},
		// WaiverRequiresExpiry is off here.
		{"waiver without expiry allowed", ex(exemption.Waiver, time.Time{}, `{"ticketRef":"T","approvedBy":"b"}`), "Low", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.Check(tc.e, now, tc.severity)
			if tc.targets == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("allowed")
			}
			_, all := problem(t, err)
			var got []string
			for _, p := range all {
				got = append(got, p.Target)
				if p.Code != "ExemptionPolicyViolation" || !strings.HasPrefix(p.Message, "rule ") {
					t.Errorf("%s: %s", p.Code, p.Message)
				}
			}
			if !reflect.DeepEqual(got, tc.targets) {
				t.Fatalf("targets %v, want %v", got, tc.targets)
			}
		})
	}
}

func TestLoadRules(t *testing.T) {
	got, err := exemption.LoadRules([]byte(`{"requiredMetadata":["ticketRef"],"maxDays":{"waiver":{"high":30,"Low":0}},"waiverRequiresExpiry":true}`))
	if err != nil {
		t.Fatal(err)
	}
	want := exemption.Rules{
		RequiredMetadata:     []string{"ticketRef"},
		MaxDays:              map[exemption.Category]map[string]int{exemption.Waiver: {"High": 30, "Low": 0}},
		WaiverRequiresExpiry: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	if r, err := exemption.LoadRules([]byte(`{}`)); err != nil || !reflect.DeepEqual(r, exemption.Rules{}) {
		t.Fatalf("empty rules: %+v, %v", r, err)
	}
	for _, bad := range []string{
		`{"maxDay":{}}`, // misspelt: unknown fields are errors
		`{"maxDays":{"Exempt":{"High":1}}}`,
		`{"maxDays":{"Waiver":{"Critical":1}}}`,
		`{"maxDays":{"Waiver":{"High":-1}}}`,
		`{"maxDays":{"Waiver":{"High":36501}}}`,
		`{"requiredMetadata":[""]}`,
		`{"waiverRequiresExpiry":"yes"}`,
		`{} {}`,
		`[`,
	} {
		_, err := exemption.LoadRules([]byte(bad))
		if err == nil {
			t.Errorf("%s accepted", bad)
			continue
		}
		if top, _ := problem(t, err); top.Code != "InvalidExemptionRules" {
			t.Errorf("%s: %s", bad, top.Code)
		}
	}
}
