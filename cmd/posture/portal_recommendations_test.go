package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pickRecommendation finds a recommendation that counts in the secure
// score (its control has points) with at least n unhealthy resources in
// one subscription of the demo estate.
func pickRecommendation(t *testing.T, s *server, n int) (key, sub string, resources []string) {
	t.Helper()
	var defs struct {
		Value []struct {
			Properties struct {
				MaxScore              int
				AssessmentDefinitions []struct{ ID string }
			}
		}
	}
	json.Unmarshal(s.get(t, "/providers/Microsoft.Security/secureScoreControlDefinitions?api-version=2020-01-01"), &defs)
	scored := map[string]bool{}
	for _, d := range defs.Value {
		for _, a := range d.Properties.AssessmentDefinitions {
			scored[strings.ToLower(a.ID[strings.LastIndexByte(a.ID, '/')+1:])] = d.Properties.MaxScore > 0
		}
	}
	rows := s.rbacGraphRows(t, s.token, fmt.Sprintf(`securityresources | where type == 'microsoft.security/assessments' and properties.status.code == 'Unhealthy'
		| summarize n = count(), ids = make_list(tostring(properties.resourceDetails.Id)) by name, subscriptionId | where n >= %d | order by n asc, name asc, subscriptionId asc`, n))
	for _, row := range rows {
		if !scored[row["name"].(string)] {
			continue
		}
		for _, id := range row["ids"].([]any) {
			resources = append(resources, id.(string))
		}
		return row["name"].(string), row["subscriptionId"].(string), resources
	}
	t.Fatalf("no scored recommendation with %d unhealthy resources in %d candidates", n, len(rows))
	return
}

// subscriptionScore is a subscription's secure score from the API: its
// points, as the portal prints them.
func subscriptionScore(t *testing.T, s *server, sub string) string {
	t.Helper()
	var doc struct {
		Properties struct{ Score struct{ Current float64 } } `json:"properties"`
	}
	if err := json.Unmarshal(s.get(t, "/subscriptions/"+sub+"/providers/Microsoft.Security/secureScores/ascScore?api-version=2020-01-01"), &doc); err != nil {
		t.Fatal(err)
	}
	if c := doc.Properties.Score.Current; c != float64(int64(c)) {
		return fmt.Sprintf("%.2f", c)
	}
	return fmt.Sprint(int64(doc.Properties.Score.Current))
}

