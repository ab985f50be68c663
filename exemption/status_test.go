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

// A Prepared document gives, at any time, what WithStatus gives then: for
// an expiring exemption, one under review with a grace period, and one not
// written by Document (the status is added by re-encoding).
func TestPreparedMatchesWithStatus(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	id := "/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e"
	expiring := Document(id, "e", &Exemption{PolicyAssignmentID: "/a", Category: Waiver, ExpiresOn: t0.Add(2 * time.Hour)}, SystemData{}, StoredVersion)
	review := Document(id, "e", &Exemption{PolicyAssignmentID: "/a", Category: Mitigated,
		Review: &Review{State: ReviewNeeded, Since: t0, GraceUntil: t0.Add(time.Hour)}}, SystemData{}, StoredVersion)
	other := []byte(`{"name":"e","properties":{"expiresOn":"2026-12-01T01:00:00Z","category":"Waiver"}}`)
	for _, doc := range [][]byte{expiring, review, other, []byte(`[1]`), []byte(`{"properties":3}`)} {
		p := Prepare(doc)
		for _, at := range []time.Time{t0.Add(-time.Second), t0.Add(time.Hour), t0.Add(90 * time.Minute), t0.Add(2 * time.Hour), t0.AddDate(1, 0, 0)} {
			if got, want := p.At(at), WithStatus(doc, at); string(got) != string(want) {
				t.Errorf("%s at %s:\n got %s\nwant %s", doc, at, got, want)
			}
		}
	}
	p := Prepare(review)
	if p.Status(t0) != StatusNeedsReview || p.Status(t0.Add(time.Hour)) != StatusReviewOverdue {
		t.Errorf("review: %s then %s", p.Status(t0), p.Status(t0.Add(time.Hour)))
	}
	if string(Prepare(other).At(t0.Add(time.Hour))) == string(other) || !strings.Contains(string(Prepare(other).At(t0.Add(time.Hour))), `"postureStatus":"Expired"`) {
		t.Errorf("re-encoded: %s", Prepare(other).At(t0.Add(time.Hour)))
	}
}
