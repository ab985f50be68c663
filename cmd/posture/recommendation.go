package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/posture/posture"
	"github.com/posture/posture/client"
)

// API versions of recommendation's calls: assessment metadata as the
// armsecurity SDK's 2021-06-01, policy definitions as armpolicy's.
const (
	assessmentAPIVersion = "2021-06-01"
	policyAPIVersion     = "2023-04-01"
)

// RecommendationCmd groups the recommendation subcommands.
type RecommendationCmd struct {
	List RecommendationListCmd `cmd:"" help:"List recommendations with the number of unhealthy, healthy and not applicable resources."`
	Show RecommendationShowCmd `cmd:"" help:"Show a recommendation: its metadata, its policy definition and its assessments."`
}

// assessmentsTable is the Resource Graph query of every assessment.
const assessmentsTable = "securityresources | where type == 'microsoft.security/assessments'"

// recStatuses are the statuses of a recommendation, as Defender's list
// shows them: Unhealthy when a resource is, else Healthy when one is, else
// NotApplicable.
var recStatuses = []string{"Unhealthy", "Healthy", "NotApplicable"}

// severityRank orders severities, High first.
var severityRank = map[string]int{"High": 3, "Medium": 2, "Low": 1}

// recCounts are a recommendation's resources by assessment status.
type recCounts struct {
	Unhealthy     int `json:"unhealthy"`
	Healthy       int `json:"healthy"`
	NotApplicable int `json:"notApplicable"`
	// Exempt counts the not applicable ones an exemption covers.
	Exempt int `json:"exempt"`
}

func (c recCounts) status() string {
	switch {
	case c.Unhealthy > 0:
		return "Unhealthy"
	case c.Healthy > 0:
		return "Healthy"
	}
	return "NotApplicable"
}

// recMeta is the part of an assessmentMetadata document the CLI reads.
type recMeta struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		DisplayName            string   `json:"displayName"`
		Severity               string   `json:"severity"`
		Description            string   `json:"description"`
		RemediationDescription string   `json:"remediationDescription"`
		PolicyDefinitionID     string   `json:"policyDefinitionId"`
		Categories             []string `json:"categories"`
		Preview                bool     `json:"preview"`
	} `json:"properties"`
}

// recommendationRow is one recommendation of the list, for json and yaml.
type recommendationRow struct {
	Key         string `json:"key"`
	DisplayName string `json:"displayName"`
	Severity    string `json:"severity"`
	Status      string `json:"status"`
	recCounts
	Metadata json.RawMessage `json:"metadata"`
}

// RecommendationListCmd is `posture recommendation list`.
type RecommendationListCmd struct {
	serverFlags
	Severity      string   `enum:",High,Medium,Low" default:"" help:"Only recommendations of this severity: High, Medium or Low."`
	Status        string   `enum:",Unhealthy,Healthy,NotApplicable" default:"" help:"Only recommendations in this status: Unhealthy (a resource is), Healthy (none is, one is healthy), NotApplicable."`
	Subscriptions []string `name:"subscription" short:"s" help:"Count only these subscriptions' resources."`
	All           bool     `help:"Also list recommendations that assess no resource."`
	OutputFlags
}

// Run prints one row per recommendation: the API's metadata document with
// the counts for json and yaml.
func (c *RecommendationListCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	metas, err := assessmentMetadata(ctx, cl, c.Subscriptions)
	if err != nil {
		return err
	}
	counts, err := recommendationCounts(ctx, cl, assessmentsTable, c.Subscriptions, "name")
	if err != nil {
		return err
	}
	rows := []recommendationRow{}
	for _, raw := range metas {
		var m recMeta
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		n, assessed := counts[strings.ToLower(m.Name)]
		row := recommendationRow{Key: m.Name, DisplayName: m.Properties.DisplayName, Severity: m.Properties.Severity, Status: n.status(), recCounts: n, Metadata: raw}
		switch {
		case !assessed && !c.All,
			c.Severity != "" && row.Severity != c.Severity,
			c.Status != "" && row.Status != c.Status:
			continue
		}
		rows = append(rows, row)
	}
	// Unhealthy first, then by severity, then the most unhealthy resources.
	slices.SortFunc(rows, func(a, b recommendationRow) int {
		return cmp.Or(
			cmp.Compare(slices.Index(recStatuses, a.Status), slices.Index(recStatuses, b.Status)),
			cmp.Compare(severityRank[b.Severity], severityRank[a.Severity]),
			cmp.Compare(b.Unhealthy, a.Unhealthy),
			strings.Compare(a.DisplayName, b.DisplayName))
	})
	v := view{Data: rows, Columns: []string{"key", "severity", "status", "unhealthy", "healthy", "notApplicable", "exempt", "displayName"}}
	for _, r := range rows {
		v.Rows = append(v.Rows, []any{r.Key, r.Severity, r.Status, r.Unhealthy, r.Healthy, r.NotApplicable, r.Exempt, r.DisplayName})
	}
	return c.print(streams.Out, formatTable, v)
}

