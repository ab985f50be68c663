package web

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/requests"
)

// recommendationsData is the recommendations list: one row per
// recommendation with its resources' counts, filtered and sorted.
type recommendationsData struct {
	Rows          []recommendationRow
	Filter        recFilter
	Controls      []string
	Types         []string
	Subscriptions []scoreRow
	Total         int
}

func (recommendationsData) PageTitle() (string, string) { return "Recommendations", "recommendations" }

type recommendationRow struct {
	Key         string `json:"key"`
	DisplayName string `json:"displayName"`
	Severity    string `json:"severity"`
	Unhealthy   int    `json:"unhealthy"`
	Healthy     int    `json:"healthy"`
	NA          int    `json:"na"`
	Exempt      int    `json:"exempt"`
	Control     string `json:"-"`
}

// Status is the recommendation's status as Defender's list shows it.
func (r recommendationRow) Status() string {
	switch {
	case r.Unhealthy > 0:
		return "Unhealthy"
	case r.Healthy > 0:
		return "Healthy"
	}
	return "NotApplicable"
}

// recFilter is the list's query string.
type recFilter struct {
	Control, Severity, Status, Type, Subscription, Search string
	Exemptions                                            bool
	Sort, Dir                                             string
}

// SortLink is the query string that sorts by col, flipping the direction
// when col is the current sort.
func (f recFilter) SortLink(col string) string {
	dir := "desc"
	if col == "name" {
		dir = "asc"
	}
	if f.Sort == col {
		dir = map[string]string{"asc": "desc", "desc": "asc"}[f.Dir]
	}
	return f.values(col, dir).Encode()
}

// SortState is the aria-sort of a column.
func (f recFilter) SortState(col string) string {
	if f.Sort != col {
		return "none"
	}
	return map[string]string{"asc": "ascending", "desc": "descending"}[f.Dir]
}

func (f recFilter) values(sort, dir string) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"control": f.Control, "severity": f.Severity, "status": f.Status, "type": f.Type,
		"subscription": f.Subscription, "q": f.Search, "sort": sort, "dir": dir} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Exemptions {
		v.Set("exemptions", "1")
	}
	return v
}

func parseRecFilter(q url.Values) recFilter {
	f := recFilter{Control: q.Get("control"), Severity: q.Get("severity"), Status: q.Get("status"), Type: strings.ToLower(q.Get("type")),
		Subscription: q.Get("subscription"), Search: q.Get("q"), Exemptions: q.Get("exemptions") != "", Sort: q.Get("sort"), Dir: q.Get("dir")}
	if !slices.Contains([]string{"name", "severity", "unhealthy", "healthy", "na", "exempt"}, f.Sort) {
		f.Sort = "severity"
	}
	if f.Dir != "asc" {
		f.Dir = "desc"
	}
	return f
}

var severityRank = map[string]int{"High": 3, "Medium": 2, "Low": 1}

// typePattern keeps KQL away from anything but a resource type.
var typePattern = regexp.MustCompile(`^[a-z0-9.\-]+(/[a-z0-9.\-]+)+$`)

func (p *Portal) recommendations(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	f := parseRecFilter(r.URL.Query())
	d := recommendationsData{Filter: f}
	where := ""
	if f.Subscription != "" {
		where += " and subscriptionId =~ '" + kqlString(f.Subscription) + "'"
	}
	if f.Type != "" && typePattern.MatchString(f.Type) {
		// The resource's type is the id's provider segment: a nested type
		// must not match its parent's rows.
		where += " and tolower(tostring(properties.resourceDetails.Id)) matches regex '/providers/" + regexp.QuoteMeta(f.Type) + "/[^/]+$'"
	}
	rows, err := p.recommendationCounts(ctx, s, "securityresources | where type == 'microsoft.security/assessments'"+where)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	controls, err := p.controlOf(ctx, s)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	seen := map[string]bool{}
	for _, c := range controls {
		if !seen[c] {
			seen[c] = true
			d.Controls = append(d.Controls, c)
		}
	}
	slices.Sort(d.Controls)
	search := strings.ToLower(f.Search)
	for _, row := range rows {
		row.Control = controls[strings.ToLower(row.Key)]
		switch {
		case f.Control != "" && row.Control != f.Control,
			f.Severity != "" && row.Severity != f.Severity,
			f.Status != "" && row.Status() != f.Status,
			f.Exemptions && row.Exempt == 0,
			search != "" && !strings.Contains(strings.ToLower(row.DisplayName), search) && !strings.Contains(row.Key, search):
			continue
		}
		d.Rows = append(d.Rows, row)
	}
	sortRecommendations(d.Rows, f)
	d.Total = len(rows)
	if d.Types, err = p.resourceTypes(ctx, s); err != nil {
		p.fail(w, r, s, err)
		return
	}
	if d.Subscriptions, err = p.subscriptions(ctx, s); err != nil {
		p.fail(w, r, s, err)
		return
	}
	p.render(w, r, s, http.StatusOK, "recommendations", d)
}

