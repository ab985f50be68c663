package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemptplan"
)

// The demo's subscriptions and the benchmark's storage public access
// recommendation.
const (
	devSub       = "/subscriptions/a3d3e937-10ce-48c9-a6e7-fe909f7b1393"
	prodSub      = "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	storageKey   = "51fd8bb1-0db4-bbf1-7e2b-cfcba7eb66a6"
	storageRef   = "StorageDisallowPublicAccess"
	benchmarkSet = "/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"
)

func builtinAssignment(sub string) string {
	return sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
}

func exemptionID(scope, name string) string {
	return scope + "/providers/Microsoft.Authorization/policyExemptions/" + name
}

// cli runs a posture command against s and returns its exit code and its
// output.
func (s *server) cli(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	out, errOut := &safeBuffer{}, &safeBuffer{}
	args = append(args, "--server", s.url, "--token", s.token)
	code = Main(context.Background(), args, &IO{In: strings.NewReader(""), Out: out, Err: errOut})
	return code, out.String(), errOut.String()
}

// planJSON runs plan -o json and decodes it.
func (s *server) planJSON(t *testing.T, args ...string) (int, codePlanOutput, string) {
	t.Helper()
	code, out, errOut := s.cli(t, append([]string{"exemptions", "plan", "-o", "json"}, args...)...)
	var p codePlanOutput
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan %v: exit %d, %v\n%s\n%s", args, code, err, out, errOut)
	}
	return code, p, errOut
}

// actionLines are a plan's actions as "Kind id | reason; reason".
func actionLines(p codePlanOutput) []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, string(a.Kind)+" "+a.ID+" | "+strings.Join(a.Reasons, "; "))
	}
	return out
}

// exemptionDoc reads an exemption through the API.
type exemptionDoc struct {
	Properties struct {
		PolicyAssignmentID           string         `json:"policyAssignmentId"`
		PolicyDefinitionReferenceIDs []string       `json:"policyDefinitionReferenceIds"`
		ExemptionCategory            string         `json:"exemptionCategory"`
		ExpiresOn                    string         `json:"expiresOn"`
		Metadata                     map[string]any `json:"metadata"`
		Evidence                     map[string]any `json:"evidence"`
	} `json:"properties"`
}

func (s *server) exemption(t *testing.T, id string) (exemptionDoc, int) {
	t.Helper()
	code, _, b := s.raw(t, http.MethodGet, id+"?api-version=2022-07-01-preview", "")
	var d exemptionDoc
	if code == http.StatusOK {
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
	}
	return d, code
}

