package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// End-to-end authorization: principals with tokens, built-in roles assigned
// at the demo estate's scopes, and what each of them may do over HTTP.

// The built-in roles under test, with their GUIDs (authz/builtin_roles.json).
type rbacRole struct{ name, guid string }

var rbacRoles = []rbacRole{
	{"Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"},
	{"Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c"},
	{"Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"},
	{"Security Admin", "fb1c8493-542b-48eb-b624-b4c8fea62acd"},
	{"Security Reader", "39bc4728-0917-49c7-9d2c-d95423bc2eb4"},
	{"Resource Policy Contributor", "36243c78-bf99-498c-9df9-86d9f8d28608"},
	{"User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"},
}

func rbacRoleGUID(t testing.TB, name string) string {
	t.Helper()
	for _, r := range rbacRoles {
		if r.name == name {
			return r.guid
		}
	}
	t.Fatalf("no role %q", name)
	return ""
}

const (
	// The demo's "Contoso Production" and the management group above it.
	rbacSub = "/subscriptions/ce4b1091-e228-4a73-bfe9-32528bfbdb4d"
	rbacMG  = "/providers/Microsoft.Management/managementGroups/contoso-landingzones"
	// The Defender for Cloud initiative's assignment on the subscription.
	rbacPolicyAssignment = rbacSub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"

	rbacIdentityVersion  = "2026-11-01"
	rbacRoleVersion      = "2022-04-01"
	rbacExemptionVersion = "2022-07-01-preview"

	rbacActionExempt = "Microsoft.Authorization/policyAssignments/exempt/action"
)

// rbacCaller is a principal and one of its tokens.
type rbacCaller struct{ id, name, token string }

// rbacNewCaller creates a principal and a token for it with the bootstrap
// token.
func rbacNewCaller(t *testing.T, s *server, id, displayName, typ string) rbacCaller {
	t.Helper()
	code, _, b := s.raw(t, http.MethodPut, "/providers/Posture.Identity/principals/"+id+"?api-version="+rbacIdentityVersion,
		fmt.Sprintf(`{"properties":{"principalType":%q,"displayName":%q}}`, typ, displayName))
	if code != http.StatusCreated {
		t.Fatalf("create principal %s: %d %s", id, code, b)
	}
	// Token ids are unique in the whole store, not per principal (see
	// TestRoleAssignmentErrors, "token names are per principal").
	code, _, b = s.raw(t, http.MethodPut, "/providers/Posture.Identity/principals/"+id+"/tokens/ci-"+id+"?api-version="+rbacIdentityVersion,
		`{"properties":{"displayName":"ci"}}`)
	var tok struct{ Properties struct{ Secret string } }
	if err := json.Unmarshal(b, &tok); code != http.StatusCreated || err != nil || tok.Properties.Secret == "" {
		t.Fatalf("create token for %s: %d %s", id, code, b)
	}
	return rbacCaller{id: id, name: displayName, token: tok.Properties.Secret}
}

// rbacAs sends one request with the caller's token.
func (s *server) rbacAs(t *testing.T, c rbacCaller, method, path, body string) (int, []byte) {
	t.Helper()
	code, _, b := s.raw(t, method, path, body, "Authorization", "Bearer "+c.token)
	return code, b
}

// rbacAssign assigns a role at scope with the bootstrap token and returns
// the assignment's id.
func rbacAssign(t *testing.T, s *server, scope, roleGUID, principalID string) string {
	t.Helper()
	id := strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString()
	code, _, b := s.raw(t, http.MethodPut, id+"?api-version="+rbacRoleVersion, rbacAssignmentBody(roleGUID, principalID, ""))
	if code != http.StatusCreated {
		t.Fatalf("assign %s to %s at %s: %d %s", roleGUID, principalID, scope, code, b)
	}
	return id
}

func rbacAssignmentBody(roleGUID, principalID, extra string) string {
	return fmt.Sprintf(`{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/%s","principalId":%q%s}}`, roleGUID, principalID, extra)
}

func rbacUnassign(t *testing.T, s *server, id string) {
	t.Helper()
	if code, _, b := s.raw(t, http.MethodDelete, id+"?api-version="+rbacRoleVersion, ""); code != http.StatusOK {
		t.Errorf("delete role assignment %s: %d %s", id, code, b)
	}
}

// rbacError is ARM's error envelope.
type rbacError struct{ Code, Message string }

func rbacErrorOf(b []byte) rbacError {
	var e struct{ Error rbacError }
	_ = json.Unmarshal(b, &e)
	return e.Error
}

// rbacDenial is Azure's AuthorizationFailed message (authz/errors.go cites
// where Azure shows it).
func rbacDenial(c rbacCaller, action, scope string) string {
	return fmt.Sprintf("The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		c.name, c.id, action, scope)
}

// rbacLinkedDenial is Azure's LinkedAuthorizationFailed message.
func rbacLinkedDenial(c rbacCaller, action, scope, linkedAction, linkedScope string) string {
	return fmt.Sprintf("The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action '%s' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
		c.name, c.id, action, scope, linkedAction, linkedScope)
}

// rbacListIDs GETs a list with a token, following nextLink, and returns the
// status of the first page that is not 200 (or 200) and the ids.
func (s *server) rbacListIDs(t *testing.T, token, path string) (int, []byte, []string) {
	t.Helper()
	var ids []string
	for page := 0; path != ""; page++ {
		code, _, b := s.raw(t, http.MethodGet, path, "", "Authorization", "Bearer "+token)
		if code != http.StatusOK {
			return code, b, nil
		}
		var l struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatalf("GET %s: %v %.300s", path, err, b)
		}
		for _, v := range l.Value {
			ids = append(ids, v.ID)
		}
		path = strings.TrimPrefix(l.NextLink, s.url)
		if page > 100 {
			t.Fatalf("GET %s: paging does not end", path)
		}
	}
	return http.StatusOK, nil, ids
}

