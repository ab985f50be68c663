package exemptplan

import (
	"slices"
	"strings"
	"time"
)

// hygiene reports an exemption the plan leaves alone when it has expired
// or lost its assignment or scope.
func hygiene(ix *index, x *Exemption, now time.Time, p *Result) {
	if r, ok := orphan(ix, x); ok {
		p.Orphaned = append(p.Orphaned, r)
	}
	if r, ok := expired(x, now); ok {
		p.Expired = append(p.Expired, r)
	}
}

func orphan(ix *index, x *Exemption) (Report, bool) {
	if len(ix.scopes) > 0 && !ix.exists(x.Scope()) {
		return Report{ID: x.ID, Reason: "its scope " + x.Scope() + " no longer exists"}, true
	}
	if ix.hasAssignment(x.AssignmentID) {
		return Report{}, false
	}
	r := Report{ID: x.ID, Reason: "its assignment " + x.AssignmentID + " no longer exists"}
	if def, _ := x.Metadata[KeyAssignmentDef].(string); def != "" {
		if a := ix.replacement(x.AssignmentID, def); a != nil {
			r.Replacement = a.ID
		}
	}
	return r, true
}

func expired(x *Exemption, now time.Time) (Report, bool) {
	if x.ExpiresOn.IsZero() || now.Before(x.ExpiresOn) {
		return Report{}, false
	}
	return Report{ID: x.ID, Reason: "expired on " + timeText(x.ExpiresOn)}, true
}

// Hygiene returns the exemptions of the estate under scope (any, when
// scope is empty) that have expired or lost their assignment or scope,
// ordered by id, whoever made them: what `posture exemptions archive`
// deletes.
func Hygiene(est *Estate, scope string, now time.Time) (orphaned, expiredOnes []Report) {
	ix := newIndex(est)
	p := &Result{}
	for i := range est.Exemptions {
		x := &est.Exemptions[i]
		if scope == "" || ix.under(x.Scope(), scope) {
			hygiene(ix, x, now, p)
		}
	}
	sortPlan(p)
	return p.Orphaned, p.Expired
}

// Adoptable returns the exemptions made elsewhere (no metadata.managedBy)
// at or under scope that a desired file can take over, ordered by id, and
// those it leaves out with the reason: expired ones and orphans, which a
// file could not list (archive them instead).
func Adoptable(est *Estate, scope string, now time.Time) (adopt []*Exemption, skipped []Report) {
	ix := newIndex(est)
	for i := range est.Exemptions {
		x := &est.Exemptions[i]
		if m, _ := ownership(x); m || !ix.under(x.Scope(), scope) {
			continue
		}
		if r, ok := orphan(ix, x); ok {
			skipped = append(skipped, r)
		} else if r, ok := expired(x, now); ok {
			skipped = append(skipped, r)
		} else {
			adopt = append(adopt, x)
		}
	}
	slices.SortFunc(adopt, func(a, b *Exemption) int { return strings.Compare(key(a.ID), key(b.ID)) })
	slices.SortFunc(skipped, func(a, b Report) int { return strings.Compare(key(a.ID), key(b.ID)) })
	return adopt, skipped
}
