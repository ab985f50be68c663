package web

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// The resource page: any resource or container the user can read, from
// Resource Graph, with its assessments and the exemptions that apply to it
// (at the resource or any scope above it).

type resourceData struct {
	ID, Name, Type string
	Doc            json.RawMessage
	Assessments    []resourceAssessment
	ATotal         int64
	ANext          string
	ALater         bool
	Exemptions     []exemptionItem
	XTotal         int64
	XNext          string
	XLater         bool
	// Scopes are where exemptions were looked for: the resource and each
	// scope above it, nearest first.
	Scopes []string
}

func (d resourceData) PageTitle() (string, string) { return cmp.Or(d.Name, "Resource"), "" }

type resourceAssessment struct {
	Key         string `json:"name"`
	DisplayName string `json:"displayName"`
	Status      string `json:"status"`
	Cause       string `json:"cause"`
	Severity    string `json:"severity"`
}

// graphRow is what the page reads of a resource's Resource Graph row.
type graphRow struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		DisplayName string `json:"displayName"`
		Chain       []struct {
			Name string `json:"name"`
		} `json:"managementGroupAncestorsChain"`
	} `json:"properties"`
}

func (p *Portal) resource(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	in := r.URL.Query()
	raw := strings.TrimSpace(in.Get("id"))
	rid, err := armid.Parse(raw)
	if err != nil || rid.IsRoot() {
		p.fail(w, r, s, posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "'%s' is not a resource id.", truncate(raw, 300)))
		return
	}
	id := rid.String()
	// One query reads the resource's row and its subscription's (for the
	// management groups above it).
	//
	// The subscription and resource group columns go first: they compare
	// dictionary codes, where a case-insensitive id compare on every row
	// of a 100,000-resource table took 150 ms (and union more).
	containers := "resourcecontainers | where id =~ '" + kqlString(id) + "'"
	if sub := rid.SubscriptionID(); sub != "" {
		containers += " or id =~ '" + kqlString(armid.SubscriptionScope(sub).String()) + "'"
	}
	rows, err := queryAll[json.RawMessage](ctx, s, containers)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	if rid.Kind() == armid.Resource {
		res, err := queryAll[json.RawMessage](ctx, s, "resources"+narrow(rid)+" | where id =~ '"+kqlString(id)+"'")
		if err != nil {
			p.fail(w, r, s, err)
			return
		}
		rows = append(rows, res...)
	}
	d := resourceData{ID: id}
	// The management groups above come from the row of the subscription
	// (or of the group itself).
	chainOf := id
	if k := rid.Kind(); k == armid.ResourceGroup || k == armid.Resource {
		chainOf = ""
		if sub := rid.SubscriptionID(); sub != "" {
			chainOf = armid.SubscriptionScope(sub).String()
		}
	}
	var chain []string
	for _, raw := range rows {
		var g graphRow
		if json.Unmarshal(raw, &g) != nil {
			continue
		}
		if strings.EqualFold(g.ID, id) {
			d.Doc, d.Name, d.Type = raw, g.Name, g.Type
			if rid.Kind() == armid.ManagementGroup && g.Properties.DisplayName != "" {
				d.Name = g.Properties.DisplayName
			}
		}
		if chainOf != "" && strings.EqualFold(g.ID, chainOf) {
			for _, c := range g.Properties.Chain {
				chain = append(chain, armid.ManagementGroupScope(c.Name).String())
			}
		}
	}
	if d.Doc == nil {
		p.fail(w, r, s, posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The resource '%s' was not found, or you cannot read it.", id))
		return
	}
	// The scopes whose exemptions apply: the resource, its parents, its
	// resource group and subscription, and the management groups above.
	d.Scopes = append(d.Scopes, id)
	for _, a := range rid.Ancestors() {
		if !a.IsRoot() {
			d.Scopes = append(d.Scopes, a.String())
		}
	}
	d.Scopes = append(d.Scopes, chain...)

	askip := in.Get("askip")
	as, err := query[resourceAssessment](ctx, s, "securityresources"+narrow(rid)+" | where type == 'microsoft.security/assessments' and tostring(properties.resourceDetails.Id) =~ '"+kqlString(id)+"'"+
		" | extend status = tostring(properties.status.code), severity = tostring(properties.metadata.severity)"+
		" | extend o1 = case(status == 'Unhealthy', 0, status == 'Healthy', 2, 1), o2 = case(severity == 'High', 0, severity == 'Medium', 1, 2)"+
		" | order by o1 asc, o2 asc, name asc"+
		" | project name, displayName = tostring(properties.displayName), status, cause = tostring(properties.status.cause), severity", exemptionsPerPage, askip)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Assessments, d.ATotal, d.ANext, d.ALater = as.Rows, as.Total, as.SkipToken, askip != ""

	lower := make([]string, len(d.Scopes))
	for i, sc := range d.Scopes {
		lower[i] = strings.ToLower(sc)
	}
	xskip := in.Get("xskip")
	xs, err := query[exemptionItem](ctx, s, exemptionsKQL(" | extend lid = tolower(id)"+
		" | extend xscope = substring(lid, 0, indexof(lid, '/providers/microsoft.authorization/policyexemptions/'))"+
		" | where xscope in "+kqlList(lower)), exemptionsPerPage, xskip)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	p.enrichExemptions(ctx, s, xs.Rows)
	d.Exemptions, d.XTotal, d.XNext, d.XLater = xs.Rows, xs.Total, xs.SkipToken, xskip != ""
	p.render(w, r, s, http.StatusOK, "resource", d)
}

// narrow is a where clause on the subscription and resource group columns
// of a resource's rows: cheap filters that go before any on the id.
func narrow(id armid.ID) string {
	sub := id.SubscriptionID()
	if sub == "" {
		return ""
	}
	w := " | where subscriptionId =~ '" + kqlString(sub) + "'"
	if rg := id.ResourceGroup(); rg != "" {
		w += " and resourceGroup =~ '" + kqlString(rg) + "'"
	}
	return w
}