// rbacGraphRows posts a Resource Graph query with a token, following skip
// tokens, and returns the rows.
func (s *server) rbacGraphRows(t testing.TB, token, query string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	skip := ""
	for page := 0; ; page++ {
		req := map[string]any{"query": query, "options": map[string]any{"$top": 1000, "$skipToken": skip}}
		body, _ := json.Marshal(req)
		code, _, b := s.raw(t, http.MethodPost, "/providers/Microsoft.ResourceGraph/resources?api-version=2024-04-01", string(body),
			"Authorization", "Bearer "+token)
		var res struct {
			Data      []map[string]any `json:"data"`
			SkipToken string           `json:"$skipToken"`
		}
		if err := json.Unmarshal(b, &res); code != http.StatusOK || err != nil {
			t.Fatalf("query %q: %d %v %.300s", query, code, err, b)
		}
		rows = append(rows, res.Data...)
		if skip = res.SkipToken; skip == "" {
			return rows
		}
		if page > 100 {
			t.Fatalf("query %q: paging does not end", query)
		}
	}
}

func (s *server) rbacGraphIDs(t *testing.T, token, query string) []string {
	t.Helper()
	var ids []string
	for _, r := range s.rbacGraphRows(t, token, query) {
		id, _ := r["id"].(string)
		ids = append(ids, id)
	}
	return ids
}

// rbacSameIDs compares two lists of ARM ids as sets, ignoring case, and
// describes the difference.
func rbacSameIDs(got, want []string) (bool, string) {
	g, w := rbacLowerSet(got), rbacLowerSet(want)
	var extra, missing []string
	for id := range g {
		if !w[id] {
			extra = append(extra, id)
		}
	}
	for id := range w {
		if !g[id] {
			missing = append(missing, id)
		}
	}
	slices.Sort(extra)
	slices.Sort(missing)
	clip := func(ids []string) []string {
		if len(ids) > 5 {
			return append(ids[:5:5], fmt.Sprintf("… %d more", len(ids)-5))
		}
		return ids
	}
	return len(extra) == 0 && len(missing) == 0 && len(got) == len(g),
		fmt.Sprintf("%d rows (want %d); not expected %v; missing %v", len(got), len(want), clip(extra), clip(missing))
}

func rbacLowerSet(ids []string) map[string]bool {
	m := map[string]bool{}
	for _, id := range ids {
		m[strings.ToLower(id)] = true
	}
	return m
}

// rbacEstate is the part of the demo estate the matrix uses, found through
// the API with the bootstrap token.
type rbacEstate struct {
	// Subscriptions (lower case) under rbacMG; sibling is one that is not
	// rbacSub.
	mgSubs  map[string]bool
	sibling string
	// rg holds vnet (with a subnet and an assessment), vm and throwaway (a
	// virtual network the test creates and deletes); otherRG is a sibling.
	rg, otherRG                     string
	vnet, subnet, vm, throwaway     string
	assessment, assessmentReference string
}