// exemptionCount counts the exemptions the server holds.
func (s *server) exemptionCount(t *testing.T) int {
	return len(s.rbacGraphRows(t, s.token, "policyresources | where type == 'microsoft.authorization/policyexemptions' | project id"))
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// desiredFile is a desired state: a recommendation on the dev
// subscription, and (when rg is set) an assignment's reference on a
// resource group of production.
func desiredFile(expires, rg string) string {
	s := `exemptions:
  - name: storage-public-dev
    category: Waiver
    scope: ` + devSub + `
    recommendation: ` + storageKey + `
    expiresOn: ` + expires + `
    owner: alice@contoso.com
    ticket: CHG-1
`
	if rg != "" {
		s += `  - name: payments-mitigated
    category: Mitigated
    scope: ` + rg + `
    assignment: ` + builtinAssignment(prodSub) + `
    policyDefinitionReferenceIds: [` + storageRef + `]
    description: Private endpoints only; see the network design.
`
	}
	return s
}

// TestExemptionsCodePlanApply drives plan, apply, re-plan, ownership
// (owned and full), adopt, and the problems that stop apply, against a
// real server.
func TestExemptionsCodePlanApply(t *testing.T) {
	s := startServer(t, "--demo")
	dir := t.TempDir()
	// A production resource group with a storage account the
	// recommendation assesses.
	rows := s.rbacGraphRows(t, s.token, "securityresources | where type == 'microsoft.security/assessments' and name == '"+storageKey+"' and subscriptionId == '"+
		strings.TrimPrefix(prodSub, "/subscriptions/")+"' | project rg = resourceGroup | order by rg asc | take 1")
	if len(rows) != 1 {
		t.Fatal("no storage account in production")
	}
	rg := prodSub + "/resourceGroups/" + rows[0]["rg"].(string)
	day := func(d int) string { return time.Now().UTC().AddDate(0, 0, d).Format(time.DateOnly) }
	file := writeFile(t, dir, "exemptions.yaml", desiredFile(day(60), rg))
	owner := []string{"--owner-id", "team-a"}
	devID, rgID := exemptionID(devSub, "storage-public-dev"), exemptionID(rg, "payments-mitigated")

	// Plan: two creates, nothing else; the score impact of the dev subscription.
	code, p, errOut := s.planJSON(t, append([]string{file}, owner...)...)
	if code != 0 || p.Summary["create"] != 2 || len(p.Actions) != 2 || len(p.Problems) != 0 {
		t.Fatalf("first plan: exit %d %v %v %s", code, p.Summary, p.Problems, errOut)
	}
	if got := actionLines(p); !strings.HasPrefix(got[0], "Create "+devID+" | new in "+file+":2:5") && !strings.HasPrefix(got[1], "Create "+devID) {
		t.Errorf("creates: %q", got)
	}
	if p.Score == nil || !slices.ContainsFunc(p.Score.Scores, func(sc posture.ScorePreview) bool {
		return strings.EqualFold("/subscriptions/"+sc.SubscriptionID, devSub)
	}) {
		t.Errorf("no score impact for the dev subscription: %+v", p.Score)
	}

	// Apply: both exist, owned, with the assignment and references the
	// files chose.
	if code, out, errOut := s.cli(t, append([]string{"exemptions", "apply", file, "--yes"}, owner...)...); code != 0 || !strings.Contains(out, "Applied: 2 created, 0 updated, 0 re-bound, 0 deleted; 0 failed.") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range []struct{ id, assignment, category string }{
		{devID, builtinAssignment(devSub), "Waiver"},
		{rgID, builtinAssignment(prodSub), "Mitigated"},
	} {
		d, status := s.exemption(t, c.id)
		m := d.Properties.Metadata
		if status != 200 || !strings.EqualFold(d.Properties.PolicyAssignmentID, c.assignment) || !slices.Equal(d.Properties.PolicyDefinitionReferenceIDs, []string{storageRef}) ||
			d.Properties.ExemptionCategory != c.category || m["managedBy"] != "posture-code" || m["ownerId"] != "team-a" || !strings.EqualFold(fmt.Sprint(m["assignmentDefinitionId"]), benchmarkSet) {
			t.Errorf("%s: %d %+v", c.id, status, d.Properties)
		}
	}
	if d, _ := s.exemption(t, devID); d.Properties.Metadata["owner"] != "alice@contoso.com" || d.Properties.Metadata["ticketRef"] != "CHG-1" {
		t.Errorf("owner and ticket: %v", d.Properties.Metadata)
	}
	// The batch preview takes deletions: the states they would re-open.
	var prev struct {
		Reopened []struct {
			ResourceID  string `json:"resourceId"`
			ReferenceID string `json:"policyDefinitionReferenceId"`
		} `json:"reopened"`
	}
	previewPath := "/providers/Posture.Security/previewExemptions?api-version=2026-11-01"
	code, _, b := s.raw(t, http.MethodPost, previewPath, `{"deletions":["`+rgID+`","`+exemptionID(rg, "no-such")+`"]}`)
	if err := json.Unmarshal(b, &prev); code != 200 || err != nil || len(prev.Reopened) == 0 {
		t.Errorf("preview of a deletion: %d %v %s", code, err, b)
	}
	for _, r := range prev.Reopened {
		if r.ReferenceID != storageRef || !strings.HasPrefix(strings.ToLower(r.ResourceID), strings.ToLower(rg+"/")) {
			t.Errorf("re-opened: %+v", r)
		}
	}
	many := strings.Repeat(`"`+rgID+`",`, 500) + `"` + rgID + `"`
	if code, _, b := s.raw(t, http.MethodPost, previewPath, `{"deletions":[`+many+`]}`); code != 400 || !strings.Contains(string(b), "TooManyExemptions") {
		t.Errorf("501 deletions: %d %s", code, b)
	}

	// Planned again: nothing to do, exit 0 even with --detailed-exitcode.
	if code, out, _ := s.cli(t, append([]string{"exemptions", "plan", file, "--detailed-exitcode", "--no-score"}, owner...)...); code != 0 || !strings.Contains(out, "0 to create, 0 to update, 0 to re-bind, 0 to delete, 2 unchanged") {
		t.Errorf("plan after apply: exit %d\n%s", code, out)
	}

	// The file changes: a later expiry, the resource group's entry gone.
	writeFile(t, dir, "exemptions.yaml", desiredFile(day(90), ""))
	code, p, _ = s.planJSON(t, append([]string{file, "--detailed-exitcode"}, owner...)...)
	want := []string{
		"Update " + devID + " | expiresOn: " + day(60) + " → " + day(90),
		"Delete " + rgID + " | no longer in the files (owner id team-a)",
	}
	if code != exitPlanChanges || !slices.Equal(actionLines(p), want) {
		t.Errorf("plan of the changed file: exit %d\n%q\nwant\n%q", code, actionLines(p), want)
	}
	if p.Score == nil || p.Score.Reopened != len(prev.Reopened) || p.Score.ReopenedResources == 0 {
		t.Errorf("score impact of the deletion: %+v", p.Score)
	}
	// Another owner id owns nothing here: the same file would clash.
	if code, _, errOut := s.cli(t, "exemptions", "plan", file, "--owner-id", "team-b"); code != 1 || !strings.Contains(errOut, file+":2:11: name: the exemption "+devID+` is managed by owner id "team-a"`) {
		t.Errorf("another owner id: exit %d\n%s", code, errOut)
	}

	// An exemption made through the API: reported under owned, deleted
	// under full.
	portal := exemptionID(devSub, "portal-made")
	if code, _, b := s.raw(t, http.MethodPut, portal+"?api-version=2022-07-01-preview", `{"properties":{"policyAssignmentId":"`+builtinAssignment(devSub)+
		`","policyDefinitionReferenceIds":["`+storageRef+`"],"exemptionCategory":"Mitigated","description":"made in the portal","metadata":{"createdFrom":"posture portal","owner":"bob@contoso.com"},`+
		`"evidence":{"query":"resources | take 1"}}}`); code != 201 {
		t.Fatalf("PUT: %d %s", code, b)
	}
	_, p, _ = s.planJSON(t, append([]string{file, "--no-score"}, owner...)...)
	if len(p.Unmanaged) != 1 || p.Unmanaged[0].ID != portal || p.Summary["delete"] != 1 {
		t.Errorf("owned: unmanaged %v, summary %v", p.Unmanaged, p.Summary)
	}
	_, p, _ = s.planJSON(t, append([]string{file, "--no-score", "--desired-state", "full"}, owner...)...)
	if !slices.Contains(actionLines(p), "Delete "+portal+" | made outside the files, at a scope they cover (desired state full)") || len(p.Unmanaged) != 0 {
		t.Errorf("full: %q", actionLines(p))
	}

	// Apply the changed file (under owned: the portal's stays).
	if code, out, errOut := s.cli(t, append([]string{"exemptions", "apply", file, "--yes"}, owner...)...); code != 0 || !strings.Contains(out, "Applied: 0 created, 1 updated, 0 re-bound, 1 deleted; 0 failed.") {
		t.Fatalf("apply of the changed file: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, status := s.exemption(t, rgID); status != http.StatusNotFound {
		t.Errorf("the removed entry's exemption: %d", status)
	}
	if d, _ := s.exemption(t, devID); !strings.HasPrefix(d.Properties.ExpiresOn, day(90)) {
		t.Errorf("expiry after the update: %s", d.Properties.ExpiresOn)
	}

	// Adopt: the portal's exemption, with its history, into a file; a plan
	// of both files only adds ownership.
	adopted := filepath.Join(dir, "adopted.yaml")
	if code, _, errOut := s.cli(t, "exemptions", "adopt", "--scope", devSub, "--out", adopted); code != 0 || !strings.Contains(errOut, "adopted 1 exemptions") {
		t.Fatalf("adopt: exit %d %s", code, errOut)
	}
	text, _ := os.ReadFile(adopted)
	for _, w := range []string{"name: portal-made", "scope: " + devSub, "owner: bob@contoso.com", "createdFrom: posture portal", "history:", "kind: Created"} {
		if !strings.Contains(string(text), w) {
			t.Errorf("adopted file lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(string(text), "storage-public-dev") {
		t.Errorf("adopt took an exemption the files own:\n%s", text)
	}
	_, p, _ = s.planJSON(t, append([]string{file, adopted, "--no-score"}, owner...)...)
	want = []string{"Update " + portal + " | adopted: made elsewhere, now owned by the files (owner id team-a); " +
		`metadata.assignmentDefinitionId: (none) → "` + benchmarkSet + `"; metadata.managedBy: (none) → "posture-code"; metadata.ownerId: (none) → "team-a"`}
	if !slices.Equal(actionLines(p), want) || !p.Actions[0].Adopt {
		t.Errorf("plan with the adopted file:\n%q\nwant\n%q", actionLines(p), want)
	}
	if code, out, errOut := s.cli(t, append([]string{"exemptions", "apply", file, adopted, "--yes", "--no-score"}, owner...)...); code != 0 || !strings.Contains(out, "1 updated") {
		t.Fatalf("apply of the adoption: exit %d\n%s\n%s", code, out, errOut)
	}
	// Evidence, which a file cannot hold, is kept.
	if d, _ := s.exemption(t, portal); d.Properties.Metadata["managedBy"] != "posture-code" || d.Properties.Metadata["createdFrom"] != "posture portal" ||
		d.Properties.Evidence["query"] != "resources | take 1" {
		t.Errorf("adopted exemption: %v %v", d.Properties.Metadata, d.Properties.Evidence)
	}
}

// TestExemptionsCodeProblems: a file with an unknown field, a duplicate
// name, an unknown recommendation and a past expiry is refused with file,
// line and field, and apply writes nothing.
func TestExemptionsCodeProblems(t *testing.T) {
	s := startServer(t, "--demo")
	dir := t.TempDir()
	file := writeFile(t, dir, "bad.yaml", `exemptions:
  - name: fine
    category: Waiver
    scope: `+devSub+`
    recommendation: `+storageKey+`
    expiresOn: 2099-01-01
  - name: typo
    category: Waiver
    scope: `+devSub+`
    recommendation: `+storageKey+`
    expiresOn: 2099-01-01
    ticekt: CHG-9
  - name: fine
    category: Waiver
    scope: `+devSub+`
    recommendation: `+storageKey+`
    expiresOn: 2099-01-01
  - name: unknown-recommendation
    category: Waiver
    scope: `+devSub+`
    recommendation: 00000000-0000-0000-0000-0000000000ff
    expiresOn: 2099-01-01
  - name: lapsed
    category: Waiver
    scope: `+devSub+`
    recommendation: `+storageKey+`
    expiresOn: 2020-01-01
`)
	before := s.exemptionCount(t)
	for _, cmd := range [][]string{{"exemptions", "plan", file}, {"exemptions", "apply", file, "--yes"}} {
		code, out, errOut := s.cli(t, cmd...)
		for _, want := range []string{
			file + ":12:5: exemptions[1].ticekt: ",
			file + ":13:11: exemptions[2].name: ",
			file + ":21:21: recommendation: no recommendation has the key",
			file + ":27:16: exemptions[4].expiresOn: ",
		} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%v: no %q in\n%s", cmd, want, errOut)
			}
		}
		if code != 1 || strings.Contains(out, "Applied") {
			t.Errorf("%v: exit %d\n%s", cmd, code, out)
		}
	}
	if after := s.exemptionCount(t); after != before {
		t.Errorf("apply of a file with problems wrote %d exemptions", after-before)
	}
}

// TestExemptionsCodeRebindArchive: an exemption whose assignment is
// deleted and recreated under another id is re-bound; expired and
// orphaned exemptions are archived in batches.
func TestExemptionsCodeRebindArchive(t *testing.T) {
	s := startServer(t, "--demo")
	dir := t.TempDir()
	// The benchmark v2: v1 is assigned to every subscription already, and
	// a second assignment of it would make the replacement ambiguous.
	const v2 = "/providers/Microsoft.Authorization/policySetDefinitions/e3ec7e09-768c-4b64-882c-fcada3772047"
	assign := func(name string) string {
		id := devSub + "/providers/Microsoft.Authorization/policyAssignments/" + name
		if code, _, b := s.raw(t, http.MethodPut, id+"?api-version=2022-06-01", `{"properties":{"policyDefinitionId":"`+v2+`","displayName":"`+name+`"}}`); code != 201 {
			t.Fatalf("assignment %s: %d %s", name, code, b)
		}
		return id
	}
	old := assign("bench-old")
	file := writeFile(t, dir, "x.yaml", `exemptions:
  - name: pinned
    category: Mitigated
    scope: `+devSub+`
    assignment: `+old+`
    policyDefinitionReferenceIds: [StoragesPublicAccess]
`)
	if code, out, errOut := s.cli(t, "exemptions", "apply", file, "--yes", "--no-score"); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	if code, _, b := s.raw(t, http.MethodDelete, old+"?api-version=2022-06-01", ""); code != 200 {
		t.Fatalf("delete assignment: %d %s", code, b)
	}
	neu := assign("bench-new")
	id := exemptionID(devSub, "pinned")
	code, p, errOut := s.planJSON(t, file, "--no-score")
	want := []string{"Rebind " + id + " | policyAssignmentId: " + old + " → " + neu}
	if code != 0 || !slices.Equal(actionLines(p), want) || len(p.Warnings) != 1 || p.Warnings[0].Code != "AssignmentRecreated" || p.Warnings[0].Line != 5 {
		t.Errorf("plan: exit %d %q %v %s", code, actionLines(p), p.Warnings, errOut)
	}
	if code, out, _ := s.cli(t, "exemptions", "apply", file, "--yes", "--no-score"); code != 0 || !strings.Contains(out, "1 re-bound") {
		t.Errorf("apply: exit %d\n%s", code, out)
	}
	if d, _ := s.exemption(t, id); !strings.EqualFold(d.Properties.PolicyAssignmentID, neu) {
		t.Errorf("re-bound to %s", d.Properties.PolicyAssignmentID)
	}

	// Two expired exemptions and an orphan, made through the API.
	put := func(name, assignment, expires string) string {
		id := exemptionID(devSub, name)
		body := `{"properties":{"policyAssignmentId":"` + assignment + `","exemptionCategory":"Mitigated"` + expires + `}}`
		if code, _, b := s.raw(t, http.MethodPut, id+"?api-version=2022-07-01-preview", body); code != 201 {
			t.Fatalf("PUT %s: %d %s", name, code, b)
		}
		return id
	}
	lapsed1 := put("lapsed-1", builtinAssignment(devSub), `,"expiresOn":"2020-01-01T00:00:00Z"`)
	lapsed2 := put("lapsed-2", builtinAssignment(devSub), `,"expiresOn":"2020-01-02T00:00:00Z"`)
	gone := assign("bench-gone")
	orphan := put("orphan", gone, "")
	if code, _, b := s.raw(t, http.MethodDelete, gone+"?api-version=2022-06-01", ""); code != 200 {
		t.Fatalf("delete assignment: %d %s", code, b)
	}
	code, out, _ := s.cli(t, "exemptions", "archive", "--scope", devSub, "--expired", "--orphaned", "--dry-run")
	if code != 0 || !strings.Contains(out, "3 exemptions to archive") || !strings.Contains(out, orphan+": its assignment "+gone+" no longer exists") {
		t.Errorf("dry run: exit %d\n%s", code, out)
	}
	if code, _, errOut := s.cli(t, "exemptions", "archive", "--scope", devSub); code != 2 {
		t.Errorf("archive of nothing named: exit %d %s", code, errOut)
	}
	code, out, errOut = s.cli(t, "exemptions", "archive", "--scope", devSub, "--expired", "--orphaned", "--batch", "2", "--yes")
	if code != 0 || !strings.Contains(out, "Archived 3 exemptions; 0 failed.") || !strings.Contains(errOut, "batch 2: 1 deleted, 0 failed (3 of 3 done)") {
		t.Errorf("archive: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, id := range []string{lapsed1, lapsed2, orphan} {
		if _, status := s.exemption(t, id); status != http.StatusNotFound {
			t.Errorf("%s after archive: %d", id, status)
		}
	}
	if _, status := s.exemption(t, id); status != http.StatusOK {
		t.Errorf("archive deleted the re-bound exemption: %d", status)
	}
}

// TestExemptionsCodeApplyRefusesConcurrentEdits: an exemption changed or
// created between plan and apply is not overwritten.
func TestExemptionsCodeApplyRefusesConcurrentEdits(t *testing.T) {
	s := startServer(t, "--demo")
	ctx := context.Background()
	file := writeFile(t, t.TempDir(), "x.yaml", desiredFile(time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly), ""))
	flags := codePlanFlags{ClientFlags: ClientFlags{Server: s.url, Token: s.token}, Files: []string{file}, DesiredState: "owned", OwnerID: "default", NoScore: true}
	p, err := flags.plan(ctx)
	if err != nil || p.result.Changes() != 1 {
		t.Fatalf("plan: %v %+v", err, p)
	}
	create := p.result.Actions[0]
	id := exemptionID(devSub, "storage-public-dev")
	put := func(description string) {
		body := `{"properties":{"policyAssignmentId":"` + builtinAssignment(devSub) + `","exemptionCategory":"Mitigated","description":"` + description + `"}}`
		if code, _, b := s.raw(t, http.MethodPut, id+"?api-version=2022-07-01-preview", body); code >= 300 {
			t.Fatalf("PUT: %d %s", code, b)
		}
	}
	put("someone was faster")
	if err := codeApplyOne(ctx, p.cl, create); err == nil || !strings.Contains(err.Error(), "created since the plan") {
		t.Errorf("create over a new exemption: %v", err)
	}
	// Adopted by a plan, then changed before the apply.
	p, err = flags.plan(ctx)
	if err != nil || len(p.result.Actions) != 1 || p.result.Actions[0].Kind != exemptplan.Update {
		t.Fatalf("plan: %v %+v", err, p.result.Actions)
	}
	put("changed again")
	if err := codeApplyOne(ctx, p.cl, p.result.Actions[0]); err != errCodeChanged {
		t.Errorf("update of a changed exemption: %v", err)
	}
	if d, _ := s.exemption(t, id); d.Properties.Metadata["managedBy"] != nil {
		t.Errorf("overwritten: %v", d.Properties.Metadata)
	}
}

// TestExemptionsCodeServerRefusals: a governance rule the server enforces
// (a Waiver needs an expiry) is a problem of the entry when the plan
// previews; without the preview, apply fails that one change, applies the
// other and says so.
func TestExemptionsCodeServerRefusals(t *testing.T) {
	s := startServer(t, "--demo")
	file := writeFile(t, t.TempDir(), "x.yaml", `exemptions:
  - name: open-ended-waiver
    category: Waiver
    scope: `+devSub+`
    recommendation: `+storageKey+`
  - name: mitigated
    category: Mitigated
    scope: `+devSub+`
    recommendation: `+storageKey+`
`)
	code, _, errOut := s.cli(t, "exemptions", "plan", file)
	if code != 1 || !strings.Contains(errOut, file+":2:5: expiresOn: the server refuses the exemption "+exemptionID(devSub, "open-ended-waiver")) ||
		!strings.Contains(errOut, "(ExemptionPolicyViolation)") {
		t.Errorf("plan: exit %d\n%s", code, errOut)
	}
	code, out, errOut := s.cli(t, "exemptions", "apply", file, "--yes", "--no-score")
	if code != 1 || !strings.Contains(out, "Applied: 1 created, 0 updated, 0 re-bound, 0 deleted; 1 failed.") ||
		!strings.Contains(out, "failed: Create "+exemptionID(devSub, "open-ended-waiver")+": ExemptionPolicyViolation") {
		t.Errorf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, status := s.exemption(t, exemptionID(devSub, "mitigated")); status != http.StatusOK {
		t.Errorf("the other change: %d", status)
	}
}
