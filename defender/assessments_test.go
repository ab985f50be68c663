package defender_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/policy"
)

// Keys and controls below come from defender/data (Defender's
// recommendation reference pages, see its SOURCE.md).
const (
	publicAccessKey   = "51fd8bb1-0db4-bbf1-7e2b-cfcba7eb66a6" // StorageDisallowPublicAccess
	secureTransferKey = "1c5de8e1-f68d-6a17-e0d2-ec259c42768c" // secureTransferToStorageAccountMonitoring
	accessControl     = "Manage access and permissions"
	transitControl    = "Encrypt data in transit"
)

func (e *env) estateBase() {
	e.put(`{"id":%q,"type":"Microsoft.Resources/subscriptions","name":%q,"displayName":"Sub A","properties":{}}`, sub, subID)
	e.put(`{"id":%q,"type":"Microsoft.Resources/resourceGroups","name":"rg1","location":"westeurope"}`, rg)
}

// controlFormula checks the API's control score against the documented
// formula over the counts the API reports.
func controlFormula(t *testing.T, c control, max int) {
	t.Helper()
	h, u := c.Properties.HealthyResourceCount, c.Properties.UnhealthyResourceCount
	if h+u == 0 {
		if c.Properties.Score.Max != 0 || c.Properties.Weight != 0 {
			t.Errorf("%s: no healthy or unhealthy resources must drop out: %+v", c.Properties.DisplayName, c.Properties)
		}
		return
	}
	want := math.Round(float64(max)/float64(h+u)*float64(h)*100) / 100
	if c.Properties.Score.Current != want || c.Properties.Weight != h+u || c.Properties.Score.Max != max {
		t.Errorf("%s: %+v, want current %v of %d, weight %d", c.Properties.DisplayName, c.Properties, want, max, h+u)
	}
}

