package exemptplan

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture/desired"
)

// Ownership metadata keys and the managedBy value (see the package doc).
const (
	KeyManagedBy     = "managedBy"
	KeyOwnerID       = "ownerId"
	KeyAssignmentDef = "assignmentDefinitionId"
	KeyOwner         = "owner"
	KeyTicket        = "ticketRef"
	ManagedBy        = "posture-code"
)

// DefaultOwnerID is the owner id when none is given.
const DefaultOwnerID = "default"

// DesiredState says what happens to exemptions the files do not list.
type DesiredState string

// Desired states.
const (
	// DesiredOwned deletes only exemptions of this owner id that the files
	// no longer list; exemptions made elsewhere are reported.
	DesiredOwned DesiredState = "owned"
	// DesiredFull also deletes exemptions made elsewhere at the scopes the
	// files cover.
	DesiredFull DesiredState = "full"
)

// Options tune a plan.
type Options struct {
	DesiredState DesiredState // default DesiredOwned
	OwnerID      string       // default DefaultOwnerID
	// Scopes are the roots the files manage. Empty: the scopes of the
	// entries for exemptions made elsewhere, and anywhere for this owner's.
	Scopes []string
	Now    time.Time
}

// Kind is what an action does.
type Kind string

// Action kinds, in the order a plan lists them.
const (
	Create   Kind = "Create"
	Update   Kind = "Update"
	Rebind   Kind = "Rebind"
	Delete   Kind = "Delete"
	NoChange Kind = "NoChange"
)

var kindOrder = map[Kind]int{Create: 0, Update: 1, Rebind: 2, Delete: 3, NoChange: 4}

// Action is one exemption to write or delete.
type Action struct {
	Kind Kind   `json:"action"`
	ID   string `json:"id"`
	// Reasons say why: one per changed field for updates.
	Reasons []string `json:"reasons,omitempty"`
	// Adopt is set on an update of an exemption made elsewhere that the
	// files now own.
	Adopt bool `json:"adopt,omitempty"`
	// Desired is what to write (nil for deletes); Current is what the
	// server holds (nil for creates).
	Desired *Desired   `json:"desired,omitempty"`
	Current *Exemption `json:"-"`
	sortKey string
}

// Report is an exemption the plan does not change but reports.
type Report struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	// Replacement is, for an orphan, an assignment it could be re-bound to.
	Replacement string `json:"replacement,omitempty"`
}

// Result is a plan: the difference between the files and the server.
type Result struct {
	Actions   []Action         `json:"actions"`
	Unmanaged []Report         `json:"unmanaged"`
	Orphaned  []Report         `json:"orphaned"`
	Expired   []Report         `json:"expired"`
	Problems  desired.Problems `json:"problems"`
	Warnings  desired.Problems `json:"warnings"`
}

// Changes counts the actions that change something.
func (p *Result) Changes() int {
	n := 0
	for _, a := range p.Actions {
		if a.Kind != NoChange {
			n++
		}
	}
	return n
}

// Count counts the actions of a kind.
func (p *Result) Count(k Kind) int {
	n := 0
	for _, a := range p.Actions {
		if a.Kind == k {
			n++
		}
	}
	return n
}

