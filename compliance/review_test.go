package compliance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

// storageWith is a storage account with https and tags as given.
func storageWith(name string, https bool, tls, tags string) string {
	return fmt.Sprintf(`{"id":"%s/providers/Microsoft.Storage/storageAccounts/%s","type":"Microsoft.Storage/storageAccounts","location":"westeurope","kind":"StorageV2",
		"tags":{%s},"properties":{"supportsHttpsTrafficOnly":%v,"minimumTlsVersion":"%s"}}`, rg, name, tags, https, tls)
}

func (e *env) stored(id string) *exemption.Exemption {
	e.t.Helper()
	r, err := e.svc.GetExemption(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	x, _, err := exemption.FromDocument(r.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return x
}

func (e *env) kinds(id string) []string {
	e.t.Helper()
	evs, err := e.svc.ExemptionHistory(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Kind)
	}
	return out
}

// TestResourceFilterExemption: an exemption with a resource filter covers
// the resources the filter keeps, those created later too, follows tag
// changes, and warns when it keeps most of its scope.
func TestResourceFilterExemption(t *testing.T) {
	e := newEnv(t, true)
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	e.put(`{"id":"%s","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`, rg)
	dev := e.put("%s", storageWith("sadev", false, "TLS1_2", `"Env":"Dev"`)).ID
	prod := e.put("%s", storageWith("saprod", false, "TLS1_2", `"env":"prod"`)).ID
	e.put("%s", storageWith("sanone", false, "TLS1_2", ``))

	id := rg + exemptionsPath + "dev-only"
	filter := `,"resourceFilter":{"allOf":[{"field":"tags['env']","equals":"dev"},{"field":"type","like":"Microsoft.Storage/*"}]}`
	res := e.mustPutExemption(id, exemptionBody("Waiver", `"`+secureTransfer+`"`, "2026-12-24T12:00:00Z", filter))
	// Tag keys and values compare case-insensitively (docs/resource-filters.md).
	if res.Covered != 1 {
		t.Errorf("covered %d states, want 1 (sadev only): %+v", res.Covered, res)
	}
	for _, w := range res.Warnings {
		if strings.Contains(w, "resourceFilter matches") {
			t.Errorf("1 of 3 resources kept is not over-broad: %q", w)
		}
	}
	if got := e.effective(dev, secureTransfer); got != posture.StateExempt {
		t.Errorf("sadev: %s, want Exempt", got)
	}
	if got := e.effective(prod, secureTransfer); got != posture.StateNonCompliant {
		t.Errorf("saprod: %s, want NonCompliant", got)
	}
	// A resource created later that the filter keeps is covered when its
	// write returns.
	later := e.put("%s", storageWith("salater", false, "TLS1_2", `"env":"DEV"`)).ID
	if got := e.effective(later, secureTransfer); got != posture.StateExempt {
		t.Errorf("salater: %s, want Exempt", got)
	}
	// Re-tagging moves a resource out of (and into) the filter.
	e.put("%s", storageWith("sadev", false, "TLS1_2", `"env":"prod"`))
	if got := e.effective(dev, secureTransfer); got != posture.StateNonCompliant {
		t.Errorf("sadev re-tagged prod: %s, want NonCompliant", got)
	}
	e.put("%s", storageWith("saprod", false, "TLS1_2", `"env":"dev"`))
	if got := e.effective(prod, secureTransfer); got != posture.StateExempt {
		t.Errorf("saprod re-tagged dev: %s, want Exempt", got)
	}
	// The document keeps the filter in canonical form.
	x := e.stored(id)
	if x.ResourceFilter == nil || !strings.Contains(x.ResourceFilter.String(), "tags['env']") {
		t.Errorf("stored filter: %v", x.ResourceFilter)
	}

	// A filter that keeps 3 of the 4 storage accounts draws the warning.
	broad := rg + exemptionsPath + "not-none"
	res = e.mustPutExemption(broad, exemptionBody("Waiver", `"`+secureTransfer+`"`, "2026-12-24T12:00:00Z",
		`,"resourceFilter":{"field":"tags['env']","exists":true}`))
	found := false
	for _, w := range res.Warnings {
		found = found || strings.Contains(w, "matches 3 of the 4 resources")
	}
	if !found {
		t.Errorf("over-broad filter: warnings %q", res.Warnings)
	}

	// A bad filter is refused with its target.
	_, err := e.putExemption(rg+exemptionsPath+"bad", exemptionBody("Waiver", "", "2026-12-24T12:00:00Z", `,"resourceFilter":{"field":"colour","equals":"red"}`), "")
	if code, target := posture.ErrorCode(err), targetOf(err); code != "InvalidResourceFilter" || !strings.HasPrefix(target, "properties.resourceFilter") {
		t.Errorf("bad filter: %v (code %s, target %s)", err, code, target)
	}

	// Explain says why each resource is or is not covered.
	ex, err := e.svc.ExplainExemption(context.Background(), id, dev)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Covers || !hasStep(ex, "resourceFilter", false) || !strings.Contains(string(ex.Filter), "prod") {
		t.Errorf("explain sadev (now prod): %+v filter %s", ex, ex.Filter)
	}
	ex, err = e.svc.ExplainExemption(context.Background(), id, prod)
	if err != nil {
		t.Fatal(err)
	}
	if !ex.Covers || !hasStep(ex, "resourceFilter", true) || !hasStep(ex, "scope", true) {
		t.Errorf("explain saprod (now dev): %+v", ex)
	}
}

func hasStep(ex *posture.ExemptionExplanation, check string, passed bool) bool {
	for _, s := range ex.Steps {
		if s.Check == check && s.Passed == passed {
			return true
		}
	}
	return false
}

func targetOf(err error) string {
	if pe, ok := err.(*posture.Error); ok {
		return pe.Target
	}
	return ""
}

// TestDriftReview: a resource exemption is fingerprinted over the fields
// its rule reads. The secure-transfer rule (definition 404c3081-…,
// "Secure transfer to storage accounts should be enabled") reads the type
// and supportsHttpsTrafficOnly: changing tags or minimumTlsVersion is no
// drift, flipping supportsHttpsTrafficOnly is. In review the exemption is
// honoured for the grace period, then not; the field changing back clears
// the review; a new PUT is a re-approval.
func TestDriftReview(t *testing.T) {
	e := newEnv(t, true)
	e.svc.ReviewGrace = 48 * time.Hour
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	e.put(`{"id":"%s","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`, rg)
	sa := e.put("%s", storageWith("sa1", false, "TLS1_2", `"env":"dev"`)).ID
	id := sa + exemptionsPath + "waive"
	e.mustPutExemption(id, exemptionBody("Waiver", `"`+secureTransfer+`"`, "2027-01-24T12:00:00Z", ""))
	x := e.stored(id)
	if x.Review == nil || x.Review.State != exemption.ReviewCurrent || !strings.Contains(string(x.Review.Fingerprint), "supportsHttpsTrafficOnly") {
		t.Fatalf("review after approval: %+v", x.Review)
	}
	if strings.Contains(string(x.Review.Fingerprint), "minimumTlsVersion") {
		t.Errorf("the fingerprint holds a field the rule does not read: %s", x.Review.Fingerprint)
	}

	// Unread fields change: no review.
	e.put("%s", storageWith("sa1", false, "TLS1_0", `"env":"prod"`))
	if x := e.stored(id); x.Review.Pending() {
		t.Fatalf("unread fields sent it to review: %+v", x.Review)
	}

	// The read field changes: review, honoured during the grace period.
	e.clock.Advance(time.Hour)
	e.put("%s", storageWith("sa1", true, "TLS1_0", `"env":"prod"`))
	x = e.stored(id)
	if !x.Review.Pending() || x.Review.Reason != exemption.ReasonDrift || !strings.Contains(x.Review.Detail, "supportsHttpsTrafficOnly: false → true") {
		t.Fatalf("after drift: %+v", x.Review)
	}
	if want := e.clock.Now().Add(48 * time.Hour); !x.Review.GraceUntil.Equal(want) {
		t.Errorf("grace until %v, want %v", x.Review.GraceUntil, want)
	}
	st := e.state(sa, mcsb, secureTransfer)
	if st.Exemption == "" || !st.ExemptUntil.Equal(x.Review.GraceUntil) {
		t.Errorf("the state is stamped until the grace ends: %+v", st)
	}
	doc, _ := e.svc.GetExemption(context.Background(), id)
	if got := statusOf(exemption.WithStatus(doc.Body, e.clock.Now())); got != exemption.StatusNeedsReview {
		t.Errorf("postureStatus %s, want NeedsReview", got)
	}

	// The field changes back: the review clears by itself.
	e.put("%s", storageWith("sa1", false, "TLS1_0", `"env":"prod"`))
	if x := e.stored(id); x.Review.Pending() {
		t.Fatalf("changed back, still in review: %+v", x.Review)
	}
	if got := e.effective(sa, secureTransfer); got != posture.StateExempt {
		t.Errorf("cleared: %s, want Exempt", got)
	}

	// Drift again, and let the grace period pass: no longer honoured.
	e.put("%s", storageWith("sa1", true, "TLS1_0", `"env":"prod"`))
	e.put("%s", storageWith("sa1", true, "TLS1_0", `"env":"other"`)) // still drifted: no new review
	e.clock.Advance(49 * time.Hour)
	if err := e.svc.ExpireDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = e.state(sa, mcsb, secureTransfer)
	if st.Exempt(e.clock.Now()) {
		t.Errorf("honoured after the grace period: %+v", st)
	}
	doc, _ = e.svc.GetExemption(context.Background(), id)
	if got := statusOf(exemption.WithStatus(doc.Body, e.clock.Now())); got != exemption.StatusReviewOverdue {
		t.Errorf("postureStatus %s, want ReviewOverdue", got)
	}
	want := []string{posture.EventCreated, posture.EventNeedsReview, posture.EventReviewCleared, posture.EventNeedsReview, posture.EventReviewOverdue}
	if got := e.kinds(id); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("history %v, want %v", got, want)
	}

	// Re-approval: a PUT takes a fresh fingerprint of the resource as it is.
	e.mustPutExemption(id, exemptionBody("Waiver", `"`+secureTransfer+`"`, "2027-01-24T12:00:00Z", ""))
	x = e.stored(id)
	if x.Review.Pending() || !strings.Contains(string(x.Review.Fingerprint), "true") {
		t.Errorf("re-approved: %+v", x.Review)
	}
	// The rule is Compliant now (https on), so nothing is exempted; the
	// exemption itself is in force again.
	if !x.Active(e.clock.Now()) {
		t.Errorf("re-approved exemption not in force")
	}
}