func TestAssessmentFollowsTheResource(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.estateBase()
	before := e.controls(sub)
	start := e.clock()

	e.putStorage(storage, true)
	a, err := e.assessment(storage, publicAccessKey, posture.AssessmentExpand{})
	if err != nil {
		t.Fatal(err)
	}
	rec := e.rec("StorageDisallowPublicAccess")
	key := strings.ToLower(storage)
	if a.Properties.Status.Code != "Unhealthy" || a.Properties.DisplayName != rec.DisplayName ||
		a.Properties.ResourceDetails["source"] != "Azure" || a.Properties.ResourceDetails["id"] != key || a.Properties.ResourceDetails["Id"] != key ||
		!a.Properties.Status.FirstEvaluationDate.Equal(start) || !a.Properties.Status.StatusChangeDate.Equal(start) || a.Properties.Links != nil {
		t.Fatalf("public storage account: %+v", a.Properties)
	}
	after := e.controls(sub)
	if got := after[accessControl].Properties.UnhealthyResourceCount - before[accessControl].Properties.UnhealthyResourceCount; got != 1 {
		t.Errorf("%s: unhealthy moved by %d, want 1", accessControl, got)
	}
	for _, ctl := range e.sec.Catalog.Controls {
		controlFormula(t, after[ctl.DisplayName], ctl.MaxScore)
	}

	// $expand adds links to posture's portal and the metadata.
	a, _ = e.assessment(storage, publicAccessKey, posture.AssessmentExpand{Links: true, Metadata: true})
	if a.Properties.Links == nil || a.Properties.Links.AzurePortalURI != "https://posture.example/recommendations/"+publicAccessKey+"?resource="+strings.ReplaceAll(key, ":", "%3A") ||
		a.Properties.Metadata == nil || a.Properties.Metadata.Severity != rec.Severity ||
		a.Properties.Metadata.PolicyDefinitionID != "/providers/Microsoft.Authorization/policyDefinitions/4fa4b6c0-31ca-4c0d-b10d-24b96f62a751" {
		t.Errorf("expanded: links %+v metadata %+v", a.Properties.Links, a.Properties.Metadata)
	}

	// Fixing the resource turns the assessment healthy before the write
	// returns; the first evaluation date stays.
	e.advance(time.Hour)
	e.putStorage(storage, false)
	a, _ = e.assessment(storage, publicAccessKey, posture.AssessmentExpand{})
	if a.Properties.Status.Code != "Healthy" || !a.Properties.Status.FirstEvaluationDate.Equal(start) || !a.Properties.Status.StatusChangeDate.Equal(start.Add(time.Hour)) {
		t.Errorf("fixed: %+v", a.Properties.Status)
	}
	fixed := e.controls(sub)
	if fixed[accessControl].Properties.UnhealthyResourceCount != before[accessControl].Properties.UnhealthyResourceCount ||
		fixed[accessControl].Properties.HealthyResourceCount != before[accessControl].Properties.HealthyResourceCount+1 {
		t.Errorf("fixed: %s %+v, before %+v", accessControl, fixed[accessControl].Properties, before[accessControl].Properties)
	}
	// The Resource Graph gets the same document.
	var row assessment
	if err := json.Unmarshal(e.feed.derived[key+"/providers/microsoft.security/assessments/"+publicAccessKey], &row); err != nil || row.Properties.Status.Code != "Healthy" || row.Properties.Metadata == nil {
		t.Errorf("derived row: %v %+v", err, row.Properties)
	}
	if _, ok := e.feed.derived[strings.ToLower(sub)+"/providers/microsoft.security/securescores/ascscore"]; !ok {
		t.Error("no secure score row for the Resource Graph")
	}

	// Turning the recommendation off in the benchmark assignment: the
	// assessment is NotApplicable, cause OffByPolicy.
	assign, err := armdoc.FromPut(mustParse(t, mcsbID), []byte(`{"properties":{"displayName":"ASC Default","policyDefinitionId":"`+policy.MCSBv1ID+`",
		"parameters":{"disallowPublicBlobAccessEffect":{"value":"disabled"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.policy.PutPolicyObject(ctx, assign, ""); err != nil {
		t.Fatal(err)
	}
	a, _ = e.assessment(storage, publicAccessKey, posture.AssessmentExpand{})
	if a == nil || a.Properties.Status.Code != "NotApplicable" || a.Properties.Status.Cause != "OffByPolicy" || a.Properties.Status.Description == "" {
		t.Fatalf("disabled: %+v", a)
	}
	off := e.controls(sub)
	if off[accessControl].Properties.NotApplicableResourceCount != before[accessControl].Properties.NotApplicableResourceCount+1 ||
		off[accessControl].Properties.HealthyResourceCount != before[accessControl].Properties.HealthyResourceCount {
		t.Errorf("disabled: %s %+v, before %+v", accessControl, off[accessControl].Properties, before[accessControl].Properties)
	}

	// Deleting the resource takes its assessments and counts with it.
	if _, err := e.estate.DeleteResource(ctx, storage, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.assessment(storage, publicAccessKey, posture.AssessmentExpand{}); !posture.IsNotFound(err) {
		t.Errorf("after delete: %v, want not found", err)
	}
	if got := e.controls(sub); !reflect.DeepEqual(got, before) {
		t.Errorf("after delete the controls differ from before:\n got %+v\nwant %+v", got, before)
	}
	for id := range e.feed.derived {
		if strings.HasPrefix(id, key+"/") {
			t.Errorf("derived row %s outlived its resource", id)
		}
	}
}

func mustParse(t *testing.T, id string) armid.ID {
	t.Helper()
	pid, err := armid.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// The counters kept change by change equal those a fresh start computes
// from the store, whatever the order of the changes.
func TestIncrementalMatchesRebuild(t *testing.T) {
	e := newEnv(t)
	e.estateBase()
	rnd := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	for i := range 60 {
		id := fmt.Sprintf("%s/providers/Microsoft.Storage/storageAccounts/st%d", rg, rnd.IntN(12))
		switch rnd.IntN(4) {
		case 0:
			if _, err := e.estate.DeleteResource(ctx, id, ""); err != nil {
				t.Fatal(err)
			}
		default:
			e.put(`{"id":%q,"type":"Microsoft.Storage/storageAccounts","location":"westeurope","kind":"StorageV2",
				"properties":{"allowBlobPublicAccess":%v,"supportsHttpsTrafficOnly":%v}}`, id, rnd.IntN(2) == 0, rnd.IntN(2) == 0)
		}
		e.advance(time.Duration(i+1) * time.Second)
	}
	incremental, score := e.controls(sub), e.score(sub)
	if err := e.sec.SaveHistory(ctx); err != nil {
		t.Fatal(err)
	}
	points := e.sec.ScoreHistory(subID)
	if len(points) < 2 {
		t.Fatalf("history has %d points after 60 changes", len(points))
	}
	e.open() // a new process over the same store
	if got := e.controls(sub); !reflect.DeepEqual(got, incremental) {
		t.Errorf("rebuilt controls differ:\n got %+v\nwant %+v", got, incremental)
	}
	if got := e.score(sub); got != score {
		t.Errorf("rebuilt score %+v, want %+v", got, score)
	}
	if got := e.sec.ScoreHistory(subID); len(got) < len(points) || got[len(points)-1] != points[len(points)-1] {
		t.Errorf("history after restart: %d points, want the %d saved", len(got), len(points))
	}
	last := points[len(points)-1]
	if last.Current != score.Properties.Score.Current || last.Percentage != score.Properties.Score.Percentage {
		t.Errorf("the last history point %+v is not the score %+v", last, score.Properties.Score)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.estateBase()
	e.putStorage(storage, true)
	tests := []struct {
		name string
		err  error
		kind posture.Kind
		code string
	}{
		{"unknown key", func() error {
			_, err := e.assessment(storage, "00000000-1111-2222-3333-444444444444", posture.AssessmentExpand{})
			return err
		}(), posture.ENOTFOUND, "AssessmentMetadataNotFound"},
		{"not a GUID", func() error {
			_, err := e.assessment(storage, "not-a-key", posture.AssessmentExpand{})
			return err
		}(), posture.EINVALID, "InvalidAssessmentName"},
		{"resource not in the estate", e.putAssessment(storage2, publicAccessKey, `{"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Healthy"}}}`),
			posture.ENOTFOUND, "ResourceNotFound"},
		{"status outside the enum", e.putAssessment(storage, publicAccessKey, `{"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Fine"}}}`),
			posture.EINVALID, "InvalidStatusCode"},
		{"no resource details", e.putAssessment(storage, publicAccessKey, `{"properties":{"status":{"code":"Healthy"}}}`),
			posture.EINVALID, "InvalidResourceDetails"},
		{"not JSON", e.putAssessment(storage, publicAccessKey, `{"properties":`), posture.EINVALID, "InvalidRequestContent"},
		{"built-in metadata", e.putMetadata(publicAccessKey, `{"properties":{"displayName":"x","severity":"High","assessmentType":"CustomerManaged"}}`),
			posture.EINVALID, "BuiltInAssessmentMetadataReadOnly"},
		{"metadata severity", e.putMetadata("11111111-2222-3333-4444-555555555555", `{"properties":{"displayName":"x","severity":"Critical","assessmentType":"CustomerManaged"}}`),
			posture.EINVALID, "InvalidAssessmentMetadata"},
		{"metadata of type BuiltIn", e.putMetadata("11111111-2222-3333-4444-555555555555", `{"properties":{"displayName":"x","severity":"High","assessmentType":"BuiltIn"}}`),
			posture.EINVALID, "InvalidAssessmentMetadata"},
	}
	for _, tt := range tests {
		if posture.ErrorKind(tt.err) != tt.kind || posture.ErrorCode(tt.err) != tt.code {
			t.Errorf("%s: %v (kind %v), want %v %s", tt.name, tt.err, posture.ErrorKind(tt.err), tt.kind, tt.code)
		}
	}
	// Nothing changed: the assessment is still the policy's.
	a, err := e.assessment(storage, publicAccessKey, posture.AssessmentExpand{})
	if err != nil || a.Properties.Status.Code != "Unhealthy" {
		t.Errorf("after refused writes: %v %+v", err, a)
	}
	if _, err := e.sec.Metadata(ctx, subID, "11111111-2222-3333-4444-555555555555"); !posture.IsNotFound(err) {
		t.Errorf("refused metadata was stored: %v", err)
	}
}

func (e *env) putAssessment(resourceID, key, body string) error {
	id := resourceID + "/providers/Microsoft.Security/assessments/" + key
	_, err := e.sec.PutAssessment(context.Background(), &posture.Resource{ID: id, Body: []byte(body)})
	return err
}

func (e *env) putMetadata(key, body string) error {
	id := sub + "/providers/Microsoft.Security/assessmentMetadata/" + key
	_, err := e.sec.PutMetadata(context.Background(), &posture.Resource{ID: id, Body: []byte(body)})
	return err
}

// Partners, scanners and custom recommendations write assessments; a
// stored one wins over the policy's for the same key, and goes when its
// metadata goes.
func TestStoredAssessments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.estateBase()
	e.putStorage(storage, true)
	before := e.controls(sub)

	// A scanner says the storage account fails secure transfer although
	// the policy says healthy.
	if a, _ := e.assessment(storage, secureTransferKey, posture.AssessmentExpand{}); a == nil || a.Properties.Status.Code != "Healthy" {
		t.Fatalf("policy: %+v", a)
	}
	if err := e.putAssessment(storage, secureTransferKey, `{"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Unhealthy","cause":"Scanner","description":"TLS 1.0 seen"},"partnersData":{"partnerName":"acme","secret":"s3cret"}}}`); err != nil {
		t.Fatal(err)
	}
	r, err := e.sec.Assessment(ctx, storage+"/providers/Microsoft.Security/assessments/"+secureTransferKey, posture.AssessmentExpand{})
	if err != nil || !strings.Contains(string(r.Body), `"code":"Unhealthy"`) || strings.Contains(string(r.Body), "s3cret") ||
		!strings.Contains(string(r.Body), e.rec("secureTransferToStorageAccountMonitoring").DisplayName) {
		t.Fatalf("scanner assessment: %v %s", err, r.Body)
	}
	if got := e.controls(sub)[transitControl].Properties.UnhealthyResourceCount; got != before[transitControl].Properties.UnhealthyResourceCount+1 {
		t.Errorf("%s unhealthy = %d, want one more than %d", transitControl, got, before[transitControl].Properties.UnhealthyResourceCount)
	}
	if _, err := e.sec.DeleteAssessment(ctx, storage+"/providers/Microsoft.Security/assessments/"+secureTransferKey); err != nil {
		t.Fatal(err)
	}
	if a, _ := e.assessment(storage, secureTransferKey, posture.AssessmentExpand{}); a == nil || a.Properties.Status.Code != "Healthy" {
		t.Errorf("after the scanner's delete: %+v", a)
	}
	if got := e.controls(sub); !reflect.DeepEqual(got, before) {
		t.Errorf("controls after delete differ from before")
	}

	// A custom recommendation and its assessment.
	const custom = "0c5e7b1a-6b55-4a4e-9d8e-2f7f4c1f0a01"
	if err := e.putMetadata(custom, `{"properties":{"displayName":"Tagged with an owner","severity":"low","assessmentType":"CustomerManaged","categories":["compute"]}}`); err != nil {
		t.Fatal(err)
	}
	m, err := e.sec.Metadata(ctx, subID, custom)
	if err != nil || !strings.Contains(string(m.Body), `"severity":"Low"`) || !strings.Contains(string(m.Body), `"categories":["Compute"]`) {
		t.Fatalf("custom metadata: %v %s", err, m.Body)
	}
	if err := e.putAssessment(storage, custom, `{"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Unhealthy"}}}`); err != nil {
		t.Fatal(err)
	}
	page, err := e.sec.ListAssessments(ctx, posture.AssessmentFilter{Scope: sub})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range page.Resources {
		found = found || strings.HasSuffix(r.Key, "/"+custom) && strings.Contains(string(r.Body), "Tagged with an owner")
	}
	if !found {
		t.Error("the custom assessment is not listed")
	}
	if gone, err := e.sec.DeleteMetadata(ctx, sub+"/providers/Microsoft.Security/assessmentMetadata/"+custom); err != nil || !gone {
		t.Fatal(gone, err)
	}
	if _, err := e.assessment(storage, custom, posture.AssessmentExpand{}); !posture.IsNotFound(err) {
		t.Errorf("the custom assessment outlived its metadata: %v", err)
	}
}

// Pages of any size list every assessment once.
func TestListPages(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.estateBase()
	for i := range 9 {
		e.putStorage(fmt.Sprintf("%s/providers/Microsoft.Storage/storageAccounts/st%d", rg, i), i%2 == 0)
	}
	if err := e.putAssessment(storage, secureTransferKey, `{"properties":{"resourceDetails":{"source":"Azure"},"status":{"code":"Unhealthy"}}}`); err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	for id := range e.feed.derived {
		if strings.Contains(id, "/providers/microsoft.security/assessments/") {
			all[id] = true
		}
	}
	for _, size := range []int{1, 7, 1000} {
		seen := map[string]bool{}
		f := posture.AssessmentFilter{Scope: sub, Limit: size}
		for pages := 0; ; pages++ {
			page, err := e.sec.ListAssessments(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Resources {
				k := strings.ToLower(r.ID)
				if seen[k] {
					t.Fatalf("size %d: %s listed twice", size, k)
				}
				seen[k] = true
			}
			if page.Next == "" {
				break
			}
			f.After = page.Next
			if pages > 10000 {
				t.Fatal("paging does not end")
			}
		}
		if !reflect.DeepEqual(seen, all) {
			t.Errorf("size %d: listed %d assessments, the tables have %d", size, len(seen), len(all))
		}
	}
}

// A management group's score weighs its subscriptions by their healthy
// and unhealthy resources.
func TestManagementGroupScore(t *testing.T) {
	e := newEnv(t)
	const mg = "/providers/Microsoft.Management/managementGroups/mg1"
	e.put(`{"id":%q,"type":"Microsoft.Management/managementGroups","name":"mg1","properties":{"displayName":"MG 1"}}`, mg)
	subs := []string{"00000000-0000-0000-0000-0000000000b1", "00000000-0000-0000-0000-0000000000b2"}
	var scores []defender.Score
	for i, s := range subs {
		e.put(`{"id":"/subscriptions/%s","type":"Microsoft.Resources/subscriptions","name":%q,"displayName":"S","managementGroupId":%q,"properties":{}}`, s, s, mg)
		for j := range 1 + 3*i {
			e.putStorage(fmt.Sprintf("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st%d", s, j), j%2 == 1)
		}
		sc := e.score("/subscriptions/" + s)
		scores = append(scores, defender.Score{Max: sc.Properties.Score.Max, Current: sc.Properties.Score.Current, Percentage: sc.Properties.Score.Percentage, Weight: sc.Properties.Weight})
	}
	got := e.score(mg)
	want := defender.ScoreGroup(scores)
	if got.Properties.Score.Percentage != want.Percentage || got.Properties.Weight != want.Weight || got.Properties.Score.Max != want.Max {
		t.Errorf("management group %+v, want %+v from %+v", got.Properties, want, scores)
	}
	if scores[0].Weight == scores[1].Weight {
		t.Error("the test needs subscriptions of different weights")
	}
	if _, err := e.sec.SecureScores(context.Background(), "/providers/Microsoft.Management/managementGroups/nope"); !posture.IsNotFound(err) {
		t.Errorf("unknown management group: %v", err)
	}
}
