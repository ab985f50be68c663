package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
)

// Versions of Microsoft.Security's APIs posture serves: the armsecurity
// SDK sends 2025-05-04 for assessments and metadata, 2020-01-01 for secure
// scores and 2019-01-01-preview for regulatory compliance.
var (
	assessmentVersions = apiVersions{"2019-01-01-preview", "2020-01-01", "2021-06-01", "2025-05-04"}
	scoreVersions      = apiVersions{"2020-01-01", "2020-01-01-preview", "2023-12-01-preview"}
	regulatoryVersions = apiVersions{"2019-01-01-preview"}
)

func (s *Server) registerSecurity() {
	if s.Security == nil {
		return
	}
	meta := &typeRoutes{
		versions: assessmentVersions,
		get:      getMetadata,
		put:      putMetadata,
		del:      deleteMetadata,
		list:     listMetadata,
	}
	meta.authorize = builtinReadsOpen(meta)
	s.handle("Microsoft.Security/assessmentMetadata", meta)
	s.handle("Microsoft.Security/assessments", &typeRoutes{
		versions: assessmentVersions,
		get:      getAssessment,
		put:      putAssessment,
		del:      deleteAssessment,
		list:     listAssessments,
	})
	s.handle("Microsoft.Security/secureScores", &typeRoutes{
		versions: scoreVersions,
		get:      getSecureScore,
		list:     listSecureScores,
	})
	s.handle("Microsoft.Security/secureScores/secureScoreControls", &typeRoutes{
		versions: scoreVersions,
		list:     listScoreControls,
	})
	s.handle("Microsoft.Security/secureScoreControls", &typeRoutes{
		versions: scoreVersions,
		list:     listScoreControls,
	})
	defs := &typeRoutes{
		versions: scoreVersions,
		list:     listControlDefinitions,
	}
	defs.authorize = builtinReadsOpen(defs)
	s.handle("Microsoft.Security/secureScoreControlDefinitions", defs)
	for _, typ := range []string{"regulatoryComplianceStandards", "regulatoryComplianceStandards/regulatoryComplianceControls",
		"regulatoryComplianceStandards/regulatoryComplianceControls/regulatoryComplianceAssessments"} {
		s.handle("Microsoft.Security/"+typ, &typeRoutes{versions: regulatoryVersions, get: getRegulatory, list: listRegulatory})
	}
}

// writeResources answers a list of documents, all on one page.
func (c *call) writeResources(rs []*posture.Resource) error {
	docs := make([]json.RawMessage, len(rs))
	for i, r := range rs {
		docs[i] = r.Body
	}
	return c.list(docs, "")
}

func getMetadata(c *call) error {
	r, err := c.s.Security.Metadata(c.ctx, c.id.SubscriptionID(), c.id.Name())
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, r.Body)
}

func listMetadata(c *call) error {
	rs, err := c.s.Security.ListMetadata(c.ctx, c.id.SubscriptionID())
	if err != nil {
		return err
	}
	return c.writeResources(rs)
}

// atSubscription refuses custom metadata anywhere but directly on a
// subscription.
func atSubscription(id armid.ID, what string) error {
	if id.Scope().Kind() != armid.Subscription {
		return posture.Errorf(posture.EINVALID, "InvalidScope", "%s can be written at a subscription only (/subscriptions/{id}/providers/...).", what)
	}
	return nil
}

func putMetadata(c *call) error {
	if c.id.SubscriptionID() == "" {
		return posture.Errorf(posture.EINVALID, "BuiltInAssessmentMetadataReadOnly", "Built-in assessment metadata is read-only; custom metadata goes under /subscriptions/{id}.")
	}
	if err := atSubscription(c.id, "Assessment metadata"); err != nil {
		return err
	}
	body, err := c.body()
	if err != nil {
		return err
	}
	r, err := armdoc.FromPut(c.id, body)
	if err != nil {
		return err
	}
	res, err := c.s.Security.PutMetadata(c.ctx, r)
	if err != nil {
		return err
	}
	// The API answers 200 for a creation too (the SDK accepts only 200).
	return c.ok(http.StatusOK, res.Resource.Body)
}

func createdOr(res posture.PutResult) int {
	if res.Created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func deleteMetadata(c *call) error {
	if c.id.SubscriptionID() == "" {
		return posture.Errorf(posture.EINVALID, "BuiltInAssessmentMetadataReadOnly", "Built-in assessment metadata cannot be deleted.")
	}
	// 200 whether it existed or not: the API documents no other answer.
	if _, err := c.s.Security.DeleteMetadata(c.ctx, c.id.String()); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// expand reads $expand=links|metadata (a comma-separated list is also
// taken).
func (c *call) expand() (posture.AssessmentExpand, error) {
	var e posture.AssessmentExpand
	v := c.param("$expand")
	if v == "" {
		return e, nil
	}
	for _, part := range strings.Split(v, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "links":
			e.Links = true
		case "metadata":
			e.Metadata = true
		default:
			return e, posture.Errorf(posture.EINVALID, "InvalidExpandParameter", "$expand must be links or metadata, not '%s'.", clip(part))
		}
	}
	return e, nil
}

func getAssessment(c *call) error {
	e, err := c.expand()
	if err != nil {
		return err
	}
	r, err := c.s.Security.Assessment(c.ctx, c.id.String(), e)
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, r.Body)
}

