package posture

import (
	"context"
	"time"
)

// Compliance states of a (policy assignment, definition reference,
// resource) pair, with Azure Policy's names.
const (
	StateCompliant    = "Compliant"
	StateNonCompliant = "NonCompliant"
	StateExempt       = "Exempt"
	StateConflicting  = "Conflicting"
	StateError        = "Error"
	StateUnknown      = "Unknown"
	StateNotStarted   = "NotStarted"
	// StateDisabled is posture's own: the assignment sets the effect of a
	// definition that applies to the resource to Disabled. Azure Policy
	// stores nothing then, so policy state views leave it out; Defender's
	// assessments show it as NotApplicable with cause OffByPolicy.
	StateDisabled = "Disabled"
)

// ResourceStates is what one policy assignment says about one resource:
// the state of each definition of the assignment that applies to it. It is
// the unit posture stores, so a resource's evaluation is written at once.
type ResourceStates struct {
	ResourceKey    string // lower-case resource id
	ResourceType   string // lower case, as Azure Policy names it
	SubscriptionID string // lower case
	AssignmentKey  string // lower-case assignment id
	States         []PolicyState
}

// PolicyState is the evaluation of one resource against one definition of
// an assignment. State is the raw result of the rule. The exemption that
// covers the pair is stamped on it with its expiry, and turns the state into
// Exempt on read (Effective): an expiry takes effect at its second on every
// read path, without rewriting anything first.
type PolicyState struct {
	ReferenceID    string // policyDefinitionReferenceId in an initiative; "" for a single definition
	State          string
	Effect         string
	Error          string    // the evaluation error of an Error state
	FirstEvaluated time.Time // first time this pair was evaluated
	ChangedAt      time.Time // last time State changed
	// Exemption is the lower-case id of the exemption covering the pair,
	// "" for none. Of several, it is the one that lasts longest, so an
	// expired one stays only when none is left in force: views then say the
	// exemption expired.
	Exemption         string
	ExemptionCategory string    // Waiver or Mitigated
	ExemptUntil       time.Time // the exemption's expiresOn; zero when it has none
}

// Exempt reports whether an exemption covers the state at now. A Disabled
// definition has nothing to exempt.
func (p *PolicyState) Exempt(now time.Time) bool {
	return p.Exemption != "" && p.State != StateDisabled && (p.ExemptUntil.IsZero() || now.Before(p.ExemptUntil))
}

// ExemptionExpired reports whether the exemption stamped on the state has
// expired at now.
func (p *PolicyState) ExemptionExpired(now time.Time) bool {
	return p.Exemption != "" && !p.ExemptUntil.IsZero() && !now.Before(p.ExemptUntil)
}

// Effective returns the state as views show it at now: Exempt while an
// exemption covers it, else the rule's result.
func (p *PolicyState) Effective(now time.Time) string {
	if p.Exempt(now) {
		return StateExempt
	}
	return p.State
}

// PolicyStateFilter selects stored states. Zero fields do not filter.
type PolicyStateFilter struct {
	Under         string   // resources at or under this key
	ResourceKey   string   // one resource
	ResourceKeys  []string // any of these resources
	AssignmentKey string
	After         string // exclusive cursor: "resourceKey\x00assignmentKey"
	Limit         int    // rows (resource, assignment pairs)
}

// SettingComplianceStale is set when the estate changed without a
// ChangeObserver (an offline import): the server re-evaluates on start.
const SettingComplianceStale = "compliance_stale"

// ChangeObserver keeps state derived from the estate (policy compliance,
// scores) in step with it. Changed runs inside the write transaction that
// changed the estate, so the derived state commits or rolls back with it.
// The function it returns, when not nil, runs after the commit: it updates
// in-memory indexes, which must not see writes that did not commit.
type ChangeObserver interface {
	Changed(ctx context.Context, tx Tx, c *Change) (after func(), err error)
}

// Change is what one write did, for the observers inside its transaction
// and, once committed, for the in-memory views of the store.
type Change struct {
	Put     []*Resource // created or replaced documents
	Deleted []string    // keys deleted with everything under them (their states too)
	// States are the policy state rows the write stored; a row without
	// states was deleted. StatesRemoved are single definitions' states that
	// disappeared from rows still stored.
	States        []*ResourceStates
	StatesRemoved []StateRef
	// StateRefs, when not nil, says that only the states of these
	// references (lower case) changed in States: an exemption write
	// re-stamps rows for its references alone, and views that render
	// single states (the Resource Graph) skip the others.
	StateRefs map[string]bool
	// AssignmentsDropped are assignments whose states were all deleted.
	AssignmentsDropped []string
	// Derived are documents computed from the change (Defender's
	// assessments and scores) and DerivedRemoved the ids of those that no
	// longer exist: a feed early in a fan-out adds them for the Resource
	// Graph tables after it.
	Derived        []*Resource
	DerivedRemoved []string
}

// Feeds publishes each change to several feeds, in order.
type Feeds []ChangeFeed

// Publish implements ChangeFeed.
func (fs Feeds) Publish(c *Change) {
	for _, f := range fs {
		f.Publish(c)
	}
}

// StateRef names one policy state.
type StateRef struct {
	ResourceKey, AssignmentKey, ReferenceID string
}

// ChangeFeed receives every committed change, in commit order, for the
// in-memory views of the store (the Resource Graph tables).
type ChangeFeed interface {
	Publish(c *Change)
}

// PolicyService manages policy definitions, initiatives and assignments as
// ARM documents, and answers for the compliance of the estate.
type PolicyService interface {
	// GetPolicyObject returns a definition, set definition or assignment
	// (built-in definitions included). ENOTFOUND with Azure's codes.
	GetPolicyObject(ctx context.Context, id string) (*Resource, error)
	// PutPolicyObject validates and stores a custom definition, set
	// definition or assignment, then re-evaluates what it changes.
	// EINVALID with the policy engine's codes; ENOTFOUND for a missing scope
	// or definition; EPRECONDITION on a stale ETag.
	PutPolicyObject(ctx context.Context, r *Resource, ifMatch string) (PutResult, error)
	// DeletePolicyObject deletes one; ECONFLICT when something still uses it.
	DeletePolicyObject(ctx context.Context, id string) (bool, error)
	// ListPolicyObjects lists objects of one type visible at a scope:
	// those at the scope and its ancestors (and, for types that have them,
	// the built-ins), in id order.
	ListPolicyObjects(ctx context.Context, f PolicyObjectFilter) (ResourcePage, error)
	// PolicyStates returns one page of stored states and the cursor of the
	// next page ("" on the last one).
	PolicyStates(ctx context.Context, f PolicyStateFilter) ([]*ResourceStates, string, error)
}

// PolicyObjectFilter selects policy objects for a list.
type PolicyObjectFilter struct {
	Type       string // full type, e.g. Microsoft.Authorization/policyAssignments
	Scope      string // the scope of the list call
	ExactScope bool   // atExactScope(): only objects at Scope
	Below      bool   // include objects below Scope (assignment lists without a filter)
	// PolicyType keeps definitions of this policyType (BuiltIn, Custom, Static).
	PolicyType string
	// DefinitionID keeps assignments of this definition.
	DefinitionID string
	After        string
	Limit        int
}
