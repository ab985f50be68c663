package defender

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/posture/posture"
)

// The documents of Defender's API, 2021-06-01 shapes (2020-01-01 and
// 2025-05-04 read the same fields).

type assessmentDoc struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	Type       string               `json:"type"`
	Properties assessmentProperties `json:"properties"`
}

type assessmentProperties struct {
	ResourceDetails resourceDetails   `json:"resourceDetails"`
	DisplayName     string            `json:"displayName"`
	Status          assessmentStatus  `json:"status"`
	AdditionalData  map[string]string `json:"additionalData,omitempty"`
	Links           *links            `json:"links,omitempty"`
	Metadata        *metadataProps    `json:"metadata,omitempty"`
}

// resourceDetails carries both spellings: the REST API's (source, id) and
// Resource Graph's (Source, Id), which real queries read
// (properties.resourceDetails.Id in the seed's query).
type resourceDetails struct {
	Source  string `json:"source"`
	ID      string `json:"id"`
	SourceU string `json:"Source"`
	IDU     string `json:"Id"`
}

type assessmentStatus struct {
	Code                string `json:"code"`
	Cause               string `json:"cause,omitempty"`
	Description         string `json:"description,omitempty"`
	FirstEvaluationDate string `json:"firstEvaluationDate,omitempty"`
	StatusChangeDate    string `json:"statusChangeDate,omitempty"`
}

type links struct {
	AzurePortalURI string `json:"azurePortalUri"`
}

type metadataDoc struct {
	ID         string        `json:"id"`
	Name       string        `json:"name"`
	Type       string        `json:"type"`
	Properties metadataProps `json:"properties"`
}

type metadataProps struct {
	DisplayName            string          `json:"displayName"`
	PolicyDefinitionID     string          `json:"policyDefinitionId,omitempty"`
	Description            string          `json:"description,omitempty"`
	RemediationDescription string          `json:"remediationDescription,omitempty"`
	Categories             []string        `json:"categories,omitempty"`
	Severity               string          `json:"severity"`
	UserImpact             string          `json:"userImpact,omitempty"`
	ImplementationEffort   string          `json:"implementationEffort,omitempty"`
	Threats                []string        `json:"threats,omitempty"`
	Preview                bool            `json:"preview,omitempty"`
	AssessmentType         string          `json:"assessmentType"`
	PostureSource          *postureSource  `json:"postureSource,omitempty"`
	Extra                  json.RawMessage `json:"-"`
}

// postureSource says which facts of a built-in recommendation posture
// made up because no public source gives Defender's.
type postureSource struct {
	AssessmentKey string `json:"assessmentKey"` // "Defender" or "derived"
	Severity      string `json:"severity"`      // "Defender" or "default"
	Controls      string `json:"controls"`      // "Defender docs" or "default"
}

const (
	assessmentType = "Microsoft.Security/assessments"
	metadataType   = "Microsoft.Security/assessmentMetadata"
)

func (r *Recommendation) metadata() metadataProps {
	src := &postureSource{AssessmentKey: "Defender", Severity: "Defender", Controls: "Defender docs"}
	if r.KeySource != "Defender" {
		src.AssessmentKey = "derived"
	}
	if r.SeveritySource != "Defender" {
		src.Severity = "default"
	}
	if r.defaultControl {
		src.Controls = "default"
	}
	return metadataProps{
		DisplayName: r.DisplayName, PolicyDefinitionID: r.PolicyDefinitionID, Description: r.Description,
		RemediationDescription: r.Remediation, Categories: r.Categories, Severity: r.Severity,
		UserImpact: r.UserImpact, ImplementationEffort: r.ImplementationEffort, Threats: r.Threats,
		Preview: r.Preview, AssessmentType: "BuiltIn", PostureSource: src,
	}
}

func (r *Recommendation) metadataDoc() []byte {
	b, _ := json.Marshal(metadataDoc{ID: "/providers/" + metadataType + "/" + r.Key, Name: r.Key, Type: metadataType, Properties: r.metadata()})
	return b
}

// assessmentID is the id of an assessment of a resource.
func (s *Service) assessmentID(resKey string, r *Recommendation) string {
	return resKey + "/providers/" + assessmentType + "/" + r.Key
}

// portalLink is posture's page of a recommendation (and resource).
func (s *Service) portalLink(key, resKey string) *links {
	u := s.PortalURL + "/recommendations/" + key
	if resKey != "" {
		u += "?resource=" + url.QueryEscape(resKey)
	}
	return &links{AzurePortalURI: u}
}

// assessmentBody builds the document of a derived assessment.
func (s *Service) assessmentBody(resKey string, e entry, expand posture.AssessmentExpand) []byte {
	r := s.Catalog.Recommendations[e.rec]
	d := assessmentDoc{ID: s.assessmentID(resKey, r), Name: r.Key, Type: assessmentType}
	p := &d.Properties
	p.ResourceDetails = resourceDetails{Source: "Azure", ID: resKey, SourceU: "Azure", IDU: resKey}
	p.DisplayName = r.DisplayName
	p.Status = assessmentStatus{Code: e.st.String(), FirstEvaluationDate: date(e.first), StatusChangeDate: date(e.changed)}
	switch e.cause {
	case causeOffByPolicy:
		p.Status.Cause = "OffByPolicy"
		p.Status.Description = "The recommendation is off: the effect of its policy is Disabled in the Microsoft cloud security benchmark assignment."
	case causeExempt:
		p.Status.Cause = "Exempt"
		p.Status.Description = "Exempt: a policy exemption covers this resource."
	}
	p.AdditionalData = map[string]string{"policyDefinitionId": r.PolicyDefinitionID, "policyDefinitionReferenceId": r.ReferenceID}
	if expand.Links {
		p.Links = s.portalLink(r.Key, resKey)
	}
	if expand.Metadata {
		m := r.metadata()
		p.Metadata = &m
	}
	b, _ := json.Marshal(d)
	return b
}

// assessmentResource is a derived assessment as a document for the
// Resource Graph tables: with links and metadata, as Resource Graph has
// them.
func (s *Service) assessmentResource(resKey string, e entry) *posture.Resource {
	r := s.Catalog.Recommendations[e.rec]
	id := s.assessmentID(resKey, r)
	return &posture.Resource{ID: id, Key: id, Type: assessmentType, Name: r.Key,
		Body: s.assessmentBody(resKey, e, posture.AssessmentExpand{Links: true, Metadata: true})}
}

func date(unix int64) string {
	if unix == 0 {
		return ""
	}
	return time.Unix(unix, 0).UTC().Format(time.RFC3339)
}
