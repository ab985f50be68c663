package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// TestInheritanceProperty: for a random built-in role assigned at a random
// scope of the demo (a management group, a subscription, a resource group
// or a resource, spelled in any case), the caller may GET the ids at or
// under the scope whose
// type the role reads, and nothing outside it. authz's own property tests
// (scopes_test.go) check inheritance on the Authorizer; this one goes
// through the API, the store and the demo's management group hierarchy.
func TestInheritanceProperty(t *testing.T) {
	s := startServer(t, "--demo")
	const mgPrefix = "/providers/Microsoft.Management/managementGroups/"

	// The hierarchy: each management group's parent, each subscription's
	// management group.
	parent := map[string]string{} // lower-case ids
	var mgs []string
	_, _, mgList := s.rbacListIDs(t, s.token, "/providers/Microsoft.Management/managementGroups?api-version=2021-04-01")
	for _, id := range mgList {
		var d struct {
			Properties struct {
				Details struct {
					Parent struct{ ID string }
				}
			}
		}
		if err := json.Unmarshal(s.get(t, id+"?api-version=2021-04-01"), &d); err != nil {
			t.Fatal(err)
		}
		mgs = append(mgs, id)
		if p := d.Properties.Details.Parent.ID; p != "" {
			parent[strings.ToLower(id)] = strings.ToLower(p)
		}
	}
	var subs []string
	for _, r := range s.rbacGraphRows(t, s.token, "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project id, properties") {
		var p struct {
			Chain []struct{ Name string } `json:"managementGroupAncestorsChain"`
		}
		b, _ := json.Marshal(r["properties"])
		_ = json.Unmarshal(b, &p)
		id := r["id"].(string)
		subs = append(subs, id)
		if len(p.Chain) > 0 {
			parent[strings.ToLower(id)] = strings.ToLower(mgPrefix + p.Chain[0].Name)
		}
	}
	if len(mgs) < 2 || len(subs) < 2 {
		t.Fatalf("the demo has %d management groups and %d subscriptions", len(mgs), len(subs))
	}
	// under reports whether id is scope or lies below it.
	under := func(id, scope string) bool {
		id, scope = strings.ToLower(id), strings.ToLower(scope)
		if id == scope || strings.HasPrefix(id, scope+"/") {
			return true
		}
		if !strings.HasPrefix(scope, strings.ToLower(mgPrefix)) {
			return false
		}
		// Climb from id's management group or subscription.
		top := id
		if strings.HasPrefix(id, "/subscriptions/") {
			sub, _, _ := strings.Cut(strings.TrimPrefix(id, "/subscriptions/"), "/")
			top = "/subscriptions/" + sub
		}
		for p, ok := parent[top]; ok; p, ok = parent[p] {
			if p == scope {
				return true
			}
		}
		return false
	}

	// What to GET: management groups, resource groups, a sample of
	// resources and of assessments. (Subscriptions are left out: Azure
	// lets anyone with a role in a subscription read it, which the roles'
	// action lists do not say.)
	var groups, resources, assessments []string
	for _, r := range s.rbacGraphRows(t, s.token, "resourcecontainers | where type == 'microsoft.resources/subscriptions/resourcegroups' | project id") {
		groups = append(groups, r["id"].(string))
	}
	for i, id := range s.rbacGraphIDs(t, s.token, "resources | project id | order by id asc") {
		if i%9 == 0 {
			resources = append(resources, id)
		}
	}
	for i, id := range s.rbacGraphIDs(t, s.token, "securityresources | where type == 'microsoft.security/assessments' | project id | order by id asc") {
		if i%97 == 0 {
			assessments = append(assessments, id)
		}
	}
	targets := slices.Concat(mgs, groups, resources, assessments)
	scopes := slices.Concat(mgs, subs, groups, resources[:min(len(resources), 12)])
	version := func(id string) string {
		switch lower := strings.ToLower(id); {
		case strings.Contains(lower, "/providers/microsoft.security/assessments/"):
			return "2020-01-01"
		case strings.HasPrefix(lower, strings.ToLower(mgPrefix)):
			return "2021-04-01"
		case !strings.Contains(lower, "/providers/"):
			return "2021-04-01" // a resource group
		}
		return "2023-09-01"
	}
	// reads reports whether the role reads the type of id: every role with
	// "*" or "*/read" reads everything; Security Admin and Security Reader
	// (authz/builtin_roles.json) read management groups
	// (Microsoft.Management/managementGroups/read), resource groups
	// (Microsoft.Resources/subscriptions/resourceGroups/read) and
	// Microsoft.Security types (Microsoft.Security/* and
	// Microsoft.Security/*/read), nothing else in the demo.
	reads := func(role, id string) bool {
		if role != "Security Admin" && role != "Security Reader" {
			return true
		}
		lower := strings.ToLower(id)
		return strings.HasPrefix(lower, strings.ToLower(mgPrefix)) || !strings.Contains(lower, "/providers/") ||
			strings.Contains(lower, "/providers/microsoft.security/")
	}

	callers := map[string]rbacCaller{}
	for _, r := range rbacRoles {
		callers[r.name] = rbacNewCaller(t, s, "inherit-"+r.guid[:8], "Inherit "+r.name, "User")
	}
	rapid.Check(t, func(rt *rapid.T) {
		role := rapid.SampledFrom(rbacRoles).Draw(rt, "role")
		scope := rapid.SampledFrom(scopes).Draw(rt, "scope")
		var inside []string
		for _, id := range targets {
			if under(id, scope) {
				inside = append(inside, id)
			}
		}
		var sample []string
		for range 3 {
			if len(inside) > 0 {
				sample = append(sample, rapid.SampledFrom(inside).Draw(rt, "inside"))
			}
			sample = append(sample, rapid.SampledFrom(targets).Draw(rt, "anywhere"))
		}
		// ARM ids are case-insensitive: the assignment's scope and the
		// path may be spelled in any case.
		assignedAt := scope
		if rapid.Bool().Draw(rt, "upper-case scope") {
			assignedAt = strings.ToUpper(scope)
		}
		lowerPaths := rapid.Bool().Draw(rt, "lower-case paths")
		c := callers[role.name]
		assignment := rbacAssign(t, s, assignedAt, role.guid, c.id)
		defer rbacUnassign(t, s, assignment)
		for _, id := range sample {
			want := under(id, scope) && reads(role.name, id)
			path := id
			if lowerPaths {
				path = strings.ToLower(id)
			}
			code, b := s.rbacAs(t, c, http.MethodGet, path+"?api-version="+version(id), "")
			switch {
			case want && code != http.StatusOK:
				rt.Fatalf("%s at %s: GET %s: %d %.300s, want 200", role.name, scope, id, code, b)
			case !want && (code != http.StatusForbidden || rbacErrorOf(b).Code != "AuthorizationFailed"):
				rt.Fatalf("%s at %s: GET %s: %d %.300s, want 403 AuthorizationFailed", role.name, scope, id, code, b)
			}
		}
	})
}
