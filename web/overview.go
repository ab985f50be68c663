package web

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture/armid"
)

// overviewData is the overview: secure scores per subscription and
// management group, the chosen scope's controls and history, assessment
// counts and exemptions expiring soon.
type overviewData struct {
	Scopes       []scoreRow
	Scope        scoreRow // the one shown in detail
	Controls     []controlRow
	History      template.HTML
	HistoryRows  []point
	Counts       statusCounts
	Expiring     []exemptionRow
	ExpiringDays int
}

func (overviewData) PageTitle() (string, string) { return "Overview", "overview" }

type scoreRow struct {
	// Name is the subscription id or the group's name; Display what to
	// show.
	ID, Name, Display, Kind string
	Current                 float64
	Max                     float64
	Percentage              float64
}

type controlRow struct {
	Name        string  `json:"name"`
	DisplayName string  `json:"displayName"`
	Current     float64 `json:"current"`
	Max         float64 `json:"max"`
	Healthy     int     `json:"healthy"`
	Unhealthy   int     `json:"unhealthy"`
	NA          int     `json:"na"`
	// Increase is the points fixing every unhealthy resource would add, as
	// a share of the scope's maximum (Defender's "potential score increase").
	Increase float64 `json:"-"`
}

type statusCounts struct {
	Healthy, Unhealthy, NotApplicable, Exempt int
}

// exemptionRow is an exemption as the lists show it.
type exemptionRow struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName"`
	Category    string `json:"category"`
	ExpiresOn   string `json:"expiresOn"`
	Assignment  string `json:"assignment"`
	Scope       string `json:"scope"`
}

// ExpiringDays is how far ahead the overview looks for expiring exemptions.
const ExpiringDays = 30

func (p *Portal) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	d := overviewData{ExpiringDays: ExpiringDays}
	scopes, err := p.scoreScopes(ctx, s)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Scopes = scopes
	want := r.URL.Query().Get("scope")
	for _, sc := range scopes {
		if strings.EqualFold(sc.ID, want) || want == "" && sc.Kind == "Subscription" {
			d.Scope = sc
			break
		}
	}
	if d.Scope.ID != "" {
		if d.Controls, err = p.controls(ctx, s, d.Scope); err != nil {
			p.fail(w, r, s, err)
			return
		}
		if d.Scope.Kind == "Subscription" && p.ScoreHistory != nil {
			for _, pt := range p.ScoreHistory(d.Scope.Name) {
				d.HistoryRows = append(d.HistoryRows, point{T: pt.Time, V: pt.Percentage * 100})
			}
			d.History = lineChart("Secure score of "+d.Scope.Display+" over time (percent)", d.HistoryRows)
			if n := len(d.HistoryRows); n > 10 {
				d.HistoryRows = d.HistoryRows[n-10:]
			}
		}
	}
	where := ""
	if d.Scope.Kind == "Subscription" {
		where = fmt.Sprintf(" and subscriptionId == '%s'", kqlString(d.Scope.Name))
	}
	if d.Counts, err = countStatuses(ctx, s, "securityresources | where type == 'microsoft.security/assessments'"+where); err != nil {
		p.fail(w, r, s, err)
		return
	}
	until := p.Now().Add(ExpiringDays * 24 * time.Hour).UTC().Format(time.RFC3339)
	exp, err := query[exemptionRow](ctx, s, "policyresources | where type == 'microsoft.authorization/policyexemptions'"+
		" | extend expiresOn = tostring(properties.expiresOn) | where isnotempty(expiresOn) and todatetime(expiresOn) <= todatetime('"+until+"')"+
		" | project id, name, displayName = tostring(properties.displayName), category = tostring(properties.exemptionCategory), expiresOn, assignment = tostring(properties.policyAssignmentId)"+
		" | order by expiresOn asc", 20, "")
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Expiring = exp.Rows
	p.render(w, r, s, http.StatusOK, "overview", d)
}

