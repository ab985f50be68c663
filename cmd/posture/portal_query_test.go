package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The query explorer and the audit log, through a signed-in browser
// against posture serve --demo.

var (
	reResultsTable = regexp.MustCompile(`(?s)<table id="results".*?</table>`)
	reTbody        = regexp.MustCompile(`(?s)<tbody>(.*?)</tbody>`)
	reRow          = regexp.MustCompile(`(?s)<tr[^>]*>(.*?)</tr>`)
	reCell         = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	reHeader       = regexp.MustCompile(`<th scope="col"[^>]*>([^<]*?) <span class="coltype">`)
	reTag          = regexp.MustCompile(`<[^>]*>`)
	reHref         = regexp.MustCompile(`href="([^"]*)"`)
	reNext         = regexp.MustCompile(`<a id="next" rel="next" href="([^"]*)"`)
	reSample       = regexp.MustCompile(`<a class="sample" href="([^"]*)">([^<]*)</a>`)
	reSVG          = regexp.MustCompile(`(?s)<svg.*?</svg>`)
	reEntry        = regexp.MustCompile(`(?s)<tr class="entry" data-seq="(\d+)">(.*?)</tr>`)
	reKQL          = regexp.MustCompile(`(?s)<pre><code>(.*?)</code></pre>`)
	reBadge        = regexp.MustCompile(`<span class="badge kind-[a-z]+">([^<]*)</span>`)
)

// text is an HTML fragment's text.
func text(s string) string {
	return strings.TrimSpace(html.UnescapeString(reTag.ReplaceAllString(s, "")))
}

// resultTable reads the query explorer's results: the column names and
// each row's cells as text (nil when the page has no table).
func resultTable(t *testing.T, page string) ([]string, [][]string) {
	t.Helper()
	tbl := reResultsTable.FindString(page)
	if tbl == "" {
		return nil, nil
	}
	var cols []string
	for _, m := range reHeader.FindAllStringSubmatch(tbl, -1) {
		cols = append(cols, html.UnescapeString(m[1]))
	}
	var rows [][]string
	body := reTbody.FindStringSubmatch(tbl)
	if body == nil {
		t.Fatalf("results table without tbody:\n%s", tbl)
	}
	for _, r := range reRow.FindAllStringSubmatch(body[1], -1) {
		var cells []string
		for _, c := range reCell.FindAllStringSubmatch(r[1], -1) {
			cells = append(cells, text(c[1]))
		}
		rows = append(rows, cells)
	}
	return cols, rows
}

// link unescapes an href found in a page.
func link(t *testing.T, href string) *url.URL {
	t.Helper()
	u, err := url.Parse(html.UnescapeString(href))
	if err != nil {
		t.Fatalf("href %q: %v", href, err)
	}
	return u
}

