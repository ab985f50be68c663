package compliance

import (
	"context"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
)

// exemptionsSegment follows a scope's key in the keys of its exemptions.
const exemptionsSegment = "/providers/microsoft.authorization/policyexemptions"

// exemptionLister reads one list of exemptions a page at a time. The
// exemptions a list shows lie in a few key ranges of the store: those at
// each scope above the list's (a handful of rows each) and the subtree of
// the list's scope. Each range is read in key order from the cursor (the
// resources_type and resources_type_key indexes give that order), and the
// ranges are merged, so a page costs the rows it returns plus those the
// filters skip. A management group's descendants are not one key range
// (its subscriptions live under /subscriptions): its list reads every
// exemption from the cursor on and keeps those below it.
type exemptionLister struct {
	s       *Service
	flt     exemption.Filter
	hier    *hierarchy
	now     time.Time
	scope   string
	visible map[string]bool
	ranges  []posture.ResourceFilter
	// below keeps, in a list that reads every exemption, only those at a
	// visible scope or below the list's.
	below bool
}

func (s *Service) exemptionLister(scope armid.ID, flt exemption.Filter, hier *hierarchy) *exemptionLister {
	l := &exemptionLister{s: s, flt: flt, hier: hier, now: s.now(), scope: scope.Key(), visible: s.visibleScopes(scope, hier)}
	types := []string{strings.ToLower(ExemptionType)}
	at := func(key string) posture.ResourceFilter {
		return posture.ResourceFilter{Under: strings.TrimSuffix(key, "/") + exemptionsSegment, Types: types}
	}
	switch {
	case flt.AtExactScope:
		l.ranges = []posture.ResourceFilter{at(l.scope)}
	case flt.AtScope:
		for k := range l.visible {
			l.ranges = append(l.ranges, at(k))
		}
	case scope.Kind() == armid.ManagementGroup || scope.Kind() == armid.Tenant:
		l.ranges, l.below = []posture.ResourceFilter{{Types: types}}, true
	default:
		for k := range l.visible {
			if k != l.scope {
				l.ranges = append(l.ranges, at(k))
			}
		}
		l.ranges = append(l.ranges, posture.ResourceFilter{Under: l.scope, Types: types})
	}
	return l
}

// page returns up to limit exemptions with keys after after, and the
// cursor of the next page ("" when none follows).
func (l *exemptionLister) page(ctx context.Context, tx posture.Tx, after string, limit int) (posture.ResourcePage, error) {
	type cursor struct {
		f    posture.ResourceFilter
		buf  []*posture.Resource
		done bool
	}
	cs := make([]*cursor, len(l.ranges))
	for i, f := range l.ranges {
		f.After, f.Limit = after, limit+1
		cs[i] = &cursor{f: f}
	}
	var out []*posture.Resource
	last := after
	for n := 0; len(out) <= limit; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return posture.ResourcePage{}, err
			}
		}
		var next *cursor
		for _, c := range cs {
			if len(c.buf) == 0 && !c.done {
				rs, err := tx.ListResources(c.f)
				if err != nil {
					return posture.ResourcePage{}, err
				}
				c.buf, c.done = rs, len(rs) < c.f.Limit
				if len(rs) > 0 {
					c.f.After = rs[len(rs)-1].Key
				}
			}
			if len(c.buf) > 0 && (next == nil || c.buf[0].Key < next.buf[0].Key) {
				next = c
			}
		}
		if next == nil {
			break
		}
		r := next.buf[0]
		next.buf = next.buf[1:]
		if r.Key > last && l.keep(r) { // ranges do not overlap; the test is a guard
			out = append(out, r)
			last = r.Key
		}
	}
	page := posture.ResourcePage{Resources: out}
	if len(out) > limit {
		page.Resources = out[:limit]
		page.Next = out[limit-1].Key
	}
	return page, nil
}

// keep applies the list's filters to a stored exemption.
func (l *exemptionLister) keep(r *posture.Resource) bool {
	e := l.s.exemptions.get(r.Key)
	if e == nil {
		// Stored, not yet in this replica's index (another replica wrote
		// it a moment ago): read it from the document.
		id, err := armid.Parse(r.ID)
		if err != nil {
			return false
		}
		x, _, err := exemption.FromDocument(r.Body)
		if err != nil {
			return false // not honoured, not listed
		}
		e = entryOf(id, x)
	}
	switch {
	case l.below && !l.visible[e.scope] && !l.hier.scopeUnder(e.scope, l.scope):
		return false
	case l.flt.ExcludeExpired && !e.x.Active(l.now):
		return false
	case l.flt.PolicyAssignmentID != "" && !strings.EqualFold(l.flt.PolicyAssignmentID, e.x.PolicyAssignmentID):
		return false
	}
	return true
}