// Plan compares entries with the estate. Problems in the entries (unknown
// targets, scopes in notScopes, clashes) are in the plan's Problems; a
// plan with problems must not be applied.
func Plan(entries []desired.Entry, est *Estate, opts Options) *Result {
	if opts.DesiredState == "" {
		opts.DesiredState = DesiredOwned
	}
	if opts.OwnerID == "" {
		opts.OwnerID = DefaultOwnerID
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	ix := newIndex(est)
	p := &Result{Actions: []Action{}, Unmanaged: []Report{}, Orphaned: []Report{}, Expired: []Report{}}
	fo := &fanout{ix: ix, opts: opts, plan: p, byID: map[string]*Desired{}}
	for i := range entries {
		fo.entry(&entries[i])
	}
	touched := make(map[string]bool, len(fo.list))
	for _, d := range fo.list {
		k := key(d.ID)
		touched[k] = true
		cur := ix.exemptions[k]
		if cur == nil {
			p.Actions = append(p.Actions, Action{Kind: Create, ID: d.ID, Desired: d, Reasons: []string{"new in " + posString(d.Entry.Pos)}})
			continue
		}
		if m, owner := ownership(cur); m && owner != opts.OwnerID {
			fo.problem(d.Entry, "name", "ManagedElsewhere",
				"the exemption %s is managed by owner id %q, not %q: remove it from one of the two", d.ID, owner, opts.OwnerID)
			continue
		}
		p.Actions = append(p.Actions, compare(ix, d, cur, opts))
	}
	covered := coverage(ix, fo.list, opts.Scopes)
	for i := range est.Exemptions {
		x, k := &est.Exemptions[i], ix.exKeys[i]
		if touched[k] {
			continue
		}
		managed, owner := ownership(x)
		inArea := covered(scopeOf(k))
		switch {
		case managed && owner == opts.OwnerID && (len(opts.Scopes) == 0 || inArea):
			p.Actions = append(p.Actions, Action{Kind: Delete, ID: x.ID, Current: x,
				Reasons: []string{"no longer in the files (owner id " + owner + ")"}})
			continue
		case !inArea:
			continue
		case !managed && opts.DesiredState == DesiredFull:
			p.Actions = append(p.Actions, Action{Kind: Delete, ID: x.ID, Current: x,
				Reasons: []string{"made outside the files, at a scope they cover (desired state full)"}})
			continue
		case !managed:
			p.Unmanaged = append(p.Unmanaged, Report{ID: x.ID, Reason: madeBy(x)})
		}
		hygiene(ix, x, opts.Now, p)
	}
	sortPlan(p)
	return p
}

// ownership reads the ownership metadata of an exemption.
func ownership(x *Exemption) (managed bool, ownerID string) {
	if s, _ := x.Metadata[KeyManagedBy].(string); s != ManagedBy {
		return false, ""
	}
	owner, _ := x.Metadata[KeyOwnerID].(string)
	return true, owner
}

// madeBy says where an unmanaged exemption came from, as far as its
// metadata tells.
func madeBy(x *Exemption) string {
	switch {
	case x.Metadata["requestId"] != nil:
		return "made elsewhere (exemption request " + str(x.Metadata["requestId"]) + ")"
	case x.Metadata["createdFrom"] != nil:
		return "made elsewhere (" + str(x.Metadata["createdFrom"]) + ")"
	}
	return "made elsewhere (no metadata.managedBy)"
}

// coverage returns whether a scope (its key) is one the files cover: under one of
// roots, or, without roots, at or under a scope an entry exempts.
func coverage(ix *index, list []*Desired, roots []string) func(scope string) bool {
	set := map[string]bool{}
	if len(roots) > 0 {
		for _, r := range roots {
			set[key(r)] = true
		}
	} else {
		for _, d := range list {
			set[key(d.Scope)] = true
		}
	}
	return func(scopeKey string) bool {
		found := false
		ix.walk(scopeKey, func(c string) bool { found = set[c]; return !found })
		return found
	}
}

func sortPlan(p *Result) {
	for i := range p.Actions {
		p.Actions[i].sortKey = key(p.Actions[i].ID)
	}
	slices.SortStableFunc(p.Actions, func(a, b Action) int {
		return cmp.Or(cmp.Compare(kindOrder[a.Kind], kindOrder[b.Kind]), strings.Compare(a.sortKey, b.sortKey))
	})
	for _, rs := range [][]Report{p.Unmanaged, p.Orphaned, p.Expired} {
		slices.SortFunc(rs, func(a, b Report) int { return strings.Compare(key(a.ID), key(b.ID)) })
	}
	for _, ps := range []desired.Problems{p.Problems, p.Warnings} {
		slices.SortStableFunc(ps, func(a, b desired.Problem) int {
			return cmp.Or(strings.Compare(a.Pos.File, b.Pos.File), cmp.Compare(a.Pos.Line, b.Pos.Line),
				cmp.Compare(a.Pos.Column, b.Pos.Column), strings.Compare(a.Field, b.Field), strings.Compare(a.Message, b.Message))
		})
	}
}

// str renders a metadata value for a message.
func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return valueText(v, true)
}
