package defender_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
)

const exemptionsPath = "/providers/Microsoft.Authorization/policyExemptions/"

func (e *env) exempt(id, category, expires string) {
	e.t.Helper()
	body := `{"properties":{"policyAssignmentId":"` + mcsbID + `","exemptionCategory":"` + category + `","policyDefinitionReferenceIds":["StorageDisallowPublicAccess"]`
	if expires != "" {
		body += `,"expiresOn":"` + expires + `"`
	}
	body += `}}`
	if _, err := e.policy.PutExemption(context.Background(), posture.ExemptionWrite{ID: id, Body: []byte(body), APIVersion: "2022-07-01-preview"}); err != nil {
		e.t.Fatalf("exempt %s: %v", id, err)
	}
}

// TestExemptionMovesAssessmentAndScore: when an exemption's PUT returns,
// the assessment is NotApplicable with cause Exempt and a description
// naming the exemption and its category; the control counts move by one
// resource from unhealthy to not applicable, the score follows the
// documented formula, and the Resource Graph row says the same. DELETE
// undoes all of it.
func TestExemptionMovesAssessmentAndScore(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.estateBase()
	e.putStorage(storage, true)
	e.putStorage(storage2, true)
	e.putStorage(rg+"/providers/Microsoft.Storage/storageAccounts/st3", false) // healthy: the control scores above zero
	before := e.controls(sub)
	scoreBefore := e.score(sub)

	id := storage + exemptionsPath + "accepted"
	e.exempt(id, "Waiver", "")
	a, err := e.assessment(storage, publicAccessKey, posture.AssessmentExpand{})
	if err != nil {
		t.Fatal(err)
	}
	st := a.Properties.Status
	if st.Code != "NotApplicable" || st.Cause != "Exempt" || !strings.Contains(st.Description, strings.ToLower(id)) || !strings.Contains(st.Description, "Waiver") {
		t.Errorf("exempted: %+v", st)
	}
	if a2, _ := e.assessment(storage2, publicAccessKey, posture.AssessmentExpand{}); a2.Properties.Status.Code != "Unhealthy" {
		t.Errorf("the other account is not covered: %+v", a2.Properties.Status)
	}
	after := e.controls(sub)
	b, c := before[accessControl].Properties, after[accessControl].Properties
	if c.UnhealthyResourceCount != b.UnhealthyResourceCount-1 || c.NotApplicableResourceCount != b.NotApplicableResourceCount+1 || c.HealthyResourceCount != b.HealthyResourceCount {
		t.Errorf("%s: %+v, before %+v", accessControl, c, b)
	}
	for _, ctl := range e.sec.Catalog.Controls {
		controlFormula(t, after[ctl.DisplayName], ctl.MaxScore)
	}
	if got := e.score(sub); got.Properties.Score.Current <= scoreBefore.Properties.Score.Current {
		t.Errorf("score %+v did not rise from %+v", got.Properties.Score, scoreBefore.Properties.Score)
	}
	var row assessment
	key := strings.ToLower(storage) + "/providers/microsoft.security/assessments/" + publicAccessKey
	if err := json.Unmarshal(e.feed.derived[key], &row); err != nil || row.Properties.Status.Cause != "Exempt" {
		t.Errorf("Resource Graph row: %v %+v", err, row.Properties.Status)
	}

	if _, err := e.policy.DeleteExemption(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.assessment(storage, publicAccessKey, posture.AssessmentExpand{}); a.Properties.Status.Code != "Unhealthy" || a.Properties.Status.Cause != "" {
		t.Errorf("after delete: %+v", a.Properties.Status)
	}
	if got := e.controls(sub); !reflect.DeepEqual(got, before) {
		t.Errorf("after delete the controls differ from before")
	}
}

// TestMitigatedSwitch: a Mitigated exemption is NotApplicable in the API
// either way; the score leaves it out by default and counts it healthy
// when configured.
func TestMitigatedSwitch(t *testing.T) {
	for _, asHealthy := range []bool{false, true} {
		e := &env{t: t, dir: t.TempDir(), now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), mitigatedAsHealthy: asHealthy}
		e.open()
		e.estateBase()
		e.putStorage(storage, true)
		before := e.controls(sub)[accessControl].Properties
		e.exempt(storage+exemptionsPath+"fixed-elsewhere", "Mitigated", "")
		a, _ := e.assessment(storage, publicAccessKey, posture.AssessmentExpand{})
		if a.Properties.Status.Code != "NotApplicable" || a.Properties.Status.Cause != "Exempt" || !strings.Contains(a.Properties.Status.Description, "Mitigated") {
			t.Errorf("asHealthy=%v: assessment %+v", asHealthy, a.Properties.Status)
		}
		got := e.controls(sub)[accessControl].Properties
		wantHealthy, wantNA := before.HealthyResourceCount, before.NotApplicableResourceCount+1
		if asHealthy {
			wantHealthy, wantNA = before.HealthyResourceCount+1, before.NotApplicableResourceCount
		}
		if got.UnhealthyResourceCount != before.UnhealthyResourceCount-1 || got.HealthyResourceCount != wantHealthy || got.NotApplicableResourceCount != wantNA {
			t.Errorf("asHealthy=%v: %+v, before %+v", asHealthy, got, before)
		}
	}
}

