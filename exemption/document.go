package exemption

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/match"
)

// The document follows the field order of Azure's examples
// (createOrUpdatePolicyExemption*.json): properties, systemData, id, type,
// name; inside properties policyAssignmentId, policyDefinitionReferenceIds,
// exemptionCategory, expiresOn, displayName, description, metadata,
// assignmentScopeValidation, resourceSelectors, exemptionManagementMode;
// then posture's own: resourceFilter, evidence, review.
// encoding/json writes struct fields in order, so the structs below are the
// layout.
type document struct {
	Properties properties `json:"properties"`
	SystemData systemData `json:"systemData"`
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Name       string     `json:"name"`
}

type properties struct {
	PolicyAssignmentID           string             `json:"policyAssignmentId"`
	PolicyDefinitionReferenceIDs []string           `json:"policyDefinitionReferenceIds,omitempty"`
	ExemptionCategory            Category           `json:"exemptionCategory"`
	ExpiresOn                    string             `json:"expiresOn,omitempty"`
	DisplayName                  string             `json:"displayName,omitempty"`
	Description                  string             `json:"description,omitempty"`
	Metadata                     json.RawMessage    `json:"metadata,omitempty"`
	AssignmentScopeValidation    string             `json:"assignmentScopeValidation,omitempty"`
	ResourceSelectors            []ResourceSelector `json:"resourceSelectors,omitempty"`
	ExemptionManagementMode      string             `json:"exemptionManagementMode,omitempty"`
	ResourceFilter               *match.Filter      `json:"resourceFilter,omitempty"`
	Evidence                     *Evidence          `json:"evidence,omitempty"`
	Review                       *Review            `json:"review,omitempty"`
}

type systemData struct {
	CreatedBy          string `json:"createdBy,omitempty"`
	CreatedByType      string `json:"createdByType,omitempty"`
	CreatedAt          string `json:"createdAt,omitempty"`
	LastModifiedBy     string `json:"lastModifiedBy,omitempty"`
	LastModifiedByType string `json:"lastModifiedByType,omitempty"`
	LastModifiedAt     string `json:"lastModifiedAt,omitempty"`
}

// Document renders the ARM JSON of an exemption for an api-version.
// 2020-07-01-preview has no resourceSelectors or assignmentScopeValidation;
// from 2022-07-01-preview assignmentScopeValidation is always present
// ("Default" unless set) and resourceSelectors when there are any; from
// 2025-12-01-preview exemptionManagementMode when set. Absent optional
// properties and empty systemData fields are omitted. Times are RFC 3339 in
// UTC. The output is compact, without HTML escaping, and the same for the
// same input. Document panics if e.Metadata is not valid JSON, which a
// parsed Exemption never has.
func Document(id, name string, e *Exemption, sd SystemData, apiVersion string) []byte {
	doc := document{
		Properties: properties{
			PolicyAssignmentID:           e.PolicyAssignmentID,
			PolicyDefinitionReferenceIDs: e.PolicyDefinitionReferenceIDs,
			ExemptionCategory:            e.Category,
			ExpiresOn:                    formatTime(e.ExpiresOn),
			DisplayName:                  e.DisplayName,
			Description:                  e.Description,
			Metadata:                     e.Metadata,
		},
		SystemData: systemData{
			CreatedBy:          sd.CreatedBy,
			CreatedByType:      sd.CreatedByType,
			CreatedAt:          formatTime(sd.CreatedAt),
			LastModifiedBy:     sd.LastModifiedBy,
			LastModifiedByType: sd.LastModifiedByType,
			LastModifiedAt:     formatTime(sd.LastModifiedAt),
		},
		ID:   id,
		Type: Type,
		Name: name,
	}
	if atLeast(apiVersion, v2022) {
		doc.Properties.AssignmentScopeValidation = e.AssignmentScopeValidation
		if doc.Properties.AssignmentScopeValidation == "" {
			doc.Properties.AssignmentScopeValidation = "Default"
		}
		doc.Properties.ResourceSelectors = e.ResourceSelectors
	}
	if atLeast(apiVersion, v2025) {
		doc.Properties.ExemptionManagementMode = e.ExemptionManagementMode
	}
	// posture's own, at every api-version: an older client ignores them,
	// and leaving them out would hide what an exemption covers.
	doc.Properties.ResourceFilter, doc.Properties.Evidence, doc.Properties.Review = e.ResourceFilter, e.Evidence, e.Review
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // as Azure writes JSON; also keeps metadata byte for byte
	if err := enc.Encode(doc); err != nil {
		panic(fmt.Sprintf("exemption: document of %s: %v", id, err))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// FromDocument reads back a document written by Document for StoredVersion.
// Times come back in UTC. A document that does not read back is corrupt
// storage, so the error is EINTERNAL (its cause kept for logs).
func FromDocument(doc []byte) (*Exemption, SystemData, error) {
	e, err := Parse(doc, StoredVersion)
	if err != nil {
		return nil, SystemData{}, corrupt(err)
	}
	var d struct {
		SystemData systemData `json:"systemData"`
		Properties struct {
			Review json.RawMessage `json:"review"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, SystemData{}, corrupt(err)
	}
	if e.Review, err = readReview(d.Properties.Review); err != nil {
		return nil, SystemData{}, corrupt(err)
	}
	sd := SystemData{
		CreatedBy:          d.SystemData.CreatedBy,
		CreatedByType:      d.SystemData.CreatedByType,
		LastModifiedBy:     d.SystemData.LastModifiedBy,
		LastModifiedByType: d.SystemData.LastModifiedByType,
	}
	if sd.CreatedAt, err = parseTime(d.SystemData.CreatedAt); err != nil {
		return nil, SystemData{}, corrupt(err)
	}
	if sd.LastModifiedAt, err = parseTime(d.SystemData.LastModifiedAt); err != nil {
		return nil, SystemData{}, corrupt(err)
	}
	return e, sd, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}

func corrupt(err error) error {
	return &posture.Error{Kind: posture.EINTERNAL, Code: "InternalServerError",
		Message: "The server encountered an internal error. Please retry the request.",
		Err:     fmt.Errorf("exemption: stored document does not read back: %w", err)}
}
