package authz

import (
	"strings"

	"github.com/posture/posture/armid"
)

// ReadFilter tells, row by row, which resources a principal may read: a
// row is visible when the principal holds "{type}/read" for the row's type
// at the row's id, as Azure requires of list and Resource Graph results.
// It keeps one ScopeSet per type it meets, so a page of rows costs one
// ScopeSet per distinct type plus an id parse and an O(log n) look-up per
// row. A ReadFilter sees the snapshot current when it was made; it is meant
// for one request and is not safe for concurrent use.
type ReadFilter struct {
	snap      *snapshot
	principal string
	byAction  map[string]*ScopeSet
}

// ReadFilter returns a ReadFilter for the principal.
func (a *Authorizer) ReadFilter(principalID string) *ReadFilter {
	return &ReadFilter{snap: a.snap.Load(), principal: strings.ToLower(principalID), byAction: map[string]*ScopeSet{}}
}

// Allows reports whether the principal may read the resource with the
// given id. An id that does not parse is not readable.
func (f *ReadFilter) Allows(id string) bool {
	parsed, err := armid.Parse(id)
	if err != nil {
		return false
	}
	return f.AllowsID(parsed)
}

// AllowsID is Allows for a parsed id.
func (f *ReadFilter) AllowsID(id armid.ID) bool {
	action := strings.ToLower(ReadAction(id))
	set := f.byAction[action]
	if set == nil {
		var err error
		if set, err = f.snap.scopesFor(f.principal, action); err != nil {
			return false
		}
		f.byAction[action] = set
	}
	return set.ContainsID(id)
}
