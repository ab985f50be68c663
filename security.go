package posture

import "context"

// SecurityService answers Microsoft Defender for Cloud's APIs:
// recommendations (assessment metadata), assessments, secure scores and the
// regulatory compliance view. Documents come back in the API's JSON.
type SecurityService interface {
	// Metadata returns one recommendation: a built-in one (sub "") or a
	// subscription's custom one. ENOTFOUND with code NotFound.
	Metadata(ctx context.Context, sub, key string) (*Resource, error)
	// ListMetadata lists the built-in recommendations and, with sub, the
	// subscription's custom ones.
	ListMetadata(ctx context.Context, sub string) ([]*Resource, error)
	// PutMetadata creates or replaces a subscription's custom
	// recommendation; a built-in key is EINVALID.
	PutMetadata(ctx context.Context, r *Resource) (PutResult, error)
	// DeleteMetadata deletes a custom recommendation and its assessments.
	DeleteMetadata(ctx context.Context, id string) (bool, error)

	// Assessment returns the assessment with the id
	// ({resourceId}/providers/Microsoft.Security/assessments/{key}).
	Assessment(ctx context.Context, id string, expand AssessmentExpand) (*Resource, error)
	// ListAssessments returns one page of the assessments at or under a
	// subscription or management group.
	ListAssessments(ctx context.Context, f AssessmentFilter) (ResourcePage, error)
	// PutAssessment stores a custom, partner or scanner assessment.
	PutAssessment(ctx context.Context, r *Resource) (PutResult, error)
	// DeleteAssessment deletes a stored assessment.
	DeleteAssessment(ctx context.Context, id string) (bool, error)

	// SecureScores lists the secure scores of a subscription or management
	// group scope (one: ascScore).
	SecureScores(ctx context.Context, scope string) ([]*Resource, error)
	// SecureScoreControls lists a scope's controls with their scores.
	SecureScoreControls(ctx context.Context, scope string, expandDefinition bool) ([]*Resource, error)
	// ControlDefinitions lists the security controls' definitions.
	ControlDefinitions(ctx context.Context) ([]*Resource, error)

	// Regulatory lists the regulatory compliance documents under a path of
	// the regulatoryComplianceStandards tree of a subscription: standards,
	// a standard's controls or a control's assessments. name selects one.
	Regulatory(ctx context.Context, f RegulatoryFilter) ([]*Resource, error)
}

// AssessmentExpand selects what an assessment GET adds ($expand).
type AssessmentExpand struct {
	Links, Metadata bool
}

// AssessmentFilter selects assessments for a list.
type AssessmentFilter struct {
	Scope  string // subscription or management group id
	After  string // cursor from the previous page
	Limit  int
	Expand AssessmentExpand
}

// RegulatoryFilter selects regulatory compliance documents of a
// subscription: Standard empty lists standards; Control empty lists the
// standard's controls; otherwise the control's assessments. Name selects
// one item of the list.
type RegulatoryFilter struct {
	Subscription, Standard, Control, Name string
}
