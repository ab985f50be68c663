package compliance

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/drift"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/kql"
)

// Intent-drift review (peers.md capability 6). An exemption of one resource
// is approved as that resource is: when it is written, the fields its
// rules read are fingerprinted (package drift). When a later write of the
// resource changes them, or a Mitigated exemption's evidence condition
// stops holding, the exemption goes to review: still honoured for a grace
// period, then not (its states carry the end of the grace period, as they
// carry an expiry). Writing the exemption again (a PUT: re-approval) takes
// a new fingerprint; the fields changing back clears the review by itself.

// DefaultReviewGrace is how long an exemption in review stays honoured.
const DefaultReviewGrace = 7 * 24 * time.Hour

func (s *Service) reviewGrace() time.Duration {
	if s.ReviewGrace > 0 {
		return s.ReviewGrace
	}
	return DefaultReviewGrace
}

// approve fills in the review of an exemption being written: a new
// fingerprint when the write is a PUT (Parse never sets a review; a PATCH
// keeps the old one), and checks its evidence condition, which must hold
// when it is approved.
func (s *Service) approve(tx posture.Tx, id armid.ID, x *exemption.Exemption, a *assignment) error {
	var ev *drift.Evidence
	if x.Evidence != nil && x.Evidence.Query != "" {
		if _, err := kql.Parse(x.Evidence.Query, kql.ParseOptions{}); err != nil {
			return posture.Errorf(posture.EINVALID, "InvalidEvidence", "The evidence query does not parse: %v.", err).WithTarget("properties.evidence.query")
		}
	}
	if x.Evidence != nil && x.Evidence.Condition != nil {
		var err error
		if ev, err = drift.ParseEvidence(x.Evidence.Condition); err != nil {
			return prefixTarget(err, "properties.evidence.condition")
		}
	}
	scope := id.Scope()
	if scope.Kind() != armid.Resource {
		if ev != nil {
			return posture.Errorf(posture.EINVALID, "InvalidEvidence",
				"An evidence condition is checked against the exempted resource: give it to an exemption of one resource, or use an evidence query for the scope '%s'.", scope).
				WithTarget("properties.evidence.condition")
		}
		return nil // drift is fingerprinted per resource
	}
	if x.Review != nil || a == nil {
		return nil
	}
	res, err := tx.Resource(scope.Key())
	if posture.IsNotFound(err) {
		return nil // assignmentScopeValidation DoNotValidate: nothing to fingerprint yet
	} else if err != nil {
		return err
	}
	pr, err := decode(res)
	if err != nil {
		return nil
	}
	if ev != nil {
		holds, why, err := ev.Check(pr)
		if err != nil {
			return prefixTarget(err, "properties.evidence.condition")
		}
		if !holds {
			return posture.Errorf(posture.EINVALID, "EvidenceCheckFailed",
				"The evidence condition does not hold for '%s' now: %s. A Mitigated exemption is approved only while its mitigation holds.", res.ID, why).
				WithTarget("properties.evidence.condition")
		}
	}
	fields, err := coveredFields(tx, a, x, res)
	if err != nil {
		return err
	}
	fp, err := json.Marshal(drift.Take(fields, pr))
	if err != nil {
		return err
	}
	x.Review = &exemption.Review{State: exemption.ReviewCurrent, Fingerprint: fp}
	return nil
}

