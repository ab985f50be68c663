package exemption

import (
	"github.com/posture/posture"
)

// Error codes. Azure documents few codes for exemptions (azure-api-spec.md
// §1.5); InvalidRequestContent is Azure's for bodies that do not
// deserialize, the rest are posture's, one per kind of mistake so that
// clients and tests can tell them apart.
const (
	codeContent         = "InvalidRequestContent"
	codeMissing         = "MissingRequiredProperty"
	codeName            = "InvalidResourceName"
	codeAssignmentID    = "InvalidPolicyAssignmentId"
	codeCategory        = "InvalidExemptionCategory"
	codeExpiresOn       = "InvalidExpiresOn"
	codeDisplayName     = "DisplayNameTooLong"
	codeDescription     = "DescriptionTooLong"
	codeMetadata        = "InvalidMetadata"
	codeMetadataSize    = "PolicyExemptionMetadataTooLarge"
	codeReferenceID     = "InvalidPolicyDefinitionReferenceId"
	codeReferenceDup    = "DuplicatePolicyDefinitionReferenceId"
	codeScopeValidation = "InvalidAssignmentScopeValidation"
	codeManagementMode  = "InvalidExemptionManagementMode"
	codeTooManyRS       = "TooManyResourceSelectors"
	codeRSNameDup       = "DuplicateResourceSelectorName"
	codeSelectorKind    = "InvalidSelectorKind"
	codeSelectorDup     = "DuplicateSelectorKind"
	codeSelectorMix     = "ConflictingSelectorKinds"
	codeSelectorValues  = "InvalidSelectorValues"
	codeTooManyValues   = "TooManySelectorValues"
	codeFilter          = "InvalidFilterInQueryString"
	codeViolation       = "ExemptionPolicyViolation"
	codeRules           = "InvalidExemptionRules"
	codeEvidence        = "InvalidEvidence"
)

// problems collects validation failures so a client sees all of them at once.
type problems []*posture.Error

func (p *problems) add(code, target, format string, args ...any) {
	*p = append(*p, posture.Errorf(posture.EINVALID, code, format, args...).WithTarget(target))
}

// err is posture.Join of the problems.
func (p problems) err() error { return posture.Join(p) }
