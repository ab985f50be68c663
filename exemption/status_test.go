package exemption

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// WithStatus says Active before expiresOn and Expired from that second on,
// and keeps Document's bytes around the status.
func TestWithStatus(t *testing.T) {
	exp := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	x := &Exemption{PolicyAssignmentID: "/subscriptions/s/providers/Microsoft.Authorization/policyAssignments/a", Category: Waiver, ExpiresOn: exp,
		Description: "a <b> & c", AssignmentScopeValidation: "Default"}
	doc := Document("/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e", "e", x, SystemData{}, StoredVersion)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{{exp.Add(-time.Second), StatusActive}, {exp, StatusExpired}, {exp.Add(time.Hour), StatusExpired}} {
		out := WithStatus(doc, tc.at)
		var d struct{ Properties map[string]any }
		if err := json.Unmarshal(out, &d); err != nil || d.Properties["postureStatus"] != tc.want {
			t.Errorf("at %s: %s %v, want %s", tc.at, out, err, tc.want)
		}
		if !strings.HasSuffix(string(out), string(doc[len(`{"properties":{`):])) {
			t.Errorf("the document's own bytes must follow the status:\n%s\n%s", out, doc)
		}
		got, _, err := FromDocument(out)
		if err != nil || got.Description != x.Description || !got.ExpiresOn.Equal(exp) {
			t.Errorf("with its status the document still reads back: %+v %v", got, err)
		}
	}
	// Without expiresOn an exemption is always active.
	x.ExpiresOn = time.Time{}
	doc = Document("/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e", "e", x, SystemData{}, StoredVersion)
	if out := WithStatus(doc, exp.AddDate(100, 0, 0)); !strings.Contains(string(out), `"postureStatus":"Active"`) {
		t.Errorf("no expiry: %s", out)
	}
	if out := WithStatus([]byte(`[1]`), exp); string(out) != `[1]` {
		t.Errorf("not an object: %s", out)
	}
}
