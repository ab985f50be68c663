package exemption

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/match"
)

// posture's own exemption properties, beyond Azure's. Azure clients ignore
// properties they do not know, so they pass through the SDKs unharmed:
//
//   - resourceFilter: select resources by tag and by name/type pattern
//     (package match), for resources that come and go;
//   - evidence: an optional check that a Mitigated exemption's mitigation
//     still holds (a policy if-condition on the exempted resource, or a
//     Resource Graph query that must return rows);
//   - review: the intent-drift review, written by the server only.

// Review states.
const (
	ReviewCurrent = "Current"     // approved as the resource is
	ReviewNeeded  = "NeedsReview" // the fields the rule reads changed, or evidence failed
)

// Review reasons.
const (
	ReasonDrift    = "Drift"
	ReasonEvidence = "EvidenceFailed"
)

// Evidence is the check attached to an exemption: exactly one of Condition
// (an Azure Policy if-condition evaluated against the exempted resource;
// it holds when true) and Query (a Resource Graph query over the
// exemption's scope; it holds when it returns at least one row).
type Evidence struct {
	Condition json.RawMessage `json:"condition,omitempty"`
	Query     string          `json:"query,omitempty"`
}

// Review is the drift review of an exemption: the fingerprint of the
// resource fields its rules read, taken when it was approved (written),
// and whether they have changed since.
type Review struct {
	State string `json:"state"`
	// Fingerprint is the drift.Fingerprint taken at approval.
	Fingerprint json.RawMessage `json:"fingerprint,omitempty"`
	// Since is when the exemption went to review; GraceUntil is until when
	// it is still honoured.
	Since      time.Time `json:"since,omitzero"`
	GraceUntil time.Time `json:"graceUntil,omitzero"`
	Reason     string    `json:"reason,omitempty"`
	// Changes are the drift.Changes found, or the evidence's failure.
	Changes json.RawMessage `json:"changes,omitempty"`
	Detail  string          `json:"detail,omitempty"`
}

// Pending reports whether the review waits for a decision.
func (r *Review) Pending() bool { return r != nil && r.State == ReviewNeeded }

// EndsAt is when the exemption stops being honoured: its expiry, or the
// end of a pending review's grace period when that is earlier. Zero when
// neither.
func (e *Exemption) EndsAt() time.Time {
	end := e.ExpiresOn
	if e.Review.Pending() && !e.Review.GraceUntil.IsZero() && (end.IsZero() || e.Review.GraceUntil.Before(end)) {
		end = e.Review.GraceUntil
	}
	return end
}

// resourceFilter reads properties.resourceFilter; the problems of the
// filter keep their own targets.
func resourceFilter(p *problems, raw json.RawMessage) *match.Filter {
	if !present(raw) {
		return nil
	}
	f, err := match.Parse(raw, "properties.resourceFilter")
	if err != nil {
		var pe *posture.Error
		if !errors.As(err, &pe) {
			p.add(codeContent, "properties.resourceFilter", "The property 'properties.resourceFilter' is invalid: %v.", err)
			return nil
		}
		if len(pe.Details) == 0 {
			*p = append(*p, pe)
		}
		*p = append(*p, pe.Details...)
		return nil
	}
	return f
}

// evidence reads properties.evidence: its shape only. Whether a condition
// compiles and holds, or a query parses, is the service's question (it
// has the policy engine and the aliases).
func evidence(p *problems, raw json.RawMessage) *Evidence {
	const target = "properties.evidence"
	if !present(raw) {
		return nil
	}
	var ev Evidence
	if err := json.Unmarshal(raw, &ev); err != nil {
		p.add(codeEvidence, target, "The property '%s' must be an object with either 'condition' (a policy if-condition) or 'query' (a Resource Graph query): %s.", target, jsonProblem(err))
		return nil
	}
	hasCond := present(ev.Condition)
	switch {
	case hasCond == (ev.Query != ""):
		p.add(codeEvidence, target, "The property '%s' must have exactly one of 'condition' (a policy if-condition) and 'query' (a Resource Graph query).", target)
		return nil
	case len(ev.Query) > maxEvidenceQuery:
		p.add(codeEvidence, target+".query", "The evidence query has %d bytes; at most %d are allowed.", len(ev.Query), maxEvidenceQuery)
		return nil
	case !hasCond:
		ev.Condition = nil
	}
	return &ev
}

// maxEvidenceQuery bounds an evidence query, as the Resource Graph API
// bounds queries.
const maxEvidenceQuery = 16 << 10

// readReview reads back the server's review from a stored document.
func readReview(raw json.RawMessage) (*Review, error) {
	if !present(raw) {
		return nil, nil
	}
	var r Review
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
