// Package requests lets people who may read a resource but not exempt it
// ask for an exemption, and lets security contacts and admins decide.
//
// A request is an ARM document,
// {scope}/providers/Microsoft.Security/exemptionRequests/{name}, stored with
// the estate so that Resource Graph shows it in securityresources. Its
// status moves Pending → Approved | Rejected | Withdrawn | Expired and never
// back. Approving creates the exemptions in the transaction that records
// the decision; every change enqueues its notices (mail, Teams, Slack,
// webhooks, tickets, workflow automations) in that same transaction, so a
// decision that rolls back tells nobody and one that commits cannot lose
// its notices.
package requests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/notify"
)

// Type is the ARM type of requests (posture's own: Azure has no approval
// step).
const Type = "Microsoft.Security/exemptionRequests"

// APIVersion is the only api-version of the request API.
const APIVersion = "2026-11-01"

// Statuses of a request.
const (
	Pending   = "Pending"
	Approved  = "Approved"
	Rejected  = "Rejected"
	Withdrawn = "Withdrawn"
	Expired   = "Expired" // nobody decided in time
)

// Request is the properties of a request document.
type Request struct {
	Status string `json:"status"`
	// What to exempt from: a Defender recommendation (assessment key),
	// resolved to the benchmark assignment of each resource's subscription,
	// or an assignment and its references, as an exemption names them.
	AssessmentKey                string   `json:"assessmentKey,omitempty"`
	RecommendationDisplayName    string   `json:"recommendationDisplayName,omitempty"`
	Severity                     string   `json:"severity,omitempty"`
	PolicyAssignmentID           string   `json:"policyAssignmentId,omitempty"`
	PolicyDefinitionReferenceIDs []string `json:"policyDefinitionReferenceIds,omitempty"`
	// ResourceIDs are the resources to exempt, each at or under the
	// request's scope; none means the scope itself.
	ResourceIDs   []string   `json:"resourceIds,omitempty"`
	Category      string     `json:"exemptionCategory"`
	Justification string     `json:"justification"`
	ExpiresOn     *time.Time `json:"expiresOn,omitempty"` // of the exemption asked for
	// TicketRef is a reference the requester gives (a change number);
	// Ticket is the ticket posture opened.
	TicketRef string         `json:"ticketRef,omitempty"`
	Ticket    *notify.Ticket `json:"ticket,omitempty"`
	// RenewalOf is the exemption a renewal request extends.
	RenewalOf     string    `json:"renewalOf,omitempty"`
	RequestedBy   Actor     `json:"requestedBy"`
	RequestedAt   time.Time `json:"requestedAt"`
	DecisionDueAt time.Time `json:"decisionDueAt"`
	Decision      *Decision `json:"decision,omitempty"`
	// ExemptionIDs are the exemptions an approval created.
	ExemptionIDs []string `json:"exemptionIds,omitempty"`
}

// Actor names a principal in a request.
type Actor struct {
	PrincipalID   string `json:"principalId"`
	PrincipalType string `json:"principalType,omitempty"`
	DisplayName   string `json:"displayName,omitempty"`
}