// download fetches a download and checks it is an attachment.
func (b *browser) download(t *testing.T, format, q string) (http.Header, string) {
	t.Helper()
	code, hdr, body := b.get("/query/download?" + url.Values{"format": {format}, "q": {q}}.Encode())
	if code != http.StatusOK {
		t.Fatalf("download %s of %q: %d\n%.2000s", format, q, code, body)
	}
	if cd := hdr.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") || !strings.Contains(cd, `.`+format+`"`) {
		t.Errorf("download %s: Content-Disposition %q", format, cd)
	}
	return hdr, body
}

func TestPortalQuery(t *testing.T) {
	s := startServer(t, "--demo")
	b := signIn(t, s, s.token)

	// The page offers the saved queries; the first is the seed article's,
	// verbatim, and every one runs.
	page := b.page("/query")
	for _, want := range []string{`<textarea id="q" name="q" class="code"`, `<label for="q">`, `<button id="run"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the query page lacks %s", want)
		}
	}
	found := reSample.FindAllStringSubmatch(page, -1)
	if len(found) != 6 {
		t.Fatalf("%d sample queries, want 6", len(found))
	}
	var sampleQueries []string
	for _, m := range found {
		u := link(t, m[1])
		if u.Path != "/query" {
			t.Errorf("sample %q goes to %s", m[2], u.Path)
		}
		sampleQueries = append(sampleQueries, u.Query().Get("q"))
	}
	if sampleQueries[0] != seedQuery {
		t.Errorf("the first sample is not the seed's query:\n%s", sampleQueries[0])
	}
	if !slices.ContainsFunc(sampleQueries, func(q string) bool { return strings.Contains(q, "properties.kind == 'Denied'") }) {
		t.Errorf("no sample reads the ledger's denials: %q", sampleQueries)
	}

	// The seed query: no rows before an exemption, the exempted
	// assessments after.
	seedURL := "/query?q=" + url.QueryEscape(seedQuery)
	cols, rows := resultTable(t, b.page(seedURL))
	wantCols := []string{"assessmentKey", "id", "name", "displayName", "resourceId", "healthStatus", "cause", "reason"}
	if !slices.Equal(cols, wantCols) || len(rows) != 0 {
		t.Fatalf("seed query before any exemption: columns %q, %d rows", cols, len(rows))
	}
	exID := rbacSub + "/providers/Microsoft.Authorization/policyExemptions/portal-query"
	if code, _, body := s.raw(t, http.MethodPut, exID+"?api-version="+rbacExemptionVersion,
		`{"properties":{"policyAssignmentId":"`+rbacPolicyAssignment+`","exemptionCategory":"Mitigated","displayName":"Portal query test"}}`); code != http.StatusCreated {
		t.Fatalf("create exemption: %d %s", code, body)
	}
	api := s.rbacGraphRows(t, s.token, seedQuery)
	if len(api) == 0 {
		t.Fatal("the seed query finds no exempted assessment through the API")
	}
	page = b.page(seedURL)
	cols, rows = resultTable(t, page)
	if !slices.Equal(cols, wantCols) || len(rows) != min(len(api), 100) {
		t.Fatalf("seed query: columns %q, %d rows, the API has %d", cols, len(rows), len(api))
	}
	for _, r := range rows {
		if len(r) != len(wantCols) || r[5] != "NotApplicable" || r[6] != "Exempt" || !strings.HasPrefix(strings.ToLower(r[1]), strings.ToLower(rbacSub)) {
			t.Fatalf("seed row %q", r)
		}
	}
	if want := fmt.Sprintf("of %d records", len(api)); !strings.Contains(page, want) {
		t.Errorf("the seed page does not say %q", want)
	}
	if strings.Contains(page, "<svg") {
		t.Error("a result of eight columns is drawn as a chart")
	}
	if !strings.Contains(page, html.EscapeString(seedQuery)) {
		t.Error("the form does not keep the query")
	}
	// Every sample runs without an error.
	for _, q := range sampleQueries {
		code, _, p := b.get("/query?q=" + url.QueryEscape(q))
		if code != http.StatusOK || strings.Contains(p, `role="alert"`) || !strings.Contains(p, `id="results"`) {
			t.Errorf("sample %q: %d\n%.3000s", q, code, p)
		}
	}

	// A summarize of one string and one number: bars (or a pie) of its
	// categories, and the numbers in the table.
	byCode := "securityresources | where type == 'microsoft.security/assessments' | summarize n = count() by code = tostring(properties.status.code)"
	counts := map[string]string{}
	for _, r := range s.rbacGraphRows(t, s.token, byCode) {
		counts[r["code"].(string)] = fmt.Sprint(r["n"])
	}
	if len(counts) < 2 {
		t.Fatalf("assessment codes: %v", counts)
	}
	page = b.page("/query?q=" + url.QueryEscape(byCode))
	svg := reSVG.FindString(page)
	if svg == "" || strings.Count(svg, "<rect") != len(counts) {
		t.Fatalf("summarize: no bar chart of %d bars:\n%s", len(counts), svg)
	}
	_, rows = resultTable(t, page)
	for c, n := range counts {
		if !strings.Contains(svg, ">"+c+"</text>") || !strings.Contains(svg, ">"+n+"</text>") {
			t.Errorf("the chart lacks %s = %s", c, n)
		}
		if !slices.ContainsFunc(rows, func(r []string) bool { return slices.Equal(r, []string{c, n}) }) {
			t.Errorf("the table lacks %s = %s: %q", c, n, rows)
		}
	}
	svg = reSVG.FindString(b.page("/query?chart=pie&q=" + url.QueryEscape(byCode)))
	if strings.Count(svg, "<path") != len(counts) || !strings.Contains(svg, `aria-label="n by code"`) {
		t.Errorf("chart=pie: not a pie of %d slices:\n%s", len(counts), svg)
	}
	// More than twenty categories: the nineteen largest and "other".
	page = b.page("/query?q=" + url.QueryEscape("securityresources | where type == 'microsoft.security/assessments' | summarize n = count() by name"))
	svg = reSVG.FindString(page)
	if strings.Count(svg, "<rect") != 20 || !strings.Contains(svg, ">other</text>") {
		t.Errorf("many categories: want 20 bars with other:\n%s", svg)
	}

	// A parse error: the API's code, line and position, status 400.
	code, _, page := b.get("/query?q=" + url.QueryEscape("securityresources\n| where x =="))
	if code != http.StatusBadRequest || !strings.Contains(page, `role="alert"`) || !strings.Contains(page, "ParserFailure") ||
		!strings.Contains(page, "line 2, position 13") {
		t.Errorf("parse error: %d\n%s", code, page)
	}
	// A query over the limit is refused before it is run.
	long := "resources | where name == '" + strings.Repeat("a", 16<<10) + "'"
	if code, _, page := b.get("/query?q=" + url.QueryEscape(long)); code != http.StatusBadRequest || !strings.Contains(page, "QueryTooLong") {
		t.Errorf("long query: %d %.500s", code, page)
	}

	// Paging: 100 rows a page, the next page through the skip token in
	// the link, every row once and in order.
	ordered := "securityresources | where type == 'microsoft.security/assessments' | project id | order by id asc"
	want := s.rbacGraphIDs(t, s.token, ordered)
	if len(want) <= 200 {
		t.Fatalf("only %d assessments", len(want))
	}
	var got []string
	next := "/query?q=" + url.QueryEscape(ordered)
	for i := 0; next != ""; i++ {
		if i > 30 {
			t.Fatal("paging does not end")
		}
		page := b.page(next)
		_, rows := resultTable(t, page)
		if len(rows) != min(100, len(want)-len(got)) {
			t.Fatalf("page %d: %d rows", i+1, len(rows))
		}
		if i == 1 && !strings.Contains(page, fmt.Sprintf("Rows 101–200 of %d", len(want))) {
			t.Errorf("the second page does not say which rows it shows")
		}
		for _, r := range rows {
			got = append(got, r[0])
		}
		next = ""
		if m := reNext.FindStringSubmatch(page); m != nil {
			u := link(t, m[1])
			if u.Query().Get("skipToken") == "" {
				t.Fatalf("next page without a skip token: %s", u)
			}
			next = u.String()
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paging: %d rows, the API %d; equal sets and order: %v", len(got), len(want), slices.Equal(got, want))
	}

	// CSV: RFC 4180 quoting, CRLF, formulas neutralised, objects as JSON.
	hdr, body := b.download(t, "csv", `securityresources | take 2 | project formula = '=HYPERLINK("http://evil.example")', quoted = 'a,"b"', n = 42, neg = -1,`+
		` obj = dynamic({"a":[1,2]}), nl = 'line1\nline2', empty = '', plus = '+1', at = '@SUM(A1)', minus = '-2'`)
	if !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") {
		t.Errorf("CSV Content-Type %q", hdr.Get("Content-Type"))
	}
	if !strings.HasPrefix(body, "formula,quoted,n,neg,obj,nl,empty,plus,at,minus\r\n") || !strings.Contains(body, `,"a,""b""",`) {
		t.Errorf("CSV is not RFC 4180:\n%q", body)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("CSV: %v %q", err, body)
	}
	wantRec := []string{`'=HYPERLINK("http://evil.example")`, `a,"b"`, "42", "-1", `{"a":[1,2]}`, "line1\nline2", "", "'+1", "'@SUM(A1)", "'-2"}
	for _, r := range recs[1:] {
		if !slices.Equal(r, wantRec) {
			t.Errorf("CSV row\n%q, want\n%q", r, wantRec)
		}
	}
	// A download follows the skip tokens (ARG answers 1,000 rows a page)...
	_, body = b.download(t, "csv", ordered)
	recs, err = csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) != len(want)+1 || recs[0][0] != "id" || recs[1][0] != want[0] || recs[len(recs)-1][0] != want[len(want)-1] {
		t.Errorf("CSV of %d rows: %v, %d records", len(want), err, len(recs))
	}
	// ...up to 10,000 rows, and says it stopped.
	hdr, body = b.download(t, "csv", "securityresources | mv-expand k = dynamic([1,2,3,4,5,6]) | project id, k")
	if recs, err := csv.NewReader(strings.NewReader(body)).ReadAll(); err != nil || len(recs) != 10_001 || hdr.Get("X-Result-Truncated") != "true" {
		t.Errorf("capped CSV: %v, %d records, truncated %q", err, len(recs), hdr.Get("X-Result-Truncated"))
	}
	// JSON: an array of the rows' objects.
	hdr, body = b.download(t, "json", ordered)
	var objs []map[string]any
	if err := json.Unmarshal([]byte(body), &objs); err != nil || len(objs) != len(want) || objs[0]["id"] != want[0] || hdr.Get("X-Total-Records") != strconv.Itoa(len(want)) {
		t.Errorf("JSON download: %v, %d rows of %d", err, len(objs), len(want))
	}
	_, body = b.download(t, "json", "resources | where name == 'no such resource'")
	if err := json.Unmarshal([]byte(body), &objs); err != nil || len(objs) != 0 {
		t.Errorf("empty JSON download: %v %q", err, body)
	}
	// A download of a bad query or format shows the error.
	if code, _, page := b.get("/query/download?format=csv&q=" + url.QueryEscape("resources | where")); code != http.StatusBadRequest || !strings.Contains(page, "ParserFailure") {
		t.Errorf("download of a bad query: %d", code)
	}
	if code, _, _ := b.get("/query/download?format=xlsx&q=resources"); code != http.StatusBadRequest {
		t.Errorf("download as xlsx: %d", code)
	}
}

