package defender

import (
	"slices"
	"strings"

	"github.com/posture/posture"
)

var _ posture.ScorePreviewer = (*Service)(nil)

// PreviewScores implements posture.ScorePreviewer: for each subscription
// an exemption's covered states touch, the secure score now, with the
// exemption, and raw (no exemption honoured). It works on copies of the
// counters; nothing changes.
func (s *Service) PreviewScores(p *posture.ExemptionPreview, category string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cause := causeExempt
	if strings.EqualFold(category, "Mitigated") {
		cause = causeExemptMitigated
	}
	// The recommendations each (resource, assignment) source loses.
	type sourceKey struct{ res, assignment string }
	exempted := map[sourceKey]map[int16]bool{}
	for _, c := range p.Covered {
		r, ok := s.Catalog.ByReference(c.ReferenceID)
		if !ok {
			continue
		}
		k := sourceKey{strings.ToLower(c.ResourceID), strings.ToLower(c.AssignmentID)}
		if exempted[k] == nil {
			exempted[k] = map[int16]bool{}
		}
		exempted[k][int16(r.index)] = true
	}
	after := map[string]*subTally{}
	for k, recs := range exempted {
		re := s.res[k.res]
		if re == nil || re.source(k.assignment) == nil {
			continue
		}
		t := after[re.sub]
		if t == nil {
			t = s.cloneTally(re.sub)
			after[re.sub] = t
		}
		changed := &resourceEntry{sub: re.sub, sources: slices.Clone(re.sources)}
		es := slices.Clone(re.source(k.assignment))
		for i := range es {
			if recs[es[i].rec] && es[i].cause != causeOffByPolicy && es[i].cause != cause {
				if es[i].cause != causeExempt && es[i].cause != causeExemptMitigated {
					es[i].raw = es[i].st
				}
				es[i].st, es[i].cause = stNotApplicable, cause
			}
		}
		changed.setSource(k.assignment, es)
		s.countInto(t, re.combined(), changed.combined(), s.scored)
	}
	subs := slices.Sorted(func(yield func(string) bool) {
		for sub := range after {
			if !yield(sub) {
				return
			}
		}
	})
	for _, sub := range subs {
		p.Scores = append(p.Scores, posture.ScorePreview{
			SubscriptionID: sub,
			Before:         view(s.subscriptionScore(sub)),
			After:          view(ScoreSubscription(s.controlScoresOf(after[sub]))),
			Raw:            view(s.rawScore(sub)),
		})
	}
}

func view(sc Score) posture.ScoreView {
	return posture.ScoreView{Current: sc.Current, Max: sc.Max, Percentage: sc.Percentage}
}

// cloneTally copies a subscription's counters. The caller holds mu.
func (s *Service) cloneTally(sub string) *subTally {
	t := &subTally{controls: make([]tally, len(s.Catalog.Controls)), recs: make([]tally, len(s.Catalog.Recommendations))}
	if cur := s.subs[sub]; cur != nil {
		copy(t.controls, cur.controls)
		copy(t.recs, cur.recs)
	}
	return t
}

// controlScoresOf scores controls from counters (nil: none). The caller
// holds mu.
func (s *Service) controlScoresOf(t *subTally) []ControlScore {
	out := make([]ControlScore, len(s.Catalog.Controls))
	for i, ctl := range s.Catalog.Controls {
		var c tally
		if t != nil {
			c = t.controls[i]
		}
		out[i] = ScoreControl(ctl.MaxScore, c.Healthy, c.Unhealthy, c.NotApplicable)
	}
	return out
}

// rawScore is a subscription's score with no exemption honoured: every
// exempted assessment counts by its rule's status. It walks the
// subscription's resources, so only previews ask for it.
func (s *Service) rawScore(sub string) Score {
	t := &subTally{controls: make([]tally, len(s.Catalog.Controls)), recs: make([]tally, len(s.Catalog.Recommendations))}
	raw := func(e entry) status {
		if (e.cause == causeExempt || e.cause == causeExemptMitigated) && e.raw != stNone {
			return e.raw
		}
		return e.st
	}
	for _, re := range s.res {
		if re.sub == sub {
			s.countInto(t, nil, re.combined(), raw)
		}
	}
	return ScoreSubscription(s.controlScoresOf(t))
}
