package compliance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
)

const (
	secureTransfer = "secureTransferToStorageAccountMonitoring"
	exemptionsPath = "/providers/Microsoft.Authorization/policyExemptions/"
	version        = "2022-07-01-preview"
)

// exemptionBody is a PUT body exempting from the benchmark assignment.
func exemptionBody(category, refs, expires, extra string) []byte {
	b := `{"properties":{"policyAssignmentId":"` + sub + `/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn","exemptionCategory":"` + category + `"`
	if refs != "" {
		b += `,"policyDefinitionReferenceIds":[` + refs + `]`
	}
	if expires != "" {
		b += `,"expiresOn":"` + expires + `"`
	}
	return []byte(b + extra + `}}`)
}

func (e *env) putExemption(id string, body []byte, ifMatch string) (posture.ExemptionResult, error) {
	return e.svc.PutExemption(context.Background(), posture.ExemptionWrite{ID: id, Body: body, APIVersion: version, IfMatch: ifMatch})
}

func (e *env) mustPutExemption(id string, body []byte) posture.ExemptionResult {
	e.t.Helper()
	res, err := e.putExemption(id, body, "")
	if err != nil {
		e.t.Fatalf("put %s: %v", id, err)
	}
	return res
}

// effective returns the state views show for a resource and reference.
func (e *env) effective(resourceID, ref string) string {
	e.t.Helper()
	s := e.state(resourceID, mcsb, ref)
	if s == nil {
		return "<none>"
	}
	return s.Effective(e.clock.Now())
}

func (e *env) base() (sa1, sa2 string) {
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	e.put(`{"id":"%s","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`, rg)
	return e.put("%s", storage("sa1", false)).ID, e.put("%s", storage("sa2", false)).ID
}