func rbacDiscover(t *testing.T, s *server) *rbacEstate {
	t.Helper()
	e := &rbacEstate{mgSubs: map[string]bool{}}
	// Which subscriptions sit under the management group: Resource Graph's
	// managementGroupAncestorsChain (nearest first).
	for _, r := range s.rbacGraphRows(t, s.token, "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project id, properties") {
		var p struct {
			Chain []struct{ Name string } `json:"managementGroupAncestorsChain"`
		}
		b, _ := json.Marshal(r["properties"])
		_ = json.Unmarshal(b, &p)
		for _, mg := range p.Chain {
			if strings.EqualFold("/providers/Microsoft.Management/managementGroups/"+mg.Name, rbacMG) {
				e.mgSubs[strings.ToLower(r["id"].(string))] = true
			}
		}
	}
	if !e.mgSubs[strings.ToLower(rbacSub)] {
		t.Fatalf("%s is not under %s: %v", rbacSub, rbacMG, e.mgSubs)
	}
	for sub := range e.mgSubs {
		if sub != strings.ToLower(rbacSub) && (e.sibling == "" || sub < e.sibling) {
			e.sibling = sub
		}
	}
	if e.sibling == "" {
		t.Fatalf("no other subscription under %s", rbacMG)
	}

	// The subscription's assessments, by the resource they assess.
	_, _, assessments := s.rbacListIDs(t, s.token, rbacSub+"/providers/Microsoft.Security/assessments?api-version=2020-01-01")
	_, _, groups := s.rbacListIDs(t, s.token, rbacSub+"/resourcegroups?api-version=2021-04-01")
	slices.Sort(groups)
	for _, rg := range groups {
		if e.rg != "" {
			if e.otherRG == "" {
				e.otherRG = rg
			}
			continue
		}
		_, _, resources := s.rbacListIDs(t, s.token, rg+"/resources?api-version=2021-04-01")
		slices.Sort(resources)
		var vnet, subnet, vm, assessment string
		for _, id := range resources {
			switch lower := strings.ToLower(id); {
			case vm == "" && strings.Contains(lower, "/providers/microsoft.compute/virtualmachines/"):
				vm = id
			case vnet == "" && strings.Contains(lower, "/providers/microsoft.network/virtualnetworks/"):
				_, _, subnets := s.rbacListIDs(t, s.token, id+"/subnets?api-version=2023-09-01")
				for _, a := range assessments {
					if len(subnets) > 0 && strings.HasPrefix(strings.ToLower(a), lower+"/providers/microsoft.security/assessments/") {
						// The list names assessments in lower case; address it
						// under the network's id as the API spells it.
						vnet, subnet, assessment = id, subnets[0], id+a[len(lower):]
						break
					}
				}
			}
		}
		if vnet != "" && vm != "" {
			e.rg, e.vnet, e.subnet, e.vm, e.assessment = rg, vnet, subnet, vm, assessment
		}
	}
	if e.rg == "" || e.otherRG == "" {
		t.Fatalf("the demo subscription has no resource group with a virtual network (with a subnet and an assessment) and a virtual machine, and another group: %v", groups)
	}
	var a struct {
		Properties struct {
			AdditionalData map[string]string `json:"additionalData"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(s.get(t, e.assessment+"?api-version=2020-01-01"), &a); err != nil {
		t.Fatal(err)
	}
	if e.assessmentReference = a.Properties.AdditionalData["policyDefinitionReferenceId"]; e.assessmentReference == "" {
		t.Fatalf("assessment %s names no policyDefinitionReferenceId", e.assessment)
	}
	s.get(t, rbacPolicyAssignment+"?api-version=2022-06-01")
	e.throwaway = e.rg + "/providers/Microsoft.Network/virtualNetworks/vnet-rbac-throwaway"
	e.ensure(t, s, e.throwaway+"?api-version=2023-09-01", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":["10.250.0.0/16"]}}}`)
	return e
}

// ensure creates path with body (bootstrap token) when it does not exist.
func (e *rbacEstate) ensure(t *testing.T, s *server, path, body string) {
	t.Helper()
	code, _, b := s.raw(t, http.MethodGet, path, "")
	if code == http.StatusOK {
		return
	}
	if code != http.StatusNotFound {
		t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if code, _, b := s.raw(t, http.MethodPut, path, body); code != http.StatusCreated {
		t.Fatalf("PUT %s: %d %s", path, code, b)
	}
}

func (e *rbacEstate) exemptionBody() string {
	return fmt.Sprintf(`{"properties":{"policyAssignmentId":%q,"exemptionCategory":"Mitigated","policyDefinitionReferenceIds":[%q]}}`,
		rbacPolicyAssignment, e.assessmentReference)
}

// under reports whether id is scope or lies below it; under a management
// group lie its subscriptions and everything in them.
func (e *rbacEstate) under(id, scope string) bool {
	id, scope = strings.ToLower(id), strings.ToLower(scope)
	if id == scope || strings.HasPrefix(id, scope+"/") {
		return true
	}
	if scope == strings.ToLower(rbacMG) && strings.HasPrefix(id, "/subscriptions/") {
		sub, _, _ := strings.Cut(strings.TrimPrefix(id, "/subscriptions/"), "/")
		return e.mgSubs["/subscriptions/"+sub]
	}
	return false
}

// rbacRelation is where a role assignment sits relative to what a call
// addresses.
type rbacRelation int

const (
	relOwn     rbacRelation = iota // at the target's own scope
	relParent                      // at a scope above it (parent, grandparent, management group)
	relChild                       // at a scope below it
	relSibling                     // elsewhere: a sibling or an unrelated scope
	relNone                        // no assignment at all: as elsewhere
)

func (r rbacRelation) String() string {
	return [...]string{"own", "parent", "child", "sibling", "none"}[r]
}

func (e *rbacEstate) relation(assignedAt, target string) rbacRelation {
	switch {
	case strings.EqualFold(assignedAt, target):
		return relOwn
	case e.under(target, assignedAt):
		return relParent
	case e.under(assignedAt, target):
		return relChild
	}
	return relSibling
}

// rbacOutcome is what a call should get.
type rbacOutcome int

const (
	outAllowed   rbacOutcome = iota // 2xx; a list has every row
	outRefused                      // 403 AuthorizationFailed
	outLinked                       // 403 LinkedAuthorizationFailed
	outRowsBelow                    // 200 with only the rows at or under the assignment's scope
)

func (o rbacOutcome) String() string {
	return [...]string{"allowed", "AuthorizationFailed", "LinkedAuthorizationFailed", "rows below the assignment"}[o]
}

// rbacExpect is the outcome for each place the role can be assigned.
type rbacExpect struct{ own, parent, child, sibling rbacOutcome }

func (x rbacExpect) at(r rbacRelation) rbacOutcome {
	return [...]rbacOutcome{x.own, x.parent, x.child, x.sibling, x.sibling}[r]
}

var (
	// The role grants the action: assignments at the target and above it
	// apply (inheritance is downward only).
	rbacInherited = rbacExpect{outAllowed, outAllowed, outRefused, outRefused}
	// A list: as rbacInherited, and a role held only below the list's scope
	// lets the list through with the rows the caller may read.
	rbacInheritedList = rbacExpect{outAllowed, outAllowed, outRowsBelow, outRefused}
	// The role does not grant the action anywhere.
	rbacNotGranted = rbacExpect{outRefused, outRefused, outRefused, outRefused}
	// Every signed-in caller may (role definitions).
	rbacOpen = rbacExpect{outAllowed, outAllowed, outAllowed, outAllowed}
	// An exemption of the subscription's policy assignment written at a
	// resource group: policyExemptions/write is checked at the exemption,
	// policyAssignments/exempt/action at the assignment, which sits on the
	// subscription above the group. Held at the group only, the second
	// fails (LinkedAuthorizationFailed).
	rbacExemptAtGroup = rbacExpect{outLinked, outAllowed, outRefused, outRefused}
)

// Endpoint names.
const (
	epGetResource       = "GET resource"
	epGetGroup          = "GET resource group"
	epListGroup         = "list resources in group"
	epPutTag            = "PUT resource with a tag"
	epDeleteResource    = "DELETE resource"
	epGetAssessment     = "GET assessment"
	epListAssessments   = "list assessments"
	epGetScore          = "GET secure score"
	epPutExemption      = "PUT exemption"
	epPutGroupExemption = "PUT exemption at group"
	epDeleteExemption   = "DELETE exemption"
	epListExemptions    = "list exemptions"
	epPatchExemption    = "PATCH exemption at group"
	epPutAssignment     = "PUT role assignment"
	epDeleteAssignment  = "DELETE role assignment"
	epListAssignments   = "list role assignments"
	epGetRole           = "GET role definition"
	epListRoles         = "list role definitions"
	epQueryStates       = "query policy states"
)

// rbacMatrix is what each built-in role may do, from its actions and
// notActions in authz/builtin_roles.json (Azure's definitions).
var rbacMatrix = []struct {
	endpoint, role string
	want           rbacExpect
}{
	// GET a virtual network: Microsoft.Network/virtualNetworks/read.
	{epGetResource, "Owner", rbacInherited},                       // actions ["*"]
	{epGetResource, "Contributor", rbacInherited},                 // actions ["*"]; notActions name no read
	{epGetResource, "Reader", rbacInherited},                      // "*/read"
	{epGetResource, "Security Admin", rbacNotGranted},             // no "*/read"; nothing under Microsoft.Network
	{epGetResource, "Security Reader", rbacNotGranted},            // Microsoft.Security/*/read etc., nothing under Microsoft.Network
	{epGetResource, "Resource Policy Contributor", rbacInherited}, // "*/read"
	{epGetResource, "User Access Administrator", rbacInherited},   // "*/read"
	// GET a resource group: Microsoft.Resources/subscriptions/resourceGroups/read.
	{epGetGroup, "Owner", rbacInherited},                       // "*"
	{epGetGroup, "Contributor", rbacInherited},                 // "*"
	{epGetGroup, "Reader", rbacInherited},                      // "*/read"
	{epGetGroup, "Security Admin", rbacInherited},              // lists Microsoft.Resources/subscriptions/resourceGroups/read
	{epGetGroup, "Security Reader", rbacInherited},             // lists Microsoft.Resources/subscriptions/resourceGroups/read
	{epGetGroup, "Resource Policy Contributor", rbacInherited}, // "*/read"
	{epGetGroup, "User Access Administrator", rbacInherited},   // "*/read"
	// GET {group}/resources: Microsoft.Resources/subscriptions/resourceGroups/resources/read.
	{epListGroup, "Owner", rbacInheritedList},                       // "*"
	{epListGroup, "Contributor", rbacInheritedList},                 // "*"
	{epListGroup, "Reader", rbacInheritedList},                      // "*/read"
	{epListGroup, "Security Admin", rbacNotGranted},                 // resourceGroups/read is literal: it does not cover resourceGroups/resources/read
	{epListGroup, "Security Reader", rbacNotGranted},                // same
	{epListGroup, "Resource Policy Contributor", rbacInheritedList}, // "*/read"
	{epListGroup, "User Access Administrator", rbacInheritedList},   // "*/read"
	// PUT a virtual network's document with a tag: Microsoft.Network/virtualNetworks/write.
	{epPutTag, "Owner", rbacInherited},                        // "*"
	{epPutTag, "Contributor", rbacInherited},                  // "*"; notActions are Microsoft.Authorization/*/Write and others, not Microsoft.Network
	{epPutTag, "Reader", rbacNotGranted},                      // reads only
	{epPutTag, "Security Admin", rbacNotGranted},              // writes only Microsoft.Security, policy, alert rules, deployments, support
	{epPutTag, "Security Reader", rbacNotGranted},             // reads and a few Microsoft.Security/IoT actions
	{epPutTag, "Resource Policy Contributor", rbacNotGranted}, // writes only policy*, Microsoft.PolicyInsights, deployments, support
	{epPutTag, "User Access Administrator", rbacNotGranted},   // writes only Microsoft.Authorization and Microsoft.Support
	// DELETE a virtual network: Microsoft.Network/virtualNetworks/delete.
	{epDeleteResource, "Owner", rbacInherited},                        // "*"
	{epDeleteResource, "Contributor", rbacInherited},                  // "*"; notActions' deletes are Microsoft.Authorization, Blueprint, Purview
	{epDeleteResource, "Reader", rbacNotGranted},                      // reads only
	{epDeleteResource, "Security Admin", rbacNotGranted},              // nothing under Microsoft.Network
	{epDeleteResource, "Security Reader", rbacNotGranted},             // reads only
	{epDeleteResource, "Resource Policy Contributor", rbacNotGranted}, // nothing under Microsoft.Network beyond */read
	{epDeleteResource, "User Access Administrator", rbacNotGranted},   // Microsoft.Authorization/*, Microsoft.Support/* only
	// GET {resource}/providers/Microsoft.Security/assessments/{key}: Microsoft.Security/assessments/read.
	{epGetAssessment, "Owner", rbacInherited},                       // "*"
	{epGetAssessment, "Contributor", rbacInherited},                 // "*"
	{epGetAssessment, "Reader", rbacInherited},                      // "*/read"
	{epGetAssessment, "Security Admin", rbacInherited},              // "Microsoft.Security/*"
	{epGetAssessment, "Security Reader", rbacInherited},             // "Microsoft.Security/*/read"
	{epGetAssessment, "Resource Policy Contributor", rbacInherited}, // "*/read"
	{epGetAssessment, "User Access Administrator", rbacInherited},   // "*/read"
	// GET {subscription}/providers/Microsoft.Security/assessments (Azure lists
	// assessments at a subscription or management group): the same action.
	{epListAssessments, "Owner", rbacInheritedList},                       // "*"
	{epListAssessments, "Contributor", rbacInheritedList},                 // "*"
	{epListAssessments, "Reader", rbacInheritedList},                      // "*/read"
	{epListAssessments, "Security Admin", rbacInheritedList},              // "Microsoft.Security/*"
	{epListAssessments, "Security Reader", rbacInheritedList},             // "Microsoft.Security/*/read"
	{epListAssessments, "Resource Policy Contributor", rbacInheritedList}, // "*/read"
	{epListAssessments, "User Access Administrator", rbacInheritedList},   // "*/read"
	// GET {subscription}/providers/Microsoft.Security/secureScores/ascScore: Microsoft.Security/secureScores/read.
	{epGetScore, "Owner", rbacInherited},                       // "*"
	{epGetScore, "Contributor", rbacInherited},                 // "*"
	{epGetScore, "Reader", rbacInherited},                      // "*/read"
	{epGetScore, "Security Admin", rbacInherited},              // "Microsoft.Security/*"
	{epGetScore, "Security Reader", rbacInherited},             // "Microsoft.Security/*/read"
	{epGetScore, "Resource Policy Contributor", rbacInherited}, // "*/read"
	{epGetScore, "User Access Administrator", rbacInherited},   // "*/read"
	// PUT an exemption on the subscription of its policy assignment:
	// Microsoft.Authorization/policyExemptions/write at the exemption and
	// Microsoft.Authorization/policyAssignments/exempt/action at the assignment.
	{epPutExemption, "Owner", rbacInherited},                       // "*" grants both
	{epPutExemption, "Contributor", rbacNotGranted},                // notActions "Microsoft.Authorization/*/Write" removes policyExemptions/write (authz/DECISIONS.md 1)
	{epPutExemption, "Reader", rbacNotGranted},                     // reads only
	{epPutExemption, "Security Admin", rbacInherited},              // "Microsoft.Authorization/policyExemptions/*" and ".../policyAssignments/*"
	{epPutExemption, "Security Reader", rbacNotGranted},            // "Microsoft.Authorization/*/read" only
	{epPutExemption, "Resource Policy Contributor", rbacInherited}, // "Microsoft.Authorization/policyexemptions/*" and ".../policyassignments/*"
	{epPutExemption, "User Access Administrator", rbacInherited},   // "Microsoft.Authorization/*"
	// PUT an exemption at a resource group of the subscription's assignment.
	{epPutGroupExemption, "Owner", rbacExemptAtGroup},                       // both actions, but exempt/action only where the role is held
	{epPutGroupExemption, "Contributor", rbacNotGranted},                    // policyExemptions/write removed by notActions: refused at the first check
	{epPutGroupExemption, "Reader", rbacNotGranted},                         // reads only
	{epPutGroupExemption, "Security Admin", rbacExemptAtGroup},              // policyExemptions/* and policyAssignments/*
	{epPutGroupExemption, "Security Reader", rbacNotGranted},                // reads only
	{epPutGroupExemption, "Resource Policy Contributor", rbacExemptAtGroup}, // policyexemptions/* and policyassignments/*
	{epPutGroupExemption, "User Access Administrator", rbacExemptAtGroup},   // Microsoft.Authorization/*
	// PATCH an exemption at a resource group: the same two checks as a PUT,
	// the assignment taken from the stored exemption.
	{epPatchExemption, "Owner", rbacExemptAtGroup},                       // "*"
	{epPatchExemption, "Contributor", rbacNotGranted},                    // notActions "Microsoft.Authorization/*/Write"
	{epPatchExemption, "Reader", rbacNotGranted},                         // reads only
	{epPatchExemption, "Security Admin", rbacExemptAtGroup},              // policyExemptions/* and policyAssignments/*
	{epPatchExemption, "Security Reader", rbacNotGranted},                // reads only
	{epPatchExemption, "Resource Policy Contributor", rbacExemptAtGroup}, // policyexemptions/* and policyassignments/*
	{epPatchExemption, "User Access Administrator", rbacExemptAtGroup},   // Microsoft.Authorization/*
	// DELETE an exemption: Microsoft.Authorization/policyExemptions/delete.
	{epDeleteExemption, "Owner", rbacInherited},                       // "*"
	{epDeleteExemption, "Contributor", rbacNotGranted},                // notActions "Microsoft.Authorization/*/Delete"
	{epDeleteExemption, "Reader", rbacNotGranted},                     // reads only
	{epDeleteExemption, "Security Admin", rbacInherited},              // "Microsoft.Authorization/policyExemptions/*"
	{epDeleteExemption, "Security Reader", rbacNotGranted},            // reads only
	{epDeleteExemption, "Resource Policy Contributor", rbacInherited}, // "Microsoft.Authorization/policyexemptions/*"
	{epDeleteExemption, "User Access Administrator", rbacInherited},   // "Microsoft.Authorization/*"
	// GET {subscription}/providers/Microsoft.Authorization/policyExemptions: .../policyExemptions/read.
	{epListExemptions, "Owner", rbacInheritedList},                       // "*"
	{epListExemptions, "Contributor", rbacInheritedList},                 // "*"; notActions remove writes and deletes only
	{epListExemptions, "Reader", rbacInheritedList},                      // "*/read"
	{epListExemptions, "Security Admin", rbacInheritedList},              // "Microsoft.Authorization/*/read"
	{epListExemptions, "Security Reader", rbacInheritedList},             // "Microsoft.Authorization/*/read"
	{epListExemptions, "Resource Policy Contributor", rbacInheritedList}, // "*/read"
	{epListExemptions, "User Access Administrator", rbacInheritedList},   // "*/read"
	// PUT a role assignment at a resource group: Microsoft.Authorization/roleAssignments/write.
	{epPutAssignment, "Owner", rbacInherited},                        // "*"
	{epPutAssignment, "Contributor", rbacNotGranted},                 // notActions "Microsoft.Authorization/*/Write"
	{epPutAssignment, "Reader", rbacNotGranted},                      // reads only
	{epPutAssignment, "Security Admin", rbacNotGranted},              // Microsoft.Authorization: reads and policy* only
	{epPutAssignment, "Security Reader", rbacNotGranted},             // reads only
	{epPutAssignment, "Resource Policy Contributor", rbacNotGranted}, // Microsoft.Authorization: policy* only
	{epPutAssignment, "User Access Administrator", rbacInherited},    // "Microsoft.Authorization/*"
	// DELETE a role assignment at a resource group: Microsoft.Authorization/roleAssignments/delete.
	{epDeleteAssignment, "Owner", rbacInherited},                        // "*"
	{epDeleteAssignment, "Contributor", rbacNotGranted},                 // notActions "Microsoft.Authorization/*/Delete"
	{epDeleteAssignment, "Reader", rbacNotGranted},                      // reads only
	{epDeleteAssignment, "Security Admin", rbacNotGranted},              // Microsoft.Authorization: reads and policy* only
	{epDeleteAssignment, "Security Reader", rbacNotGranted},             // reads only
	{epDeleteAssignment, "Resource Policy Contributor", rbacNotGranted}, // Microsoft.Authorization: policy* only
	{epDeleteAssignment, "User Access Administrator", rbacInherited},    // "Microsoft.Authorization/*"
	// GET {group}/providers/Microsoft.Authorization/roleAssignments: .../roleAssignments/read.
	{epListAssignments, "Owner", rbacInheritedList},                       // "*"
	{epListAssignments, "Contributor", rbacInheritedList},                 // "*"
	{epListAssignments, "Reader", rbacInheritedList},                      // "*/read"
	{epListAssignments, "Security Admin", rbacInheritedList},              // "Microsoft.Authorization/*/read"
	{epListAssignments, "Security Reader", rbacInheritedList},             // "Microsoft.Authorization/*/read"
	{epListAssignments, "Resource Policy Contributor", rbacInheritedList}, // "*/read"
	{epListAssignments, "User Access Administrator", rbacInheritedList},   // "*/read"
	// GET and list role definitions: open to every signed-in caller
	// (api/identity.go readsOpen), wherever its role is held.
	{epGetRole, "Owner", rbacOpen},
	{epGetRole, "Contributor", rbacOpen},
	{epGetRole, "Reader", rbacOpen},
	{epGetRole, "Security Admin", rbacOpen},
	{epGetRole, "Security Reader", rbacOpen},
	{epGetRole, "Resource Policy Contributor", rbacOpen},
	{epGetRole, "User Access Administrator", rbacOpen},
	{epListRoles, "Owner", rbacOpen},
	{epListRoles, "Contributor", rbacOpen},
	{epListRoles, "Reader", rbacOpen},
	{epListRoles, "Security Admin", rbacOpen},
	{epListRoles, "Security Reader", rbacOpen},
	{epListRoles, "Resource Policy Contributor", rbacOpen},
	{epListRoles, "User Access Administrator", rbacOpen},
	// POST {group}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults:
	// a read, Microsoft.PolicyInsights/policyStates/queryResults/read.
	{epQueryStates, "Owner", rbacInherited},                       // "*"
	{epQueryStates, "Contributor", rbacInherited},                 // "*"
	{epQueryStates, "Reader", rbacInherited},                      // "*/read"
	{epQueryStates, "Security Admin", rbacNotGranted},             // no "*/read", nothing under Microsoft.PolicyInsights
	{epQueryStates, "Security Reader", rbacNotGranted},            // same
	{epQueryStates, "Resource Policy Contributor", rbacInherited}, // "*/read" and "Microsoft.PolicyInsights/*"
	{epQueryStates, "User Access Administrator", rbacInherited},   // "*/read"
}

// rbacGraphReads says which Resource Graph rows each role reads: a row needs
// {type}/read at its id. The resources table holds no Microsoft.Security
// (or other type the security roles read; checked below) and
// securityresources only Microsoft.Security types.
var rbacGraphReads = map[string]struct{ resources, security bool }{
	"Owner":                       {true, true},  // "*"
	"Contributor":                 {true, true},  // "*"
	"Reader":                      {true, true},  // "*/read"
	"Security Admin":              {false, true}, // "Microsoft.Security/*", no "*/read": sees no virtual machines
	"Security Reader":             {false, true}, // "Microsoft.Security/*/read", no "*/read"
	"Resource Policy Contributor": {true, true},  // "*/read"
	"User Access Administrator":   {true, true},  // "*/read"
}

// rbacEndpoint is one call of the matrix.
type rbacEndpoint struct {
	name string
	// target is the scope the role assignment's relation is measured
	// from: the addressed resource, or the scope an extension resource or
	// list hangs on.
	target       string
	method, path string
	body         string
	// action and scope are what a 403 must name.
	action, scope string
	// list: compare the rows with the list the bootstrap Owner gets.
	list bool
	// newPath (when set) makes a fresh path for each call.
	newPath func(t *testing.T) string
	// before makes sure the target exists; after undoes an allowed call.
	before func(t *testing.T)
	after  func(t *testing.T, path string, code int)
	// check looks at an allowed answer.
	check func(t *testing.T, body []byte)
}

func (e *rbacEstate) endpoints(t *testing.T, s *server, grantee string) []rbacEndpoint {
	t.Helper()
	idIs := func(want string) func(*testing.T, []byte) {
		return func(t *testing.T, b []byte) {
			var d struct{ ID string }
			if json.Unmarshal(b, &d); !strings.EqualFold(d.ID, want) {
				t.Errorf("answered with id %q, want %s", d.ID, want)
			}
		}
	}
	deleteIfCreated := func(t *testing.T, path string, code int) {
		if code/100 == 2 {
			if c, _, b := s.raw(t, http.MethodDelete, path, ""); c != http.StatusOK {
				t.Errorf("cleaning up %s: %d %s", path, c, b)
			}
		}
	}
	var vnetDoc map[string]any
	if err := json.Unmarshal(s.get(t, e.vnet+"?api-version=2023-09-01"), &vnetDoc); err != nil {
		t.Fatal(err)
	}
	tags, _ := vnetDoc["tags"].(map[string]any)
	if tags == nil {
		tags = map[string]any{}
	}
	tags["rbac-matrix"] = "tagged"
	vnetDoc["tags"] = tags
	tagged, _ := json.Marshal(vnetDoc)

	exemption := rbacSub + "/providers/Microsoft.Authorization/policyExemptions/rbac-matrix"
	groupExemption := e.rg + "/providers/Microsoft.Authorization/policyExemptions/rbac-matrix"
	groupFixture := e.rg + "/providers/Microsoft.Authorization/policyExemptions/rbac-fixture"
	doomedExemption := rbacSub + "/providers/Microsoft.Authorization/policyExemptions/rbac-doomed"
	score := rbacSub + "/providers/Microsoft.Security/secureScores/ascScore"
	states := e.rg + "/providers/Microsoft.PolicyInsights/policyStates/latest"
	return []rbacEndpoint{
		{name: epGetResource, target: e.vnet, method: http.MethodGet, path: e.vnet + "?api-version=2023-09-01",
			action: "Microsoft.Network/virtualNetworks/read", scope: e.vnet, check: idIs(e.vnet)},
		{name: epGetGroup, target: e.rg, method: http.MethodGet, path: e.rg + "?api-version=2021-04-01",
			action: "Microsoft.Resources/subscriptions/resourceGroups/read", scope: e.rg, check: idIs(e.rg)},
		{name: epListGroup, target: e.rg, method: http.MethodGet, path: e.rg + "/resources?api-version=2021-04-01", list: true,
			action: "Microsoft.Resources/subscriptions/resourceGroups/resources/read", scope: e.rg},
		{name: epPutTag, target: e.vnet, method: http.MethodPut, path: e.vnet + "?api-version=2023-09-01", body: string(tagged),
			action: "Microsoft.Network/virtualNetworks/write", scope: e.vnet,
			check: func(t *testing.T, b []byte) {
				var d struct{ Tags map[string]string }
				if json.Unmarshal(b, &d); d.Tags["rbac-matrix"] != "tagged" {
					t.Errorf("the PUT did not keep the tag: %.300s", b)
				}
			}},
		{name: epGetAssessment, target: e.vnet, method: http.MethodGet, path: e.assessment + "?api-version=2020-01-01",
			action: "Microsoft.Security/assessments/read", scope: e.assessment, check: idIs(e.assessment)},
		{name: epListAssessments, target: rbacSub, method: http.MethodGet, path: rbacSub + "/providers/Microsoft.Security/assessments?api-version=2020-01-01", list: true,
			action: "Microsoft.Security/assessments/read", scope: rbacSub},
		{name: epGetScore, target: rbacSub, method: http.MethodGet, path: score + "?api-version=2020-01-01",
			action: "Microsoft.Security/secureScores/read", scope: score, check: idIs(score)},
		{name: epPutExemption, target: rbacSub, method: http.MethodPut, path: exemption + "?api-version=" + rbacExemptionVersion, body: e.exemptionBody(),
			action: "Microsoft.Authorization/policyExemptions/write", scope: exemption, after: deleteIfCreated, check: idIs(exemption)},
		{name: epPutGroupExemption, target: e.rg, method: http.MethodPut, path: groupExemption + "?api-version=" + rbacExemptionVersion, body: e.exemptionBody(),
			action: "Microsoft.Authorization/policyExemptions/write", scope: groupExemption, after: deleteIfCreated, check: idIs(groupExemption)},
		{name: epPatchExemption, target: e.rg, method: http.MethodPatch, path: groupFixture + "?api-version=" + rbacExemptionVersion,
			body:   `{"properties":{"description":"patched by the matrix"}}`,
			action: "Microsoft.Authorization/policyExemptions/write", scope: groupFixture, check: idIs(groupFixture)},
		{name: epDeleteExemption, target: rbacSub, method: http.MethodDelete, path: doomedExemption + "?api-version=" + rbacExemptionVersion,
			action: "Microsoft.Authorization/policyExemptions/delete", scope: doomedExemption,
			before: func(t *testing.T) {
				e.ensure(t, s, doomedExemption+"?api-version="+rbacExemptionVersion, e.exemptionBody())
			},
			check: idIs(doomedExemption)},
		{name: epListExemptions, target: rbacSub, method: http.MethodGet, path: rbacSub + "/providers/Microsoft.Authorization/policyExemptions?api-version=" + rbacExemptionVersion, list: true,
			action: "Microsoft.Authorization/policyExemptions/read", scope: rbacSub},
		{name: epPutAssignment, target: e.rg, method: http.MethodPut, body: rbacAssignmentBody(rbacRoleGUID(t, "Reader"), grantee, ""),
			newPath: func(*testing.T) string {
				return e.rg + "/providers/Microsoft.Authorization/roleAssignments/" + uuid.NewString() + "?api-version=" + rbacRoleVersion
			},
			action: "Microsoft.Authorization/roleAssignments/write", after: deleteIfCreated,
			check: func(t *testing.T, b []byte) {
				var d struct {
					Properties struct{ PrincipalID, Scope string }
				}
				if json.Unmarshal(b, &d); d.Properties.PrincipalID != grantee || !strings.EqualFold(d.Properties.Scope, e.rg) {
					t.Errorf("created assignment: %.300s", b)
				}
			}},
		{name: epDeleteAssignment, target: e.rg, method: http.MethodDelete,
			newPath: func(t *testing.T) string {
				return rbacAssign(t, s, e.rg, rbacRoleGUID(t, "Reader"), grantee) + "?api-version=" + rbacRoleVersion
			},
			action: "Microsoft.Authorization/roleAssignments/delete",
			after: func(t *testing.T, path string, code int) {
				if code/100 != 2 {
					rbacUnassign(t, s, strings.TrimSuffix(path, "?api-version="+rbacRoleVersion))
				} else if c, _, b := s.raw(t, http.MethodGet, path, ""); c != http.StatusNotFound {
					t.Errorf("the deleted assignment is there: %d %s", c, b)
				}
			}},
		{name: epListAssignments, target: e.rg, method: http.MethodGet, path: e.rg + "/providers/Microsoft.Authorization/roleAssignments?api-version=" + rbacRoleVersion, list: true,
			action: "Microsoft.Authorization/roleAssignments/read", scope: e.rg},
		{name: epGetRole, target: rbacSub, method: http.MethodGet, path: rbacSub + "/providers/Microsoft.Authorization/roleDefinitions/" + rbacRoleGUID(t, "Reader") + "?api-version=" + rbacRoleVersion,
			check: func(t *testing.T, b []byte) {
				var d struct{ Properties struct{ RoleName string } }
				if json.Unmarshal(b, &d); d.Properties.RoleName != "Reader" {
					t.Errorf("role definition: %.300s", b)
				}
			}},
		{name: epListRoles, target: rbacSub, method: http.MethodGet, path: rbacSub + "/providers/Microsoft.Authorization/roleDefinitions?api-version=" + rbacRoleVersion,
			check: func(t *testing.T, b []byte) {
				var l struct{ Value []struct{ Name string } }
				_ = json.Unmarshal(b, &l)
				names := map[string]bool{}
				for _, v := range l.Value {
					names[v.Name] = true
				}
				for _, r := range rbacRoles {
					if !names[r.guid] {
						t.Errorf("the list lacks %s (%s)", r.name, r.guid)
					}
				}
			}},
		{name: epQueryStates, target: e.rg, method: http.MethodPost, path: states + "/queryResults?api-version=2019-10-01",
			action: "Microsoft.PolicyInsights/policyStates/queryResults/read", scope: states,
			check: func(t *testing.T, b []byte) {
				var l struct{ Value []struct{ ResourceID string } }
				_ = json.Unmarshal(b, &l)
				if len(l.Value) == 0 {
					t.Errorf("no policy states in %s", e.rg)
				}
				for _, v := range l.Value {
					if !e.under(v.ResourceID, e.rg) {
						t.Errorf("a state of %s, outside %s", v.ResourceID, e.rg)
						break
					}
				}
			}},
		// Last: it deletes the throwaway network, which the next round
		// puts back.
		{name: epDeleteResource, target: e.throwaway, method: http.MethodDelete, path: e.throwaway + "?api-version=2023-09-01",
			action: "Microsoft.Network/virtualNetworks/delete", scope: e.throwaway,
			before: func(t *testing.T) {
				e.ensure(t, s, e.throwaway+"?api-version=2023-09-01", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":["10.250.0.0/16"]}}}`)
			}},
	}
}

// call makes one call of the matrix and checks its outcome.
func (ep *rbacEndpoint) call(t *testing.T, s *server, e *rbacEstate, c rbacCaller, assignedAt string, want rbacOutcome) {
	t.Helper()
	if ep.before != nil {
		ep.before(t)
	}
	path := ep.path
	if ep.newPath != nil {
		path = ep.newPath(t)
	}
	scope := ep.scope
	if scope == "" {
		scope, _, _ = strings.Cut(path, "?")
	}
	var baseline []string
	if ep.list {
		// The bootstrap principal is Owner at the root: the whole list.
		var code int
		var b []byte
		if code, b, baseline = s.rbacListIDs(t, s.token, path); code != http.StatusOK {
			t.Fatalf("GET %s as the bootstrap Owner: %d %.300s", path, code, b)
		}
	}
	var code int
	var b []byte
	var ids []string
	if ep.list {
		code, b, ids = s.rbacListIDs(t, c.token, path)
	} else {
		code, b = s.rbacAs(t, c, ep.method, path, ep.body)
	}
	if ep.after != nil {
		defer ep.after(t, path, code)
	}
	switch want {
	case outAllowed, outRowsBelow:
		if code/100 != 2 {
			t.Fatalf("%s %s: %d %.400s, want %s", ep.method, path, code, b, want)
		}
		if ep.list {
			expect := baseline
			if want == outRowsBelow {
				expect = nil
				for _, id := range baseline {
					if e.under(id, assignedAt) {
						expect = append(expect, id)
					}
				}
			}
			if ok, diff := rbacSameIDs(ids, expect); !ok {
				t.Errorf("%s %s: %s", ep.method, path, diff)
			}
		} else if ep.check != nil {
			ep.check(t, b)
		}
	case outRefused:
		if got := rbacErrorOf(b); code != http.StatusForbidden || got.Code != "AuthorizationFailed" || got.Message != rbacDenial(c, ep.action, scope) {
			t.Errorf("%s %s: %d %.500s\nwant 403 AuthorizationFailed: %s", ep.method, path, code, b, rbacDenial(c, ep.action, scope))
		}
	case outLinked:
		msg := rbacLinkedDenial(c, ep.action, scope, rbacActionExempt, rbacPolicyAssignment)
		if got := rbacErrorOf(b); code != http.StatusForbidden || got.Code != "LinkedAuthorizationFailed" || got.Message != msg {
			t.Errorf("%s %s: %d %.500s\nwant 403 LinkedAuthorizationFailed: %s", ep.method, path, code, b, msg)
		}
	}
}

// TestAuthorizationMatrix assigns each built-in role at the demo estate's
// scopes in turn and walks the endpoints: what a role grants applies at the
// scope it is assigned and below, nowhere else, and lists and Resource
// Graph show exactly the rows the caller may read.
func TestAuthorizationMatrix(t *testing.T) {
	s := startServer(t, "--demo")
	e := rbacDiscover(t, s)

	// Fixtures: exemptions below the subscription, so that a list filtered
	// to part of it has rows.
	for _, at := range []string{e.rg, e.vnet} {
		e.ensure(t, s, at+"/providers/Microsoft.Authorization/policyExemptions/rbac-fixture?api-version="+rbacExemptionVersion, e.exemptionBody())
	}
	grantee := rbacNewCaller(t, s, "rbac-grantee", "Matrix Grantee", "User")
	endpoints := e.endpoints(t, s, grantee.id)

	want := map[string]map[string]rbacExpect{}
	for _, row := range rbacMatrix {
		if want[row.endpoint] == nil {
			want[row.endpoint] = map[string]rbacExpect{}
		}
		if _, dup := want[row.endpoint][row.role]; dup {
			t.Fatalf("two rows for %s / %s", row.endpoint, row.role)
		}
		want[row.endpoint][row.role] = row.want
	}
	for _, ep := range endpoints {
		for _, r := range rbacRoles {
			if _, ok := want[ep.name][r.name]; !ok {
				t.Fatalf("the matrix has no row for %s / %s", ep.name, r.name)
			}
		}
	}

	// The Resource Graph tables hold what rbacGraphReads assumes.
	const (
		resourcesQuery = "resources | project id"
		securityQuery  = "securityresources | project id"
	)
	for _, row := range s.rbacGraphRows(t, s.token, "resources | project type") {
		typ := strings.ToLower(row["type"].(string))
		for _, ns := range []string{"microsoft.security/", "microsoft.iotsecurity/", "microsoft.iotfirmwaredefense/", "microsoft.authorization/",
			"microsoft.insights/alertrules", "microsoft.operationalinsights/", "microsoft.resources/", "microsoft.management/", "microsoft.support/"} {
			if strings.HasPrefix(typ, ns) {
				t.Fatalf("the resources table has a %s row, which a security role may read", typ)
			}
		}
	}
	for _, row := range s.rbacGraphRows(t, s.token, "securityresources | project type") {
		if typ := strings.ToLower(row["type"].(string)); !strings.HasPrefix(typ, "microsoft.security/") {
			t.Fatalf("the securityresources table has a %s row", typ)
		}
	}

	scopes := []struct{ label, id string }{
		{"nowhere", ""}, // no assignment: refused everywhere but where all callers may
		{"management group", rbacMG},
		{"subscription", rbacSub},
		{"sibling subscription", e.sibling},
		{"resource group", e.rg},
		{"sibling resource group", e.otherRG},
		{"virtual network", e.vnet},
		{"virtual machine", e.vm},
		{"subnet", e.subnet},
		{"throwaway network", e.throwaway},
	}
	for i, r := range rbacRoles {
		c := rbacNewCaller(t, s, fmt.Sprintf("rbac-matrix-%d", i), "Matrix "+r.name, "User")
		t.Run(r.name, func(t *testing.T) {
			for _, x := range scopes {
				t.Run("at "+x.label, func(t *testing.T) {
					e.ensure(t, s, e.throwaway+"?api-version=2023-09-01", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":["10.250.0.0/16"]}}}`)
					if x.id != "" {
						assignment := rbacAssign(t, s, x.id, r.guid, c.id)
						t.Cleanup(func() { rbacUnassign(t, s, assignment) })
					}

					reads := rbacGraphReads[r.name]
					for _, g := range []struct {
						query string
						reads bool
					}{{resourcesQuery, reads.resources}, {securityQuery, reads.security}} {
						t.Run("Resource Graph "+strings.Fields(g.query)[0], func(t *testing.T) {
							var expect []string
							if g.reads && x.id != "" {
								for _, id := range s.rbacGraphIDs(t, s.token, g.query) {
									if e.under(id, x.id) {
										expect = append(expect, id)
									}
								}
							}
							if ok, diff := rbacSameIDs(s.rbacGraphIDs(t, c.token, g.query), expect); !ok {
								t.Errorf("%s: %s", g.query, diff)
							}
						})
					}
					for _, ep := range endpoints {
						rel := relNone
						if x.id != "" {
							rel = e.relation(x.id, ep.target)
						}
						outcome := want[ep.name][r.name].at(rel)
						t.Run(fmt.Sprintf("%s (%s)", ep.name, rel), func(t *testing.T) {
							ep.call(t, s, e, c, x.id, outcome)
						})
					}
				})
			}
		})
	}
}
