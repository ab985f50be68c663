package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
)

// Versions of Microsoft.Authorization/policyExemptions (all preview; the
// armpolicy SDK v0.9.0 sends 2022-07-01-preview).
var exemptionVersions = apiVersions{
	"2020-07-01-preview", "2022-07-01-preview", "2024-12-01-preview", "2025-12-01-preview", "2026-01-01-preview",
}

func (s *Server) registerExemptions() {
	if s.Exemptions == nil {
		return
	}
	s.handle(exemption.Type, &typeRoutes{
		versions: exemptionVersions,
		get:      getExemption,
		put:      putExemption,
		patch:    patchExemption,
		del:      deleteExemption,
		list:     listExemptions,
		actions:  map[string]handlerFunc{"preview": previewExemption, "explain": explainExemption},
		// A preview or an explanation writes nothing: whoever may read
		// exemptions there may see what one would do (explain checks the
		// read of the resource too).
		actionNames: map[string]string{"preview": "Microsoft.Authorization/policyExemptions/read", "explain": "Microsoft.Authorization/policyExemptions/read"},
	})
	s.handle(exemption.Type+"/history", &typeRoutes{versions: exemptionVersions, list: exemptionHistory})
}

func getExemption(c *call) error {
	r, err := c.s.Exemptions.GetExemption(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	doc, err := c.exemptionDoc(r)
	if err != nil {
		return err
	}
	c.w.Header().Set("ETag", r.ETag)
	return c.ok(http.StatusOK, doc)
}

func putExemption(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	var head struct {
		Properties struct {
			PolicyAssignmentID string `json:"policyAssignmentId"`
		} `json:"properties"`
	}
	if json.Unmarshal(body, &head) == nil && head.Properties.PolicyAssignmentID != "" {
		if err := c.authorizeExempt(head.Properties.PolicyAssignmentID); err != nil {
			return err
		}
	}
	res, err := c.s.Exemptions.PutExemption(c.ctx, posture.ExemptionWrite{ID: c.id.String(), Body: body, APIVersion: c.apiVersion, IfMatch: c.r.Header.Get("If-Match")})
	if err != nil {
		return err
	}
	return c.exemptionWritten(res)
}

func patchExemption(c *call) error {
	if c.apiVersion < "2022-07-01-preview" {
		return posture.Errorf(posture.EINVALID, "InvalidApiVersionParameter",
			"PATCH of a policy exemption needs api-version 2022-07-01-preview or later; '%s' has no PATCH.", c.apiVersion)
	}
	body, err := c.body()
	if err != nil {
		return err
	}
	if cur, err := c.s.Exemptions.GetExemption(c.ctx, c.id.String()); err == nil {
		if x, _, err := exemption.FromDocument(cur.Body); err == nil {
			if err := c.authorizeExempt(x.PolicyAssignmentID); err != nil {
				return err
			}
		}
	}
	res, err := c.s.Exemptions.PatchExemption(c.ctx, posture.ExemptionWrite{ID: c.id.String(), Body: body, APIVersion: c.apiVersion, IfMatch: c.r.Header.Get("If-Match")})
	if err != nil {
		return err
	}
	return c.exemptionWritten(res)
}

// authorizeExempt is the second of Azure's two checks on an exemption
// write: besides policyExemptions/write over the exemption (checked before
// the handler), policyAssignments/exempt/action over the assignment it
// exempts from (403 LinkedAuthorizationFailed).
func (c *call) authorizeExempt(assignmentID string) error {
	return c.s.Authz.AuthorizeExemptionWrite(c.principal, c.id.String(), assignmentID)
}

// exemptionWritten answers a PUT or PATCH: 201 or 200 with the document,
// its ETag, and warnings in Warning headers (RFC 9111 §5.5 code 299).
func (c *call) exemptionWritten(res posture.ExemptionResult) error {
	doc, err := c.exemptionDoc(res.Resource)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	c.w.Header().Set("ETag", res.Resource.ETag)
	for _, w := range res.Warnings {
		c.w.Header().Add("Warning", `299 posture "`+strings.ReplaceAll(w, `"`, `'`)+`"`)
	}
	return c.ok(status, doc)
}

func deleteExemption(c *call) error {
	old, err := c.s.Exemptions.DeleteExemption(c.ctx, c.id.String(), c.r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	if old == nil {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	doc, err := c.exemptionDoc(old)
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, doc)
}

// listExemptions lists the exemptions of a management group, subscription,
// resource group or resource with Azure's $filter values.
func listExemptions(c *call) error {
	after, err := c.cursor()
	if err != nil {
		return err
	}
	top, err := c.top(1000)
	if err != nil {
		return err
	}
	page, err := c.s.Exemptions.ListExemptions(c.ctx, posture.ExemptionFilter{Scope: c.id.String(), Filter: c.param("$filter"), After: after, Limit: top})
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(page.Resources))
	for i, r := range page.Resources {
		if docs[i], err = c.exemptionDoc(r); err != nil {
			return err
		}
	}
	return c.list(docs, page.Next)
}

// historyEvent is one event of an exemption's history.
type historyEvent struct {
	Sequence  int64           `json:"sequence"`
	Kind      string          `json:"kind"`
	Actor     string          `json:"actor"`
	ActorType string          `json:"actorType"`
	Time      string          `json:"time"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

// exemptionHistory is GET {exemption}/history: every create, update,
// delete and expiry, oldest first.
func exemptionHistory(c *call) error {
	evs, err := c.s.Exemptions.ExemptionHistory(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		docs[i], _ = json.Marshal(historyEvent{Sequence: e.Seq, Kind: e.Kind, Actor: e.Actor, ActorType: e.ActorType,
			Time: e.At.UTC().Format("2006-01-02T15:04:05.999999Z07:00"), Before: orNull(e.Before), After: orNull(e.After)})
	}
	return c.list(docs, "")
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// previewExemption is POST {exemption}/preview with an exemption body: what
// it would cover and do to the secure score, without writing.
func previewExemption(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	p, err := c.s.Exemptions.PreviewExemption(c.ctx, posture.ExemptionWrite{ID: c.id.String(), Body: body, APIVersion: c.apiVersion})
	if err != nil {
		return err
	}
	if sp, ok := c.s.Security.(posture.ScorePreviewer); ok {
		x, _, err := exemption.FromDocument(p.Exemption)
		if err == nil {
			sp.PreviewScores(p, string(x.Category))
		}
	}
	doc, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, doc)
}

// explainExemption is POST {exemption}/explain with {"resourceId": …}
// (posture's own): why the exemption does or does not cover the resource.
func explainExemption(c *call) error {
	ex, ok := c.s.Exemptions.(posture.ExemptionExplainer)
	if !ok {
		return posture.Errorf(posture.EMETHOD, "NotSupported", "This server cannot explain exemptions.")
	}
	body, err := c.body()
	if err != nil {
		return err
	}
	var in struct {
		ResourceID string `json:"resourceId"`
	}
	if err := json.Unmarshal(body, &in); err != nil || in.ResourceID == "" {
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The body must be {\"resourceId\": \"<ARM id>\"}.").WithTarget("resourceId")
	}
	rid, err := armid.Parse(in.ResourceID)
	if err != nil {
		return posture.Errorf(posture.EINVALID, "InvalidResourceId", "resourceId: %v.", err).WithTarget("resourceId")
	}
	if err := c.s.Authz.Authorize(c.principal, readActionOf(rid), rid.String()); err != nil {
		return err
	}
	out, err := ex.ExplainExemption(c.ctx, c.id.String(), rid.String())
	if err != nil {
		return err
	}
	doc, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, doc)
}

// readActionOf is the action that reads a resource: {type}/read.
func readActionOf(id armid.ID) string {
	switch id.Kind() {
	case armid.Subscription:
		return "Microsoft.Resources/subscriptions/read"
	case armid.ResourceGroup:
		return "Microsoft.Resources/subscriptions/resourceGroups/read"
	case armid.ManagementGroup:
		return "Microsoft.Management/managementGroups/read"
	}
	return id.Type() + "/read"
}