// TestExemptionLifecycle: an exemption is in force when its PUT returns,
// at every scope it can have, for resources created later too, and gone
// when it is deleted; each step is an event of its history.
func TestExemptionLifecycle(t *testing.T) {
	e := newEnv(t, true)
	ctx := context.Background()
	sa1, sa2 := e.base()
	if got := e.effective(sa1, secureTransfer); got != posture.StateNonCompliant {
		t.Fatalf("before: %s", got)
	}

	// A resource exemption covers that resource only.
	resEx := sa1 + exemptionsPath + "waive-sa1"
	res := e.mustPutExemption(resEx, exemptionBody("waiver", `"`+secureTransfer+`"`, "2026-12-24T12:00:00Z", ""))
	if !res.Created || res.Covered != 1 || len(res.Warnings) != 0 {
		t.Errorf("created: %+v", res)
	}
	if got := e.effective(sa1, secureTransfer); got != posture.StateExempt {
		t.Errorf("sa1 after the PUT returned: %s, want Exempt", got)
	}
	if got := e.effective(sa2, secureTransfer); got != posture.StateNonCompliant {
		t.Errorf("sa2 is not covered: %s", got)
	}
	st := e.state(sa1, mcsb, secureTransfer)
	if st.State != posture.StateNonCompliant || st.Exemption != strings.ToLower(resEx) || st.ExemptionCategory != "Waiver" {
		t.Errorf("the rule's state stays and the exemption is named: %+v", st)
	}
	// Other recommendations of the same resource are not exempted.
	if got := e.effective(sa1, "StorageDisallowPublicAccess"); got == posture.StateExempt {
		t.Errorf("a reference not named is exempted: %s", got)
	}

	// A resource-group exemption of the whole assignment covers the
	// resources created after it, for every reference.
	rgEx := rg + exemptionsPath + "rg-all"
	if res := e.mustPutExemption(rgEx, exemptionBody("Mitigated", "", "", "")); res.Covered == 0 {
		t.Errorf("rg exemption covers nothing: %+v", res)
	}
	sa3 := e.put("%s", storage("sa3", false)).ID
	if got := e.effective(sa3, secureTransfer); got != posture.StateExempt {
		t.Errorf("a resource created later under the exemption's scope: %s, want Exempt", got)
	}
	if got := e.state(sa3, mcsb, secureTransfer).ExemptionCategory; got != "Mitigated" {
		t.Errorf("sa3's category: %s", got)
	}
	// sa1 has two exemptions: the one that lasts longer (no expiry) wins.
	if got := e.state(sa1, mcsb, secureTransfer).Exemption; got != strings.ToLower(rgEx) {
		t.Errorf("sa1 stamped with %s, want the open-ended %s", got, rgEx)
	}

	// Deleting the rg exemption re-opens sa2 and sa3; sa1 keeps its own.
	old, err := e.svc.DeleteExemption(ctx, rgEx, "")
	if err != nil || old == nil {
		t.Fatalf("delete: %v %v", old, err)
	}
	for id, want := range map[string]string{sa1: posture.StateExempt, sa2: posture.StateNonCompliant, sa3: posture.StateNonCompliant} {
		if got := e.effective(id, secureTransfer); got != want {
			t.Errorf("after delete %s: %s, want %s", id, got, want)
		}
	}
	if old, err := e.svc.DeleteExemption(ctx, rgEx, ""); old != nil || err != nil {
		t.Errorf("deleting again: %v %v, want nothing (204)", old, err)
	}

	// History: created, then deleted, with before and after.
	evs, err := e.svc.ExemptionHistory(ctx, rgEx)
	if err != nil || len(evs) != 2 || evs[0].Kind != posture.EventCreated || evs[1].Kind != posture.EventDeleted ||
		evs[0].Before != nil || evs[0].After == nil || evs[1].Before == nil || evs[1].After != nil || evs[0].Actor != "posture" {
		t.Errorf("history: %v %+v", err, evs)
	}
	if _, err := e.svc.ExemptionHistory(ctx, sub+exemptionsPath+"never"); !posture.IsNotFound(err) {
		t.Errorf("history of nothing: %v", err)
	}

	// Deleting the resource takes its exemption with it, recorded.
	if _, err := e.estate.DeleteResource(ctx, sa1, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GetExemption(ctx, resEx); !posture.IsNotFound(err) {
		t.Errorf("the exemption outlived its resource: %v", err)
	}
	evs, _ = e.svc.ExemptionHistory(ctx, resEx)
	if len(evs) != 2 || evs[1].Kind != posture.EventDeleted {
		t.Errorf("history of the deleted resource's exemption: %+v", evs)
	}
}

// TestManagementGroupExemption: an exemption at a management group covers
// its subscriptions' resources through the hierarchy.
func TestManagementGroupExemption(t *testing.T) {
	e := newEnv(t, true)
	const mg = "/providers/Microsoft.Management/managementGroups/mg1"
	e.put(`{"id":"%s","type":"Microsoft.Management/managementGroups","name":"mg1","properties":{"displayName":"MG 1"}}`, mg)
	e.put(`{"id":"%s","displayName":"A","managementGroupId":"mg1"}`, sub)
	e.put(`{"id":"%s","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`, rg)
	sa1 := e.put("%s", storage("sa1", false)).ID
	// The benchmark is assigned at the subscription, below the group: Azure
	// requires the exemption at or under the assignment's scope unless
	// assignmentScopeValidation is DoNotValidate.
	id := mg + exemptionsPath + "mg-ex"
	_, err := e.putExemption(id, exemptionBody("Waiver", `"`+secureTransfer+`"`, "", ""), "")
	wantCode(t, err, posture.EINVALID, "PolicyExemptionScopeNotUnderAssignment")
	e.mustPutExemption(id, exemptionBody("Waiver", `"`+secureTransfer+`"`, "", `,"assignmentScopeValidation":"DoNotValidate"`))
	if got := e.effective(sa1, secureTransfer); got != posture.StateExempt {
		t.Errorf("resource under the group: %s", got)
	}
	page, err := e.svc.ListExemptions(context.Background(), posture.ExemptionFilter{Scope: rg})
	if err != nil || len(page.Resources) != 1 {
		t.Errorf("an rg lists its ancestors' exemptions: %v %d", err, len(page.Resources))
	}
}

func wantCode(t *testing.T, err error, kind posture.Kind, code string) {
	t.Helper()
	var pe *posture.Error
	if err == nil || !errors.As(err, &pe) || pe.Kind != kind || pe.Code != code {
		t.Errorf("got %v, want %s %s", err, kind, code)
	}
}

// TestExemptionValidation: each refusal has Azure's (or posture's) code
// and writes nothing.
func TestExemptionValidation(t *testing.T) {
	e := newEnv(t, true)
	sa1, _ := e.base()
	e.svc.Rules = exemption.DefaultRules()
	e.svc.Severity = func(string, []string) string { return "High" }
	cases := []struct {
		name, id string
		body     []byte
		kind     posture.Kind
		code     string
	}{
		{"unknown assignment", sa1 + exemptionsPath + "x", []byte(`{"properties":{"policyAssignmentId":"` + sub + `/providers/Microsoft.Authorization/policyAssignments/nope","exemptionCategory":"Mitigated"}}`), posture.ENOTFOUND, "PolicyAssignmentNotFound"},
		{"not an assignment id", sa1 + exemptionsPath + "x", []byte(`{"properties":{"policyAssignmentId":"` + sub + `","exemptionCategory":"Mitigated"}}`), posture.EINVALID, "InvalidPolicyAssignmentId"},
		{"reference not a member", sa1 + exemptionsPath + "x", exemptionBody("Mitigated", `"notAMember"`, "", ""), posture.EINVALID, "InvalidPolicyDefinitionReference"},
		{"missing scope", sub + "/resourceGroups/nope" + exemptionsPath + "x", exemptionBody("Mitigated", "", "", ""), posture.ENOTFOUND, "ResourceGroupNotFound"},
		{"tenant scope", exemptionsPath + "x", exemptionBody("Mitigated", "", "", ""), posture.ENOTFOUND, "MissingSubscription"},
		{"open-ended waiver", sa1 + exemptionsPath + "x", exemptionBody("Waiver", `"`+secureTransfer+`"`, "", ""), posture.EINVALID, "ExemptionPolicyViolation"},
		{"waiver too long for High", sa1 + exemptionsPath + "x", exemptionBody("Waiver", `"`+secureTransfer+`"`, "2027-03-01T12:00:00Z", ""), posture.EINVALID, "ExemptionPolicyViolation"},
		{"bad category", sa1 + exemptionsPath + "x", exemptionBody("Ignored", "", "", ""), posture.EINVALID, "InvalidExemptionCategory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.putExemption(tc.id, tc.body, "")
			var pe *posture.Error
			if !errors.As(err, &pe) || pe.Kind != tc.kind || pe.Code != tc.code {
				t.Fatalf("got %v, want %s %s", err, tc.kind, tc.code)
			}
		})
	}
	if page, _ := e.svc.ListExemptions(context.Background(), posture.ExemptionFilter{Scope: sub}); len(page.Resources) != 0 {
		t.Errorf("refused writes stored %d exemptions", len(page.Resources))
	}
	if got := e.effective(sa1, secureTransfer); got != posture.StateNonCompliant {
		t.Errorf("refused writes changed a state: %s", got)
	}
	// 90 days for a High Waiver is allowed, to the second.
	if _, err := e.putExemption(sa1+exemptionsPath+"ok", exemptionBody("Waiver", `"`+secureTransfer+`"`, e.clock.Now().Add(90*24*time.Hour).Format(time.RFC3339), ""), ""); err != nil {
		t.Errorf("90 days: %v", err)
	}
}

