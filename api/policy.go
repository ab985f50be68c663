package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
)

// Versions of Microsoft.Authorization's policy APIs (the armpolicy SDK
// sends 2021-06-01 for definitions and 2022-06-01 for assignments).
var policyVersions = apiVersions{
	"2016-04-01", "2016-12-01", "2018-03-01", "2018-05-01", "2019-01-01", "2019-06-01", "2019-09-01",
	"2020-03-01", "2020-09-01", "2021-06-01", "2022-06-01", "2023-04-01", "2024-04-01", "2024-05-01",
	"2025-01-01", "2025-03-01",
}

// Versions of Microsoft.PolicyInsights' policy states.
var policyInsightsVersions = apiVersions{"2018-04-04", "2019-10-01", "2022-04-01", "2024-10-01"}

func (s *Server) registerPolicy() {
	if s.Policy == nil {
		return
	}
	for _, typ := range []string{"Microsoft.Authorization/policyDefinitions", "Microsoft.Authorization/policySetDefinitions", "Microsoft.Authorization/policyAssignments"} {
		typ := typ
		rt := &typeRoutes{
			versions: policyVersions,
			get:      getPolicyObject,
			put:      putPolicyObject,
			del:      deletePolicyObject,
			list:     func(c *call) error { return listPolicyObjects(c, typ) },
		}
		if typ != "Microsoft.Authorization/policyAssignments" {
			rt.authorize = builtinReadsOpen(rt)
		}
		s.handle(typ, rt)
	}
	s.handle("Microsoft.PolicyInsights/policyStates", &typeRoutes{
		versions: policyInsightsVersions,
		actions:  map[string]handlerFunc{"queryresults": queryPolicyStates},
		// Azure names the query a read.
		actionNames: map[string]string{"queryresults": "Microsoft.PolicyInsights/policyStates/queryResults/read"},
	})
}