// Decision is how a request left Pending.
type Decision struct {
	By     Actor     `json:"by"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// document is the stored and served shape.
type document struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Properties *Request `json:"properties"`
}

// Document renders a request.
func Document(id armid.ID, r *Request) []byte {
	b, _ := json.Marshal(document{ID: id.String(), Name: id.Name(), Type: Type, Properties: r})
	return b
}

// FromDocument reads a stored request.
func FromDocument(body []byte) (*Request, error) {
	var d document
	if err := json.Unmarshal(body, &d); err != nil || d.Properties == nil {
		return nil, fmt.Errorf("stored exemption request: %v", err)
	}
	return d.Properties, nil
}

// input is what a PUT may set.
type input struct {
	AssessmentKey                string          `json:"assessmentKey"`
	PolicyAssignmentID           string          `json:"policyAssignmentId"`
	PolicyDefinitionReferenceIDs []string        `json:"policyDefinitionReferenceIds"`
	ResourceIDs                  []string        `json:"resourceIds"`
	Category                     string          `json:"exemptionCategory"`
	Justification                string          `json:"justification"`
	ExpiresOn                    json.RawMessage `json:"expiresOn"`
	TicketRef                    string          `json:"ticketRef"`
	RenewalOf                    string          `json:"renewalOf"`
}

// Limits of a request.
const (
	MaxResources     = 1000
	MaxJustification = 4096
	MaxTicketRef     = 256
)

func invalid(target, format string, args ...any) *posture.Error {
	return posture.Errorf(posture.EINVALID, "InvalidExemptionRequest", format, args...).WithTarget(target)
}

// Parse reads the body of a PUT for a request at id. Unknown properties
// are refused, so that a typo does not silently drop a field.
func Parse(id armid.ID, body []byte) (*Request, error) {
	var env struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request content is not valid JSON: %v.", err)
	}
	if len(env.Properties) == 0 || string(env.Properties) == "null" {
		return nil, invalid("properties", "The request has no properties.")
	}
	dec := json.NewDecoder(bytes.NewReader(env.Properties))
	dec.DisallowUnknownFields()
	var in input
	if err := dec.Decode(&in); err != nil {
		return nil, posture.Errorf(posture.EINVALID, "InvalidRequestContent", "The request properties are not valid: %v.", err)
	}
	r := &Request{
		AssessmentKey:                strings.ToLower(strings.TrimSpace(in.AssessmentKey)),
		PolicyAssignmentID:           strings.TrimSpace(in.PolicyAssignmentID),
		PolicyDefinitionReferenceIDs: in.PolicyDefinitionReferenceIDs,
		Category:                     in.Category,
		Justification:                strings.TrimSpace(in.Justification),
		TicketRef:                    strings.TrimSpace(in.TicketRef),
		RenewalOf:                    strings.TrimSpace(in.RenewalOf),
	}
	switch {
	case r.AssessmentKey == "" && r.PolicyAssignmentID == "":
		return nil, invalid("properties.assessmentKey", "Name the recommendation (assessmentKey) or the policy assignment (policyAssignmentId) to be exempted from.")
	case r.AssessmentKey != "" && r.PolicyAssignmentID != "":
		return nil, invalid("properties.policyAssignmentId", "Give assessmentKey or policyAssignmentId, not both.")
	case r.PolicyAssignmentID != "":
		if _, err := armid.Parse(r.PolicyAssignmentID); err != nil || !strings.EqualFold(armid.MustParse(r.PolicyAssignmentID).Type(), "Microsoft.Authorization/policyAssignments") {
			return nil, invalid("properties.policyAssignmentId", "'%s' is not a policy assignment id.", r.PolicyAssignmentID)
		}
	}
	switch strings.ToLower(in.Category) {
	case "waiver":
		r.Category = string(exemption.Waiver)
	case "mitigated":
		r.Category = string(exemption.Mitigated)
	default:
		return nil, invalid("properties.exemptionCategory", "exemptionCategory must be Waiver or Mitigated, not '%s'.", in.Category)
	}
	if r.Justification == "" {
		return nil, invalid("properties.justification", "A justification is required.")
	}
	if len(r.Justification) > MaxJustification {
		return nil, invalid("properties.justification", "The justification is longer than %d characters.", MaxJustification)
	}
	if len(r.TicketRef) > MaxTicketRef {
		return nil, invalid("properties.ticketRef", "The ticket reference is longer than %d characters.", MaxTicketRef)
	}
	if len(in.ExpiresOn) > 0 && string(in.ExpiresOn) != "null" {
		var s string
		if err := json.Unmarshal(in.ExpiresOn, &s); err != nil {
			return nil, invalid("properties.expiresOn", "expiresOn must be a date-time string.")
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, invalid("properties.expiresOn", "expiresOn '%s' is not an RFC 3339 date-time.", s)
		}
		t = t.UTC()
		if t.Year() < 1 || t.Year() > 9999 {
			// (RFC 3339 with an offset reaches years a document, which
			// is RFC 3339 in UTC, cannot hold.)
			return nil, invalid("properties.expiresOn", "expiresOn '%s' is outside the years 0001 to 9999.", s)
		}
		r.ExpiresOn = &t
	}
	if len(in.ResourceIDs) > MaxResources {
		return nil, invalid("properties.resourceIds", "A request covers at most %d resources.", MaxResources)
	}
	scope := id.Scope()
	seen := map[string]bool{}
	for i, raw := range in.ResourceIDs {
		rid, err := armid.Parse(raw)
		target := fmt.Sprintf("properties.resourceIds[%d]", i)
		if err != nil {
			return nil, invalid(target, "'%s' is not a resource id: %v.", raw, err)
		}
		if !scope.Equal(rid) && !scope.Contains(rid) {
			return nil, invalid(target, "'%s' is not under the request's scope '%s'.", raw, scope)
		}
		if seen[rid.Key()] {
			continue
		}
		seen[rid.Key()] = true
		r.ResourceIDs = append(r.ResourceIDs, rid.String())
	}
	slices.SortFunc(r.ResourceIDs, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	if r.RenewalOf != "" {
		x, err := armid.Parse(r.RenewalOf)
		if err != nil || !strings.EqualFold(x.Type(), exemption.Type) {
			return nil, invalid("properties.renewalOf", "renewalOf must be a policy exemption id.")
		}
	}
	return r, nil
}

// Targets are the scopes the exemptions of r would be at: its resources,
// or the request's scope.
func (r *Request) Targets(id armid.ID) []armid.ID {
	if len(r.ResourceIDs) == 0 {
		return []armid.ID{id.Scope()}
	}
	out := make([]armid.ID, len(r.ResourceIDs))
	for i, s := range r.ResourceIDs {
		out[i] = armid.MustParse(s)
	}
	return out
}