// TestExemptionExpiryReopens: past expiresOn the assessment is the rule's
// again at once, saying the exemption expired; ExpireDue moves the score
// back and tells the Resource Graph.
func TestExemptionExpiryReopens(t *testing.T) {
	e := newEnv(t)
	e.estateBase()
	e.putStorage(storage, true)
	before := e.controls(sub)
	expires := e.clock().Add(2 * time.Hour)
	e.exempt(storage+exemptionsPath+"short", "Waiver", expires.Format(time.RFC3339))
	e.advance(2 * time.Hour)
	a, _ := e.assessment(storage, publicAccessKey, posture.AssessmentExpand{})
	st := a.Properties.Status
	if st.Code != "Unhealthy" || st.Cause != "" || !strings.Contains(st.Description, "expired at "+expires.Format(time.RFC3339)) || !st.StatusChangeDate.Equal(expires) {
		t.Errorf("at expiry: %+v", st)
	}
	if err := e.policy.ExpireDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := e.controls(sub); !reflect.DeepEqual(got, before) {
		t.Errorf("after the expiry is recorded the controls differ from before the exemption")
	}
	var row assessment
	key := strings.ToLower(storage) + "/providers/microsoft.security/assessments/" + publicAccessKey
	if err := json.Unmarshal(e.feed.derived[key], &row); err != nil || row.Properties.Status.Code != "Unhealthy" || !strings.Contains(row.Properties.Status.Description, "expired") {
		t.Errorf("Resource Graph row after expiry: %v %+v", err, row.Properties.Status)
	}
}

// TestPreviewScores: the preview's after-score is the score the write
// then gives; the raw score ignores every exemption.
func TestPreviewScores(t *testing.T) {
	e := newEnv(t)
	e.estateBase()
	e.putStorage(storage, true)
	e.putStorage(storage2, true)
	e.exempt(storage2+exemptionsPath+"old", "Waiver", "")
	raw := e.score(sub) // with st2 exempted
	id := storage + exemptionsPath + "new"
	body := []byte(`{"properties":{"policyAssignmentId":"` + mcsbID + `","exemptionCategory":"Waiver","policyDefinitionReferenceIds":["StorageDisallowPublicAccess"]}}`)
	p, err := e.policy.PreviewExemption(context.Background(), posture.ExemptionWrite{ID: id, Body: body, APIVersion: "2022-07-01-preview"})
	if err != nil {
		t.Fatal(err)
	}
	e.sec.PreviewScores(p, "Waiver")
	if len(p.Scores) != 1 || p.Scores[0].Before.Current != raw.Properties.Score.Current {
		t.Fatalf("preview: %+v, score now %+v", p.Scores, raw.Properties.Score)
	}
	e.exempt(id, "Waiver", "")
	after := e.score(sub)
	if p.Scores[0].After.Current != after.Properties.Score.Current || p.Scores[0].After.Percentage != after.Properties.Score.Percentage {
		t.Errorf("preview after %+v, real after %+v", p.Scores[0].After, after.Properties.Score)
	}
	if _, err := e.policy.DeleteExemption(context.Background(), storage2+exemptionsPath+"old", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.policy.DeleteExemption(context.Background(), id, ""); err != nil {
		t.Fatal(err)
	}
	if none := e.score(sub); p.Scores[0].Raw.Current != none.Properties.Score.Current {
		t.Errorf("raw %+v, score without exemptions %+v", p.Scores[0].Raw, none.Properties.Score)
	}
}