func statusOf(doc []byte) string {
	var d struct {
		Properties struct {
			PostureStatus string `json:"postureStatus"`
		} `json:"properties"`
	}
	json.Unmarshal(doc, &d)
	return d.Properties.PostureStatus
}

// TestEvidenceCondition: a Mitigated exemption's evidence condition must
// hold when it is approved and sends it to review when it stops holding.
func TestEvidenceCondition(t *testing.T) {
	e := newEnv(t, true)
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	e.put(`{"id":"%s","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`, rg)
	sa := e.put("%s", storageWith("sa1", false, "TLS1_0", ``)).ID
	id := sa + exemptionsPath + "mitigated"
	evidence := `,"evidence":{"condition":{"field":"Microsoft.Storage/storageAccounts/minimumTlsVersion","equals":"TLS1_2"}}`
	body := exemptionBody("Mitigated", `"`+secureTransfer+`"`, "2027-01-24T12:00:00Z", evidence)
	if _, err := e.putExemption(id, body, ""); posture.ErrorCode(err) != "EvidenceCheckFailed" {
		t.Fatalf("evidence failing at approval: %v", err)
	}
	e.put("%s", storageWith("sa1", false, "TLS1_2", ``))
	e.mustPutExemption(id, body)
	if x := e.stored(id); x.Review.Pending() || x.Evidence == nil {
		t.Fatalf("approved with holding evidence: %+v %+v", x.Review, x.Evidence)
	}
	e.put("%s", storageWith("sa1", false, "TLS1_0", ``))
	x := e.stored(id)
	if !x.Review.Pending() || x.Review.Reason != exemption.ReasonEvidence {
		t.Fatalf("evidence stopped holding: %+v", x.Review)
	}
	// A Waiver cannot carry evidence; a condition that does not compile is
	// refused with its target.
	_, err := e.putExemption(id, exemptionBody("Waiver", "", "2027-01-24T12:00:00Z", evidence), "")
	if posture.ErrorCode(err) != "InvalidEvidence" {
		t.Errorf("waiver with evidence: %v", err)
	}
	_, err = e.putExemption(id, exemptionBody("Mitigated", "", "2027-01-24T12:00:00Z", `,"evidence":{"condition":{"field":"x","frobnicates":1}}`), "")
	if !strings.HasPrefix(targetOf(err), "properties.evidence.condition") {
		t.Errorf("bad condition: %v (target %q)", err, targetOf(err))
	}
}