func getPolicyObject(c *call) error {
	r, err := c.s.Policy.GetPolicyObject(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	c.w.Header().Set("ETag", r.ETag)
	return c.ok(http.StatusOK, r.Body)
}

func putPolicyObject(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	r, err := armdoc.FromPut(c.id, body)
	if err != nil {
		return err
	}
	res, err := c.s.Policy.PutPolicyObject(c.ctx, r, c.r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	c.w.Header().Set("ETag", res.Resource.ETag)
	return c.ok(status, res.Resource.Body)
}

func deletePolicyObject(c *call) error {
	// Azure answers a policy DELETE with the deleted object (200) or 204.
	old, err := c.s.Policy.GetPolicyObject(c.ctx, c.id.String())
	if posture.IsNotFound(err) {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err != nil {
		return err
	}
	deleted, err := c.s.Policy.DeletePolicyObject(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	if !deleted {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return c.ok(http.StatusOK, old.Body)
}

// listPolicyObjects lists definitions, initiatives or assignments visible at
// the scope of the path, with Azure's $filter values for them.
func listPolicyObjects(c *call, typ string) error {
	f := posture.PolicyObjectFilter{Type: typ, Scope: c.id.String(), Below: strings.HasSuffix(typ, "policyAssignments")}
	if err := parsePolicyFilter(c.param("$filter"), &f); err != nil {
		return err
	}
	top, err := c.top(1000)
	if err != nil {
		return err
	}
	after, err := c.cursor()
	if err != nil {
		return err
	}
	f.Limit, f.After = top, after
	page, err := c.s.Policy.ListPolicyObjects(c.ctx, f)
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(page.Resources))
	for i, r := range page.Resources {
		docs[i] = r.Body
	}
	return c.list(docs, page.Next)
}

// parsePolicyFilter reads the $filter of policy lists: atScope(),
// atExactScope(), policyDefinitionId eq '…', policyType eq '…'.
func parsePolicyFilter(s string, f *posture.PolicyObjectFilter) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	for _, clause := range splitAnd(s) {
		clause = strings.TrimSpace(clause)
		switch strings.ToLower(clause) {
		case "atscope()":
			f.Below = false
			continue
		case "atexactscope()":
			f.Below, f.ExactScope = false, true
			continue
		}
		field, value, err := parseEq(clause)
		if err != nil {
			return err
		}
		switch strings.ToLower(field) {
		case "policydefinitionid":
			f.DefinitionID = value
		case "policytype":
			f.PolicyType = value
		default:
			return badFilter("'%s' is not supported here; use atScope(), atExactScope(), policyDefinitionId eq or policyType eq", field)
		}
	}
	return nil
}

// policyStateRecord is one row of Microsoft.PolicyInsights' queryResults.
type policyStateRecord struct {
	Timestamp                   time.Time `json:"timestamp"`
	ResourceID                  string    `json:"resourceId"`
	PolicyAssignmentID          string    `json:"policyAssignmentId"`
	PolicyAssignmentName        string    `json:"policyAssignmentName"`
	PolicyAssignmentScope       string    `json:"policyAssignmentScope"`
	PolicyDefinitionReferenceID string    `json:"policyDefinitionReferenceId,omitempty"`
	IsCompliant                 bool      `json:"isCompliant"`
	ComplianceState             string    `json:"complianceState"`
	PolicyDefinitionAction      string    `json:"policyDefinitionAction"`
	SubscriptionID              string    `json:"subscriptionId"`
	ResourceType                string    `json:"resourceType"`
	ResourceGroup               string    `json:"resourceGroup"`
	EvaluationError             string    `json:"evaluationError,omitempty"`
	// PolicyExemptionIDs names the exemption of an Exempt state.
	PolicyExemptionIDs []string `json:"policyExemptionIds,omitempty"`
}

func exemptionIDs(st *posture.PolicyState, state string) []string {
	if state != posture.StateExempt {
		return nil
	}
	return []string{st.Exemption}
}

// queryPolicyStates is POST {scope}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults:
// the latest policy states of the resources under the scope.
func queryPolicyStates(c *call) error {
	if !strings.EqualFold(c.id.Name(), "latest") {
		return posture.Errorf(posture.EINVALID, "InvalidPolicyStatesResource", "Only the 'latest' policy states are kept; '%s' is not supported.", c.id.Name())
	}
	f := posture.PolicyStateFilter{}
	if scope := c.id.Scope(); !scope.IsRoot() {
		if scope.Kind() == armid.ManagementGroup {
			return posture.Errorf(posture.EINVALID, "NotSupported", "Policy states are queried at a subscription, resource group or resource scope.")
		}
		f.Under = scope.Key()
	}
	var wantState, wantRef string
	if flt := c.param("$filter"); flt != "" {
		for _, clause := range splitAnd(flt) {
			field, value, err := parseEq(clause)
			if err != nil {
				return err
			}
			switch strings.ToLower(field) {
			case "compliancestate":
				wantState = value
			case "policyassignmentid":
				f.AssignmentKey = strings.ToLower(value)
			case "policydefinitionreferenceid":
				wantRef = value
			default:
				return badFilter("'%s' is not supported; use complianceState, policyAssignmentId and policyDefinitionReferenceId", field)
			}
		}
	}
	limit, err := c.top(5000)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = 1000
	}
	if f.After, err = c.cursor(); err != nil {
		return err
	}
	// Whole (resource, assignment) rows go on a page, so the cursor stays a
	// row key.
	var out []json.RawMessage
	next := ""
	for next == "" {
		f.Limit = 500
		rows, cursor, err := c.s.Policy.PolicyStates(c.ctx, f)
		if err != nil {
			return err
		}
		now := c.s.Now()
		for _, row := range rows {
			for _, st := range row.States {
				state := st.Effective(now)
				if st.State == posture.StateDisabled || wantState != "" && !strings.EqualFold(state, wantState) || wantRef != "" && !strings.EqualFold(st.ReferenceID, wantRef) {
					continue
				}
				b, _ := json.Marshal(stateRecord(row, st, state))
				out = append(out, b)
			}
			if len(out) >= limit {
				next = row.ResourceKey + "\x00" + row.AssignmentKey
				break
			}
		}
		if cursor == "" {
			break
		}
		f.After = cursor
	}
	return c.list(out, next)
}

// stateRecord is a policy state as queryResults returns it; state is its
// effective compliance state (Exempt while an exemption is in force).
func stateRecord(row *posture.ResourceStates, st posture.PolicyState, state string) policyStateRecord {
	aid, _ := armid.Parse(row.AssignmentKey)
	rid, _ := armid.Parse(row.ResourceKey)
	return policyStateRecord{
		Timestamp:                   st.ChangedAt,
		ResourceID:                  row.ResourceKey,
		PolicyAssignmentID:          row.AssignmentKey,
		PolicyAssignmentName:        aid.Name(),
		PolicyAssignmentScope:       aid.Scope().Key(),
		PolicyDefinitionReferenceID: st.ReferenceID,
		IsCompliant:                 state == posture.StateCompliant,
		ComplianceState:             state,
		PolicyExemptionIDs:          exemptionIDs(&st, state),
		PolicyDefinitionAction:      strings.ToLower(st.Effect),
		SubscriptionID:              row.SubscriptionID,
		ResourceType:                row.ResourceType,
		ResourceGroup:               strings.ToLower(rid.ResourceGroup()),
		EvaluationError:             st.Error,
	}
}
