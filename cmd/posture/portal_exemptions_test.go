package main

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture/authz"
)

// The portal's exemption, approval and resource pages, against a real
// server: what they show is checked against the API, and what they change
// is read back from the API.

// pxTarget is an unhealthy assessment of a resource in a resource group of
// the demo's "Contoso Production".
type pxTarget struct {
	resource, group, key, ref, name string
}

// pxPick finds an unhealthy assessment of a resource in a resource group,
// of a recommendation that is not High (so that a Waiver may last 30
// days), and the resource's id as the estate spells it.
func pxPick(t *testing.T, s *server) pxTarget {
	t.Helper()
	rows := s.rbacGraphRows(t, s.token, `securityresources | where type == 'microsoft.security/assessments' and subscriptionId == '`+strings.TrimPrefix(rbacSub, "/subscriptions/")+`'
		| where tostring(properties.status.code) == 'Unhealthy' and tostring(properties.metadata.severity) != 'High' and tostring(properties.resourceDetails.Id) contains '/resourcegroups/'
		| project key = name, rid = tostring(properties.resourceDetails.Id), ref = tostring(properties.additionalData.policyDefinitionReferenceId), dn = tostring(properties.displayName)
		| order by rid asc, key asc | take 1`)
	if len(rows) != 1 {
		t.Fatalf("the demo has no unhealthy resource assessment: %v", rows)
	}
	r := rows[0]
	ids := s.rbacGraphIDs(t, s.token, `resources | where id =~ '`+r["rid"].(string)+`' | project id`)
	if len(ids) != 1 {
		t.Fatalf("resource %s: %v", r["rid"], ids)
	}
	rid := ids[0]
	group := rid[:strings.Index(strings.ToLower(rid), "/providers/")]
	return pxTarget{resource: rid, group: group, key: r["key"].(string), ref: r["ref"].(string), name: r["dn"].(string)}
}

// pxPut creates or replaces an exemption with the bootstrap token.
func pxPut(t *testing.T, s *server, id string, props map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"properties": props})
	if code, _, body := s.raw(t, http.MethodPut, id+"?api-version="+rbacExemptionVersion, string(b)); code != http.StatusCreated && code != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", id, code, body)
	}
}

// pxGet reads an exemption through the API: its status, ETag and document.
func pxGet(t *testing.T, s *server, id string) (int, string, map[string]any) {
	t.Helper()
	code, h, b := s.raw(t, http.MethodGet, id+"?api-version="+rbacExemptionVersion, "")
	var doc struct {
		Properties map[string]any `json:"properties"`
	}
	_ = json.Unmarshal(b, &doc)
	return code, h.Get("ETag"), doc.Properties
}

func pxExemptionID(scope, name string) string {
	return scope + "/providers/Microsoft.Authorization/policyExemptions/" + name
}

// pxViewPath is a page's path with the id as the query.
func pxViewPath(page, id string) string { return page + "?id=" + url.QueryEscape(id) }

var (
	pxRowRE  = regexp.MustCompile(`(?s)<tr class="ex-row" data-status="([a-z]+)">(.*?)</tr>`)
	pxLinkRE = regexp.MustCompile(`href="/exemptions/view\?id=([^"]+)"`)
	pxNextRE = regexp.MustCompile(`href="(/exemptions\?[^"]*skipToken=[^"]+)" rel="next"`)
	pxETagRE = regexp.MustCompile(`name="etag" value="([^"]*)"`)
)

// pxRow is one row of the exemptions list.
type pxRow struct{ status, html string }

// pxRows reads the exemptions list: name → row.
func pxRows(t *testing.T, page string) map[string]pxRow {
	t.Helper()
	out := map[string]pxRow{}
	for _, m := range pxRowRE.FindAllStringSubmatch(page, -1) {
		l := pxLinkRE.FindStringSubmatch(m[2])
		if l == nil {
			t.Fatalf("a row without a link: %s", m[2])
		}
		id, err := url.QueryUnescape(html.UnescapeString(l[1]))
		if err != nil {
			t.Fatal(err)
		}
		out[id[strings.LastIndexByte(id, '/')+1:]] = pxRow{m[1], m[2]}
	}
	return out
}

