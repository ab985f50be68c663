package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture/client"
	"github.com/posture/posture/desired"
	"github.com/posture/posture/exemptplan"
)

// API versions the exemptions-as-code commands speak. Exemptions are
// written at the version that has every property a desired file can set.
const (
	codeExemptionVersion = "2025-12-01-preview"
	codePolicyVersion    = "2021-06-01"
	codeMetadataVersion  = "2021-06-01"
)

// The queries that read the estate. Exemptions come from Resource Graph,
// not from the policyExemptions lists: a list page costs the server a pass
// over every exemption, so 100,000 exemptions took ~10 s in 100 pages,
// while one query, paged from the result it keeps, takes ~1 s (see
// exemptions_bench_test.go). Rows are the API's JSON, postureStatus
// included; only the ETag is missing, which apply reads with a GET.
const (
	codeExemptionsQuery  = "policyresources | where type == 'microsoft.authorization/policyexemptions' | project id, properties"
	codeAssignmentsQuery = "policyresources | where type == 'microsoft.authorization/policyassignments' | project id, properties"
	codeContainersQuery  = "resourcecontainers | project id, parent = tostring(properties.details.parent.id), chain = properties.managementGroupAncestorsChain"
)

// codeGraphRows runs a Resource Graph query and calls fn on every row,
// decoded as a T. Pages are fetched one after another (the skip token of
// one names the next) while another goroutine decodes the previous one:
// the fetcher finds the token in the raw page without decoding it, and
// the decoder checks it found the right one.
func codeGraphRows[T any](ctx context.Context, cl *client.Client, query string, fn func(*T) error) error {
	type page struct {
		Data      []T    `json:"data"`
		SkipToken string `json:"$skipToken"`
	}
	type fetched struct {
		raw   []byte
		token string
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan fetched, 2)
	done := make(chan error, 1)
	go func() {
		var err error
		for f := range pages {
			if err != nil {
				continue
			}
			var p page
			if err = json.Unmarshal(f.raw, &p); err != nil {
				err = fmt.Errorf("a Resource Graph page: %w", err)
			} else if p.SkipToken != f.token {
				err = fmt.Errorf("a Resource Graph page's $skipToken was misread")
			}
			for i := 0; err == nil && i < len(p.Data); i++ {
				err = fn(&p.Data[i])
			}
			if err != nil {
				cancel() // stop fetching
			}
		}
		done <- err
	}()
	skip := ""
	var err error
	for {
		req := map[string]any{"query": query, "options": map[string]any{"$top": 1000, "$skipToken": skip, "resultFormat": "objectArray"}}
		var raw []byte
		if _, err = cl.Do(ctx, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources", graphAPIVersion, nil, req, &raw); err != nil {
			break
		}
		skip = codeSkipToken(raw)
		pages <- fetched{raw, skip}
		if skip == "" {
			break
		}
	}
	close(pages)
	if derr := <-done; derr != nil {
		err = derr // the decoder's error is the cause of a cancelled fetch
	}
	return err
}