// TestEvidenceQuery: an evidence query that returns no row sends the
// exemption to review; rows again clear it.
func TestEvidenceQuery(t *testing.T) {
	e := newEnv(t, true)
	sa1, _ := e.base()
	id := rg + exemptionsPath + "query"
	e.mustPutExemption(id, exemptionBody("Mitigated", `"`+secureTransfer+`"`, "2027-01-24T12:00:00Z",
		`,"evidence":{"query":"Resources | where type =~ 'microsoft.network/azurefirewalls'"}`))
	rows := 0
	var asked []string
	run := func(_ context.Context, scope, q string) (int, error) {
		asked = append(asked, scope+" | "+q)
		return rows, nil
	}
	n, err := e.svc.CheckEvidenceQueries(context.Background(), run)
	if err != nil || n != 1 {
		t.Fatalf("no rows: %d changed, %v", n, err)
	}
	if len(asked) != 1 || !strings.HasPrefix(asked[0], rg+" | Resources") {
		t.Errorf("asked %q", asked)
	}
	if x := e.stored(id); !x.Review.Pending() || x.Review.Reason != exemption.ReasonEvidence {
		t.Fatalf("review: %+v", x.Review)
	}
	if st := e.state(sa1, mcsb, secureTransfer); st.Exemption == "" || st.ExemptUntil.IsZero() {
		t.Errorf("states are stamped with the grace period: %+v", st)
	}
	rows = 1
	if n, err := e.svc.CheckEvidenceQueries(context.Background(), run); err != nil || n != 1 {
		t.Fatalf("rows again: %d changed, %v", n, err)
	}
	if x := e.stored(id); x.Review.Pending() {
		t.Errorf("cleared: %+v", x.Review)
	}
	if n, _ := e.svc.CheckEvidenceQueries(context.Background(), run); n != 0 {
		t.Errorf("nothing changed, yet %d reviews changed", n)
	}
	// A query that does not parse is refused at approval.
	_, err = e.putExemption(id, exemptionBody("Mitigated", "", "2027-01-24T12:00:00Z", `,"evidence":{"query":"Resources | where ("}`), "")
	if posture.ErrorCode(err) != "InvalidEvidence" {
		t.Errorf("bad query: %v", err)
	}
}