func TestPortalRecommendationsAndExempt(t *testing.T) {
	s := startServer(t, "--demo")
	key, sub, all := pickRecommendation(t, s, 3)
	picked := all[:2]
	b := signIn(t, s, s.token)

	// The list: every recommendation of the estate, filters narrow it.
	list := b.page("/recommendations")
	if !strings.Contains(list, `data-key="`+key+`"`) {
		t.Fatalf("the list lacks %s", key)
	}
	high := b.page("/recommendations?severity=High")
	sevs := regexp.MustCompile(`class="badge sev-(\w+)"`).FindAllStringSubmatch(high, -1)
	if len(sevs) == 0 {
		t.Fatal("no High recommendation listed")
	}
	for _, m := range sevs {
		if m[1] != "high" {
			t.Fatalf("severity filter let %s through", m[1])
		}
	}
	if rows := strings.Count(b.page("/recommendations?exemptions=1"), "<tr data-key="); rows != 0 {
		t.Errorf("'contains exemptions' lists %d recommendations before any exemption", rows)
	}

	// The detail: unhealthy rows to select, the Exempt button for an Owner.
	detail := b.page("/recommendations/" + key + "?tab=unhealthy&subscription=" + sub)
	for _, r := range all {
		if !strings.Contains(detail, `data-resource="`+r+`"`) {
			t.Errorf("detail lacks unhealthy %s", r)
		}
	}
	if !strings.Contains(detail, `id="exempt-button"`) || !strings.Contains(detail, `id="request-button"`) {
		t.Error("an Owner is not offered Exempt")
	}

	form := url.Values{"key": {key}, "resource": picked, "target": {"resources"}, "name": {"dev boxes"}, "category": {"Waiver"},
		"expiresOn": {time.Now().AddDate(0, 0, 30).Format("2006-01-02")}, "description": {"accepted for the dev lab"}, "ticket": {"CHG-42"}}
	// Missing category: inline error, nothing saved.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Del("category")
	if code, _, page := b.post("/exempt", bad); code != http.StatusBadRequest || !strings.Contains(page, `id="category-error"`) {
		t.Errorf("missing category: %d", code)
	}
	// A waiver beyond the governance rules' limit: the API's message next
	// to the expiry field.
	bad = url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("expiresOn", time.Now().AddDate(3, 0, 0).Format("2006-01-02"))
	code, _, page := b.post("/exempt", bad)
	if code != http.StatusBadRequest || !strings.Contains(page, `id="expiresOn-error"`) || !strings.Contains(page, `aria-invalid="true"`) {
		t.Errorf("waiver over the limit: %d\n%s", code, between(page, `<form id="exempt-form"`, `</form>`))
	}

	// The live preview (htmx) and the no-JavaScript preview agree with
	// what saving then does.
	before := subscriptionScore(t, s, sub)
	code, _, frag := b.post("/exempt/preview", form)
	if code != http.StatusOK || !strings.Contains(frag, "<strong>2</strong> resources") || strings.Contains(frag, "<html") {
		t.Fatalf("preview fragment: %d\n%s", code, frag)
	}
	after := regexp.MustCompile(`<td>` + sub + `</td><td class="num">[\d.]+% \(([\d.]+)/\d+\)</td><td class="num">[\d.]+% \(([\d.]+)/\d+\)`).FindStringSubmatch(frag)
	if after == nil {
		t.Fatalf("the preview has no score row for %s:\n%s", sub, frag)
	}
	noJS := url.Values{}
	for k, v := range form {
		noJS[k] = v
	}
	noJS.Set("action", "preview")
	if code, _, page := b.post("/exempt", noJS); code != http.StatusOK || !strings.Contains(page, `id="score-impact"`) {
		t.Errorf("preview without JavaScript: %d", code)
	}
	if got := subscriptionScore(t, s, sub); got != before {
		t.Fatalf("a preview changed the score: %v → %v", before, got)
	}

	// Save: two exemptions, listed under Not applicable with their category.
	code, hdr, _ := b.post("/exempt", form)
	if code != http.StatusSeeOther || !strings.Contains(hdr.Get("Location"), "tab=notapplicable") {
		t.Fatalf("save: %d %q", code, hdr.Get("Location"))
	}
	na := b.page(hdr.Get("Location"))
	if !strings.Contains(na, `class="alert ok"`) {
		t.Error("no confirmation after saving")
	}
	for _, r := range picked {
		row := between(na, `data-resource="`+r+`"`, `</tr>`)
		if !strings.Contains(row, "Waiver") || !strings.Contains(row, "/exemptions/view?id=") {
			t.Errorf("exempted %s not shown as a Waiver under Not applicable: %q", r, row)
		}
		var ex struct {
			Properties struct {
				ExemptionCategory string
				Metadata          map[string]any
			}
		}
		json.Unmarshal(s.get(t, r+"/providers/Microsoft.Authorization/policyExemptions/dev-boxes?api-version=2022-07-01-preview"), &ex)
		if ex.Properties.ExemptionCategory != "Waiver" || ex.Properties.Metadata["ticketRef"] != "CHG-42" {
			t.Errorf("stored exemption at %s: %+v", r, ex.Properties)
		}
	}
	// The preview was exact: before and after as the API reports them.
	// (The score moves only when no other recommendation of the control
	// keeps the resources unhealthy: equality is what is asserted.)
	now := subscriptionScore(t, s, sub)
	t.Logf("score of %s: %s → %s points", sub, before, now)
	if after[1] != before || after[2] != now {
		t.Errorf("score %s → %s points; the preview said %s → %s", before, now, after[1], after[2])
	}
	// The same name again is refused, not overwritten.
	if code, _, page := b.post("/exempt", form); code != http.StatusConflict || !strings.Contains(page, `id="name-error"`) {
		t.Errorf("duplicate: %d", code)
	}

	// A Reader sees Request, not Exempt; the API refuses its Exempt post.
	reader := rbacNewCaller(t, s, "7eade700-0000-4000-8000-000000000001", "Rita Reader", "User")
	rbacAssign(t, s, "/subscriptions/"+sub, rbacRoleGUID(t, "Reader"), reader.id)
	rb := signIn(t, s, reader.token)
	rdetail := rb.page("/recommendations/" + key + "?tab=unhealthy")
	if strings.Contains(rdetail, `id="exempt-button"`) || !strings.Contains(rdetail, `id="request-button"`) {
		t.Error("a Reader is offered Exempt, or not Request")
	}
	form.Set("name", "sneaky")
	form["resource"] = all[2:3]
	if code, _, page := rb.post("/exempt", form); code != http.StatusForbidden || !strings.Contains(page, "AuthorizationFailed") {
		t.Errorf("Reader's exempt post: %d\n%s", code, between(page, "<main", "</main>"))
	}
	code, _, _ = s.raw(t, http.MethodGet, all[2]+"/providers/Microsoft.Authorization/policyExemptions/sneaky?api-version=2022-07-01-preview", "")
	if code != http.StatusNotFound {
		t.Errorf("the Reader's exemption exists: %d", code)
	}
	// The Reader files a request instead.
	rq := url.Values{"key": {key}, "resource": all[2:3], "category": {"Mitigated"}, "justification": {"WAF in front"},
		"expiresOn": {time.Now().AddDate(0, 1, 0).Format("2006-01-02")}}
	if code, _, page := rb.post("/request", url.Values{"key": {key}, "resource": all[2:3]}); code != http.StatusBadRequest || !strings.Contains(page, `id="justification-error"`) {
		t.Errorf("request without justification: %d", code)
	}
	code, hdr, _ = rb.post("/request", rq)
	if code != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/requests/view?") {
		t.Fatalf("request: %d %q", code, hdr.Get("Location"))
	}
	loc, _ := url.Parse(hdr.Get("Location"))
	var req struct {
		Properties struct{ Status, Justification string }
	}
	json.Unmarshal(s.get(t, loc.Query().Get("id")+"?api-version=2026-11-01"), &req)
	if req.Properties.Status != "Pending" || req.Properties.Justification != "WAF in front" {
		t.Errorf("filed request: %+v", req.Properties)
	}

	// A link with ?resource= (the assessment's azurePortalUri) lands on
	// that resource.
	var a struct {
		Properties struct {
			Links struct{ AzurePortalURI string }
		}
	}
	json.Unmarshal(s.get(t, all[2]+"/providers/Microsoft.Security/assessments/"+key+"?api-version=2020-01-01&$expand=links"), &a)
	u, err := url.Parse(a.Properties.Links.AzurePortalURI)
	if err != nil || u.Path != "/recommendations/"+key {
		t.Fatalf("azurePortalUri %q", a.Properties.Links.AzurePortalURI)
	}
	focus := between(b.page(u.RequestURI()), `id="focus"`, `</div>`)
	if !strings.Contains(focus, "Unhealthy") || !strings.Contains(focus, "/exempt?key=") {
		t.Errorf("portal link focus: %q", focus)
	}
}

