package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// MaxTriggerAssessments bounds one manual trigger.
const MaxTriggerAssessments = 200

// triggerAutomation is POST {automation}/trigger (posture's own, as the
// portal's "Trigger workflow"): body {"assessmentIds":[…]}. Each
// assessment must be one the caller may read; the automation's actions
// get them as queued jobs. The call is authorized as
// Microsoft.Security/automations/trigger/action at the automation.
func triggerAutomation(c *call) error {
	body, err := c.body()
	if err != nil {
		return err
	}
	var in struct {
		AssessmentIDs []string `json:"assessmentIds"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The body must be {\"assessmentIds\":[…]}: %v.", err)
	}
	if len(in.AssessmentIDs) == 0 || len(in.AssessmentIDs) > MaxTriggerAssessments {
		return posture.Errorf(posture.EINVALID, "InvalidRequestContent", "Name between 1 and %d assessments.", MaxTriggerAssessments).WithTarget("assessmentIds")
	}
	docs := make([]json.RawMessage, 0, len(in.AssessmentIDs))
	for _, a := range in.AssessmentIDs {
		id, err := armid.Parse(a)
		if err != nil || !strings.EqualFold(id.Type(), "Microsoft.Security/assessments") {
			return posture.Errorf(posture.EINVALID, "InvalidAssessmentId", "'%s' is not an assessment id.", clip(a)).WithTarget("assessmentIds")
		}
		if err := c.s.Authz.Authorize(c.principal, "Microsoft.Security/assessments/read", id.String()); err != nil {
			return err
		}
		r, err := c.s.Security.Assessment(c.ctx, id.String(), posture.AssessmentExpand{Links: true, Metadata: true})
		if err != nil {
			return err
		}
		docs = append(docs, r.Body)
	}
	n, err := c.s.Automations.Trigger(c.ctx, c.id.String(), docs, uuid.NewString())
	if err != nil {
		return err
	}
	b, _ := json.Marshal(map[string]any{"queued": n})
	return c.ok(http.StatusAccepted, b)
}
