package main

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/url"
	"slices"
	"strings"

	"github.com/posture/posture/client"
)

// API versions of score's calls: secure scores as the armsecurity SDK
// sends them, and ARM's subscriptions list.
const (
	scoreAPIVersion           = "2020-01-01"
	subscriptionAPIVersion    = "2022-12-01"
	managementGroupAPIVersion = "2021-04-01"
)

// ScoreCmd is `posture score`: Defender's secure score of subscriptions
// and management groups, and with --controls the score of each control.
type ScoreCmd struct {
	serverFlags
	Subscriptions    []string `name:"subscription" short:"s" help:"Subscription ids (default: every subscription you may read, when no --management-group is given)."`
	ManagementGroups []string `name:"management-group" short:"m" help:"Management group ids (a group's score weighs its subscriptions)."`
	Controls         bool     `short:"c" help:"One row per security control of each scope: points, resources, and the potential increase of the scope's score."`
	OutputFlags
}

// scoreScope is a subscription or a management group.
type scoreScope struct {
	id, name string
}

// scoreDoc is the part of secureScores and secureScoreControls documents
// score reads.
type scoreDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		DisplayName string `json:"displayName"`
		Score       struct {
			Max        float64 `json:"max"`
			Current    float64 `json:"current"`
			Percentage float64 `json:"percentage"`
		} `json:"score"`
		Weight        int64 `json:"weight"`
		Healthy       int64 `json:"healthyResourceCount"`
		Unhealthy     int64 `json:"unhealthyResourceCount"`
		NotApplicable int64 `json:"notApplicableResourceCount"`
	} `json:"properties"`
}

// Run prints the scores: the API's secureScores documents (or with
// --controls its secureScoreControls documents) for json and yaml.
func (c *ScoreCmd) Run(ctx context.Context, streams *IO) error {
	cl, err := c.client(c.Data)
	if err != nil {
		return err
	}
	scopes, err := c.scopes(ctx, cl)
	if err != nil {
		return err
	}
	scores := make([]json.RawMessage, 0, len(scopes))
	parsed := make([]scoreDoc, 0, len(scopes))
	for _, s := range scopes {
		var raw json.RawMessage
		if _, err := cl.Do(ctx, "GET", s.id+"/providers/Microsoft.Security/secureScores/ascScore", scoreAPIVersion, nil, nil, &raw); err != nil {
			return err
		}
		var d scoreDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			return err
		}
		scores = append(scores, raw)
		parsed = append(parsed, d)
	}
	if !c.Controls {
		v := view{Data: scores, Columns: []string{"name", "current", "max", "percent", "weight", "scope"}}
		for i, d := range parsed {
			p := d.Properties
			v.Rows = append(v.Rows, []any{scopes[i].name, round2(p.Score.Current), p.Score.Max, round2(100 * p.Score.Percentage), p.Weight, scopes[i].id})
		}
		return c.print(streams.Out, formatTable, v)
	}
	bar := newProgress(streams.Err, "reading").unit("controls")
	defer bar.done()
	v := view{Data: []json.RawMessage{}, Columns: []string{"scope", "control", "current", "max", "percent", "potentialIncrease", "unhealthy", "healthy", "notApplicable", "controlId"}}
	for i, s := range scopes {
		controls, err := listAll(ctx, cl, s.id+"/providers/Microsoft.Security/secureScoreControls", scoreAPIVersion, "", bar)
		if err != nil {
			return err
		}
		type row struct {
			raw json.RawMessage
			doc scoreDoc
			pot float64
		}
		rows := make([]row, 0, len(controls))
		total := parsed[i].Properties.Score.Max
		for _, raw := range controls {
			var d scoreDoc
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			pot := 0.0
			if total > 0 {
				pot = 100 * (d.Properties.Score.Max - d.Properties.Score.Current) / total
			}
			rows = append(rows, row{raw, d, pot})
		}
		// As Defender lists them: what would raise the score most first.
		slices.SortStableFunc(rows, func(a, b row) int {
			return cmp.Or(cmp.Compare(b.pot, a.pot), strings.Compare(a.doc.Properties.DisplayName, b.doc.Properties.DisplayName))
		})
		for _, r := range rows {
			p := r.doc.Properties
			v.Data = append(v.Data.([]json.RawMessage), r.raw)
			v.Rows = append(v.Rows, []any{s.name, p.DisplayName, round2(p.Score.Current), p.Score.Max, round2(100 * p.Score.Percentage),
				round2(r.pot), p.Unhealthy, p.Healthy, p.NotApplicable, r.doc.Name})
		}
	}
	return c.print(streams.Out, formatTable, v)
}

// scopes returns the scopes asked for, named: subscriptions by display
// name, management groups by id.
func (c *ScoreCmd) scopes(ctx context.Context, cl *client.Client) ([]scoreScope, error) {
	var out []scoreScope
	names, listErr := subscriptionNames(ctx, cl)
	if len(c.Subscriptions) == 0 && len(c.ManagementGroups) == 0 {
		if listErr != nil {
			return nil, listErr
		}
		for _, n := range names.order {
			out = append(out, scoreScope{id: "/subscriptions/" + n, name: names.byID[strings.ToLower(n)]})
		}
		return out, nil
	}
	for _, s := range c.Subscriptions {
		id := strings.TrimPrefix(strings.TrimSuffix(s, "/"), "/subscriptions/")
		name := names.byID[strings.ToLower(id)]
		if name == "" {
			name = id
		}
		out = append(out, scoreScope{id: "/subscriptions/" + url.PathEscape(id), name: name})
	}
	for _, m := range c.ManagementGroups {
		m = strings.TrimSuffix(m, "/")
		id := "/providers/Microsoft.Management/managementGroups/" + url.PathEscape(m[strings.LastIndexByte(m, '/')+1:])
		var mg struct {
			Name       string `json:"name"`
			Properties struct {
				DisplayName string `json:"displayName"`
			} `json:"properties"`
		}
		// The group's name is for the table; without it, the id will do
		// (and the score's GET says what is wrong).
		if _, err := cl.Do(ctx, "GET", id, managementGroupAPIVersion, nil, nil, &mg); err != nil || mg.Properties.DisplayName == "" {
			mg.Properties.DisplayName = id[strings.LastIndexByte(id, '/')+1:]
		}
		out = append(out, scoreScope{id: id, name: mg.Properties.DisplayName})
	}
	return out, nil
}

// subNames are the subscriptions the caller may read.
type subNames struct {
	order []string          // ids in the server's order
	byID  map[string]string // lower-case id → display name
}

func subscriptionNames(ctx context.Context, cl *client.Client) (subNames, error) {
	n := subNames{byID: map[string]string{}}
	all, err := listAll(ctx, cl, "/subscriptions", subscriptionAPIVersion, "", newProgress(io.Discard, ""))
	if err != nil {
		return n, err
	}
	for _, raw := range all {
		var s struct {
			SubscriptionID string `json:"subscriptionId"`
			DisplayName    string `json:"displayName"`
		}
		if json.Unmarshal(raw, &s) == nil && s.SubscriptionID != "" {
			n.order = append(n.order, s.SubscriptionID)
			n.byID[strings.ToLower(s.SubscriptionID)] = s.DisplayName
		}
	}
	return n, nil
}

// round2 rounds to two decimals, as scores are shown.
func round2(f float64) float64 { return math.Round(f*100) / 100 }