// coveredFields are the fields read by the rules of the assignment's
// references that the exemption covers on the resource (those with a
// state there).
func coveredFields(tx posture.Tx, a *assignment, x *exemption.Exemption, res *posture.Resource) ([]string, error) {
	rows, err := tx.PolicyStates(posture.PolicyStateFilter{Under: res.Key, AssignmentKey: a.key, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var fields []string
	for _, row := range rows {
		if row.ResourceKey != res.Key {
			continue
		}
		for _, st := range row.States {
			if st.State == posture.StateDisabled || !x.Covers(st.ReferenceID, row.ResourceType, res.Location) {
				continue
			}
			if cr, ok := a.compiled.Reference(st.ReferenceID); ok {
				fields = append(fields, drift.Fields(cr)...)
			}
		}
	}
	slices.Sort(fields)
	return slices.Compact(fields), nil
}

// reviewPut looks again at the exemptions of each resource the write puts:
// it returns the entries whose review changed (to stamp the write's
// states with, and to index once it commits) after storing their
// documents and events.
func (s *Service) reviewPut(ctx context.Context, tx posture.Tx, put []*posture.Resource, now time.Time, c *posture.Change) (override, error) {
	var over override
	for _, r := range put {
		for _, e := range s.exemptions.atScope(r.Key) {
			if e.x.Review == nil && e.evidence == nil {
				continue
			}
			next, kind, err := s.rereview(e, r, now)
			if err != nil || next == nil {
				if err != nil {
					s.log().Warn("drift review of an exemption failed; its review is unchanged", "exemption", e.id, "err", err)
				}
				continue
			}
			doc, err := s.storeReview(ctx, tx, e, next, kind, now)
			if err != nil {
				return nil, err
			}
			if over == nil {
				over = override{}
			}
			over[e.key] = entryOf(armid.MustParse(e.id), next)
			c.Derived = append(c.Derived, doc)
		}
	}
	return over, nil
}

// rereview compares a resource's new document with an exemption's review.
// It returns the exemption with its new review and the event kind, or nil
// when the review does not change.
func (s *Service) rereview(e *exemptionEntry, r *posture.Resource, now time.Time) (*exemption.Exemption, string, error) {
	pr, err := decode(r)
	if err != nil {
		return nil, "", err
	}
	old := e.x.Review
	var changes []byte
	reason, detail := "", ""
	if old != nil && len(old.Fingerprint) > 0 {
		var was drift.Fingerprint
		if err := json.Unmarshal(old.Fingerprint, &was); err != nil {
			return nil, "", fmt.Errorf("stored fingerprint: %w", err)
		}
		paths := make([]string, len(was.Fields))
		for i, f := range was.Fields {
			paths[i] = f.Path
		}
		cur := drift.Take(paths, pr)
		if cur.Digest != was.Digest {
			ch := drift.Changed(was, cur)
			changes, _ = json.Marshal(ch)
			reason = exemption.ReasonDrift
			texts := make([]string, len(ch))
			for i, c := range ch {
				texts[i] = c.String()
			}
			detail = "changed since approval: " + strings.Join(texts, "; ")
		}
	}
	if ev := e.evidence; reason == "" && ev != nil {
		holds, why, err := ev.Check(pr)
		if err != nil {
			return nil, "", err
		}
		if !holds {
			reason, detail = exemption.ReasonEvidence, "the evidence condition no longer holds: "+why
		}
	}
	next := *e.x
	switch {
	case reason != "" && !old.Pending():
		rv := exemption.Review{State: exemption.ReviewNeeded, Since: now, GraceUntil: now.Add(s.reviewGrace()), Reason: reason, Changes: changes, Detail: detail}
		if old != nil {
			rv.Fingerprint = old.Fingerprint
		}
		next.Review = &rv
		return &next, posture.EventNeedsReview, nil
	case reason == "" && old.Pending():
		next.Review = &exemption.Review{State: exemption.ReviewCurrent, Fingerprint: old.Fingerprint}
		return &next, posture.EventReviewCleared, nil
	}
	return nil, "", nil
}

// storeReview writes an exemption whose review changed, with its event.
func (s *Service) storeReview(ctx context.Context, tx posture.Tx, e *exemptionEntry, x *exemption.Exemption, kind string, now time.Time) (*posture.Resource, error) {
	if err := tx.Lock(e.key); err != nil {
		return nil, err
	}
	old, err := tx.Resource(e.key)
	if err != nil {
		return nil, err
	}
	_, sd, err := exemption.FromDocument(old.Body)
	if err != nil {
		return nil, err
	}
	r := exemptionResource(armid.MustParse(e.id), x, sd, now)
	r.CreatedAt = old.CreatedAt
	if err := tx.PutResources([]*posture.Resource{r}); err != nil {
		return nil, err
	}
	action := "Microsoft.Authorization/policyExemptions/review"
	ev := &posture.Event{Stream: e.key, Kind: kind, Actor: posture.SystemActor, ActorType: "Application",
		Action: action, Scope: e.id, At: now, Before: old.Body, After: r.Body}
	return r, tx.AppendEvent(ev)
}

// prefixTarget puts an error's target under prefix.
func prefixTarget(err error, prefix string) error {
	pe, ok := err.(*posture.Error)
	if !ok {
		return err
	}
	cp := *pe
	if !strings.HasPrefix(cp.Target, prefix) {
		cp.Target = strings.TrimSuffix(prefix+"."+cp.Target, ".")
	}
	return &cp
}

// QueryFunc runs a Resource Graph query over a scope and returns how many
// rows it gave (package graph provides it; compliance cannot import it).
type QueryFunc func(ctx context.Context, scope, query string) (int, error)

// CheckEvidenceQueries runs the evidence query of every exemption that has
// one: a query that returns no row sends the exemption to review, one that
// returns rows again clears a review it caused. It returns how many
// reviews changed. The server runs it on a timer.
func (s *Service) CheckEvidenceQueries(ctx context.Context, run QueryFunc) (int, error) {
	var todo []*exemptionEntry
	for _, e := range s.exemptions.all() {
		if e.x.Evidence != nil && e.x.Evidence.Query != "" {
			todo = append(todo, e)
		}
	}
	slices.SortFunc(todo, func(a, b *exemptionEntry) int { return strings.Compare(a.key, b.key) })
	changed := 0
	for _, e := range todo {
		scope := armid.MustParse(e.id).Scope().String()
		n, err := run(ctx, scope, e.x.Evidence.Query)
		if err != nil {
			if ctx.Err() != nil {
				return changed, ctx.Err()
			}
			s.log().Warn("evidence query of an exemption failed; its review is unchanged", "exemption", e.id, "err", err)
			continue
		}
		ok, err := s.evidenceResult(ctx, e.key, n > 0)
		if err != nil {
			return changed, err
		}
		if ok {
			changed++
		}
	}
	return changed, nil
}

// evidenceResult records what an evidence query found for an exemption,
// under the write lock, re-stamping its states when its review changes.
func (s *Service) evidenceResult(ctx context.Context, key string, holds bool) (bool, error) {
	if err := s.WriteMu.Lock(ctx); err != nil {
		return false, err
	}
	defer s.WriteMu.Unlock()
	e := s.exemptions.get(key)
	if e == nil {
		return false, nil // deleted meanwhile
	}
	now := s.now()
	old := e.x.Review
	next := *e.x
	var kind string
	switch {
	case !holds && !old.Pending():
		rv := exemption.Review{State: exemption.ReviewNeeded, Since: now, GraceUntil: now.Add(s.reviewGrace()), Reason: exemption.ReasonEvidence,
			Detail: "the evidence query returned no rows"}
		if old != nil {
			rv.Fingerprint = old.Fingerprint
		}
		next.Review, kind = &rv, posture.EventNeedsReview
	case holds && old.Pending() && old.Reason == exemption.ReasonEvidence:
		next.Review, kind = &exemption.Review{State: exemption.ReviewCurrent, Fingerprint: old.Fingerprint}, posture.EventReviewCleared
	default:
		return false, nil
	}
	_, hier, _, _ := s.snapshot()
	entry := entryOf(armid.MustParse(e.id), &next)
	c := &posture.Change{StateRefs: refsOf(&next)}
	err := s.Store.Write(ctx, func(tx posture.Tx) error {
		c.States, c.Derived = nil, nil
		doc, err := s.storeReview(ctx, tx, e, &next, kind, now)
		if err != nil {
			return err
		}
		c.Derived = append(c.Derived, doc)
		st := &stamper{ix: s.exemptions, hier: hier, over: override{key: entry}}
		if _, err = s.restamp(tx, st, entry.scope, []string{entry.assignment}, key, c, nil); err != nil {
			return err
		}
		if c.StateRefs != nil {
			tx.NoteStateRefs(c.StateRefs)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	entry.noted = !entry.x.Active(now)
	s.exemptions.put(entry)
	s.setDue()
	s.publish(c)
	return true, nil
}
