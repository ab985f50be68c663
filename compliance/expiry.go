package compliance

import (
	"context"
	"slices"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/match"
)

// setDue publishes the earliest expiry not yet recorded and wakes the
// expiry job.
func (s *Service) setDue() {
	var d int64
	if next := s.exemptions.nextDue(); !next.IsZero() {
		d = next.UnixNano()
	}
	s.due.Store(d)
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// ExpireDue implements posture.ExemptionService. States carry their
// exemption's expiry, so every read already shows an expired exemption as
// not in force; what ExpireDue adds is the record: an Expired event, and
// the feeds told, so assessments re-open (saying the exemption expired),
// scores move and Resource Graph rows change. Read paths call it before
// they answer, so none of them waits for the job.
func (s *Service) ExpireDue(ctx context.Context) error {
	d := s.due.Load()
	if d == 0 || s.now().UnixNano() < d {
		return nil
	}
	if err := s.WriteMu.Lock(ctx); err != nil {
		return err
	}
	defer s.WriteMu.Unlock()
	now := s.now()
	var due []*exemptionEntry
	for _, e := range s.exemptions.all() {
		if end := e.x.EndsAt(); !e.noted && !end.IsZero() && !now.Before(end) {
			due = append(due, e)
		}
	}
	slices.SortFunc(due, func(a, b *exemptionEntry) int { return a.x.EndsAt().Compare(b.x.EndsAt()) })
	_, hier, _, _ := s.snapshot()
	for _, e := range due {
		c := &posture.Change{}
		var doc *posture.Resource
		err := s.Store.Write(ctx, func(tx posture.Tx) error {
			if err := tx.Lock(e.key); err != nil {
				return err
			}
			r, err := tx.Resource(e.key)
			if posture.IsNotFound(err) {
				return nil // deleted meanwhile by another replica
			} else if err != nil {
				return err
			}
			doc = r
			rows, err := stampedRows(tx, hier, e)
			if err != nil {
				return err
			}
			// The rows do not change: their stamps already say when the
			// exemption ends. The feeds re-read them at now.
			c.States, c.StateRefs = rows, refsOf(e.x)
			kind, action := posture.EventExpired, "Microsoft.Authorization/policyExemptions/expire"
			if !e.x.EndsAt().Equal(e.x.ExpiresOn) {
				kind, action = posture.EventReviewOverdue, "Microsoft.Authorization/policyExemptions/reviewOverdue"
			}
			return tx.AppendEvent(&posture.Event{Stream: e.key, Kind: kind, Actor: posture.SystemActor, ActorType: "Application",
				Action: action, Scope: e.id, At: e.x.EndsAt(), Before: r.Body, After: r.Body})
		})
		if err != nil {
			return err
		}
		s.exemptions.mu.Lock()
		e.noted = true
		s.exemptions.mu.Unlock()
		if doc != nil {
			c.Derived = append(c.Derived, doc) // the Resource Graph shows it expired
			s.publish(c)
			s.log().Info("policy exemption ended", "exemption", e.id, "endsAt", e.x.EndsAt(), "reviewPending", e.x.Review.Pending(), "rows", len(c.States))
		}
	}
	s.setDue()
	return nil
}

// stampedRows returns the rows of states stamped with an exemption.
func stampedRows(tx posture.Tx, hier *hierarchy, e *exemptionEntry) ([]*posture.ResourceStates, error) {
	roots := hier.scopeRoots(e.scope)
	if isGroup(e.scope) {
		// Subscriptions move between groups: find the rows by their stamp.
		roots = []string{""}
	}
	var out []*posture.ResourceStates
	err := eachStatePage(tx, roots, e.assignment, false, func(rows []*posture.ResourceStates, _ func(*posture.ResourceStates) *match.Resource) error {
		for _, row := range rows {
			if countStamped(row, e.key) > 0 {
				out = append(out, row)
			}
		}
		return nil
	})
	return out, err
}

// RunExpiry records expiries at their second until ctx ends: it sleeps
// until the earliest one is due, or until a write moves it.
func (s *Service) RunExpiry(ctx context.Context) {
	for {
		wait := time.Hour
		if d := s.due.Load(); d != 0 {
			wait = max(time.Unix(0, d).Sub(s.now()), 0)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.wake:
			t.Stop()
		case <-t.C:
			if err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
				s.log().Error("recording exemption expiries", "err", err)
				select { // try again shortly
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}
	}
}