// TestExemptionIfMatch: a stale ETag is refused with 412 semantics;
// concurrent PUTs with the same ETag: exactly one wins.
func TestExemptionIfMatch(t *testing.T) {
	e := newEnv(t, true)
	sa1, _ := e.base()
	id := sa1 + exemptionsPath + "x"
	first := e.mustPutExemption(id, exemptionBody("Mitigated", "", "", ""))
	etag := first.Resource.ETag
	_, err := e.putExemption(id, exemptionBody("Waiver", "", "", ""), `"stale"`)
	wantCode(t, err, posture.EPRECONDITION, "PreconditionFailed")
	_, err = e.putExemption(sa1+exemptionsPath+"new", exemptionBody("Waiver", "", "", ""), etag)
	wantCode(t, err, posture.EPRECONDITION, "PreconditionFailed")

	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, losses := 0, 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.putExemption(id, exemptionBody("Mitigated", "", "", fmt.Sprintf(`,"description":"writer %d"`, i)), etag)
			mu.Lock()
			defer mu.Unlock()
			var pe *posture.Error
			switch {
			case err == nil:
				wins++
			case errors.As(err, &pe) && pe.Kind == posture.EPRECONDITION:
				losses++
			default:
				t.Errorf("writer %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || losses != 7 {
		t.Errorf("%d writers won and %d lost, want 1 and 7", wins, losses)
	}
	evs, _ := e.svc.ExemptionHistory(context.Background(), id)
	if len(evs) != 2 {
		t.Errorf("history has %d events, want created + one update", len(evs))
	}
}

// TestExemptionPatch: PATCH changes resource selectors; a selector
// excluding the resource's type lifts the exemption from it.
func TestExemptionPatch(t *testing.T) {
	e := newEnv(t, true)
	sa1, _ := e.base()
	ctx := context.Background()
	id := rg + exemptionsPath + "x"
	e.mustPutExemption(id, exemptionBody("Mitigated", `"`+secureTransfer+`"`, "", ""))
	res, err := e.svc.PatchExemption(ctx, posture.ExemptionWrite{ID: id, APIVersion: version,
		Body: []byte(`{"properties":{"resourceSelectors":[{"name":"not storage","selectors":[{"kind":"resourceType","notIn":["Microsoft.Storage/storageAccounts"]}]}]}}`)})
	if err != nil || res.Created {
		t.Fatalf("patch: %+v %v", res, err)
	}
	if got := e.effective(sa1, secureTransfer); got != posture.StateNonCompliant {
		t.Errorf("after the selector excludes storage: %s", got)
	}
	x, _, err := exemption.FromDocument(res.Resource.Body)
	if err != nil || x.Category != exemption.Mitigated || len(x.PolicyDefinitionReferenceIDs) != 1 {
		t.Errorf("patch kept the other fields: %+v %v", x, err)
	}
	_, err = e.svc.PatchExemption(ctx, posture.ExemptionWrite{ID: rg + exemptionsPath + "missing", APIVersion: version, Body: []byte(`{"properties":{}}`)})
	wantCode(t, err, posture.ENOTFOUND, "PolicyExemptionNotFound")
}

// TestExemptionList: Azure's $filter values.
func TestExemptionList(t *testing.T) {
	e := newEnv(t, true)
	sa1, _ := e.base()
	ctx := context.Background()
	e.mustPutExemption(sub+exemptionsPath+"at-sub", exemptionBody("Mitigated", "", "", ""))
	e.mustPutExemption(rg+exemptionsPath+"at-rg", exemptionBody("Mitigated", "", "2026-11-25T12:00:00Z", ""))
	e.mustPutExemption(sa1+exemptionsPath+"at-sa1", exemptionBody("Mitigated", "", "2026-11-24T11:00:00Z", ""))
	names := func(scope, filter string) string {
		t.Helper()
		page, err := e.svc.ListExemptions(ctx, posture.ExemptionFilter{Scope: scope, Filter: filter})
		if err != nil {
			t.Fatalf("%s %q: %v", scope, filter, err)
		}
		var out []string
		for _, r := range page.Resources {
			out = append(out, r.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct{ scope, filter, want string }{
		{sub, "", "at-sub,at-rg,at-sa1"},
		{rg, "atScope()", "at-sub,at-rg"},
		{rg, "atExactScope()", "at-rg"},
		{sub, "excludeExpired()", "at-sub,at-rg"},
		{sa1, "", "at-sub,at-rg,at-sa1"},
		{sub, "policyAssignmentId eq '" + sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn'", "at-sub,at-rg,at-sa1"},
		{sub, "policyAssignmentId eq '" + sub + "/providers/Microsoft.Authorization/policyAssignments/other'", ""},
	} {
		got := strings.Split(names(tc.scope, tc.filter), ",")
		want := strings.Split(tc.want, ",")
		if !sameSet(got, want) {
			t.Errorf("%s %q: %v, want %v", tc.scope, tc.filter, got, want)
		}
	}
	_, err := e.svc.ListExemptions(ctx, posture.ExemptionFilter{Scope: sub, Filter: "policyDefinitionId eq 'x'"})
	if err == nil {
		t.Error("an unsupported filter must be refused")
	}
	// Pages.
	page, err := e.svc.ListExemptions(ctx, posture.ExemptionFilter{Scope: sub, Limit: 2})
	if err != nil || len(page.Resources) != 2 || page.Next == "" {
		t.Fatalf("page 1: %d %q %v", len(page.Resources), page.Next, err)
	}
	page2, err := e.svc.ListExemptions(ctx, posture.ExemptionFilter{Scope: sub, Limit: 2, After: page.Next})
	if err != nil || len(page2.Resources) != 1 || page2.Next != "" {
		t.Errorf("page 2: %d %q %v", len(page2.Resources), page2.Next, err)
	}
}

func sameSet(a, b []string) bool {
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestExemptionExpiry: at its expiresOn second an exemption stops being
// honoured on reads without any sweep; ExpireDue then records it once,
// and a restart does not record it again.
func TestExemptionExpiry(t *testing.T) {
	e := newEnv(t, true)
	sa1, _ := e.base()
	ctx := context.Background()
	id := sa1 + exemptionsPath + "x"
	expires := e.clock.Now().Add(time.Hour)
	e.mustPutExemption(id, exemptionBody("Waiver", `"`+secureTransfer+`"`, expires.Format(time.RFC3339), ""))
	e.clock.Advance(time.Hour - time.Second)
	if got := e.effective(sa1, secureTransfer); got != posture.StateExempt {
		t.Errorf("a second before expiry: %s", got)
	}
	e.clock.Advance(time.Second)
	if got := e.effective(sa1, secureTransfer); got != posture.StateNonCompliant {
		t.Errorf("at the expiry second: %s, want NonCompliant", got)
	}
	if err := e.svc.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	evs, _ := e.svc.ExemptionHistory(ctx, id)
	if len(evs) != 2 || evs[1].Kind != posture.EventExpired || !evs[1].At.Equal(expires) || evs[1].Actor != "posture" {
		t.Fatalf("history: %+v", evs)
	}
	// Kept and listed, flagged expired, not in force.
	r, err := e.svc.GetExemption(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct{ PostureStatus string }
	}
	if err := json.Unmarshal(exemption.WithStatus(r.Body, e.clock.Now()), &doc); err != nil || doc.Properties.PostureStatus != "Expired" {
		t.Errorf("status: %+v %v", doc, err)
	}
	e.open(true)
	if err := e.svc.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	if evs, _ := e.svc.ExemptionHistory(ctx, id); len(evs) != 2 {
		t.Errorf("a restart recorded the expiry again: %d events", len(evs))
	}
	// An exemption written already expired is accepted with a warning and
	// never in force.
	res := e.mustPutExemption(sa1+exemptionsPath+"past", exemptionBody("Waiver", `"`+secureTransfer+`"`, "2020-01-01T00:00:00Z", ""))
	if len(res.Warnings) != 1 || e.effective(sa1, secureTransfer) != posture.StateNonCompliant {
		t.Errorf("past expiresOn: warnings %v, state %s", res.Warnings, e.effective(sa1, secureTransfer))
	}
}

// TestExemptionPreview: what an exemption would cover, without writing.
func TestExemptionPreview(t *testing.T) {
	e := newEnv(t, true)
	sa1, sa2 := e.base()
	p, err := e.svc.PreviewExemption(context.Background(), posture.ExemptionWrite{ID: rg + exemptionsPath + "p", APIVersion: version,
		Body: exemptionBody("Waiver", `"`+secureTransfer+`"`, "", "")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range p.Covered {
		got[c.ResourceID] = c.State
	}
	if len(got) != 2 || got[strings.ToLower(sa1)] != posture.StateNonCompliant || got[strings.ToLower(sa2)] != posture.StateNonCompliant {
		t.Errorf("covered: %+v", p.Covered)
	}
	if len(p.Future) == 0 || !strings.Contains(p.Future[0], secureTransfer) {
		t.Errorf("future: %v", p.Future)
	}
	if !containsText(p.Warnings, "never ends") {
		t.Errorf("an open-ended exemption must be warned about: %v", p.Warnings)
	}
	if got := e.effective(sa1, secureTransfer); got != posture.StateNonCompliant {
		t.Errorf("a preview wrote something: %s", got)
	}
	if _, err := e.svc.GetExemption(context.Background(), rg+exemptionsPath+"p"); !posture.IsNotFound(err) {
		t.Errorf("a preview stored the exemption: %v", err)
	}
}

func containsText(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// feedRecorder keeps the changes published to it.
type feedRecorder struct {
	mu      sync.Mutex
	changes []*posture.Change
}

func (f *feedRecorder) Publish(c *posture.Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, c)
}

// TestExpiryJob: the job records an expiry at its second, in a bubble of
// fake time: nothing sleeps for real.
func TestExpiryJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := &env{t: t, dir: t.TempDir(), clock: &clock{now: time.Now()}}
		e.open(true)
		e.svc.Now, e.estate.Now = time.Now, time.Now
		feed := &feedRecorder{}
		e.svc.Feed = feed
		sa1, _ := e.base()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go e.svc.RunExpiry(ctx)

		id := sa1 + exemptionsPath + "x"
		expires := time.Now().Add(90 * time.Second).Truncate(time.Second)
		e.mustPutExemption(id, exemptionBody("Waiver", `"`+secureTransfer+`"`, expires.UTC().Format(time.RFC3339), ""))
		published := len(feed.changes)

		time.Sleep(time.Until(expires) - time.Millisecond)
		synctest.Wait()
		if evs, _ := e.svc.ExemptionHistory(ctx, id); len(evs) != 1 {
			t.Fatalf("before the expiry second the job recorded %d events", len(evs)-1)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		evs, _ := e.svc.ExemptionHistory(ctx, id)
		if len(evs) != 2 || evs[1].Kind != posture.EventExpired || !evs[1].At.Equal(expires) {
			t.Fatalf("at the expiry second: %+v", evs)
		}
		feed.mu.Lock()
		defer feed.mu.Unlock()
		if len(feed.changes) != published+1 || len(feed.changes[published].States) != 1 || len(feed.changes[published].Derived) != 1 {
			t.Errorf("the expiry must re-publish the covered row and the exemption: %d changes", len(feed.changes)-published)
		}
		cancel()
	})
}

// Review findings, each reproduced first.
func TestExemptionEdgeCases(t *testing.T) {
	t.Run("assignment id not canonical", func(t *testing.T) {
		e := newEnv(t, true)
		sa1, _ := e.base()
		body := []byte(`{"properties":{"policyAssignmentId":"` + sub + `/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn/","exemptionCategory":"Mitigated"}}`)
		p, err := e.svc.PreviewExemption(context.Background(), posture.ExemptionWrite{ID: sa1 + exemptionsPath + "x", Body: body, APIVersion: version})
		if err != nil || len(p.Covered) == 0 {
			t.Fatalf("preview: %v %+v", err, p)
		}
		if res := e.mustPutExemption(sa1+exemptionsPath+"x", body); res.Covered == 0 || e.effective(sa1, secureTransfer) != posture.StateExempt {
			t.Errorf("a trailing slash must not hide the assignment: %+v %s", res, e.effective(sa1, secureTransfer))
		}
	})
	t.Run("subscription moves out of the exempted group", func(t *testing.T) {
		e := newEnv(t, true)
		const mg1, mg2 = "/providers/Microsoft.Management/managementGroups/mg1", "/providers/Microsoft.Management/managementGroups/mg2"
		e.put(`{"id":"%s","type":"Microsoft.Management/managementGroups","name":"mg1","properties":{"displayName":"MG 1"}}`, mg1)
		e.put(`{"id":"%s","type":"Microsoft.Management/managementGroups","name":"mg2","properties":{"displayName":"MG 2"}}`, mg2)
		e.put(`{"id":"%s","displayName":"A","managementGroupId":"mg1"}`, sub)
		e.put(`{"id":"%s","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`, rg)
		sa1 := e.put("%s", storage("sa1", false)).ID
		e.mustPutExemption(mg1+exemptionsPath+"x", exemptionBody("Mitigated", `"`+secureTransfer+`"`, "", `,"assignmentScopeValidation":"DoNotValidate"`))
		if got := e.effective(sa1, secureTransfer); got != posture.StateExempt {
			t.Fatalf("under mg1: %s", got)
		}
		e.put(`{"id":"%s","displayName":"A","managementGroupId":"mg2"}`, sub)
		if got := e.effective(sa1, secureTransfer); got != posture.StateNonCompliant {
			t.Errorf("moved to mg2: %s, want the exemption at mg1 lifted", got)
		}
		e.put(`{"id":"%s","displayName":"A","managementGroupId":"mg1"}`, sub)
		if got := e.effective(sa1, secureTransfer); got != posture.StateExempt {
			t.Errorf("moved back: %s", got)
		}
	})
	t.Run("written expired, restarted", func(t *testing.T) {
		e := newEnv(t, true)
		sa1, _ := e.base()
		id := sa1 + exemptionsPath + "old"
		if res := e.mustPutExemption(id, exemptionBody("Waiver", "", "2026-11-24T11:00:00Z", "")); res.Covered != 0 {
			t.Errorf("an exemption born expired covers nothing: %+v", res)
		}
		e.open(true)
		if err := e.svc.ExpireDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		if evs, _ := e.svc.ExemptionHistory(context.Background(), id); len(evs) != 1 {
			t.Errorf("history %+v: an exemption never in force has no expiry to record", evs)
		}
	})
}
