package defender

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
)

// Publish implements posture.ChangeFeed: it moves the index and counters
// by what a committed change did, records score points, and adds the
// assessments and scores it changed to c.Derived for the feeds after it.
func (s *Service) Publish(c *posture.Change) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.res == nil {
		return // not started: Start reads everything
	}
	now := s.now()
	before := map[string][]entry{}
	subOf := map[string]string{}
	touch := func(key string, r *resourceEntry) {
		if _, ok := before[key]; !ok {
			before[key] = slices.Clone(r.combined())
			subOf[key] = r.sub
		}
	}
	for _, d := range c.Deleted {
		if resKey, _, ok := splitAssessmentKey(d); ok {
			if r := s.res[resKey]; r != nil {
				touch(resKey, r)
			}
			s.deleteDocument(d)
			continue
		}
		for k, r := range s.res {
			if k == d || strings.HasPrefix(k, d+"/") {
				touch(k, r)
				r.sources = nil
			}
		}
	}
	for _, a := range c.AssignmentsDropped {
		for k, r := range s.res {
			if r.source(a) != nil {
				touch(k, r)
				r.setSource(a, nil)
			}
		}
	}
	for _, ref := range c.StatesRemoved {
		r := s.res[ref.ResourceKey]
		rec, ok := s.Catalog.ByReference(ref.ReferenceID)
		if r == nil || !ok || r.source(ref.AssignmentKey) == nil {
			continue
		}
		touch(ref.ResourceKey, r)
		es := slices.DeleteFunc(slices.Clone(r.source(ref.AssignmentKey)), func(e entry) bool { return int(e.rec) == rec.index })
		r.setSource(ref.AssignmentKey, es)
	}
	for _, row := range c.States {
		r := s.res[row.ResourceKey]
		switch {
		case len(row.States) > 0 && s.isBenchmark(row):
			if r == nil {
				r = s.entry(row.ResourceKey, row.SubscriptionID)
			}
			touch(row.ResourceKey, r)
			r.setSource(row.AssignmentKey, s.entriesOf(row, now))
		case r != nil && r.source(row.AssignmentKey) != nil:
			// Deleted, or no longer of the benchmark.
			touch(row.ResourceKey, r)
			r.setSource(row.AssignmentKey, nil)
		}
	}
	for _, p := range c.Put {
		if p.TypeKey() != assessmentTypeKey {
			continue
		}
		if resKey, _, ok := splitAssessmentKey(p.Key); ok {
			if r := s.res[resKey]; r != nil {
				touch(resKey, r)
			} else {
				before[resKey], subOf[resKey] = nil, p.SubscriptionID
			}
			s.putDocument(p)
		}
	}

	subs := map[string]map[int16]bool{} // subscription -> recommendations that changed
	for key, old := range before {
		r := s.res[key]
		var cur []entry
		if r != nil {
			cur = r.combined()
		}
		sub := subOf[key]
		if r != nil && sub == "" {
			sub = r.sub
		}
		if recs := s.diff(key, old, cur, c); len(recs) > 0 {
			s.count(sub, old, cur)
			if subs[sub] == nil {
				subs[sub] = map[int16]bool{}
			}
			for _, r := range recs {
				subs[sub][r] = true
			}
		}
		if r != nil && len(r.sources) == 0 {
			delete(s.res, key)
		}
	}
	for _, d := range c.Deleted {
		if sub, ok := strings.CutPrefix(d, "/subscriptions/"); ok && !strings.Contains(sub, "/") {
			// The tables dropped the subscription's rows with it.
			delete(subs, sub)
			delete(s.subs, sub)
			delete(s.history, sub)
		}
	}
	for sub, recs := range subs {
		s.notePoint(sub)
		c.Derived = append(c.Derived, s.scoreDocs(sub)...)
		c.Derived = append(c.Derived, s.regulatoryDocsOf(sub, recs)...)
	}
}

// diff adds the assessments that changed between old and cur to the
// change (stored documents reach the tables as documents) and returns the
// recommendations that changed.
func (s *Service) diff(key string, old, cur []entry, c *posture.Change) []int16 {
	var recs []int16
	put := func(e entry) {
		if !e.fromDoc {
			c.Derived = append(c.Derived, s.assessmentResource(key, e))
		}
	}
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		switch {
		case j == len(cur) || i < len(old) && old[i].rec < cur[j].rec:
			c.DerivedRemoved = append(c.DerivedRemoved, s.assessmentID(key, s.Catalog.Recommendations[old[i].rec]))
			recs = append(recs, old[i].rec)
			i++
		case i == len(old) || cur[j].rec < old[i].rec:
			put(cur[j])
			recs = append(recs, cur[j].rec)
			j++
		default:
			if old[i] != cur[j] {
				put(cur[j])
				recs = append(recs, cur[j].rec)
			}
			i++
			j++
		}
	}
	return recs
}

// notePoint appends a point to a subscription's history when its score
// moved; it reports whether it did.
func (s *Service) notePoint(sub string) bool {
	score := s.subscriptionScore(sub)
	h := s.history[sub]
	if n := len(h); n > 0 && h[n-1].Current == score.Current && h[n-1].Max == score.Max && h[n-1].Percentage == score.Percentage {
		return false
	}
	p := ScorePoint{Time: s.now().UTC().Truncate(time.Second), Current: score.Current, Max: score.Max, Percentage: score.Percentage}
	if n := len(h); n > 0 && h[n-1].Time.Equal(p.Time) {
		h[n-1] = p // one point per second is plenty
	} else {
		h = append(h, p)
	}
	limit := s.HistoryLimit
	if limit <= 0 {
		limit = 1000
	}
	if len(h) > limit {
		h = slices.Delete(h, 0, len(h)-limit)
	}
	s.history[sub] = h
	s.dirty[sub] = true
	return true
}

// ScoreHistory returns a subscription's score points, oldest first.
func (s *Service) ScoreHistory(sub string) []ScorePoint {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.history[strings.ToLower(sub)])
}

// SaveHistory writes the histories that changed since the last save.
// The server calls it every few seconds and when it stops: the history is
// derived, so a crash loses at most the last points.
func (s *Service) SaveHistory(ctx context.Context) error {
	s.mu.Lock()
	save := map[string][]byte{}
	for sub := range s.dirty {
		b, _ := json.Marshal(s.history[sub])
		save[sub] = b
	}
	clear(s.dirty)
	s.mu.Unlock()
	if len(save) == 0 {
		return nil
	}
	return s.Store.Write(ctx, func(tx posture.Tx) error {
		for sub, b := range save {
			if err := tx.PutSetting(historyKey(sub), string(b)); err != nil {
				return err
			}
		}
		return nil
	})
}
