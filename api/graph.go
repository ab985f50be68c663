package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// Versions of the Resource Graph query API. 2019-04-01 answers in the
// table format by default; the later ones in objectArray (the current
// armresourcegraph SDK sends 2024-04-01).
var graphVersions = apiVersions{"2019-04-01", "2020-04-01-preview", "2021-03-01", "2021-06-01-preview", "2022-10-01", "2024-04-01"}

func (s *Server) registerGraph() {
	if s.Graph == nil {
		return
	}
	// Every caller may query; the rows are those it may read (Azure
	// answers a query the same way, with no permission at the root).
	s.handle("Microsoft.ResourceGraph/resources", &typeRoutes{versions: graphVersions, post: queryGraph, postReads: true,
		authorize: func(*call) error { return nil }})
}

// graphRequest is ARG's QueryRequest.
type graphRequest struct {
	Subscriptions    []string `json:"subscriptions"`
	ManagementGroups []string `json:"managementGroups"`
	Query            string   `json:"query"`
	Options          *struct {
		SkipToken                string `json:"$skipToken"`
		Top                      *int   `json:"$top"`
		Skip                     *int   `json:"$skip"`
		ResultFormat             string `json:"resultFormat"`
		AllowPartialScopes       bool   `json:"allowPartialScopes"`
		AuthorizationScopeFilter string `json:"authorizationScopeFilter"`
	} `json:"options"`
	Facets []struct {
		Expression string `json:"expression"`
		Options    *struct {
			SortBy    string `json:"sortBy"`
			SortOrder string `json:"sortOrder"`
			Filter    string `json:"filter"`
			Top       *int   `json:"$top"`
		} `json:"options"`
	} `json:"facets"`
}

// queryGraph is POST /providers/Microsoft.ResourceGraph/resources.
func queryGraph(c *call) error {
	if !c.id.IsRoot() {
		return posture.Errorf(posture.EINVALID, "BadRequest", "Resource Graph queries are posted to /providers/Microsoft.ResourceGraph/resources.")
	}
	body, err := c.body()
	if err != nil {
		return err
	}
	var req graphRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content was invalid and could not be deserialized: %v.", err)
	}
	if strings.TrimSpace(req.Query) == "" {
		return posture.Errorf(posture.EINVALID, "BadRequest", "The query is required.")
	}
	// Management groups are named, not addressed: a name that does not
	// make an id (empty, or with a '/') is refused here, before any scope
	// is built from it.
	for i, mg := range req.ManagementGroups {
		id, err := armid.Parse("/providers/Microsoft.Management/managementGroups/" + mg)
		if err != nil || id.Kind() != armid.ManagementGroup || id.Name() != mg {
			return posture.Errorf(posture.EINVALID, "BadRequest", "managementGroups[%d] '%s' is not a management group name.", i, clip(mg)).WithTarget("managementGroups")
		}
	}
	q := &posture.GraphQuery{Query: req.Query, Subscriptions: req.Subscriptions, ManagementGroups: req.ManagementGroups,
		Readable: c.s.readable(c), Principal: c.principal.ID}
	if c.apiVersion == "2019-04-01" {
		q.ResultFormat = "table"
	}
	if o := req.Options; o != nil {
		q.SkipToken, q.AllowPartialScopes = o.SkipToken, o.AllowPartialScopes
		if o.ResultFormat != "" {
			q.ResultFormat = o.ResultFormat
		}
		if o.Top != nil {
			if *o.Top < 1 || *o.Top > 1000 {
				return posture.Errorf(posture.EINVALID, "BadRequest", "The $top option must be between 1 and 1000.")
			}
			q.Top = *o.Top
		}
		if o.Skip != nil {
			q.Skip = *o.Skip
		}
		switch strings.ToLower(o.AuthorizationScopeFilter) {
		case "", "atscopeandbelow":
		default:
			return posture.Errorf(posture.EINVALID, "BadRequest", "authorizationScopeFilter '%s' is not supported by posture; AtScopeAndBelow is what it does.", clip(o.AuthorizationScopeFilter))
		}
	}
	for _, f := range req.Facets {
		gf := posture.GraphFacet{Expression: f.Expression}
		if o := f.Options; o != nil {
			gf.SortBy, gf.SortOrder, gf.Filter = o.SortBy, o.SortOrder, o.Filter
			if o.Top != nil {
				gf.Top = *o.Top
			}
		}
		q.Facets = append(q.Facets, gf)
	}
	res, err := c.s.Graph.Query(c.ctx, q)
	if err != nil {
		return err
	}
	out := map[string]any{
		"totalRecords":    res.TotalRecords,
		"count":           res.Count,
		"resultTruncated": boolString(res.Truncated),
		"data":            json.RawMessage(res.Data),
		"facets":          res.Facets,
	}
	if res.Facets == nil {
		out["facets"] = []any{}
	}
	if res.SkipToken != "" {
		out["$skipToken"] = res.SkipToken
	}
	b, err := json.Marshal(out)
	if err != nil {
		return posture.Internal(err)
	}
	return c.ok(http.StatusOK, b)
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