// auditEntry is one row of the audit page.
type auditEntry struct {
	seq                              int
	kind, actor, action, scope, href string
	details                          string
}

func auditEntries(t *testing.T, page string) []auditEntry {
	t.Helper()
	var out []auditEntry
	for _, m := range reEntry.FindAllStringSubmatch(page, -1) {
		cells := reCell.FindAllStringSubmatch(m[2], -1)
		if len(cells) != 6 {
			t.Fatalf("audit row of %d cells:\n%s", len(cells), m[0])
		}
		seq, _ := strconv.Atoi(m[1])
		badge := reBadge.FindStringSubmatch(cells[1][1])
		if badge == nil {
			t.Fatalf("audit row without a kind badge:\n%s", m[0])
		}
		e := auditEntry{seq: seq, kind: badge[1], actor: text(cells[2][1]), action: text(cells[3][1]), scope: text(cells[4][1]), details: html.UnescapeString(cells[5][1])}
		e.actor, _, _ = strings.Cut(e.actor, " (")
		if h := reHref.FindStringSubmatch(cells[4][1]); h != nil {
			u := link(t, h[1])
			e.href = u.Path + "?id=" + u.Query().Get("id")
		}
		out = append(out, e)
	}
	return out
}

// auditPage fetches /audit with filters and returns its entries.
func (b *browser) audit(t *testing.T, v url.Values) (string, []auditEntry) {
	t.Helper()
	page := b.page("/audit?" + v.Encode())
	return page, auditEntries(t, page)
}

