package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

// The cached rendering of an exemption is the uncached one byte for byte,
// for each api-version, and its status follows the clock: one entry is
// Active before expiresOn and Expired from that second.
func TestExemptionDocCache(t *testing.T) {
	expires := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := expires.Add(-time.Second)
	s := &Server{Now: func() time.Time { return now }}
	id := "/subscriptions/s1/providers/Microsoft.Authorization/policyExemptions/e1"
	x := &exemption.Exemption{PolicyAssignmentID: "/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/a", Category: exemption.Waiver,
		ExpiresOn: expires, Description: "first", Metadata: json.RawMessage(`{"ticketRef":"CHG-1"}`)}
	stored := func(x *exemption.Exemption) *posture.Resource {
		return &posture.Resource{ID: id, Name: "e1", Body: exemption.Document(id, "e1", x, exemption.SystemData{CreatedBy: "ann", CreatedAt: expires.AddDate(0, -1, 0)}, exemption.StoredVersion)}
	}
	uncached := func(r *posture.Resource, v string) []byte {
		x, sd, err := exemption.FromDocument(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		return exemption.WithStatus(exemption.Document(r.ID, r.Name, x, sd, v), now)
	}
	r := stored(x)
	for _, v := range exemptionVersions {
		c := &call{s: s, apiVersion: v}
		for range 2 { // a miss, then a hit
			got, err := c.exemptionDoc(r)
			if err != nil || !bytes.Equal(got, uncached(r, v)) {
				t.Fatalf("%s: %s %v\nwant %s", v, got, err, uncached(r, v))
			}
		}
	}
	c := &call{s: s, apiVersion: "2022-07-01-preview"}
	doc, _ := c.exemptionDoc(r)
	if !bytes.Contains(doc, []byte(`"postureStatus":"Active"`)) {
		t.Errorf("before expiry: %s", doc)
	}
	now = expires
	if doc, _ = c.exemptionDoc(r); !bytes.Contains(doc, []byte(`"postureStatus":"Expired"`)) {
		t.Errorf("at expiry, from the cache: %s", doc)
	}
	// Another body under the same id is another entry, never the old one.
	x.Description = "second"
	if doc, _ = c.exemptionDoc(stored(x)); !bytes.Contains(doc, []byte(`"description":"second"`)) {
		t.Errorf("after a change: %s", doc)
	}
	// The cache stays bounded.
	for i := range exemptionDocsMax + 10 {
		x.Description = fmt.Sprint(i)
		c.exemptionDoc(stored(x))
	}
	exemptionDocs.Lock()
	n := len(exemptionDocs.m)
	exemptionDocs.Unlock()
	if n > exemptionDocsMax {
		t.Errorf("%d entries", n)
	}
}

// BenchmarkExemptionDoc is the rendering of one stored exemption for a
// GET: cached (the same document again) and uncached (parse and render).
func BenchmarkExemptionDoc(b *testing.B) {
	s := &Server{Now: time.Now}
	id := "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/app/providers/Microsoft.Authorization/policyExemptions/e1"
	x := &exemption.Exemption{PolicyAssignmentID: "/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn",
		PolicyDefinitionReferenceIDs: []string{"functionAppEnforceHttpsMonitoring"}, Category: exemption.Waiver, ExpiresOn: time.Now().Add(720 * time.Hour),
		DisplayName: "Load test exemption", Description: "Risk accepted until the vendor's fix ships.", Metadata: json.RawMessage(`{"ticketRef":"CHG-1","owner":"ann@contoso.com"}`)}
	r := &posture.Resource{ID: id, Name: "e1", Body: exemption.Document(id, "e1", x, exemption.SystemData{CreatedBy: "ann", CreatedAt: time.Now()}, exemption.StoredVersion)}
	c := &call{s: s, apiVersion: "2022-07-01-preview"}
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			c.exemptionDoc(r)
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			x, sd, _ := exemption.FromDocument(r.Body)
			exemption.WithStatus(exemption.Document(r.ID, r.Name, x, sd, c.apiVersion), s.Now())
		}
	})
}