// scoreScopes lists the secure scores the user can read: each
// subscription's (Resource Graph) and each management group's (the
// secure score API, which aggregates its subscriptions).
func (p *Portal) scoreScopes(ctx context.Context, s *session) ([]scoreRow, error) {
	subs, err := queryAll[struct {
		Sub     string  `json:"subscriptionId"`
		Current float64 `json:"current"`
		Max     float64 `json:"max"`
		Pct     float64 `json:"pct"`
	}](ctx, s, "securityresources | where type == 'microsoft.security/securescores'"+
		" | project subscriptionId, current = todouble(properties.score.current), max = todouble(properties.score.max), pct = todouble(properties.score.percentage)")
	if err != nil {
		return nil, err
	}
	names, err := queryAll[struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
		Sub  string `json:"subscriptionId"`
		DN   string `json:"dn"`
	}](ctx, s, "resourcecontainers | where type in ('microsoft.resources/subscriptions', 'microsoft.management/managementgroups')"+
		" | project id, name, type, subscriptionId, dn = tostring(properties.displayName)")
	if err != nil {
		return nil, err
	}
	display := map[string]string{}
	var out []scoreRow
	for _, n := range names {
		if n.Type == "microsoft.resources/subscriptions" {
			display[strings.ToLower(n.Sub)] = cmp.Or(n.DN, n.Name)
		}
	}
	for _, sc := range subs {
		out = append(out, scoreRow{ID: armid.SubscriptionScope(sc.Sub).String(), Name: sc.Sub, Display: cmp.Or(display[strings.ToLower(sc.Sub)], sc.Sub),
			Kind: "Subscription", Current: sc.Current, Max: sc.Max, Percentage: sc.Pct})
	}
	slices.SortFunc(out, func(a, b scoreRow) int { return cmp.Compare(a.Display, b.Display) })
	for _, n := range names {
		if n.Type != "microsoft.management/managementgroups" {
			continue
		}
		var doc struct {
			Properties struct {
				Score struct {
					Current, Max, Percentage float64
				} `json:"score"`
			} `json:"properties"`
		}
		if _, err := s.get(ctx, n.ID+"/providers/Microsoft.Security/secureScores/ascScore", securityVersion, &doc); err != nil {
			continue // no read at the group: its subscriptions are listed on their own
		}
		sc := doc.Properties.Score
		out = append(out, scoreRow{ID: n.ID, Name: n.Name, Display: cmp.Or(n.DN, n.Name), Kind: "Management group", Current: sc.Current, Max: sc.Max, Percentage: sc.Percentage})
	}
	return out, nil
}

// controls lists a scope's security controls with their points.
func (p *Portal) controls(ctx context.Context, s *session, sc scoreRow) ([]controlRow, error) {
	var rows []controlRow
	if sc.Kind == "Subscription" {
		var err error
		rows, err = queryAll[controlRow](ctx, s, "securityresources | where type == 'microsoft.security/securescores/securescorecontrols' and subscriptionId == '"+kqlString(sc.Name)+"'"+
			" | project name, displayName = tostring(properties.displayName), current = todouble(properties.score.current), max = todouble(properties.score.max),"+
			" healthy = toint(properties.healthyResourceCount), unhealthy = toint(properties.unhealthyResourceCount), na = toint(properties.notApplicableResourceCount)")
		if err != nil {
			return nil, err
		}
	} else {
		docs, err := s.list(ctx, sc.ID+"/providers/Microsoft.Security/secureScores/ascScore/secureScoreControls", securityVersion, nil)
		if err != nil {
			return nil, err
		}
		for _, raw := range docs {
			var d struct {
				Name       string `json:"name"`
				Properties struct {
					DisplayName string `json:"displayName"`
					Score       struct{ Current, Max float64 }
					Healthy     int `json:"healthyResourceCount"`
					Unhealthy   int `json:"unhealthyResourceCount"`
					NA          int `json:"notApplicableResourceCount"`
				} `json:"properties"`
			}
			if decodeJSON(raw, &d) == nil {
				rows = append(rows, controlRow{Name: d.Name, DisplayName: d.Properties.DisplayName, Current: d.Properties.Score.Current,
					Max: d.Properties.Score.Max, Healthy: d.Properties.Healthy, Unhealthy: d.Properties.Unhealthy, NA: d.Properties.NA})
			}
		}
	}
	for i := range rows {
		if sc.Max > 0 {
			rows[i].Increase = (rows[i].Max - rows[i].Current) / sc.Max
		}
	}
	slices.SortFunc(rows, func(a, b controlRow) int {
		return cmp.Or(cmp.Compare(b.Max-b.Current, a.Max-a.Current), cmp.Compare(b.Max, a.Max), cmp.Compare(a.DisplayName, b.DisplayName))
	})
	return rows, nil
}

// countStatuses counts the assessments a query selects by status (and
// the exempt among the not applicable).
func countStatuses(ctx context.Context, s *session, assessments string) (statusCounts, error) {
	rows, err := queryAll[struct {
		Code  string `json:"code"`
		Cause string `json:"cause"`
		N     int    `json:"n"`
	}](ctx, s, assessments+" | summarize n = count() by code = tostring(properties.status.code), cause = tostring(properties.status.cause)")
	var c statusCounts
	for _, row := range rows {
		switch row.Code {
		case "Healthy":
			c.Healthy += row.N
		case "Unhealthy":
			c.Unhealthy += row.N
		case "NotApplicable":
			c.NotApplicable += row.N
			if row.Cause == "Exempt" {
				c.Exempt += row.N
			}
		}
	}
	return c, err
}

// kqlString escapes s for a single-quoted KQL string literal.
func kqlString(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`).Replace(s)
}
