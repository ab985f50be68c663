package dispatch

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/posture/posture"
	"github.com/posture/posture/automation"
	"github.com/posture/posture/outbox"
)

// Trigger sends assessments to an automation's actions now, whatever its
// rules select: the portal's "Trigger workflow", which the seed's
// request-an-exemption Logic App is started by. Each (action, assessment)
// is one queued job; nonce tells triggers apart, so pressing the button
// again sends again. It returns the number of jobs queued.
func (s *Service) Trigger(ctx context.Context, automationID string, assessments []json.RawMessage, nonce string) (int, error) {
	id, err := parseID(automationID)
	if err != nil {
		return 0, err
	}
	a, err := s.stored(ctx, id.Key())
	if err != nil {
		return 0, err
	}
	if a == nil {
		return 0, posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The automation '%s' was not found.", id)
	}
	var jobs []*posture.Job
	for i, ac := range a.Actions {
		if _, ok := ac.Endpoint(); !ok {
			continue
		}
		for n, doc := range assessments {
			payload, _ := json.Marshal(job{Automation: id.Key(), Action: i, EventSource: automation.Assessments, Event: doc})
			jobs = append(jobs, &posture.Job{
				Key:  "automation-trigger/" + id.Key() + "/" + nonce + "/" + strconv.Itoa(i) + "/" + strconv.Itoa(n),
				Kind: outbox.KindAutomation, Ref: id.Key(), Payload: payload,
			})
		}
	}
	if len(jobs) == 0 {
		return 0, posture.Errorf(posture.EINVALID, "NoDeliverableAction", "The automation '%s' has no Logic App or webhook action to send to.", id)
	}
	err = s.Store.Write(ctx, func(tx posture.Tx) error {
		_, err := tx.EnqueueJobs(jobs)
		return err
	})
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return len(jobs), err
}
