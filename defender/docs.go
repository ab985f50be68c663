package defender

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/jsonw"
)

// The documents of Defender's API, 2021-06-01 shapes (2020-01-01 and
// 2025-05-04 read the same fields).

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

// metadataJSON is the metadata properties as JSON, built once.
func (r *Recommendation) metadataJSON() []byte { return r.metaJSON }

func (r *Recommendation) metadataDoc() []byte {
	b, _ := json.Marshal(metadataDoc{ID: "/providers/" + metadataType + "/" + r.Key, Name: r.Key, Type: metadataType, Properties: r.metadata()})
	return b
}

// assessmentID is the id of an assessment of a resource.
func (s *Service) assessmentID(resKey string, r *Recommendation) string {
	return resKey + "/providers/" + assessmentType + "/" + r.Key
}

// portalLink is posture's page of a recommendation (and resource). The
// resource's id goes into the query with its slashes as they are (RFC 3986
// §3.4 allows them there): the link then ends in the very string the
// assessment's resourceDetails.Id holds, and the Resource Graph tables
// store it as a code they already have rather than 250 bytes unique to
// each assessment (kql's splitAt).
func (s *Service) portalLink(key, resKey string) *links {
	u := s.PortalURL + "/recommendations/" + key
	if resKey != "" {
		u += "?resource=" + strings.ReplaceAll(url.QueryEscape(resKey), "%2F", "/")
	}
	return &links{AzurePortalURI: u}
}

// assessmentBody builds the document of a derived assessment by hand: a
// page of a thousand goes out in a few milliseconds this way, where
// encoding/json took most of a page's time. resourceDetails carries both
// spellings, the REST API's (source, id) and Resource Graph's (Source,
// Id), which real queries read (properties.resourceDetails.Id in the
// seed's query).
func (s *Service) assessmentBody(resKey string, e entry, expand posture.AssessmentExpand) []byte {
	r := s.Catalog.Recommendations[e.rec]
	b := make([]byte, 0, 768)
	b = append(b, `{"id":`...)
	b = jsonw.AppendString(b, s.assessmentID(resKey, r))
	b = append(b, `,"name":"`...)
	b = append(b, r.Key...)
	b = append(b, `","type":"`+assessmentType+`","properties":{"resourceDetails":{"source":"Azure","id":`...)
	b = jsonw.AppendString(b, resKey)
	b = append(b, `,"Source":"Azure","Id":`...)
	b = jsonw.AppendString(b, resKey)
	b = append(b, `},"displayName":`...)
	b = jsonw.AppendString(b, r.DisplayName)
	b = append(b, `,"status":{"code":"`...)
	b = append(b, e.st.String()...)
	b = append(b, '"')
	switch e.cause {
	case causeOffByPolicy:
		b = append(b, `,"cause":"OffByPolicy","description":"The recommendation is off: the effect of its policy is Disabled in the Microsoft cloud security benchmark assignment."`...)
	case causeExempt, causeExemptMitigated:
		x := s.exemptionOf(e)
		d := "Exempted by the policy exemption " + x.id + " (" + x.category + ")"
		if !x.until.IsZero() {
			d += " until " + x.until.UTC().Format(time.RFC3339)
		}
		b = append(b, `,"cause":"Exempt","description":`...)
		b = jsonw.AppendString(b, d+".")
	case causeExemptionEnded:
		x := s.exemptionOf(e)
		b = append(b, `,"description":`...)
		b = jsonw.AppendString(b, "The policy exemption "+x.id+" ("+x.category+") expired at "+x.until.UTC().Format(time.RFC3339)+"; the resource is assessed again.")
	}
	if e.first != 0 {
		b = append(b, `,"firstEvaluationDate":"`...)
		b = time.Unix(e.first, 0).UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	if e.changed != 0 {
		b = append(b, `,"statusChangeDate":"`...)
		b = time.Unix(e.changed, 0).UTC().AppendFormat(b, time.RFC3339)
		b = append(b, '"')
	}
	b = append(b, `},"additionalData":{"policyDefinitionId":`...)
	b = jsonw.AppendString(b, r.PolicyDefinitionID)
	b = append(b, `,"policyDefinitionReferenceId":`...)
	b = jsonw.AppendString(b, r.ReferenceID)
	b = append(b, '}')
	if expand.Links {
		b = append(b, `,"links":{"azurePortalUri":`...)
		b = jsonw.AppendString(b, s.portalLink(r.Key, resKey).AzurePortalURI)
		b = append(b, '}')
	}
	if expand.Metadata {
		b = append(b, `,"metadata":`...)
		b = append(b, r.metadataJSON()...)
	}
	return append(b, "}}"...)
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

// exemptDescription matches the status description of an exempted
// assessment, as assessmentBody writes it.
var exemptDescription = regexp.MustCompile(`^Exempted by the policy exemption (\S+) \((\w+)\)(?: until (\S+?))?\.$`)

// ExemptionOf reads an exempted assessment's status description back: the
// exemption's id, its category and its expiry (RFC 3339, "" for none).
// The portal shows them on exempted rows without another query.
func ExemptionOf(description string) (id, category, expiresOn string, ok bool) {
	m := exemptDescription.FindStringSubmatch(description)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}