// recommendationCounts counts each recommendation's resources by status.
// One filtered count per status is several times faster than one
// summarize with a countif per status (the filters compare cached
// dictionary codes; countif walks each row's document), which matters at
// 100,000 resources and half a million assessments.
func (p *Portal) recommendationCounts(ctx context.Context, s *session, base string) ([]recommendationRow, error) {
	type count struct {
		Name string `json:"name"`
		N    int    `json:"n"`
	}
	byKey := map[string]*recommendationRow{}
	var order []string
	for _, q := range []struct {
		where string
		into  func(*recommendationRow, int)
	}{
		{"", func(r *recommendationRow, n int) { r.NA += n }}, // all, less the others below
		{" and properties.status.code == 'Unhealthy'", func(r *recommendationRow, n int) { r.Unhealthy, r.NA = n, r.NA-n }},
		{" and properties.status.code == 'Healthy'", func(r *recommendationRow, n int) { r.Healthy, r.NA = n, r.NA-n }},
		{" and properties.status.cause == 'Exempt'", func(r *recommendationRow, n int) { r.Exempt = n }},
	} {
		rows, err := queryAll[count](ctx, s, base+q.where+" | summarize n = count() by name")
		if err != nil {
			return nil, err
		}
		for _, c := range rows {
			row := byKey[c.Name]
			if row == nil {
				row = &recommendationRow{Key: c.Name}
				if rec, ok := p.recommendationOf(c.Name); ok {
					row.DisplayName, row.Severity = rec.DisplayName, rec.Severity
				} else {
					row.DisplayName = c.Name
				}
				byKey[c.Name] = row
				order = append(order, c.Name)
			}
			q.into(row, c.N)
		}
	}
	out := make([]recommendationRow, len(order))
	for i, k := range order {
		out[i] = *byKey[k]
	}
	return out, nil
}

func (p *Portal) recommendationOf(key string) (requests.Recommendation, bool) {
	if p.Recommendation == nil {
		return requests.Recommendation{}, false
	}
	return p.Recommendation(key)
}

// benchmarkRecommendation is recommendationOf with the page's 404.
func (p *Portal) benchmarkRecommendation(key string) (requests.Recommendation, error) {
	rec, ok := p.recommendationOf(key)
	if !ok {
		return rec, notFound("There is no recommendation '%s' in the benchmark.", key)
	}
	return rec, nil
}

func sortRecommendations(rows []recommendationRow, f recFilter) {
	key := func(r recommendationRow) int {
		switch f.Sort {
		case "unhealthy":
			return r.Unhealthy
		case "healthy":
			return r.Healthy
		case "na":
			return r.NA
		case "exempt":
			return r.Exempt
		}
		return severityRank[r.Severity]
	}
	slices.SortStableFunc(rows, func(a, b recommendationRow) int {
		c := 0
		if f.Sort == "name" {
			c = cmp.Compare(strings.ToLower(a.DisplayName), strings.ToLower(b.DisplayName))
		} else {
			c = cmp.Compare(key(a), key(b))
		}
		if f.Dir == "desc" {
			c = -c
		}
		// Ties: most unhealthy first, then by name, so the order is stable.
		return cmp.Or(c, cmp.Compare(b.Unhealthy, a.Unhealthy), cmp.Compare(a.DisplayName, b.DisplayName))
	})
}

