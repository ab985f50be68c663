package posture

import (
	"context"
	"encoding/json"
)

// ExemptionService manages policy exemptions
// (Microsoft.Authorization/policyExemptions) and their effect: an exemption
// written is in force on every read when the write returns, and one past
// its expiresOn is not, at that second.
type ExemptionService interface {
	// PutExemption creates or replaces an exemption. EINVALID with Azure's
	// codes (and ExemptionPolicyViolation for posture's governance rules),
	// ENOTFOUND for a missing scope or assignment, EPRECONDITION on a stale
	// If-Match.
	PutExemption(ctx context.Context, w ExemptionWrite) (ExemptionResult, error)
	// PutExemptions creates or replaces several exemptions, then runs inTx
	// (when not nil), all in one transaction: an error of any of them, or
	// of inTx, keeps nothing. Exemption requests use it to create the
	// exemptions of an approval with the request's new state and its
	// notices.
	PutExemptions(ctx context.Context, ws []ExemptionWrite, inTx func(Tx, []ExemptionResult) error) ([]ExemptionResult, error)
	// PatchExemption changes resourceSelectors, assignmentScopeValidation
	// or exemptionManagementMode of an existing exemption.
	PatchExemption(ctx context.Context, w ExemptionWrite) (ExemptionResult, error)
	// GetExemption returns an exemption's stored document (newest
	// api-version's shape).
	GetExemption(ctx context.Context, id string) (*Resource, error)
	// DeleteExemption deletes one and returns its document; nil when there
	// was none.
	DeleteExemption(ctx context.Context, id, ifMatch string) (*Resource, error)
	// ListExemptions lists exemptions visible at a scope with Azure's
	// $filter, in id order.
	ListExemptions(ctx context.Context, f ExemptionFilter) (ResourcePage, error)
	// ExemptionHistory returns the events of an exemption, oldest first;
	// ENOTFOUND when it never existed.
	ExemptionHistory(ctx context.Context, id string) ([]*Event, error)
	// PreviewExemption validates an exemption like PutExemption and returns
	// what it would cover, without writing.
	PreviewExemption(ctx context.Context, w ExemptionWrite) (*ExemptionPreview, error)
	// ExpireDue records the expiries that are due and re-opens what they
	// covered. Read paths call it: it costs a clock read when nothing is
	// due.
	ExpireDue(ctx context.Context) error
}

// ExemptionWrite is a PUT or PATCH of an exemption.
type ExemptionWrite struct {
	ID         string
	Body       []byte
	APIVersion string
	IfMatch    string
}

// ExemptionResult tells what a write did.
type ExemptionResult struct {
	Resource *Resource
	Created  bool
	// Covered counts the policy states the exemption covers now.
	Covered int
	// Warnings are things the caller should know (an expiresOn already
	// past).
	Warnings []string
}

// ExemptionFilter selects exemptions for a list.
type ExemptionFilter struct {
	Scope  string // the scope of the list call
	Filter string // Azure's $filter text
	After  string // key cursor
	Limit  int
}

// ExemptionPreview is what an exemption would do if written now.
type ExemptionPreview struct {
	Exemption json.RawMessage `json:"exemption"`
	// Covered are the policy states it would cover now.
	Covered []CoveredState `json:"covered"`
	// Future describes what it covers of resources created later.
	Future   []string `json:"future"`
	Warnings []string `json:"warnings"`
	// Scores are the secure scores before and after, per subscription
	// touched; filled by the security service.
	Scores []ScorePreview `json:"scores,omitempty"`
}

// CoveredState is one policy state an exemption covers.
type CoveredState struct {
	ResourceID     string `json:"resourceId"`
	SubscriptionID string `json:"subscriptionId"`
	AssignmentID   string `json:"policyAssignmentId"`
	ReferenceID    string `json:"policyDefinitionReferenceId,omitempty"`
	DefinitionID   string `json:"policyDefinitionId"`
	State          string `json:"complianceState"` // the state the rule gives
	// AlreadyExempt says whether another exemption covers it now.
	AlreadyExempt bool `json:"alreadyExempt"`
}

// ScorePreviewer computes the secure scores an exemption would leave
// (package defender): it fills p.Scores.
type ScorePreviewer interface {
	PreviewScores(p *ExemptionPreview, category string)
}

// ScorePreview is a subscription's secure score before and after a change,
// as Defender computes it (adjusted: exemptions honoured) and raw (as if
// no exemption were honoured, to show what exemptions hide).
type ScorePreview struct {
	SubscriptionID string    `json:"subscriptionId"`
	Before         ScoreView `json:"before"`
	After          ScoreView `json:"after"`
	Raw            ScoreView `json:"raw"`
}

// ScoreView is one secure score.
type ScoreView struct {
	Current    float64 `json:"current"`
	Max        int     `json:"max"`
	Percentage float64 `json:"percentage"`
}

// ExemptionExplainer says why an exemption does or does not cover a
// resource (posture's own: POST {exemption}/explain).
type ExemptionExplainer interface {
	// ExplainExemption returns the checks an exemption makes of a
	// resource; ENOTFOUND when either does not exist.
	ExplainExemption(ctx context.Context, exemptionID, resourceID string) (*ExemptionExplanation, error)
}

// ExemptionExplanation is why an exemption does or does not cover a
// resource: each check in the order they apply, and the resource's policy
// states under the exemption's assignment.
type ExemptionExplanation struct {
	Exemption  string `json:"exemption"`
	ResourceID string `json:"resourceId"`
	// Covers says whether it covers at least one policy state of the
	// resource now.
	Covers bool             `json:"covers"`
	Steps  []ExplainStep    `json:"steps"`
	States []ExplainedState `json:"states"`
	Review json.RawMessage  `json:"review,omitempty"`
	Filter json.RawMessage  `json:"filter,omitempty"` // the resource filter's explanation tree
}

// ExplainStep is one check.
type ExplainStep struct {
	Check  string `json:"check"` // scope, assignment, expiry, review, policyDefinitionReferenceIds, resourceSelectors, resourceFilter
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// ExplainedState is a policy state of the resource and whether the
// exemption covers it.
type ExplainedState struct {
	ReferenceID string `json:"policyDefinitionReferenceId,omitempty"`
	State       string `json:"complianceState"`
	Covered     bool   `json:"covered"`
	// ExemptedBy is the exemption honoured for the state now, this one or
	// another; "" when none.
	ExemptedBy string `json:"exemptedBy,omitempty"`
}
