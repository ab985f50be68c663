package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/posture/posture/authz"
	"github.com/posture/posture/demo"
)

// TestPortalBrowser drives the portal in a real headless Chromium: a
// Security Admin exempts two resources from a recommendation and sees the
// score move, a Reader requests an exemption the admin approves, and the
// query explorer finds the exempted resources. It saves a full-page PNG of
// each key page to $POSTURE_E2E_ARTIFACTS (default: a temporary directory,
// logged). Without a Chromium or Chrome binary it skips, unless
// POSTURE_E2E=1 (CI), when it fails.
func TestPortalBrowser(t *testing.T) {
	browserPath := findBrowser()
	if browserPath == "" {
		msg := "no chromium or chrome binary found (install Debian's chromium, or set POSTURE_E2E_BROWSER to one)"
		if os.Getenv("POSTURE_E2E") == "1" {
			t.Fatal(msg + "; POSTURE_E2E=1 requires the browser test")
		}
		t.Skip(msg + "; set POSTURE_E2E=1 to make this a failure")
	}
	artifacts := os.Getenv("POSTURE_E2E_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("browser %s; screenshots in %s", browserPath, artifacts)
	began := time.Now()

	s := startServer(t, "--demo")
	setupDone := time.Now()

	// Two principals made with the API: a Security Admin on the tenant's
	// root management group and a Reader on one subscription.
	subs := e2eSubscriptions(t, s)
	adminSub, readerSub := subs["Contoso Production"], subs["Contoso Development"]
	if adminSub == "" || readerSub == "" {
		t.Fatalf("demo subscriptions: %v", subs)
	}
	admin := rbacNewCaller(t, s, "5ec0ad00-0000-4000-8000-0000000000e1", "Sam Secadmin", "User")
	reader := rbacNewCaller(t, s, "4eade400-0000-4000-8000-0000000000e2", "Riley Reader", "User")
	rbacAssign(t, s, "/providers/Microsoft.Management/managementGroups/"+demo.TenantID, authz.RoleSecurityAdmin, admin.id)
	rbacAssign(t, s, "/subscriptions/"+readerSub, rbacRoleGUID(t, "Reader"), reader.id)

	// What to click, chosen with the API: a recommendation with two
	// unhealthy resources in the admin's subscription whose exemption
	// must raise the secure score, and one unhealthy resource of the
	// Reader's subscription.
	key, exempted := e2ePickExemption(t, s, adminSub)
	rKey, rResource := e2ePickRequest(t, s, readerSub)
	apiScoreBefore := e2eAPIScore(t, s, adminSub)
	t.Logf("admin exempts %v from %s; reader requests %s from %s", exempted, key, rResource, rKey)

	// The browser: one process, the admin in its default context, the
	// Reader later in a separate browser context (own cookies). Two
	// minutes for all of it; the browser lives 15 s longer, for the
	// screenshot of a failure.
	deadline := time.Now().Add(2 * time.Minute)
	browserCtx, cancelBrowser := context.WithDeadline(t.Context(), deadline.Add(15*time.Second))
	defer cancelBrowser()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(browserCtx,
		chromedp.ExecPath(browserPath),
		chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate"),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	rootCtx, cancelRoot := chromedp.NewContext(allocCtx)
	defer cancelRoot()
	if err := chromedp.Do(rootCtx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", browserPath, err)
	}
	adm := newE2ETab(t, rootCtx, deadline, s.url, artifacts, "admin")
	defer adm.close()
	browserUp := time.Now()

	// a. Sign in through the form.
	adm.open("/signin")
	adm.waitVisible(`input[name=token]`)
	adm.shot("01-signin.png")
	adm.signIn(admin.token)

	// b. The overview: the subscription's secure score.
	adm.waitVisible(`.card .figure`)
	before := adm.scoreCard(adminSub)
	adm.logf("overview: %s shows %q", adminSub, before.text)
	if want := apiScoreBefore * 100; before.pct < want-1 || before.pct > want+1 {
		adm.fatalf("overview shows %v%% for %s, the API says %.2f%%", before.pct, adminSub, want)
	}
	adm.shot("02-overview.png")

	// c. Recommendations, then the chosen one's unhealthy resources.
	adm.open("/recommendations")
	adm.shot("03-recommendations.png")
	if adm.exists(fmt.Sprintf(`a[href^="/recommendations/%s"]`, key)) {
		adm.follow("the recommendation's link", chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href^="/recommendations/%s"]`, key))))
		adm.follow("#tab-unhealthy", chromedp.Click(chromedp.CSS(`#tab-unhealthy`)))
	} else {
		adm.logf("/recommendations has no link to %s (filtered or paged?); opening it directly", key)
		adm.open("/recommendations/" + key + "?tab=unhealthy")
	}
	if p := adm.path(); !strings.HasPrefix(p, "/recommendations/"+key) {
		adm.fatalf("the unhealthy tab is %s, not under /recommendations/%s", p, key)
	}

	// d. The detail page's contract; tick the two resources, Exempt.
	for _, sel := range []string{`tbody#resources`, `#tab-unhealthy`, `#tab-healthy`, `#tab-notapplicable`, `#exempt-button`, `#request-button`, `#trigger-button`} {
		adm.mustExist(sel)
	}
	for _, rid := range exempted {
		adm.tick(rid)
	}
	adm.shot("04-recommendation-unhealthy.png")
	adm.follow("#exempt-button", chromedp.Click(chromedp.ID("exempt-button")))
	if p := adm.path(); !strings.HasPrefix(p, "/exempt") {
		adm.fatalf("Exempt went to %s, not /exempt", p)
	}

	// e. The exempt form: Waiver for 30 days with a description; the
	// impact preview; save.
	adm.waitVisible(`form#exempt-form`)
	for _, sel := range []string{`#exempt-form input[name=name]`, `#exempt-form input[name=category][value=Waiver]`, `#exempt-form input[name=category][value=Mitigated]`,
		`#exempt-form input[name=expiresOn][type=date]`, `#exempt-form textarea[name=description]`, `#exempt-form input[name=ticket]`, `#preview`, `#exempt-save`} {
		adm.mustExist(sel)
	}
	for _, rid := range exempted {
		if !adm.evalBool(fmt.Sprintf(`document.body.innerText.toLowerCase().includes(%s)`, jsString(strings.ToLower(rid)))) &&
			!adm.evalBool(fmt.Sprintf(`[...document.querySelectorAll('#exempt-form input')].some(i => i.value.toLowerCase() === %s)`, jsString(strings.ToLower(rid)))) {
			adm.fatalf("the exempt form does not carry the ticked resource %s", rid)
		}
	}
	previewBefore := adm.evalString(`document.querySelector('#preview').innerText.trim()`)
	expires := time.Now().AddDate(0, 0, 30).Format("2006-01-02")
	adm.setField(`#exempt-form input[name=name]`, "e2e-waiver")
	adm.do("choose Waiver", chromedp.Click(chromedp.CSS(`#exempt-form input[name=category][value=Waiver]`)))
	adm.setField(`#exempt-form input[name=expiresOn]`, expires)
	adm.do("type the description", chromedp.SendKeys(chromedp.CSS(`#exempt-form textarea[name=description]`), "Accepted risk: private endpoints are planned for Q3 (browser test)."))
	adm.do("type the ticket", chromedp.SendKeys(chromedp.CSS(`#exempt-form input[name=ticket]`), "CHG-1001"))
	previewed := fmt.Sprintf(`(() => { const t = document.querySelector('#preview').innerText.trim(); return t !== '' && t !== %s; })()`, jsString(previewBefore))
	if !adm.until("the live preview", previewed, 8*time.Second) {
		adm.logf("the preview did not fill itself within 8 s; clicking #preview-button")
		adm.mustExist(`#preview-button`)
		adm.do("#preview-button", chromedp.Click(chromedp.ID("preview-button")))
		if !adm.until("the preview after #preview-button", previewed+` && document.querySelector('#exempt-form') !== null`, 10*time.Second) {
			adm.fatalf("#preview stays %q", previewBefore)
		}
	}
	adm.logf("preview: %.300q", adm.evalString(`document.querySelector('#preview').innerText`))
	adm.shot("05-exempt-form.png")
	adm.follow("#exempt-save", chromedp.Click(chromedp.ID("exempt-save")))
	if p := adm.path(); !strings.HasPrefix(p, "/recommendations/"+key) {
		adm.fatalf("saving went to %s, not back to /recommendations/%s", p, key)
	}
	adm.waitVisible(`.alert.ok`)
	adm.follow("#tab-notapplicable", chromedp.Click(chromedp.ID("tab-notapplicable")))
	for _, rid := range exempted {
		row := adm.rowText(rid)
		if !strings.Contains(row, "Waiver") {
			adm.fatalf("the Not applicable tab's row of %s says %q, without Waiver", rid, row)
		}
	}
	adm.shot("06-recommendation-notapplicable.png")

	// Back on the overview, the score went up.
	adm.open("/")
	adm.waitVisible(`.card .figure`)
	after := adm.scoreCard(adminSub)
	apiScoreAfter := e2eAPIScore(t, s, adminSub)
	adm.logf("overview after exempting: %q (API %.4f → %.4f)", after.text, apiScoreBefore, apiScoreAfter)
	if apiScoreAfter <= apiScoreBefore {
		adm.fatalf("the API's secure score did not go up: %.4f → %.4f", apiScoreBefore, apiScoreAfter)
	}
	if after.pct < before.pct || (after.points >= 0 && before.points >= 0 && after.points <= before.points) || (after.points < 0 && after.pct <= before.pct) {
		adm.fatalf("the overview's score did not go up: %q → %q", before.text, after.text)
	}
	adm.shot("07-overview-after.png")
	adminDone := time.Now()

	// f. The Reader, in a browser context of their own, may only request.
	rdrCtx, cancelRdr := chromedp.NewContext(rootCtx, chromedp.WithNewBrowserContext())
	defer cancelRdr()
	if err := chromedp.Do(rdrCtx); err != nil {
		t.Fatalf("a second browser context: %v", err)
	}
	rdr := newE2ETab(t, rdrCtx, deadline, s.url, artifacts, "reader")
	defer rdr.close()
	rdr.open("/signin")
	rdr.signIn(reader.token)
	rdr.open("/recommendations/" + rKey + "?tab=unhealthy")
	rdr.mustExist(`tbody#resources`)
	if rdr.exists(`#exempt-button`) {
		rdr.fatalf("a Reader is offered #exempt-button")
	}
	rdr.mustExist(`#request-button`)
	rdr.tick(rResource)
	rdr.follow("#request-button", chromedp.Click(chromedp.ID("request-button")))
	if p := rdr.path(); !strings.HasPrefix(p, "/request") {
		rdr.fatalf("Request exemption went to %s, not /request", p)
	}
	rdr.waitVisible(`form#request-form`)
	for _, sel := range []string{`#request-form input[name=category][value=Waiver]`, `#request-form input[name=expiresOn]`, `#request-form textarea[name=justification]`, `#request-form input[name=ticket]`, `#request-submit`} {
		rdr.mustExist(sel)
	}
	rdr.do("choose Waiver", chromedp.Click(chromedp.CSS(`#request-form input[name=category][value=Waiver]`)))
	rdr.setField(`#request-form input[name=expiresOn]`, expires)
	rdr.do("type the justification", chromedp.SendKeys(chromedp.CSS(`#request-form textarea[name=justification]`), "Legacy client needs this until the migration ends (browser test)."))
	rdr.do("type the ticket", chromedp.SendKeys(chromedp.CSS(`#request-form input[name=ticket]`), "INC-2002"))
	rdr.shot("08-request-form.png")
	rdr.follow("#request-submit", chromedp.Click(chromedp.ID("request-submit")))
	reqURL, err := url.Parse(rdr.location())
	if err != nil || reqURL.Path != "/requests/view" || reqURL.Query().Get("id") == "" {
		rdr.fatalf("filing went to %s, not /requests/view?id=…", rdr.location())
	}
	requestID := reqURL.Query().Get("id")
	if !rdr.until("Pending", `document.querySelector('main').innerText.includes('Pending')`, 5*time.Second) {
		rdr.fatalf("the filed request does not show Pending")
	}
	rdr.shot("09-request-pending.png")
	readerDone := time.Now()

	// g. The admin approves it from /approvals.
	adm.open("/approvals")
	adm.shot("10-approvals.png")
	if !adm.evalBool(fmt.Sprintf(`(() => { const a = [...document.querySelectorAll('a[href]')].find(a => { const u = new URL(a.href); return u.pathname === '/requests/view' && u.searchParams.get('id') === %s; }); if (a) a.dataset.e2e = 'pending'; return !!a; })()`, jsString(requestID))) {
		adm.fatalf("/approvals has no link to /requests/view?id=%s", requestID)
	}
	adm.follow("the pending request", chromedp.Click(chromedp.CSS(`a[data-e2e=pending]`)))
	adm.waitVisible(`textarea#reason`)
	adm.do("type the reason", chromedp.SendKeys(chromedp.CSS(`textarea#reason`), "Approved for 30 days; tracked in INC-2002."))
	adm.follow("#approve", chromedp.Click(chromedp.ID("approve")))
	if !adm.until("Approved", `document.querySelector('main').innerText.includes('Approved')`, 5*time.Second) {
		adm.fatalf("the decided request does not show Approved")
	}
	adm.shot("11-request-approved.png")
	e2eCheckExempt(t, s, rResource, rKey)
	for _, rid := range exempted {
		e2eCheckExempt(t, s, rid, key)
	}

	// h. The query explorer: the seed's exemption query finds them all.
	adm.open("/query")
	sample := adm.evalBool(`(() => { const a = [...document.querySelectorAll('a.sample')].find(a => /exempt/i.test(a.textContent + ' ' + decodeURIComponent(a.getAttribute('href') || ''))); if (a) a.dataset.e2e = 'sample'; return !!a; })()`)
	if sample {
		adm.do("the exemptions sample", chromedp.Click(chromedp.CSS(`a[data-e2e=sample]`)))
	} else {
		adm.logf("no a.sample for the exemption query; typing it")
		adm.mustExist(`textarea#q`)
		adm.setField(`textarea#q`, e2eExemptQuery)
		adm.do("#run", chromedp.Click(chromedp.ID("run")))
	}
	all := append(slices.Clone(exempted), rResource)
	found := `(() => { const t = document.querySelector('table#results'); if (!t) return false; const x = t.innerText.toLowerCase(); return ` +
		strings.Join(mapSlice(all, func(rid string) string { return "x.includes(" + jsString(strings.ToLower(rid)) + ")" }), " && ") + `; })()`
	if !adm.until("the exempted resources in table#results", found, 10*time.Second) {
		adm.fatalf("table#results lacks some of %v", all)
	}
	adm.shot("12-query.png")

	// i. The other pages.
	adm.open("/exemptions")
	adm.shot("13-exemptions.png")
	// The audit log, as the Reader: Azure's Security Admin may not read
	// the activity log (no Microsoft.Insights/eventtypes or */read), so
	// the admin's page is empty; the Reader sees the approval's exemption
	// written at their resource.
	adm.open("/audit")
	adm.logf("/audit: %q", adm.evalString(`(document.querySelector('.result-summary') || document.querySelector('main')).innerText.trim().slice(0, 200)`))
	rdr.open("/audit")
	if !rdr.until("the exemption's entry in table#audit", fmt.Sprintf(`(() => { const t = document.querySelector('table#audit'); if (!t) return false; return [...t.querySelectorAll('tbody tr')].some(r => { const x = r.innerText.toLowerCase(); return x.includes('policyexemptions/write') && x.includes(%s); }); })()`,
		jsString(strings.ToLower(path.Base(rResource)))), 5*time.Second) {
		rdr.fatalf("/audit has no policyExemptions/write entry at %s", rResource)
	}
	rdr.shot("14-audit.png")
	// A resource's page, as the Reader: Security Admin has no read on
	// storage accounts or web apps (Azure's role has no */read).
	rdr.open("/resource?id=" + url.QueryEscape(rResource))
	if !rdr.evalBool(fmt.Sprintf(`document.querySelector('main').innerText.toLowerCase().includes(%s)`, jsString(strings.ToLower(path.Base(rResource))))) {
		rdr.fatalf("/resource does not name %s", rResource)
	}
	rdr.shot("15-resource.png")

	end := time.Now()
	t.Logf("timings: server and principals %v, browser start %v, admin exempting %v, reader requesting %v, approval/query/pages %v; total %v",
		setupDone.Sub(began).Round(time.Millisecond), browserUp.Sub(setupDone).Round(time.Millisecond),
		adminDone.Sub(browserUp).Round(time.Millisecond), readerDone.Sub(adminDone).Round(time.Millisecond),
		end.Sub(readerDone).Round(time.Millisecond), end.Sub(began).Round(time.Millisecond))
}

// e2eExemptQuery is the seed's Resource Graph query of exempted resources.
const e2eExemptQuery = `securityresources
| where type == 'microsoft.security/assessments' and properties.status.cause == 'Exempt'
| extend assessmentKey = name, resourceId = tolower(trim(' ',tostring(properties.resourceDetails.Id))), healthStatus = properties.status.code, cause = properties.status.cause, reason = properties.status.description, displayName = properties.displayName
| project assessmentKey, id, name, displayName, resourceId, healthStatus, cause, reason`

// findBrowser returns the Chromium or Chrome to drive: POSTURE_E2E_BROWSER,
// else the first of the usual names on PATH.
func findBrowser() string {
	if p := os.Getenv("POSTURE_E2E_BROWSER"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
		return ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell", "headless-shell"} {
		if found, err := exec.LookPath(name); err == nil {
			return found
		}
	}
	return ""
}

// e2eSubscriptions maps the demo subscriptions' display names to their ids.
func e2eSubscriptions(t *testing.T, s *server) map[string]string {
	t.Helper()
	var subs struct {
		Value []struct{ SubscriptionID, DisplayName string }
	}
	if err := json.Unmarshal(s.get(t, "/subscriptions?api-version=2022-12-01"), &subs); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, v := range subs.Value {
		out[v.DisplayName] = v.SubscriptionID
	}
	return out
}

// e2eUnhealthy returns the unhealthy assessments of a subscription's
// resources as assessment key → resource ids.
func e2eUnhealthy(t *testing.T, s *server, sub string) map[string][]string {
	t.Helper()
	rows := s.rbacGraphRows(t, s.token, fmt.Sprintf(`securityresources | where type == 'microsoft.security/assessments' and subscriptionId == '%s' and properties.status.code == 'Unhealthy' | project key = name, rid = tostring(properties.resourceDetails.Id)`, sub))
	out := map[string][]string{}
	for _, r := range rows {
		k, _ := r["key"].(string)
		rid, _ := r["rid"].(string)
		// Resources in resource groups only, not the subscriptions'
		// own assessments (Defender plans and the like).
		if k != "" && strings.Contains(strings.ToLower(rid), "/resourcegroups/") {
			out[k] = append(out[k], rid)
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

// e2ePickExemption picks a recommendation with two unhealthy resources in
// sub whose exemption raises the secure score: in a control that counts
// (max > 0, some healthy resources), resources unhealthy for no other
// recommendation of that control. It prefers the biggest rise.
func e2ePickExemption(t *testing.T, s *server, sub string) (string, []string) {
	t.Helper()
	var controls struct {
		Value []struct {
			Properties struct {
				Score                  struct{ Max float64 }
				HealthyResourceCount   int
				UnhealthyResourceCount int
				Definition             struct {
					Properties struct {
						AssessmentDefinitions []struct{ ID string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(s.get(t, "/subscriptions/"+sub+"/providers/Microsoft.Security/secureScoreControls?api-version=2020-01-01&$expand=definition"), &controls); err != nil {
		t.Fatal(err)
	}
	unhealthy := e2eUnhealthy(t, s, sub)
	byResource := map[string][]string{}
	for k, rids := range unhealthy {
		for _, rid := range rids {
			byResource[strings.ToLower(rid)] = append(byResource[strings.ToLower(rid)], k)
		}
	}
	type choice struct {
		key  string
		rids []string
		gain float64
	}
	var best []choice
	for _, c := range controls.Value {
		p := c.Properties
		h, u := float64(p.HealthyResourceCount), float64(p.UnhealthyResourceCount)
		if p.Score.Max <= 0 || h == 0 || u < 2 {
			continue
		}
		keys := map[string]bool{}
		for _, d := range p.Definition.Properties.AssessmentDefinitions {
			keys[path.Base(d.ID)] = true
		}
		for k := range keys {
			var only []string
			for _, rid := range unhealthy[k] {
				alone := true
				for _, other := range byResource[strings.ToLower(rid)] {
					if other != k && keys[other] {
						alone = false
					}
				}
				if alone {
					only = append(only, rid)
				}
			}
			if len(only) >= 2 {
				gain := p.Score.Max * (h/(h+u-2) - h/(h+u))
				best = append(best, choice{k, only[:2], gain})
			}
		}
	}
	if len(best) == 0 {
		t.Fatalf("no recommendation of %s has two unhealthy resources whose exemption raises the score", sub)
	}
	slices.SortFunc(best, func(a, b choice) int {
		return cmp.Or(cmp.Compare(b.gain, a.gain), cmp.Compare(a.key, b.key))
	})
	return best[0].key, best[0].rids
}

// e2ePickRequest picks a recommendation with few unhealthy resources in sub
// and one of them.
func e2ePickRequest(t *testing.T, s *server, sub string) (string, string) {
	t.Helper()
	unhealthy := e2eUnhealthy(t, s, sub)
	keys := slices.Collect(func(yield func(string) bool) {
		for k := range unhealthy {
			if !yield(k) {
				return
			}
		}
	})
	if len(keys) == 0 {
		t.Fatalf("no unhealthy resource in %s", sub)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(unhealthy[a]), len(unhealthy[b])), cmp.Compare(a, b))
	})
	return keys[0], unhealthy[keys[0]][0]
}

// e2eAPIScore is a subscription's secure score percentage (0..1) from the API.
func e2eAPIScore(t *testing.T, s *server, sub string) float64 {
	t.Helper()
	var score struct {
		Properties struct{ Score struct{ Percentage float64 } }
	}
	if err := json.Unmarshal(s.get(t, "/subscriptions/"+sub+"/providers/Microsoft.Security/secureScores/ascScore?api-version=2020-01-01"), &score); err != nil {
		t.Fatal(err)
	}
	return score.Properties.Score.Percentage
}

// e2eCheckExempt checks with the API that an exemption covers the resource
// and that its assessment says NotApplicable, cause Exempt.
func e2eCheckExempt(t *testing.T, s *server, rid, key string) {
	t.Helper()
	var list struct {
		Value []struct {
			ID         string
			Properties struct{ ExemptionCategory string }
		}
	}
	if err := json.Unmarshal(s.get(t, rid+"/providers/Microsoft.Authorization/policyExemptions?api-version=2022-07-01-preview"), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Value) == 0 {
		t.Errorf("no exemption at %s", rid)
	}
	var a struct {
		Properties struct {
			Status struct{ Code, Cause string }
		}
	}
	if err := json.Unmarshal(s.get(t, rid+"/providers/Microsoft.Security/assessments/"+key+"?api-version=2020-01-01"), &a); err != nil {
		t.Fatal(err)
	}
	if st := a.Properties.Status; st.Code != "NotApplicable" || st.Cause != "Exempt" {
		t.Errorf("assessment %s of %s: %s/%s, want NotApplicable/Exempt", key, rid, st.Code, st.Cause)
	}
}

// e2eTab is one signed-in user's tab. Its methods fail the test with a
// screenshot of the page (fail-<who>-N.png) and the page's text.
type e2eTab struct {
	t        *testing.T
	ctx      context.Context // the tab, under the browser part's deadline
	root     context.Context // the tab, no deadline: for diagnostics
	cancel   context.CancelFunc
	base     string
	dir      string
	who      string
	mu       sync.Mutex
	console  []string
	failures int
}

func newE2ETab(t *testing.T, tabCtx context.Context, deadline time.Time, base, dir, who string) *e2eTab {
	ctx, cancel := context.WithDeadline(tabCtx, deadline)
	tb := &e2eTab{t: t, ctx: ctx, root: tabCtx, cancel: cancel, base: base, dir: dir, who: who}
	// Keep the console's errors and exceptions: a CSP violation or a
	// script error is worth reporting even when the scenario passes.
	msgs := chromedp.Console(tabCtx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleWarning && !m.IsException() {
				continue
			}
			if strings.Contains(m.URL, "favicon.ico") || strings.Contains(m.Text, "favicon.ico") {
				continue
			}
			tb.mu.Lock()
			tb.console = append(tb.console, fmt.Sprintf("%s %s:%d %s", m.Type, m.URL, m.Line+1, m.Text))
			tb.mu.Unlock()
		}
	}()
	return tb
}

// close logs what the console said and ends the tab's deadline.
func (b *e2eTab) close() {
	b.mu.Lock()
	for _, c := range b.console {
		b.t.Logf("%s's console: %s", b.who, c)
	}
	b.mu.Unlock()
	b.cancel()
}

func (b *e2eTab) logf(format string, args ...any) {
	b.t.Helper()
	b.t.Logf("%s: "+format, append([]any{b.who}, args...)...)
}

// fatalf saves a screenshot of the page and fails with its address and text.
func (b *e2eTab) fatalf(format string, args ...any) {
	b.t.Helper()
	msg := fmt.Sprintf(format, args...)
	ctx, cancel := context.WithTimeout(b.root, 10*time.Second)
	defer cancel()
	b.failures++
	name := fmt.Sprintf("fail-%s-%d.png", b.who, b.failures)
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(b.dir, name), png, 0o644)
	} else {
		name = "no screenshot: " + err.Error()
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('main') || document.body || {innerText: ''}).innerText`))
	if len(text) > 1500 {
		text = text[:1500] + "…"
	}
	b.t.Fatalf("%s: %s\n  page %s (%s)\n  text: %s", b.who, msg, loc, name, strings.ReplaceAll(text, "\n", "\n        "))
}

// do runs actions that do not navigate.
func (b *e2eTab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fatalf("%s: %v", what, err)
	}
}

// open navigates to a portal path; the page must answer 2xx.
func (b *e2eTab) open(path string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.fatalf("GET %s: %v", path, err)
	}
	if resp.Status >= 300 {
		b.fatalf("GET %s: %d", path, resp.Status)
	}
}

// follow runs an action that loads a new page (a click on a link or a
// submit button) and waits for it; the page must answer 2xx.
func (b *e2eTab) follow(what string, action chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, action)
	if err != nil {
		b.fatalf("%s: %v", what, err)
	}
	if resp.Status >= 300 {
		b.fatalf("%s: the page answered %d", what, resp.Status)
	}
}

// waitVisible waits up to 10 s for an element to be visible.
func (b *e2eTab) waitVisible(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.fatalf("waiting for %s to be visible: %v", sel, err)
	}
}

func (b *e2eTab) evalBool(expr string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.fatalf("evaluating %.120s: %v", expr, err)
	}
	return v
}

func (b *e2eTab) evalString(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.fatalf("evaluating %.120s: %v", expr, err)
	}
	return v
}

// until polls a JavaScript condition every 100 ms (chromedp.Poll compiles
// it with new Function, which the portal's CSP forbids); errors while a
// page loads count as false.
func (b *e2eTab) until(what, expr string, d time.Duration) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return true
		}
		select {
		case <-ctx.Done():
			if errors.Is(b.ctx.Err(), context.DeadlineExceeded) {
				b.fatalf("the browser part's 2 minutes ran out waiting for %s", what)
			}
			return false
		case <-tick.C:
		}
	}
}

func (b *e2eTab) exists(sel string) bool {
	b.t.Helper()
	return b.evalBool(fmt.Sprintf(`document.querySelector(%s) !== null`, jsString(sel)))
}

func (b *e2eTab) mustExist(sel string) {
	b.t.Helper()
	if !b.exists(sel) {
		b.fatalf("the page has no %s", sel)
	}
}

func (b *e2eTab) location() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.fatalf("location: %v", err)
	}
	return loc
}

// path is the current page's path and query.
func (b *e2eTab) path() string {
	b.t.Helper()
	return strings.TrimPrefix(b.location(), b.base)
}

// setField sets a field's value as a user's edit would, with input and
// change events (htmx listens to them).
func (b *e2eTab) setField(sel, value string) {
	b.t.Helper()
	ok := b.evalBool(fmt.Sprintf(`(() => { const f = document.querySelector(%s); if (!f) return false; f.focus(); f.value = %s;
		f.dispatchEvent(new Event('input', {bubbles: true})); f.dispatchEvent(new Event('change', {bubbles: true})); return f.value === %[2]s; })()`, jsString(sel), jsString(value)))
	if !ok {
		b.fatalf("could not set %s to %q", sel, value)
	}
}

// resourceRow is the selector of a resource's row on a recommendation page
// (ARM ids compare without case).
func resourceRow(rid string) string {
	return fmt.Sprintf(`tbody#resources tr[data-resource=%s i]`, jsString(rid))
}

// tick ticks a resource's checkbox on a recommendation page.
func (b *e2eTab) tick(rid string) {
	b.t.Helper()
	box := resourceRow(rid) + ` input[type=checkbox][name=resource]`
	if !b.exists(resourceRow(rid)) {
		b.fatalf("no row tr[data-resource=%q] in tbody#resources", rid)
	}
	if !b.exists(box) {
		b.fatalf("the row of %s has no checkbox input[name=resource]", rid)
	}
	if v := b.evalString(fmt.Sprintf(`document.querySelector(%s).value`, jsString(box))); !strings.EqualFold(v, rid) {
		b.fatalf("the checkbox of %s is valued %q", rid, v)
	}
	b.do("tick "+rid, chromedp.Click(chromedp.CSS(box)))
	if !b.evalBool(fmt.Sprintf(`document.querySelector(%s).checked`, jsString(box))) {
		b.fatalf("clicking the checkbox of %s did not tick it", rid)
	}
}

// rowText is the text of a resource's row.
func (b *e2eTab) rowText(rid string) string {
	b.t.Helper()
	if !b.exists(resourceRow(rid)) {
		b.fatalf("no row tr[data-resource=%q] in tbody#resources", rid)
	}
	return b.evalString(fmt.Sprintf(`document.querySelector(%s).innerText`, jsString(resourceRow(rid))))
}

// signIn signs in through /signin's form; the portal goes to /.
func (b *e2eTab) signIn(token string) {
	b.t.Helper()
	b.waitVisible(`input[name=token]`)
	b.do("type the token", chromedp.SendKeys(chromedp.CSS(`input[name=token]`), token))
	b.follow("signing in", chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)))
	if p := b.path(); p != "/" {
		b.fatalf("signing in went to %s, not /", p)
	}
}

// scoreFigure is what a score card shows.
type scoreFigure struct {
	text   string
	pct    float64
	points float64 // -1 when the card shows no points
}

var (
	pctRe    = regexp.MustCompile(`(\d+(?:\.\d+)?)\s*%`)
	pointsRe = regexp.MustCompile(`(\d+(?:\.\d+)?)\s+of\s+(\d+(?:\.\d+)?)\s+points`)
)

// scoreCard reads the overview's card of a subscription: the .card whose
// heading links to /?scope=/subscriptions/{sub}.
func (b *e2eTab) scoreCard(sub string) scoreFigure {
	b.t.Helper()
	text := b.evalString(fmt.Sprintf(`(() => {
		for (const c of document.querySelectorAll('.card')) {
			const a = c.querySelector(':is(h1,h2,h3,h4,h5,h6) a[href]');
			if (!a) continue;
			const u = new URL(a.href);
			if (u.pathname !== '/' || (u.searchParams.get('scope') || '').toLowerCase() !== %s) continue;
			const f = c.querySelector('.figure');
			return f ? f.innerText.trim() : '<no .figure>';
		}
		return '<no card>';
	})()`, jsString(strings.ToLower("/subscriptions/"+sub))))
	m := pctRe.FindStringSubmatch(text)
	if m == nil {
		b.fatalf("the overview's card of %s: %q has no percentage", sub, text)
	}
	f := scoreFigure{text: text, points: -1}
	f.pct, _ = strconv.ParseFloat(m[1], 64)
	if m := pointsRe.FindStringSubmatch(text); m != nil {
		f.points, _ = strconv.ParseFloat(m[1], 64)
	}
	return f
}

// shot saves a full-page PNG screenshot.
func (b *e2eTab) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// jsString quotes s as a JavaScript (and CSS) string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}