func putAssessment(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	r := &posture.Resource{ID: c.id.String(), Key: c.id.Key(), Type: c.id.Type(), Name: c.id.Name(), Body: body}
	res, err := c.s.Security.PutAssessment(c.ctx, r)
	if err != nil {
		return err
	}
	return c.ok(createdOr(res), res.Resource.Body)
}

func deleteAssessment(c *call) error {
	deleted, err := c.s.Security.DeleteAssessment(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	if !deleted {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func listAssessments(c *call) error {
	k := c.id.Kind()
	if k != armid.Subscription && k != armid.ManagementGroup {
		return posture.Errorf(posture.EINVALID, "InvalidScope", "Assessments are listed at a subscription or management group.")
	}
	e, err := c.expand()
	if err != nil {
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
	page, err := c.s.Security.ListAssessments(c.ctx, posture.AssessmentFilter{Scope: c.id.String(), After: after, Limit: top, Expand: e})
	if err != nil {
		return err
	}
	docs := make([]json.RawMessage, len(page.Resources))
	for i, r := range page.Resources {
		docs[i] = r.Body
	}
	return c.list(docs, page.Next)
}

// scoreScope is the subscription or management group of a secure score
// path, which must name ascScore.
func scoreScope(c *call, id armid.ID) (string, error) {
	key := id.String()
	i := strings.Index(strings.ToLower(key), "/providers/microsoft.security/securescores/")
	if i < 0 {
		return key, nil
	}
	name := key[i+len("/providers/microsoft.security/securescores/"):]
	if !strings.EqualFold(name, "ascScore") {
		return "", posture.Errorf(posture.ENOTFOUND, "SecureScoreNotFound", "posture has one secure score, ascScore, not '%s'.", clip(name))
	}
	return key[:i], nil
}

func getSecureScore(c *call) error {
	scope, err := scoreScope(c, c.id)
	if err != nil {
		return err
	}
	rs, err := c.s.Security.SecureScores(c.ctx, scope)
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, rs[0].Body)
}

func listSecureScores(c *call) error {
	rs, err := c.s.Security.SecureScores(c.ctx, c.id.String())
	if err != nil {
		return err
	}
	return c.writeResources(rs)
}

func listScoreControls(c *call) error {
	scope, err := scoreScope(c, c.id)
	if err != nil {
		return err
	}
	expand := strings.EqualFold(c.param("$expand"), "definition")
	if v := c.param("$expand"); v != "" && !expand {
		return posture.Errorf(posture.EINVALID, "InvalidExpandParameter", "$expand must be definition, not '%s'.", clip(v))
	}
	rs, err := c.s.Security.SecureScoreControls(c.ctx, scope, expand)
	if err != nil {
		return err
	}
	return c.writeResources(rs)
}

func listControlDefinitions(c *call) error {
	rs, err := c.s.Security.ControlDefinitions(c.ctx)
	if err != nil {
		return err
	}
	return c.writeResources(rs)
}

// regulatoryFilter reads the standard and control names from a
// regulatory compliance path.
func regulatoryFilter(c *call, item bool) posture.RegulatoryFilter {
	f := posture.RegulatoryFilter{Subscription: c.id.SubscriptionID()}
	segs := strings.Split(c.r.URL.Path, "/")
	var names []string
	for i := 0; i+1 < len(segs); i++ {
		switch strings.ToLower(segs[i]) {
		case "regulatorycompliancestandards", "regulatorycompliancecontrols", "regulatorycomplianceassessments":
			names = append(names, segs[i+1])
		}
	}
	if item && len(names) > 0 {
		f.Name, names = names[len(names)-1], names[:len(names)-1]
	}
	if len(names) > 0 {
		f.Standard = names[0]
	}
	if len(names) > 1 {
		f.Control = names[1]
	}
	return f
}

func getRegulatory(c *call) error {
	rs, err := c.s.Security.Regulatory(c.ctx, regulatoryFilter(c, true))
	if err != nil {
		return err
	}
	return c.ok(http.StatusOK, rs[0].Body)
}

func listRegulatory(c *call) error {
	if c.id.Kind() == armid.ManagementGroup || c.id.SubscriptionID() == "" {
		return posture.Errorf(posture.EINVALID, "InvalidScope", "Regulatory compliance is served at a subscription.")
	}
	rs, err := c.s.Security.Regulatory(c.ctx, regulatoryFilter(c, false))
	if err != nil {
		return err
	}
	return c.writeResources(rs)
}