// codeSkipToken finds the top-level "$skipToken" of a Resource Graph
// answer without decoding it. A row's text cannot fake it: inside a JSON
// string the quotes around it would be escaped.
func codeSkipToken(raw []byte) string {
	const key = `"$skipToken":"`
	i := bytes.LastIndex(raw, []byte(key))
	if i < 0 {
		return ""
	}
	rest := raw[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// codeExemptionRow is an exemption as Resource Graph and the API give it.
type codeExemptionRow struct {
	ID         string `json:"id"`
	Properties struct {
		PolicyAssignmentID           string          `json:"policyAssignmentId"`
		PolicyDefinitionReferenceIDs []string        `json:"policyDefinitionReferenceIds"`
		ExemptionCategory            string          `json:"exemptionCategory"`
		ExpiresOn                    string          `json:"expiresOn"`
		DisplayName                  string          `json:"displayName"`
		Description                  string          `json:"description"`
		Metadata                     map[string]any  `json:"metadata"`
		ResourceSelectors            json.RawMessage `json:"resourceSelectors"`
		ResourceFilter               json.RawMessage `json:"resourceFilter"`
		AssignmentScopeValidation    string          `json:"assignmentScopeValidation"`
		PostureStatus                string          `json:"postureStatus"`
		// Properties a desired file cannot set: kept on every write.
		Evidence                json.RawMessage `json:"evidence"`
		ExemptionManagementMode json.RawMessage `json:"exemptionManagementMode"`
	} `json:"properties"`
}

// codeDecodeExemption reads an exemption document for the planner.
func codeDecodeExemption(raw []byte) (exemptplan.Exemption, error) {
	var r codeExemptionRow
	if err := json.Unmarshal(raw, &r); err != nil {
		return exemptplan.Exemption{}, fmt.Errorf("reading an exemption: %w", err)
	}
	return r.exemption()
}

// exemption is the row as the planner takes it.
func (r *codeExemptionRow) exemption() (exemptplan.Exemption, error) {
	p := &r.Properties
	x := exemptplan.Exemption{
		ID: r.ID, AssignmentID: p.PolicyAssignmentID, ReferenceIDs: p.PolicyDefinitionReferenceIDs, Category: p.ExemptionCategory,
		DisplayName: p.DisplayName, Description: p.Description, Metadata: p.Metadata, ResourceSelectors: codeNullless(p.ResourceSelectors),
		ResourceFilter: codeNullless(p.ResourceFilter), AssignmentScopeValidation: p.AssignmentScopeValidation, Status: p.PostureStatus,
	}
	if len(x.ReferenceIDs) == 0 {
		x.ReferenceIDs = nil
	}
	keep := func(name string, v json.RawMessage) {
		if v = codeNullless(v); len(v) > 0 {
			if x.Kept == nil {
				x.Kept = map[string]json.RawMessage{}
			}
			x.Kept[name] = v
		}
	}
	keep("evidence", p.Evidence)
	keep("exemptionManagementMode", p.ExemptionManagementMode)
	if p.ExpiresOn != "" {
		t, err := time.Parse(time.RFC3339Nano, p.ExpiresOn)
		if err != nil {
			return x, fmt.Errorf("exemption %s: expiresOn %q: %w", r.ID, p.ExpiresOn, err)
		}
		x.ExpiresOn = t.UTC()
	}
	return x, nil
}

func codeNullless(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// codeFetchExemptions reads every exemption the caller may see.
func codeFetchExemptions(ctx context.Context, cl *client.Client) ([]exemptplan.Exemption, error) {
	var out []exemptplan.Exemption
	err := codeGraphRows(ctx, cl, codeExemptionsQuery, func(r *codeExemptionRow) error {
		x, err := r.exemption()
		out = append(out, x)
		return err
	})
	return out, err
}

// codeFetchEstate reads what a plan needs: exemptions, assignments and their
// initiatives, recommendations, the management group hierarchy, and
// whether the entries' scopes exist. The reads run side by side.
func codeFetchEstate(ctx context.Context, cl *client.Client, entries []desired.Entry) (*exemptplan.Estate, error) {
	est := &exemptplan.Estate{Initiatives: map[string][]exemptplan.Member{}, Parents: map[string]string{}, Scopes: map[string]bool{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	run := func(what string, fn func() error) {
		wg.Go(func() {
			if err := fn(); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("reading %s: %w", what, err))
				mu.Unlock()
			}
		})
	}
	run("exemptions", func() (err error) {
		est.Exemptions, err = codeFetchExemptions(ctx, cl)
		return err
	})
	run("assignments and initiatives", func() error { return codeFetchAssignments(ctx, cl, est) })
	run("recommendations", func() error { return codeFetchRecommendations(ctx, cl, est) })
	run("the management group hierarchy", func() error { return codeFetchContainers(ctx, cl, est, entries) })
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return est, nil
}

func codeFetchAssignments(ctx context.Context, cl *client.Client, est *exemptplan.Estate) error {
	sets := map[string]bool{}
	type assignmentRow struct {
		ID         string `json:"id"`
		Properties struct {
			Scope              string   `json:"scope"`
			NotScopes          []string `json:"notScopes"`
			PolicyDefinitionID string   `json:"policyDefinitionId"`
		} `json:"properties"`
	}
	err := codeGraphRows(ctx, cl, codeAssignmentsQuery, func(row *assignmentRow) error {
		p := row.Properties
		est.Assignments = append(est.Assignments, exemptplan.Assignment{ID: row.ID, Scope: p.Scope, NotScopes: p.NotScopes, PolicyDefinitionID: p.PolicyDefinitionID})
		if strings.Contains(strings.ToLower(p.PolicyDefinitionID), "/policysetdefinitions/") {
			sets[p.PolicyDefinitionID] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, set := range slices.Sorted(func(yield func(string) bool) {
		for s := range sets {
			if !yield(s) {
				return
			}
		}
	}) {
		var doc struct {
			Properties struct {
				PolicyDefinitions []struct {
					ReferenceID  string `json:"policyDefinitionReferenceId"`
					DefinitionID string `json:"policyDefinitionId"`
				} `json:"policyDefinitions"`
			} `json:"properties"`
		}
		if _, err := cl.Do(ctx, http.MethodGet, set, codePolicyVersion, nil, nil, &doc); err != nil {
			return fmt.Errorf("initiative %s: %w", set, err)
		}
		for _, m := range doc.Properties.PolicyDefinitions {
			est.Initiatives[set] = append(est.Initiatives[set], exemptplan.Member{ReferenceID: m.ReferenceID, DefinitionID: m.DefinitionID})
		}
	}
	return nil
}

func codeFetchRecommendations(ctx context.Context, cl *client.Client, est *exemptplan.Estate) error {
	q := url.Values{}
	for {
		var page struct {
			Value []struct {
				Name       string `json:"name"`
				Properties struct {
					DisplayName        string `json:"displayName"`
					PolicyDefinitionID string `json:"policyDefinitionId"`
				} `json:"properties"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if _, err := cl.Do(ctx, http.MethodGet, "/providers/Microsoft.Security/assessmentMetadata", codeMetadataVersion, q, nil, &page); err != nil {
			return err
		}
		for _, m := range page.Value {
			if m.Properties.PolicyDefinitionID != "" {
				est.Recommendations = append(est.Recommendations, exemptplan.Recommendation{Key: m.Name, DisplayName: m.Properties.DisplayName, DefinitionID: m.Properties.PolicyDefinitionID})
			}
		}
		if page.NextLink == "" {
			return nil
		}
		u, err := url.Parse(page.NextLink)
		if err != nil {
			return err
		}
		q.Set("$skipToken", u.Query().Get("$skipToken"))
	}
}

// codeFetchContainers reads management groups, subscriptions and resource
// groups: their parents, and whether the entries' scopes exist. Resource
// scopes are looked up by id, a few hundred a query.
func codeFetchContainers(ctx context.Context, cl *client.Client, est *exemptplan.Estate, entries []desired.Entry) error {
	const mgPrefix = "/providers/Microsoft.Management/managementGroups/"
	containers := map[string]bool{}
	type containerRow struct {
		ID     string `json:"id"`
		Parent string `json:"parent"`
		Chain  []struct {
			Name string `json:"name"`
		} `json:"chain"`
	}
	err := codeGraphRows(ctx, cl, codeContainersQuery, func(row *containerRow) error {
		containers[strings.ToLower(row.ID)] = true
		switch {
		case row.Parent != "":
			est.Parents[row.ID] = row.Parent
		case strings.HasPrefix(strings.ToLower(row.ID), "/subscriptions/") && strings.Count(row.ID, "/") == 2 && len(row.Chain) > 0:
			est.Parents[row.ID] = mgPrefix + row.Chain[0].Name
		}
		return nil
	})
	if err != nil {
		return err
	}
	var resources []string
	seen := map[string]bool{}
	for _, e := range entries {
		for _, s := range e.Scopes {
			k := strings.ToLower(s)
			if seen[k] {
				continue
			}
			seen[k] = true
			if strings.Contains(k, "/providers/") && !strings.HasPrefix(k, strings.ToLower(mgPrefix)) || strings.Count(k, "/providers/") > 1 {
				resources = append(resources, s)
				continue
			}
			est.Scopes[s] = containers[k] || k == "/"
		}
	}
	for batch := range slices.Chunk(resources, 300) {
		found := map[string]bool{}
		quoted := make([]string, len(batch))
		for i, id := range batch {
			quoted[i] = "'" + kqlString(id) + "'"
		}
		q := "resources | where id in~ (" + strings.Join(quoted, ", ") + ") | project id"
		if err := codeGraphRows(ctx, cl, q, func(row *struct {
			ID string `json:"id"`
		}) error {
			found[strings.ToLower(row.ID)] = true
			return nil
		}); err != nil {
			return err
		}
		for _, id := range batch {
			est.Scopes[id] = found[strings.ToLower(id)]
		}
	}
	return nil
}
