package compliance

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
)

var _ posture.ExemptionExplainer = (*Service)(nil)

// ExplainExemption implements posture.ExemptionExplainer with the same
// checks the stamping makes (Selects), one by one.
func (s *Service) ExplainExemption(ctx context.Context, exemptionID, resourceID string) (*posture.ExemptionExplanation, error) {
	id, err := parseExemptionID(exemptionID)
	if err != nil {
		return nil, err
	}
	rid, err := armid.Parse(resourceID)
	if err != nil {
		return nil, posture.Errorf(posture.EINVALID, "InvalidResourceId", "resourceId: %v.", err).WithTarget("resourceId")
	}
	as, hier, _, _ := s.snapshot()
	now := s.now()
	out := &posture.ExemptionExplanation{Exemption: id.String(), ResourceID: rid.String(), Steps: []posture.ExplainStep{}, States: []posture.ExplainedState{}}
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		doc, err := tx.Resource(id.Key())
		if posture.IsNotFound(err) {
			return exemptionNotFound(id)
		} else if err != nil {
			return err
		}
		x, _, err := exemption.FromDocument(doc.Body)
		if err != nil {
			return err
		}
		res, err := tx.Resource(rid.Key())
		if posture.IsNotFound(err) {
			return posture.Errorf(posture.ENOTFOUND, "ResourceNotFound", "The resource '%s' is not in the estate.", rid).WithTarget("resourceId")
		} else if err != nil {
			return err
		}
		explain(out, id, x, res, as, hier, now, tx, s)
		return nil
	})
	return out, err
}

// explain fills in the checks, stopping at the first that rules the
// resource out (as Selects would) but always listing the states.
func explain(out *posture.ExemptionExplanation, id armid.ID, x *exemption.Exemption, res *posture.Resource, as map[string]*assignment, hier *hierarchy, now time.Time, tx posture.Tx, s *Service) {
	step := func(check string, passed bool, format string, args ...any) bool {
		out.Steps = append(out.Steps, posture.ExplainStep{Check: check, Passed: passed, Detail: fmt.Sprintf(format, args...)})
		return passed
	}
	entry := entryOf(id, x)
	scope := id.Scope()
	if x.Review != nil {
		out.Review, _ = json.Marshal(x.Review)
	}
	under := hier.coversKey(entry.scope, res.Key, res.SubscriptionID)
	ok := step("scope", under, "the exemption's scope is %s; the resource %s", scope, where(under))
	a := as[entry.assignment]
	ok = step("assignment", a != nil, "policy assignment %s %s", x.PolicyAssignmentID, map[bool]string{true: "exists", false: "does not exist: the exemption is orphaned and covers nothing"}[a != nil]) && ok
	end := x.EndsAt()
	switch {
	case x.Active(now) && end.IsZero():
		step("expiry", true, "it never expires")
	case x.Active(now):
		step("expiry", true, "in force until %s", end.Format(time.RFC3339))
	case !x.ExpiresOn.IsZero() && !now.Before(x.ExpiresOn):
		ok = step("expiry", false, "it expired at %s", x.ExpiresOn.Format(time.RFC3339))
	default:
		ok = step("review", false, "its review (%s) was not decided before %s, the end of the grace period", x.Review.Reason, x.Review.GraceUntil.Format(time.RFC3339))
	}
	if x.Review.Pending() && x.Active(now) {
		step("review", true, "needs review since %s (%s: %s); honoured until %s", x.Review.Since.Format(time.RFC3339), x.Review.Reason, x.Review.Detail, x.Review.GraceUntil.Format(time.RFC3339))
	}
	subject := subjectOf(res)
	if f := x.ResourceFilter; f != nil {
		ex := f.Explain(subject)
		out.Filter, _ = json.Marshal(ex)
		ok = step("resourceFilter", ex.Matched, "%s: %s", f, map[bool]string{true: "matches", false: "does not match"}[ex.Matched]) && ok
	}
	if a == nil {
		return
	}
	rows, err := tx.PolicyStates(posture.PolicyStateFilter{Under: res.Key, AssignmentKey: a.key, Limit: 1000})
	if err != nil {
		step("states", false, "reading the policy states: %v", err)
		return
	}
	any := false
	for _, row := range rows {
		if row.ResourceKey != res.Key {
			continue
		}
		for i := range row.States {
			st := &row.States[i]
			refOK := len(x.PolicyDefinitionReferenceIDs) == 0 || containsRef(x.PolicyDefinitionReferenceIDs, st.ReferenceID)
			covered := ok && st.State != posture.StateDisabled && x.Selects(st.ReferenceID, row.ResourceType, subject)
			es := posture.ExplainedState{ReferenceID: st.ReferenceID, State: st.State, Covered: covered}
			if st.Exempt(now) {
				es.ExemptedBy = st.Exemption
			}
			if !refOK {
				es.State += " (not among policyDefinitionReferenceIds)"
			}
			out.States = append(out.States, es)
			any = any || covered
		}
	}
	if len(out.States) == 0 {
		step("states", false, "the assignment has no policy state for this resource: none of its definitions applies to %s", res.Type)
	}
	if len(x.ResourceSelectors) > 0 {
		step("resourceSelectors", any || !ok, "resource selectors read type %s and location %q", subject.Type, subject.Location)
	}
	out.Covers = any
}

func where(in bool) string {
	if in {
		return "is at or under it"
	}
	return "is not under it"
}

func containsRef(list []string, ref string) bool {
	for _, r := range list {
		if strings.EqualFold(r, ref) {
			return true
		}
	}
	return false
}