func TestPortalAudit(t *testing.T) {
	s := startServer(t, "--demo")
	b := signIn(t, s, s.token)

	// An exemption created with the bootstrap token, and a Reader refused
	// the same write.
	exID := rbacSub + "/providers/Microsoft.Authorization/policyExemptions/portal-audit"
	body := `{"properties":{"policyAssignmentId":"` + rbacPolicyAssignment + `","exemptionCategory":"Mitigated","displayName":"Portal audit test"}}`
	if code, _, b := s.raw(t, http.MethodPut, exID+"?api-version="+rbacExemptionVersion, body); code != http.StatusCreated {
		t.Fatalf("create exemption: %d %s", code, b)
	}
	reader := rbacNewCaller(t, s, uuid.NewString(), "Rita Reader", "User")
	rbacAssign(t, s, rbacSub, rbacRoleGUID(t, "Reader"), reader.id)
	deniedID := rbacSub + "/providers/Microsoft.Authorization/policyExemptions/portal-denied"
	if code, b := s.rbacAs(t, reader, http.MethodPut, deniedID+"?api-version="+rbacExemptionVersion, body); code != http.StatusForbidden {
		t.Fatalf("reader's write: %d %s", code, b)
	}

	page, all := b.audit(t, nil)
	if len(all) == 0 {
		t.Fatalf("no audit entries:\n%s", page)
	}
	for i := 1; i < len(all); i++ {
		if all[i].seq >= all[i-1].seq {
			t.Fatalf("not newest first: %d after %d", all[i].seq, all[i-1].seq)
		}
	}
	created := slices.IndexFunc(all, func(e auditEntry) bool { return e.kind == "Created" && e.scope == exID })
	if created < 0 {
		t.Fatalf("no Created entry of %s: %+v", exID, all)
	}
	if e := all[created]; e.href != "/exemptions/view?id="+exID || !strings.Contains(e.action, "policyExemptions/write") ||
		!strings.Contains(e.details, `"exemptionCategory": "Mitigated"`) || !strings.Contains(e.details, "Did not exist") {
		t.Errorf("the exemption's entry: %+v", e)
	}
	denied := slices.IndexFunc(all, func(e auditEntry) bool { return e.kind == "Denied" && e.actor == reader.id })
	if denied < 0 {
		t.Fatalf("no Denied entry of the reader: %+v", all)
	}
	if e := all[denied]; e.scope != deniedID || !strings.Contains(e.action, "policyExemptions/write") {
		t.Errorf("the denial: %+v", e)
	}

	// Filters narrow the rows.
	check := func(name string, v url.Values, ok func(auditEntry) bool, atLeast int) []auditEntry {
		t.Helper()
		_, es := b.audit(t, v)
		if len(es) < atLeast || len(es) >= len(all) {
			t.Errorf("filter %s: %d entries of %d", name, len(es), len(all))
		}
		for _, e := range es {
			if !ok(e) {
				t.Errorf("filter %s lets through %+v", name, e)
			}
		}
		return es
	}
	check("kind", url.Values{"kind": {"Denied"}}, func(e auditEntry) bool { return e.kind == "Denied" }, 1)
	check("actor", url.Values{"actor": {reader.id}}, func(e auditEntry) bool { return e.actor == reader.id }, 1)
	es := check("scope", url.Values{"scope": {exID}}, func(e auditEntry) bool { return strings.HasPrefix(strings.ToLower(e.scope), strings.ToLower(exID)) }, 1)
	if len(es) != 1 || es[0].kind != "Created" {
		t.Errorf("the exemption's entries: %+v", es)
	}
	check("action", url.Values{"action": {"roleassignments"}}, func(e auditEntry) bool {
		return strings.Contains(strings.ToLower(e.action), "roleassignments")
	}, 2)
	check("kind and actor", url.Values{"kind": {"Created"}, "actor": {reader.id}}, func(auditEntry) bool { return false }, 0)
	today := time.Now().UTC()
	for _, v := range []url.Values{
		{"from": {today.AddDate(0, 0, 2).Format(time.DateOnly)}},
		{"to": {today.AddDate(0, 0, -2).Format(time.DateOnly)}},
	} {
		if _, es := b.audit(t, v); len(es) != 0 {
			t.Errorf("dates %v: %d entries", v, len(es))
		}
	}
	if _, es := b.audit(t, url.Values{"from": {today.AddDate(0, 0, -1).Format(time.DateOnly)}, "to": {today.AddDate(0, 0, 1).Format(time.DateOnly)}}); len(es) != len(all) {
		t.Errorf("dates around today: %d entries of %d", len(es), len(all))
	}
	// The end date is inclusive.
	if _, es := b.audit(t, url.Values{"to": {time.Now().UTC().Format(time.DateOnly)}}); len(es) != len(all) {
		t.Errorf("entries up to today: %d of %d", len(es), len(all))
	}
	if code, _, page := b.get("/audit?from=2026-13-45"); code != http.StatusBadRequest || !strings.Contains(page, `role="alert"`) {
		t.Errorf("bad date: %d", code)
	}

	// Hostile values stay inside their string literals: were they KQL,
	// each would match every entry (or break the query).
	for _, v := range []url.Values{
		{"actor": {"x' or '1' == '1"}},
		{"action": {"' or 1 == 1 or '"}},
		{"scope": {`\' or 1 == 1 //`}},
		{"kind": {"Denied' | take 3 | where '' == '"}},
		{"actor": {"x'\n| take 1"}},
	} {
		code, _, page := b.get("/audit?" + v.Encode())
		if code != http.StatusOK || strings.Contains(page, `role="alert"`) {
			t.Errorf("hostile %v: %d %.2000s", v, code, page)
			continue
		}
		if es := auditEntries(t, page); len(es) != 0 {
			t.Errorf("hostile %v: %d entries", v, len(es))
		}
		kql := reKQL.FindStringSubmatch(page)
		if kql == nil {
			t.Fatalf("the page does not show its query")
		}
		q := html.UnescapeString(kql[1])
		if lines := strings.Count(q, "\n"); lines != 3 {
			t.Errorf("hostile %v: the query has %d lines, want 4:\n%s", v, lines+1, q)
		}
	}

	// A Reader of the subscription sees its entries, not the tenant's.
	rb := signIn(t, s, reader.token)
	_, mine := rb.audit(t, nil)
	if !slices.ContainsFunc(mine, func(e auditEntry) bool { return e.scope == exID }) {
		t.Errorf("the reader does not see the exemption's entry")
	}
	oldest := all[len(all)-1] // the bootstrap's role assignment at the root
	if strings.HasPrefix(strings.ToLower(oldest.scope), strings.ToLower(rbacSub)) {
		t.Fatalf("the oldest entry is in the subscription: %+v", oldest)
	}
	if slices.ContainsFunc(mine, func(e auditEntry) bool { return e.seq == oldest.seq }) {
		t.Errorf("the reader sees the tenant's entry %+v", oldest)
	}

	// Paging: 50 entries a page, older ones through the skip token.
	for i := 0; i < 55; i++ {
		if code, b := s.rbacAs(t, reader, http.MethodPut, deniedID+"?api-version="+rbacExemptionVersion, body); code != http.StatusForbidden {
			t.Fatalf("reader's write: %d %s", code, b)
		}
	}
	var seqs []int
	next := "/audit?kind=Denied"
	for i := 0; next != ""; i++ {
		if i > 5 {
			t.Fatal("audit paging does not end")
		}
		page := b.page(next)
		es := auditEntries(t, page)
		if i == 0 && len(es) != 50 {
			t.Fatalf("first page: %d entries", len(es))
		}
		for _, e := range es {
			if e.kind != "Denied" {
				t.Errorf("page %d: %+v", i+1, e)
			}
			seqs = append(seqs, e.seq)
		}
		next = ""
		if m := reNext.FindStringSubmatch(page); m != nil {
			u := link(t, m[1])
			if u.Query().Get("kind") != "Denied" || u.Query().Get("skipToken") == "" {
				t.Fatalf("next page link %s", u)
			}
			next = u.String()
		}
	}
	if len(seqs) < 56 || !slices.IsSortedFunc(seqs, func(a, b int) int { return b - a }) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Errorf("paged denials: %d, %v", len(seqs), seqs)
	}

}