func TestPortalTriggerWorkflow(t *testing.T) {
	app, appURL := startRecorder(t, nil)
	s := startServer(t, "--demo")
	key, sub, all := pickRecommendation(t, s, 1)
	rg := "/subscriptions/" + sub + "/resourceGroups/soc"
	for _, d := range []struct{ path, body string }{
		{rg + "?api-version=2022-09-01", `{"location":"westeurope"}`},
		// Its rule selects nothing: only the manual trigger sends.
		{rg + "/providers/Microsoft.Security/automations/request-exemption?api-version=2023-12-01-preview", `{"location":"westeurope","properties":{
			"description":"Request-ResourceExemption","isEnabled":true,"scopes":[{"scopePath":"/subscriptions/` + sub + `"}],
			"sources":[{"eventSource":"Assessments","ruleSets":[{"rules":[{"propertyJPath":"properties.status.code","propertyType":"String","expectedValue":"never","operator":"Equals"}]}]}],
			"actions":[{"actionType":"LogicApp","logicAppResourceId":"` + rg + `/providers/Microsoft.Logic/workflows/req","uri":"` + appURL + `/req?sig=s3cret"}]}}`},
	} {
		if code, _, body := s.raw(t, http.MethodPut, d.path, d.body); code >= 300 {
			t.Fatalf("PUT %s: %d %s", d.path, code, body)
		}
	}
	b := signIn(t, s, s.token)
	page := b.page("/trigger?key=" + key + "&resource=" + url.QueryEscape(all[0]))
	if !strings.Contains(page, "request-exemption") || !strings.Contains(page, `id="trigger-submit"`) {
		t.Fatalf("trigger page lacks the automation:\n%s", between(page, "<main", "</main>"))
	}
	if code, _, page := b.post("/trigger", url.Values{"key": {key}, "resource": all[:1]}); code != http.StatusBadRequest || !strings.Contains(page, "Choose at least one automation") {
		t.Errorf("no automation chosen: %d", code)
	}
	autoID := rg + "/providers/Microsoft.Security/automations/request-exemption"
	code, _, page := b.post("/trigger", url.Values{"key": {key}, "resource": all[:1], "automation": {autoID}})
	if code != http.StatusOK || !strings.Contains(page, "1 deliveries queued") {
		t.Fatalf("trigger: %d\n%s", code, between(page, "<main", "</main>"))
	}
	eventually(t, "the Logic App receives the assessment", func() bool { return len(app.all()) == 1 })
	got := app.all()[0]
	if !strings.Contains(string(got.body), `"`+key+`"`) || !strings.Contains(strings.ToLower(string(got.body)), strings.ToLower(all[0])) {
		t.Errorf("delivered body: %s", got.body)
	}
	// A Reader may not trigger: the API refuses.
	reader := rbacNewCaller(t, s, "7eade700-0000-4000-8000-000000000002", "Rita Reader", "User")
	rbacAssign(t, s, "/subscriptions/"+sub, rbacRoleGUID(t, "Reader"), reader.id)
	rb := signIn(t, s, reader.token)
	if code, _, page := rb.post("/trigger", url.Values{"key": {key}, "resource": all[:1], "automation": {autoID}}); code != http.StatusForbidden || !strings.Contains(page, "AuthorizationFailed") {
		t.Errorf("Reader trigger: %d", code)
	}
	if strings.Contains(s.err.String(), "s3cret") {
		t.Error("the Logic App's signature reached the logs")
	}
}

// between returns the text of s from the first from to the next to.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	j := strings.Index(s[i:], to)
	if j < 0 {
		return s[i:]
	}
	return s[i : i+j]
}