// controlOf maps assessment keys (lower case) to the security control that
// counts them, from the control definitions.
func (p *Portal) controlOf(ctx context.Context, s *session) (map[string]string, error) {
	var defs struct {
		Value []struct {
			Properties struct {
				DisplayName           string `json:"displayName"`
				AssessmentDefinitions []struct {
					ID string `json:"id"`
				} `json:"assessmentDefinitions"`
			} `json:"properties"`
		} `json:"value"`
	}
	if _, err := s.get(ctx, "/providers/Microsoft.Security/secureScoreControlDefinitions", securityVersion, &defs); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, d := range defs.Value {
		for _, a := range d.Properties.AssessmentDefinitions {
			out[strings.ToLower(a.ID[strings.LastIndexByte(a.ID, '/')+1:])] = d.Properties.DisplayName
		}
	}
	return out, nil
}

// resourceTypes lists the resource types of the estate the user can read.
func (p *Portal) resourceTypes(ctx context.Context, s *session) ([]string, error) {
	rows, err := queryAll[struct {
		Type string `json:"type"`
	}](ctx, s, "resources | summarize by type | order by type asc")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Type
	}
	return out, nil
}

// subscriptions lists the subscriptions the user can read.
func (p *Portal) subscriptions(ctx context.Context, s *session) ([]scoreRow, error) {
	rows, err := queryAll[struct {
		Sub string `json:"subscriptionId"`
		DN  string `json:"dn"`
	}](ctx, s, "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project subscriptionId, dn = tostring(properties.displayName) | order by dn asc")
	if err != nil {
		return nil, err
	}
	out := make([]scoreRow, len(rows))
	for i, r := range rows {
		out[i] = scoreRow{ID: armid.SubscriptionScope(r.Sub).String(), Name: r.Sub, Display: cmp.Or(r.DN, r.Sub), Kind: "Subscription"}
	}
	return out, nil
}

// recommendationData is one recommendation: what it checks, how to fix
// it, its policy, and its resources by status.
type recommendationData struct {
	Key          string
	Meta         recommendationMeta
	Policy       policyInfo
	Tab          string
	Counts       statusCounts
	Rows         []assessedRow
	Subscription string
	Highlight    string
	// Focus is the assessment of the resource a link named (?resource=,
	// the assessment's azurePortalUri).
	Focus      *assessedRow
	Next, Page string
	Total      int64
	CanExempt  bool
	Saved      string
}

func (d recommendationData) PageTitle() (string, string) {
	return d.Meta.DisplayName, "recommendations"
}

type recommendationMeta struct {
	DisplayName            string   `json:"displayName"`
	Description            string   `json:"description"`
	RemediationDescription string   `json:"remediationDescription"`
	Severity               string   `json:"severity"`
	PolicyDefinitionID     string   `json:"policyDefinitionId"`
	Categories             []string `json:"categories"`
	UserImpact             string   `json:"userImpact"`
	ImplementationEffort   string   `json:"implementationEffort"`
	Threats                []string `json:"threats"`
}

type policyInfo struct {
	ID, DisplayName, Description, Rule string
}

// assessedRow is one resource's assessment.
type assessedRow struct {
	ResourceID  string `json:"resourceId"`
	Sub         string `json:"subscriptionId"`
	Code        string `json:"code"`
	Cause       string `json:"cause"`
	Description string `json:"description"`
	Changed     string `json:"changed"`
	// From the description of an exempted row.
	ExemptionID, Category, ExpiresOn string `json:"-"`
}

// Type is the resource's type, Name its name.
func (a assessedRow) Type() string {
	if id, err := armid.Parse(a.ResourceID); err == nil {
		return id.Type()
	}
	return ""
}

func (a assessedRow) Name() string {
	if id, err := armid.Parse(a.ResourceID); err == nil {
		return id.Name()
	}
	return a.ResourceID
}

// tabs map the detail's tabs to assessment status codes.
var tabs = map[string]string{"unhealthy": "Unhealthy", "healthy": "Healthy", "notapplicable": "NotApplicable"}

// PageSize is the rows of a paged list.
const PageSize = 50

var keyPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z\-_.]{0,127}$`)

func (p *Portal) recommendation(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	key := r.PathValue("key")
	q := r.URL.Query()
	d := recommendationData{Key: key, Tab: q.Get("tab"), Subscription: q.Get("subscription"), Highlight: q.Get("resource"), Page: q.Get("page")}
	if n, err := strconv.Atoi(q.Get("saved")); err == nil && n > 0 {
		d.Saved = strconv.Itoa(n)
	}
	if !keyPattern.MatchString(key) {
		p.fail(w, r, s, notFound("There is no recommendation '%s'.", key))
		return
	}
	if _, err := s.get(ctx, "/providers/Microsoft.Security/assessmentMetadata/"+key, metadataVersion, &struct {
		Properties *recommendationMeta `json:"properties"`
	}{&d.Meta}); err != nil {
		p.fail(w, r, s, err)
		return
	}
	if d.Meta.PolicyDefinitionID != "" {
		var def struct {
			Properties struct {
				DisplayName string          `json:"displayName"`
				Description string          `json:"description"`
				PolicyRule  json.RawMessage `json:"policyRule"`
			} `json:"properties"`
		}
		if _, err := s.get(ctx, d.Meta.PolicyDefinitionID, policyVersion, &def); err == nil {
			d.Policy = policyInfo{ID: d.Meta.PolicyDefinitionID, DisplayName: def.Properties.DisplayName, Description: def.Properties.Description, Rule: prettyJSON(def.Properties.PolicyRule)}
		} else {
			d.Policy = policyInfo{ID: d.Meta.PolicyDefinitionID}
		}
	}
	base := "securityresources | where type == 'microsoft.security/assessments' and name == '" + kqlString(strings.ToLower(key)) + "'"
	if d.Subscription != "" {
		base += " and subscriptionId =~ '" + kqlString(d.Subscription) + "'"
	}
	var err error
	if d.Counts, err = countStatuses(ctx, s, base); err != nil {
		p.fail(w, r, s, err)
		return
	}
	if tabs[d.Tab] == "" {
		d.Tab = "unhealthy"
		if d.Counts.Unhealthy == 0 && d.Counts.Healthy > 0 {
			d.Tab = "healthy"
		}
	}
	page, err := query[assessedRow](ctx, s, base+" and properties.status.code == '"+tabs[d.Tab]+"'"+
		" | project resourceId = tostring(properties.resourceDetails.Id), subscriptionId, code = tostring(properties.status.code),"+
		" cause = tostring(properties.status.cause), description = tostring(properties.status.description), changed = tostring(properties.status.statusChangeDate)"+
		" | order by resourceId asc", PageSize, d.Page)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	for i := range page.Rows {
		row := &page.Rows[i]
		if row.Cause == "Exempt" {
			row.ExemptionID, row.Category, row.ExpiresOn, _ = defender.ExemptionOf(row.Description)
		}
	}
	d.Rows, d.Next, d.Total = page.Rows, page.SkipToken, page.Total
	if d.Highlight != "" {
		focus, err := queryAll[assessedRow](ctx, s, "securityresources | where type == 'microsoft.security/assessments' and name == '"+kqlString(strings.ToLower(key))+"'"+
			" and tolower(tostring(properties.resourceDetails.Id)) == '"+kqlString(strings.ToLower(d.Highlight))+"'"+
			" | project resourceId = tostring(properties.resourceDetails.Id), subscriptionId, code = tostring(properties.status.code),"+
			" cause = tostring(properties.status.cause), description = tostring(properties.status.description), changed = tostring(properties.status.statusChangeDate)")
		if err != nil {
			p.fail(w, r, s, err)
			return
		}
		if len(focus) > 0 {
			f := focus[0]
			if f.Cause == "Exempt" {
				f.ExemptionID, f.Category, f.ExpiresOn, _ = defender.ExemptionOf(f.Description)
			}
			d.Focus = &f
		}
	}
	// The Exempt button shows when the user may exempt at the first
	// subscription of the page (the API checks each resource again).
	for _, row := range d.Rows {
		if rid, err := armid.Parse(row.ResourceID); err == nil {
			sub := rid.SubscriptionID()
			assignment := armid.SubscriptionScope(sub).Provider("Microsoft.Authorization", "policyAssignments", requests.DefaultAssignment).String()
			d.CanExempt = p.Authz == nil || p.Authz.AuthorizeExemptionWrite(s.principal, rid.Provider("Microsoft.Authorization", "policyExemptions", "x").String(), assignment) == nil
			break
		}
	}
	p.render(w, r, s, http.StatusOK, "recommendation", d)
}

func notFound(format string, args ...any) error {
	return posture.Errorf(posture.ENOTFOUND, "NotFound", format, args...)
}
