// Package exemption holds the policy exemption resource
// (Microsoft.Authorization/policyExemptions): reading and validating request
// bodies per api-version, rendering the ARM document, deciding which policy
// states an exemption covers, parsing list $filter values, and posture's own
// governance rules on top of Azure's, and its own properties (a resource
// filter, an evidence check, the drift review: extensions.go).
//
// Nothing here needs the estate: checks that look up the policy assignment,
// its initiative or the caller's rights belong to the service that stores
// exemptions. Sources for every Azure rule are listed in SOURCE.md.
package exemption

import (
	"encoding/json"
	"time"

	"github.com/posture/posture/match"
)

// Type is the ARM resource type of an exemption.
const Type = "Microsoft.Authorization/policyExemptions"

// StoredVersion is the api-version whose document FromDocument reads: store
// exemptions as Document(…, StoredVersion) so that no property is lost.
const StoredVersion = "2025-12-01-preview"

// api-versions at which properties appear (azure-api-spec.md §1.1).
const (
	v2022 = "2022-07-01-preview" // resourceSelectors, assignmentScopeValidation, PATCH
	v2025 = "2025-12-01-preview" // exemptionManagementMode
)

// atLeast reports whether apiVersion is since or later. api-versions start
// with their date, so comparing the dates orders them.
func atLeast(apiVersion, since string) bool {
	return date(apiVersion) >= date(since)
}

func date(v string) string {
	if len(v) > 10 {
		return v[:10]
	}
	return v
}

// Category is the exemption category.
type Category string

// Exemption categories.
const (
	Waiver    Category = "Waiver"    // non-compliance accepted (risk accepted)
	Mitigated Category = "Mitigated" // the policy intent is met another way
)

// Selector narrows the resources of a resource selector by one kind.
type Selector struct {
	Kind  string   `json:"kind"`
	In    []string `json:"in,omitempty"`
	NotIn []string `json:"notIn,omitempty"`
}

// ResourceSelector is a named set of selectors; a resource matches it when
// it matches all of them.
type ResourceSelector struct {
	Name      string     `json:"name"`
	Selectors []Selector `json:"selectors"`
}

// Exemption is the properties of a policy exemption, validated and canonical.
type Exemption struct {
	PolicyAssignmentID           string
	PolicyDefinitionReferenceIDs []string  // nil: the whole assignment
	Category                     Category  // canonical case ("waiver" in input -> Waiver)
	ExpiresOn                    time.Time // UTC; zero when absent
	DisplayName, Description     string
	Metadata                     json.RawMessage // a compact JSON object or nil
	ResourceSelectors            []ResourceSelector
	AssignmentScopeValidation    string // "Default" (when absent) or "DoNotValidate"
	ExemptionManagementMode      string // "" (absent), "Admin" or "UserSelfServe"

	// posture's own (extensions.go).
	ResourceFilter *match.Filter // nil: every resource
	Evidence       *Evidence     // nil: none
	Review         *Review       // written by the server; nil until a fingerprint is taken
}

// SystemData is the ARM systemData of an exemption.
type SystemData struct {
	CreatedBy, CreatedByType           string
	CreatedAt                          time.Time
	LastModifiedBy, LastModifiedByType string
	LastModifiedAt                     time.Time
}

// Active reports whether the exemption is honoured at now. An expired
// exemption is kept but no longer honoured (exemption-structure.md,
// "Expiration"); at the instant ExpiresOn it has expired.
// A review whose grace period ended ends it too (EndsAt).
func (e *Exemption) Active(now time.Time) bool {
	end := e.EndsAt()
	return end.IsZero() || now.Before(end)
}