// assessmentMetadata lists the recommendations: the built-in ones, and
// the custom ones of the subscriptions named.
func assessmentMetadata(ctx context.Context, cl *client.Client, subscriptions []string) ([]json.RawMessage, error) {
	scopes := []string{""}
	for _, s := range subscriptions {
		scopes = append(scopes, "/subscriptions/"+url.PathEscape(strings.TrimPrefix(s, "/subscriptions/")))
	}
	seen := map[string]bool{}
	var out []json.RawMessage
	for _, scope := range scopes {
		all, err := listAll(ctx, cl, scope+"/providers/Microsoft.Security/assessmentMetadata", assessmentAPIVersion, "", newProgress(io.Discard, ""))
		if err != nil {
			return nil, err
		}
		for _, raw := range all {
			var m recMeta
			if err := json.Unmarshal(raw, &m); err != nil {
				return nil, err
			}
			if k := strings.ToLower(m.Name); !seen[k] {
				seen[k] = true
				out = append(out, raw)
			}
		}
	}
	return out, nil
}

// recommendationCounts counts assessments by status, grouped by a column
// (name: the recommendation's key). One filtered count per status, as the
// portal does (faster than countif on large estates).
func recommendationCounts(ctx context.Context, cl *client.Client, base string, subscriptions []string, by string) (map[string]recCounts, error) {
	out := map[string]recCounts{}
	for _, q := range []struct {
		where string
		into  func(*recCounts, int)
	}{
		{"", func(c *recCounts, n int) { c.NotApplicable += n }}, // all, less the others below
		{" and properties.status.code == 'Unhealthy'", func(c *recCounts, n int) { c.Unhealthy, c.NotApplicable = n, c.NotApplicable-n }},
		{" and properties.status.code == 'Healthy'", func(c *recCounts, n int) { c.Healthy, c.NotApplicable = n, c.NotApplicable-n }},
		{" and properties.status.cause == 'Exempt'", func(c *recCounts, n int) { c.Exempt = n }},
	} {
		_, rows, err := graphQuery(ctx, cl, base+q.where+" | summarize n = count() by "+by, subscriptions, 1<<30, newProgress(io.Discard, ""))
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if len(r) != 2 {
				continue
			}
			key, _ := r[0].(string)
			n, _ := r[1].(float64)
			c := out[strings.ToLower(key)]
			q.into(&c, int(n))
			out[strings.ToLower(key)] = c
		}
	}
	return out, nil
}

// RecommendationShowCmd is `posture recommendation show`.
type RecommendationShowCmd struct {
	Key string `arg:"" help:"Assessment key of the recommendation (from recommendation list)."`
	serverFlags
	Status        string   `enum:",Unhealthy,Healthy,NotApplicable" default:"" help:"Only assessments in this status."`
	Subscriptions []string `name:"subscription" short:"s" help:"Only these subscriptions' assessments (and their custom recommendations)."`
	Top           int      `default:"1000" help:"Assessments to list at most."`
	OutputFlags
}

// recommendationDetail is what show prints for json and yaml.
type recommendationDetail struct {
	Metadata         json.RawMessage   `json:"metadata"`
	PolicyDefinition json.RawMessage   `json:"policyDefinition"`
	Counts           recCounts         `json:"counts"`
	Status           string            `json:"status"`
	Assessments      []json.RawMessage `json:"assessments"`
}