// pxNames lists the exemptions of a list page named with the prefix.
func pxNames(t *testing.T, page, prefix string) []string {
	var out []string
	for n := range pxRows(t, page) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func pxETag(t *testing.T, page string) string {
	t.Helper()
	m := pxETagRE.FindStringSubmatch(page)
	if m == nil || m[1] == "" {
		t.Fatalf("no ETag in the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// pxUsers creates a Reader and a Security Admin of the subscription.
func pxUsers(t *testing.T, s *server) (reader, admin rbacCaller) {
	reader = rbacNewCaller(t, s, "7ead0000-0000-4000-8000-000000000001", "Rita Reader", "User")
	admin = rbacNewCaller(t, s, "5ec0000a-0000-4000-8000-000000000002", "Sam Secadmin", "User")
	rbacAssign(t, s, rbacSub, rbacRoleGUID(t, "Reader"), reader.id)
	rbacAssign(t, s, rbacSub, authz.RoleSecurityAdmin, admin.id)
	return reader, admin
}

func TestPortalExemptions(t *testing.T) {
	s := startServer(t, "--demo")
	reader, admin := pxUsers(t, s)
	tg := pxPick(t, s)
	now := time.Now().UTC()
	waiver := pxExemptionID(tg.resource, "px-waiver")
	mitigated := pxExemptionID(tg.group, "px-mitigated")
	expired := pxExemptionID(tg.resource, "px-expired")
	orphan := pxExemptionID(tg.group, "px-orphan")
	pxPut(t, s, waiver, map[string]any{"policyAssignmentId": rbacPolicyAssignment, "exemptionCategory": "Waiver",
		"policyDefinitionReferenceIds": []string{tg.ref}, "expiresOn": now.Add(10 * 24 * time.Hour).Format(time.RFC3339),
		"displayName": "Public until the migration", "metadata": map[string]any{"ticketRef": "CHG-7", "ticketUrl": "https://tickets.example/CHG-7"}})
	pxPut(t, s, mitigated, map[string]any{"policyAssignmentId": rbacPolicyAssignment, "exemptionCategory": "Mitigated",
		"policyDefinitionReferenceIds": []string{tg.ref}, "description": "A WAF in front", "metadata": map[string]any{"owner": "team-web@contoso.example"}})
	pxPut(t, s, expired, map[string]any{"policyAssignmentId": rbacPolicyAssignment, "exemptionCategory": "Mitigated",
		"policyDefinitionReferenceIds": []string{tg.ref}, "expiresOn": "2020-01-01T00:00:00Z"})
	// An exemption whose assignment is then deleted.
	temp := rbacSub + "/providers/Microsoft.Authorization/policyAssignments/px-temp"
	if code, _, b := s.raw(t, http.MethodPut, temp+"?api-version=2022-06-01", `{"properties":{"policyDefinitionId":"/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"}}`); code != http.StatusCreated {
		t.Fatalf("assignment: %d %s", code, b)
	}
	pxPut(t, s, orphan, map[string]any{"policyAssignmentId": temp, "exemptionCategory": "Mitigated"})
	if code, _, b := s.raw(t, http.MethodDelete, temp+"?api-version=2022-06-01", ""); code != http.StatusOK {
		t.Fatalf("deleting the assignment: %d %s", code, b)
	}

	adm := signIn(t, s, admin.token)
	rdr := signIn(t, s, reader.token)
	rgReaderID := rbacNewCaller(t, s, "96ead000-0000-4000-8000-000000000003", "Gina Groupreader", "User")
	rbacAssign(t, s, tg.group, rbacRoleGUID(t, "Reader"), rgReaderID.id)
	rgReader := signIn(t, s, rgReaderID.token)

	t.Run("list", func(t *testing.T) {
		page := adm.page("/exemptions")
		rows := pxRows(t, page)
		want := map[string]string{"px-waiver": "expiring", "px-mitigated": "active", "px-expired": "expired", "px-orphan": "orphaned"}
		for name, status := range want {
			if rows[name].status != status {
				t.Errorf("%s: status %q, want %q", name, rows[name].status, status)
			}
		}
		w := rows["px-waiver"].html
		for _, part := range []string{`href="https://tickets.example/CHG-7"`, ">CHG-7</a>", `href="/resource?id=` + strings.ToLower(url.QueryEscape(tg.resource)) + `"`,
			`href="/recommendations/` + tg.key + `"`, ">" + html.EscapeString(tg.name) + "<", "<td>Waiver</td>"} {
			if !strings.Contains(strings.ToLower(w), strings.ToLower(part)) {
				t.Errorf("the px-waiver row lacks %s:\n%s", part, w)
			}
		}
		if m := rows["px-mitigated"].html; !strings.Contains(m, "team-web@contoso.example") {
			t.Errorf("the owner from the metadata is not shown:\n%s", m)
		}
		// Without an owner in the metadata, the owner is who created it,
		// from the audit log (which a Reader may read; a Security Admin
		// may not, and sees no owner).
		if w := pxRows(t, rdr.page("/exemptions"))["px-waiver"].html; !strings.Contains(w, "<td>bootstrap</td>") {
			t.Errorf("the creator is not shown as the owner:\n%s", w)
		}
		for q, want := range map[string][]string{
			"status=expiring":    {"px-waiver"},
			"status=expired":     {"px-expired"},
			"status=orphaned":    {"px-orphan"},
			"status=active":      {"px-mitigated"},
			"category=Mitigated": {"px-expired", "px-mitigated", "px-orphan"},
			"category=Waiver":    {"px-waiver"},
			"q=chg-7":            {"px-waiver"},
			"q=WAF":              {"px-mitigated"},
			"subscription=" + strings.TrimPrefix(rbacSub, "/subscriptions/"): {"px-expired", "px-mitigated", "px-orphan", "px-waiver"},
			"subscription=a3d3e937-10ce-48c9-a6e7-fe909f7b1393":              nil, // Contoso Development
			"status=expiring&category=Mitigated":                             nil,
		} {
			got := pxNames(t, adm.page("/exemptions?"+q), "px-")
			if !slices.Equal(got, want) {
				t.Errorf("/exemptions?%s: %v, want %v", q, got, want)
			}
		}
		// The filters are kept in the form.
		if p := adm.page("/exemptions?status=expiring&q=chg"); !strings.Contains(p, `<option value="expiring" selected>`) || !strings.Contains(p, `name="q" value="chg"`) {
			t.Error("the filter form does not keep the filters")
		}
	})

	t.Run("paging", func(t *testing.T) {
		for i := range 52 {
			pxPut(t, s, pxExemptionID(tg.group, fmt.Sprintf("px-bulk-%02d", i)), map[string]any{"policyAssignmentId": rbacPolicyAssignment,
				"exemptionCategory": "Mitigated", "policyDefinitionReferenceIds": []string{tg.ref}})
		}
		first := adm.page("/exemptions?category=Mitigated")
		rows := pxRows(t, first)
		if len(rows) != 50 {
			t.Fatalf("first page: %d rows, want 50", len(rows))
		}
		if !strings.Contains(first, "55 exemptions match") {
			t.Errorf("the count of 55 is not shown")
		}
		m := pxNextRE.FindStringSubmatch(first)
		if m == nil {
			t.Fatal("no link to the next page")
		}
		next := html.UnescapeString(m[1])
		if !strings.Contains(next, "category=Mitigated") {
			t.Errorf("the next link drops the filter: %s", next)
		}
		second := adm.page(next)
		rows2 := pxRows(t, second)
		if len(rows2) != 5 || pxNextRE.MatchString(second) {
			t.Errorf("second page: %d rows (want 5), next link %v", len(rows2), pxNextRE.MatchString(second))
		}
		for n := range rows2 {
			if _, dup := rows[n]; dup {
				t.Errorf("%s is on both pages", n)
			}
		}
	})

	t.Run("view", func(t *testing.T) {
		page := adm.page(pxViewPath("/exemptions/view", waiver))
		for _, want := range []string{"Public until the migration", `<span class="badge st-expiring">`, `href="https://tickets.example/CHG-7"`,
			`id="edit"`, `id="delete"`, "<td>Created</td>", html.EscapeString(tg.name)} {
			if !strings.Contains(page, want) {
				t.Errorf("the exemption page lacks %s", want)
			}
		}
		// A Reader reads it without the buttons.
		page = rdr.page(pxViewPath("/exemptions/view", waiver))
		if !strings.Contains(page, "Public until the migration") || strings.Contains(page, `id="edit"`) || strings.Contains(page, `id="delete"`) {
			t.Error("a Reader's view: missing the exemption, or shows Edit/Delete")
		}
		if page := adm.page(pxViewPath("/exemptions/view", orphan)); !strings.Contains(page, "no longer exists") || !strings.Contains(page, `<span class="badge st-orphaned">`) {
			t.Error("the orphaned exemption does not say its assignment is gone")
		}
		// A Reader of the resource group only cannot read the
		// subscription's assignments: the portal does not call the
		// exemption orphaned for her, in the list or on its page, and
		// asks the API nothing it would deny.
		if page := rgReader.page(pxViewPath("/exemptions/view", orphan)); strings.Contains(page, "no longer exists") || !strings.Contains(page, `<span class="badge st-active">`) {
			t.Error("a resource group's Reader is told the subscription's assignment is gone")
		}
		if rows := pxRows(t, rgReader.page("/exemptions?q=px-orphan")); rows["px-orphan"].status != "active" {
			t.Errorf("a resource group's Reader's list: px-orphan %q", rows["px-orphan"].status)
		}
		denied := s.rbacGraphRows(t, s.token, `auditevents | where properties.kind == "Denied" and tostring(properties.caller) == '`+rgReaderID.id+`' | project action = tostring(properties.action)`)
		if len(denied) != 0 {
			t.Errorf("the pages made the API deny a resource group's Reader: %v", denied)
		}
		for _, id := range []string{pxExemptionID(tg.group, "px-none"), rbacSub, "nonsense"} {
			code, _, body := adm.get(pxViewPath("/exemptions/view", id))
			if code != http.StatusNotFound || !strings.Contains(body, "ExemptionNotFound") || !strings.Contains(body, `role="alert"`) {
				t.Errorf("view of %s: %d, want a 404 page", id, code)
			}
		}
	})

	t.Run("edit", func(t *testing.T) {
		form := adm.page(pxViewPath("/exemptions/edit", waiver))
		etag := pxETag(t, form)
		_, apiETag, before := pxGet(t, s, waiver)
		if etag != apiETag {
			t.Errorf("the form carries ETag %s, the API has %s", etag, apiETag)
		}
		oldDate := before["expiresOn"].(string)[:10]
		for _, want := range []string{`value="Public until the migration"`, `value="` + oldDate + `"`, `name="ticketRef" value="CHG-7"`, `value="Waiver" checked`} {
			if !strings.Contains(form, want) {
				t.Errorf("the form is not prefilled: lacks %s", want)
			}
		}
		newDate := now.Add(20 * 24 * time.Hour).Format(time.DateOnly)
		v := url.Values{"id": {waiver}, "etag": {etag}, "displayName": {"Public until the Q3 migration"}, "category": {"Waiver"},
			"expiresOn": {newDate}, "description": {"Vendor <appliance>"}, "ticketRef": {"CHG-8"}}
		code, hdr, body := adm.post("/exemptions/edit", v)
		if want := pxViewPath("/exemptions/view", waiver) + "&saved=1"; code != http.StatusSeeOther || hdr.Get("Location") != want {
			t.Fatalf("saving: %d %q, want 303 %q\n%s", code, hdr.Get("Location"), want, body)
		}
		_, _, after := pxGet(t, s, waiver)
		meta, _ := after["metadata"].(map[string]any)
		if after["displayName"] != "Public until the Q3 migration" || after["description"] != "Vendor <appliance>" || after["expiresOn"] != newDate+"T00:00:00Z" ||
			meta["ticketRef"] != "CHG-8" || meta["ticketUrl"] != nil || after["exemptionCategory"] != "Waiver" {
			t.Errorf("the API document after the edit: %v", after)
		}
		page := adm.page(hdr.Get("Location"))
		if !strings.Contains(page, "Your changes were saved") || !strings.Contains(page, "Public until the Q3 migration") ||
			!strings.Contains(page, "<td>Updated</td>") || !strings.Contains(page, "displayName: Public until the migration → Public until the Q3 migration") {
			t.Error("the exemption page after saving lacks the confirmation, the new name or the history entry")
		}

		// A stale form: the exemption changes between opening the form
		// and saving it. The save is refused and nothing is overwritten.
		form = adm.page(pxViewPath("/exemptions/edit", waiver))
		stale := pxETag(t, form)
		_, _, cur := pxGet(t, s, waiver)
		cur["displayName"] = "Changed elsewhere"
		pxPut(t, s, waiver, cur)
		v.Set("etag", stale)
		v.Set("displayName", "My late change")
		code, _, body = adm.post("/exemptions/edit", v)
		if code != http.StatusPreconditionFailed || !strings.Contains(body, "changed since you opened the form") || !strings.Contains(body, `role="alert"`) ||
			!strings.Contains(body, `value="My late change"`) {
			t.Errorf("stale form: %d\n%s", code, body)
		}
		if _, _, doc := pxGet(t, s, waiver); doc["displayName"] != "Changed elsewhere" {
			t.Errorf("a stale form overwrote the exemption: %v", doc["displayName"])
		}

		// A validation error from the API: beside its field, in an alert,
		// the input kept, nothing written.
		form = adm.page(pxViewPath("/exemptions/edit", waiver))
		far := now.Add(2 * 365 * 24 * time.Hour).Format(time.DateOnly)
		v = url.Values{"id": {waiver}, "etag": {pxETag(t, form)}, "displayName": {"Too long a waiver"}, "category": {"Waiver"}, "expiresOn": {far}, "ticketRef": {"CHG-8"}}
		code, _, body = adm.post("/exemptions/edit", v)
		if code != http.StatusBadRequest || !strings.Contains(body, "ExemptionPolicyViolation") || !strings.Contains(body, `role="alert"`) ||
			!regexp.MustCompile(`id="expiresOn" name="expiresOn" value="`+far+`"[^>]*aria-invalid="true"`).MatchString(body) ||
			!strings.Contains(body, `<p class="field-error" id="expiresOn-error">`) || !strings.Contains(body, `value="Too long a waiver"`) {
			t.Errorf("validation error: %d\n%s", code, body)
		}
		if strings.Contains(body, `id="displayName-error"`) {
			t.Error("the error is shown beside a field it does not concern")
		}
		if _, _, doc := pxGet(t, s, waiver); doc["displayName"] != "Changed elsewhere" || doc["expiresOn"] != newDate+"T00:00:00Z" {
			t.Errorf("a refused edit changed the exemption: %v", doc)
		}

		// A Reader's save is refused by the API with its 403.
		form = rdr.page(pxViewPath("/exemptions/edit", waiver))
		v.Set("etag", pxETag(t, form))
		v.Set("expiresOn", newDate)
		v.Set("displayName", "Reader was here")
		code, _, body = rdr.post("/exemptions/edit", v)
		if code != http.StatusForbidden || !strings.Contains(body, "AuthorizationFailed") || !strings.Contains(body, `role="alert"`) {
			t.Errorf("a Reader's edit: %d\n%s", code, body)
		}
		if _, _, doc := pxGet(t, s, waiver); doc["displayName"] != "Changed elsewhere" {
			t.Errorf("a Reader changed the exemption: %v", doc["displayName"])
		}
	})

	t.Run("delete", func(t *testing.T) {
		_, etag, _ := pxGet(t, s, mitigated)
		if code, _, body := rdr.post("/exemptions/delete", url.Values{"id": {mitigated}, "etag": {etag}}); code != http.StatusForbidden || !strings.Contains(body, "AuthorizationFailed") {
			t.Errorf("a Reader's delete: %d\n%s", code, body)
		}
		page := adm.page(pxViewPath("/exemptions/view", mitigated))
		old := pxETag(t, page)
		_, _, cur := pxGet(t, s, mitigated)
		cur["description"] = "A WAF in front, and a new rule"
		pxPut(t, s, mitigated, cur)
		code, _, body := adm.post("/exemptions/delete", url.Values{"id": {mitigated}, "etag": {old}})
		if code != http.StatusPreconditionFailed || !strings.Contains(body, "changed since you opened") || !strings.Contains(body, "a new rule") {
			t.Errorf("a stale delete: %d\n%s", code, body)
		}
		if code, _, _ := pxGet(t, s, mitigated); code != http.StatusOK {
			t.Fatalf("a stale delete deleted: %d", code)
		}
		code, hdr, body := adm.post("/exemptions/delete", url.Values{"id": {mitigated}, "etag": {pxETag(t, body)}})
		if code != http.StatusSeeOther || hdr.Get("Location") != "/exemptions?deleted=1" {
			t.Fatalf("delete: %d %q\n%s", code, hdr.Get("Location"), body)
		}
		if code, _, _ := pxGet(t, s, mitigated); code != http.StatusNotFound {
			t.Errorf("after the delete the API answers %d", code)
		}
		list := adm.page("/exemptions?deleted=1")
		if _, still := pxRows(t, list)["px-mitigated"]; still || !strings.Contains(list, "The exemption was deleted") {
			t.Error("the list after the delete still has the exemption or no confirmation")
		}
	})
}

// pxRequest files an exemption request as c.
func pxRequest(t *testing.T, s *server, c rbacCaller, name string, tg pxTarget, expires time.Time) string {
	t.Helper()
	id := rbacSub + "/providers/Microsoft.Security/exemptionRequests/" + name
	body := fmt.Sprintf(`{"properties":{"assessmentKey":%q,"resourceIds":[%q],"exemptionCategory":"Waiver","justification":"Vendor appliance until Q3","expiresOn":%q,"ticketRef":"CHG-9"}}`,
		tg.key, tg.resource, expires.Format(time.RFC3339))
	if code, b := s.rbacAs(t, c, http.MethodPut, id+reqVersion, body); code != http.StatusCreated {
		t.Fatalf("filing %s: %d %s", name, code, b)
	}
	return id
}

// pxStatus reads a request's status through the API.
func pxStatus(t *testing.T, s *server, id string) string {
	t.Helper()
	var doc struct{ Properties struct{ Status string } }
	json.Unmarshal(s.get(t, id+reqVersion), &doc)
	return doc.Properties.Status
}

func TestPortalApprovals(t *testing.T) {
	s := startServer(t, "--demo")
	reader, admin := pxUsers(t, s)
	tg := pxPick(t, s)
	expires := time.Now().UTC().Add(20 * 24 * time.Hour).Truncate(time.Second)
	first := pxRequest(t, s, reader, "px-first", tg, expires)
	time.Sleep(10 * time.Millisecond)
	second := pxRequest(t, s, reader, "px-second", tg, expires)

	adm := signIn(t, s, admin.token)
	rdr := signIn(t, s, reader.token)

	inbox := adm.page("/approvals")
	i1, i2 := strings.Index(inbox, `>px-first</a>`), strings.Index(inbox, `>px-second</a>`)
	if i1 < 0 || i2 < 0 || i1 > i2 {
		t.Errorf("the inbox does not list both requests oldest first (%d, %d)", i1, i2)
	}
	for _, want := range []string{`aria-label="Approve px-first"`, `aria-label="Approve px-second"`, "<td>Rita Reader</td>", html.EscapeString(tg.name),
		`<td class="num">1</td>`, `<td class="nowrap">` + expires.Format(time.DateOnly) + "</td>", "No request was decided in the last 30 days"} {
		if !strings.Contains(inbox, want) {
			t.Errorf("the admin's inbox lacks %s", want)
		}
	}
	// The requester sees her requests but is not offered to decide them.
	if p := rdr.page("/approvals"); !strings.Contains(p, ">px-first</a>") || strings.Contains(p, "Approve px-first") {
		t.Error("the requester's inbox: the request is missing, or she is offered Approve")
	}
	page := rdr.page(pxViewPath("/requests/view", first))
	if !strings.Contains(page, `id="withdraw"`) || strings.Contains(page, `id="approve"`) || strings.Contains(page, `id="reject"`) {
		t.Error("the requester's request page should offer Withdraw only")
	}
	// Nor is a requester who could write the exemption (the bootstrap
	// principal is Owner at the root).
	own := rbacSub + "/providers/Microsoft.Security/exemptionRequests/px-own"
	if code, _, b := s.raw(t, http.MethodPut, own+reqVersion, fmt.Sprintf(`{"properties":{"assessmentKey":%q,"resourceIds":[%q],"exemptionCategory":"Mitigated","justification":"mine"}}`, tg.key, tg.resource)); code != http.StatusCreated {
		t.Fatalf("filing px-own: %d %s", code, b)
	}
	owner := signIn(t, s, s.token)
	if p := owner.page("/approvals"); !strings.Contains(p, "Approve px-first") || strings.Contains(p, "Approve px-own") {
		t.Error("the Owner's inbox: not offered to approve another's request, or offered to approve his own")
	}
	if p := owner.page(pxViewPath("/requests/view", own)); !strings.Contains(p, `id="withdraw"`) || strings.Contains(p, `id="approve"`) {
		t.Error("the Owner's own request page offers Approve or lacks Withdraw")
	}
	if !strings.Contains(adm.page("/approvals"), "Approve px-own") {
		t.Error("the admin is not offered to approve the Owner's request")
	}
	// Approving her own request anyway: the API's refusal in an alert.
	code, _, body := rdr.post("/requests/decide", url.Values{"id": {first}, "decision": {"approve"}, "reason": {"mine"}})
	if code != http.StatusForbidden || !strings.Contains(body, "SelfApprovalNotAllowed") || !strings.Contains(body, `role="alert"`) {
		t.Errorf("self-approval: %d\n%s", code, body)
	}
	if st := pxStatus(t, s, first); st != "Pending" {
		t.Fatalf("after a refused self-approval the request is %s", st)
	}

	page = adm.page(pxViewPath("/requests/view", first))
	for _, want := range []string{`id="approve"`, `id="reject"`, `<textarea id="reason"`, "Vendor appliance until Q3", "CHG-9", "Rita Reader",
		`href="/resource?id=` + strings.ToLower(url.QueryEscape(tg.resource)) + `"`} {
		if !strings.Contains(strings.ToLower(page), strings.ToLower(want)) {
			t.Errorf("the approver's request page lacks %s", want)
		}
	}
	if strings.Contains(page, `id="withdraw"`) {
		t.Error("the approver is offered Withdraw")
	}

	// Rejecting needs a reason: the API's error beside the field.
	code, _, body = adm.post("/requests/decide", url.Values{"id": {second}, "decision": {"reject"}, "reason": {"  "}})
	if code != http.StatusBadRequest || !strings.Contains(body, `aria-invalid="true"`) || !strings.Contains(body, `id="reason-error"`) || !strings.Contains(body, "needs a reason") {
		t.Errorf("reject without a reason: %d\n%s", code, body)
	}
	code, hdr, _ := adm.post("/requests/decide", url.Values{"id": {second}, "decision": {"reject"}, "reason": {"Fix it instead."}})
	if code != http.StatusSeeOther || hdr.Get("Location") != pxViewPath("/requests/view", second)+"&done=reject" {
		t.Errorf("reject: %d %q", code, hdr.Get("Location"))
	}
	if st := pxStatus(t, s, second); st != "Rejected" {
		t.Errorf("after the rejection the request is %s", st)
	}

	// Approve: the exemption exists when the answer comes.
	code, hdr, body = adm.post("/requests/decide", url.Values{"id": {first}, "decision": {"approve"}, "reason": {"Until Q3."}})
	if want := pxViewPath("/requests/view", first) + "&done=approve"; code != http.StatusSeeOther || hdr.Get("Location") != want {
		t.Fatalf("approve: %d %q, want %q\n%s", code, hdr.Get("Location"), want, body)
	}
	ex := pxExemptionID(tg.resource, "px-first")
	code, _, doc := pxGet(t, s, ex)
	meta, _ := doc["metadata"].(map[string]any)
	if code != http.StatusOK || doc["exemptionCategory"] != "Waiver" || !strings.EqualFold(fmt.Sprint(meta["requestId"]), first) {
		t.Fatalf("the approved exemption: %d %v", code, doc)
	}
	page = adm.page(hdr.Get("Location"))
	if !strings.Contains(page, "Approved.") || !strings.Contains(strings.ToLower(page), strings.ToLower(`href="/exemptions/view?id=`+url.QueryEscape(ex)+`"`)) ||
		!strings.Contains(page, "Until Q3.") || strings.Contains(page, `id="approve"`) {
		t.Errorf("the request page after approval:\n%s", page)
	}
	inbox = adm.page("/approvals")
	decided := inbox[strings.Index(inbox, `id="decided-h"`):]
	if strings.Contains(inbox[:strings.Index(inbox, `id="decided-h"`)], ">px-first</a>") || !strings.Contains(decided, ">px-first</a>") ||
		!strings.Contains(decided, ">px-second</a>") || !strings.Contains(decided, "Approved") || !strings.Contains(decided, "Fix it instead.") {
		t.Errorf("the inbox after the decisions:\n%s", inbox)
	}
	if code, _, body := adm.get(pxViewPath("/requests/view", rbacSub+"/providers/Microsoft.Security/exemptionRequests/px-none")); code != http.StatusNotFound || !strings.Contains(body, "ExemptionRequestNotFound") {
		t.Errorf("an unknown request: %d", code)
	}
}

func TestPortalResource(t *testing.T) {
	s := startServer(t, "--demo")
	reader, _ := pxUsers(t, s)
	tg := pxPick(t, s)
	atResource := pxExemptionID(tg.resource, "px-at-resource")
	atGroup := pxExemptionID(tg.group, "px-at-group")
	atSub := pxExemptionID(rbacSub, "px-at-sub")
	elsewhere := pxExemptionID(rbacSub+"/resourceGroups/px-other", "px-elsewhere")
	if code, _, b := s.raw(t, http.MethodPut, rbacSub+"/resourceGroups/px-other?api-version=2022-09-01", `{"location":"westeurope"}`); code >= 300 {
		t.Fatalf("resource group: %d %s", code, b)
	}
	for _, id := range []string{atResource, atGroup, atSub, elsewhere} {
		pxPut(t, s, id, map[string]any{"policyAssignmentId": rbacPolicyAssignment, "exemptionCategory": "Mitigated", "policyDefinitionReferenceIds": []string{tg.ref}})
	}
	b := signIn(t, s, reader.token)
	page := b.page(pxViewPath("/resource", tg.resource))
	doc := page[strings.Index(page, `<pre id="document">`):]
	name := tg.resource[strings.LastIndexByte(tg.resource, '/')+1:]
	if !strings.Contains(doc, html.EscapeString(`"id": "`+tg.resource+`"`)) || !strings.Contains(doc, html.EscapeString(`"name": "`+name+`"`)) {
		t.Errorf("the page lacks the resource's document:\n%.2000s", doc)
	}
	// The assessment, now exempt, links to its recommendation for this
	// resource.
	if want := `href="/recommendations/` + tg.key + `?resource=` + strings.ToLower(url.QueryEscape(tg.resource)) + `"`; !strings.Contains(strings.ToLower(page), strings.ToLower(want)) {
		t.Errorf("the page lacks the assessment link %s", want)
	}
	if !regexp.MustCompile(`(?s)` + regexp.QuoteMeta(html.EscapeString(tg.name)) + `</a></td>\s*<td><span class="badge st-notapplicable">NotApplicable</span> <span class="muted">\(Exempt\)`).MatchString(page) {
		t.Error("the exempted assessment is not shown NotApplicable (Exempt)")
	}
	var got []string
	for _, m := range pxLinkRE.FindAllStringSubmatch(page, -1) {
		id, _ := url.QueryUnescape(html.UnescapeString(m[1]))
		got = append(got, id[strings.LastIndexByte(id, '/')+1:])
	}
	slices.Sort(got)
	if want := []string{"px-at-group", "px-at-resource", "px-at-sub"}; !slices.Equal(got, want) {
		t.Errorf("exemptions on the resource page: %v, want %v", got, want)
	}
	// A container works too, and a management group's exemptions apply
	// below it.
	mg := pxExemptionID(rbacMG, "px-at-mg")
	pxPut(t, s, mg, map[string]any{"policyAssignmentId": rbacPolicyAssignment, "exemptionCategory": "Mitigated", "assignmentScopeValidation": "DoNotValidate",
		"policyDefinitionReferenceIds": []string{tg.ref}})
	// (The Reader of the subscription cannot read the group's exemption;
	// the bootstrap principal, Owner at the root, can.)
	root := signIn(t, s, s.token)
	if page := root.page(pxViewPath("/resource", tg.group)); !strings.Contains(page, "px-at-group") || !strings.Contains(page, "px-at-mg") || strings.Contains(page, "px-at-resource") {
		t.Error("the resource group's page: wrong exemptions")
	}
	for _, id := range []string{rbacSub + "/resourceGroups/px-none", "nonsense"} {
		if code, _, body := b.get(pxViewPath("/resource", id)); code != http.StatusNotFound || !strings.Contains(body, "ResourceNotFound") {
			t.Errorf("resource page of %s: %d", id, code)
		}
	}
}
