package desired

import (
	"encoding/json"
	"time"
)

// Limits on input, checked before any parsing work.
const (
	MaxFileSize = 32 << 20
	MaxEntries  = 100_000
)

// Categories, in their canonical spelling.
const (
	Waiver    = "Waiver"
	Mitigated = "Mitigated"
)

// Entry is one desired exemption, whatever format it came from.
//
// Exactly one of Assignment, Recommendation, PolicyDefinitionID and
// PolicySetDefinitionID is set. Fields holds where each given field is,
// under canonical names whatever the format spelled them: name,
// displayName, description, category, scopes (and scopes[i]), assignment,
// recommendation, policyDefinitionId (Id or Name), policySetDefinitionId
// (Id or Name), policyDefinitionReferenceIds (and [i]), expiresOn, owner,
// ticket, metadata, resourceSelectors, resourceFilter,
// assignmentScopeValidation, history. A value taken from defaults points
// at the default.
type Entry struct {
	Pos         Pos            // the entry's first line
	Fields      map[string]Pos // where each given field is
	Index       int            // position in its file, from 0
	Name        string
	DisplayName string
	Description string
	Category    string   // Waiver or Mitigated
	Scopes      []string // canonical ARM ids (armid), at least one
	// Assignment is a policy assignment id (canonical, armid).
	Assignment string
	// Recommendation is an assessment key, or a policy definition id or
	// name: the planner fans it out to every assignment containing it.
	Recommendation string
	// PolicyDefinitionID is EPAC's policyDefinitionId, or its
	// policyDefinitionName kept as given (the planner resolves it); an id
	// starts with "/". The same holds for PolicySetDefinitionID.
	PolicyDefinitionID    string
	PolicySetDefinitionID string
	// ReferenceIDs narrow an assignment or policy set; nil means all.
	ReferenceIDs []string
	ExpiresOn    time.Time // UTC; zero: never
	Owner        string
	Ticket       string
	// Metadata is a JSON object; numbers are json.Number.
	Metadata          map[string]any
	ResourceSelectors json.RawMessage // compact JSON array, passed through
	ResourceFilter    json.RawMessage // compact JSON object, validated by the server
	// AssignmentScopeValidation is "Default", "DoNotValidate", or "" when
	// not given (the server's default, Default).
	AssignmentScopeValidation string
	// History is informational (adopt writes it); plan ignores it.
	History json.RawMessage
}