// Run prints the recommendation: a summary and its assessments (table),
// the assessments (csv), or everything (json, yaml).
func (c *RecommendationShowCmd) Run(ctx context.Context, streams *IO) error {
	if c.Top < 1 {
		return usageError{fmt.Errorf("--top must be positive")}
	}
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	d := recommendationDetail{Assessments: []json.RawMessage{}}
	if d.Metadata, err = c.metadata(ctx, cl); err != nil {
		return err
	}
	var m recMeta
	if err := json.Unmarshal(d.Metadata, &m); err != nil {
		return err
	}
	if id := m.Properties.PolicyDefinitionID; id != "" {
		// A custom recommendation's definition may be gone or unreadable:
		// the recommendation is still worth showing.
		if _, err := cl.Do(ctx, "GET", id, policyAPIVersion, nil, nil, &d.PolicyDefinition); err != nil && posture.ErrorKind(err) != posture.ENOTFOUND && posture.ErrorKind(err) != posture.EFORBIDDEN {
			return err
		}
	}
	base := assessmentsTable + " and name =~ '" + kqlString(m.Name) + "'"
	counts, err := recommendationCounts(ctx, cl, base, c.Subscriptions, "name")
	if err != nil {
		return err
	}
	d.Counts = counts[strings.ToLower(m.Name)]
	d.Status = d.Counts.status()
	query := base + " | extend status = tostring(properties.status.code), resourceId = tostring(properties.resourceDetails.Id)"
	if c.Status != "" {
		query += " | where status == '" + c.Status + "'"
	}
	query += " | extend rank = case(status == 'Unhealthy', 0, status == 'Healthy', 1, 2) | order by rank asc, resourceId asc" +
		" | project id, name, type, subscriptionId, resourceId, status, cause = tostring(properties.status.cause), description = tostring(properties.status.description), properties"
	columns, rows, err := graphQuery(ctx, cl, query, c.Subscriptions, c.Top, newProgress(streams.Err, "reading").unit("assessments"))
	if err != nil {
		return err
	}
	objs := rowObjects(columns, rows)
	v := view{Columns: []string{"status", "cause", "resourceId", "subscriptionId", "description", "id"}}
	for _, o := range objs {
		var a struct {
			ID, Name, Type, SubscriptionID, ResourceID, Status, Cause, Description string
			Properties                                                             json.RawMessage
		}
		if err := json.Unmarshal(o, &a); err != nil {
			return err
		}
		doc, err := json.Marshal(map[string]any{"id": a.ID, "name": a.Name, "type": a.Type, "subscriptionId": a.SubscriptionID, "properties": a.Properties})
		if err != nil {
			return err
		}
		d.Assessments = append(d.Assessments, doc)
		v.Rows = append(v.Rows, []any{a.Status, a.Cause, a.ResourceID, a.SubscriptionID, a.Description, a.ID})
	}
	v.Data = d
	v.Text = func(out io.Writer) error { return c.summary(out, &m, &d, v) }
	return c.print(streams.Out, formatTable, v)
}

// metadata reads the recommendation's metadata: built-in, else a custom
// one of the subscriptions named.
func (c *RecommendationShowCmd) metadata(ctx context.Context, cl *client.Client) (json.RawMessage, error) {
	var raw json.RawMessage
	path := "/providers/Microsoft.Security/assessmentMetadata/" + url.PathEscape(c.Key)
	_, err := cl.Do(ctx, "GET", path, assessmentAPIVersion, nil, nil, &raw)
	for _, s := range c.Subscriptions {
		if posture.ErrorKind(err) != posture.ENOTFOUND {
			break
		}
		_, err = cl.Do(ctx, "GET", "/subscriptions/"+url.PathEscape(strings.TrimPrefix(s, "/subscriptions/"))+path, assessmentAPIVersion, nil, nil, &raw)
	}
	return raw, err
}

func (c *RecommendationShowCmd) summary(out io.Writer, m *recMeta, d *recommendationDetail, v view) error {
	tw := tabwriter.NewWriter(out, 0, 2, 2, ' ', 0)
	p := m.Properties
	fmt.Fprintf(tw, "Recommendation:\t%s\n", p.DisplayName)
	fmt.Fprintf(tw, "Key:\t%s\n", m.Name)
	fmt.Fprintf(tw, "Severity:\t%s\n", p.Severity)
	if len(p.Categories) > 0 {
		fmt.Fprintf(tw, "Categories:\t%s\n", strings.Join(p.Categories, ", "))
	}
	fmt.Fprintf(tw, "Status:\t%s (%d unhealthy, %d healthy, %d not applicable of which %d exempt)\n",
		d.Status, d.Counts.Unhealthy, d.Counts.Healthy, d.Counts.NotApplicable, d.Counts.Exempt)
	if p.PolicyDefinitionID != "" {
		var def struct {
			Properties struct {
				DisplayName, Mode, PolicyType string
				Metadata                      struct{ Category string }
			}
		}
		json.Unmarshal(d.PolicyDefinition, &def)
		fmt.Fprintf(tw, "Policy definition:\t%s\n", p.PolicyDefinitionID)
		if dp := def.Properties; dp.DisplayName != "" {
			fmt.Fprintf(tw, "\t%s (%s, mode %s, category %s)\n", dp.DisplayName, dp.PolicyType, dp.Mode, dp.Metadata.Category)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nDescription: %s\n\nRemediation: %s\n\n", p.Description, p.RemediationDescription)
	total := d.Counts.Unhealthy + d.Counts.Healthy + d.Counts.NotApplicable
	if c.Status == "" && len(v.Rows) < total {
		fmt.Fprintf(out, "Assessments (the first %d of %d; --top for more):\n", len(v.Rows), total)
	} else {
		fmt.Fprintf(out, "Assessments (%d):\n", len(v.Rows))
	}
	headers := make([]string, len(v.Columns))
	for i, col := range v.Columns {
		headers[i] = headerOf(col)
	}
	// The assessment's id repeats the resource's: the table leaves it out.
	rows := make([][]any, len(v.Rows))
	for i, r := range v.Rows {
		rows[i] = r[:len(r)-1]
	}
	return writeTable(out, headers[:len(headers)-1], v.Columns[:len(v.Columns)-1], rows)
}
