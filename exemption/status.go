package exemption

import (
	"bytes"
	"encoding/json"
	"time"
)

// Statuses posture adds to an exemption's properties (postureStatus): Azure
// has no field saying whether an exemption is in force, and an expired one
// is kept and listed.
const (
	StatusActive  = "Active"
	StatusExpired = "Expired"
	// StatusNeedsReview: the fields its rules read changed since approval,
	// or its evidence failed; honoured until review.graceUntil.
	StatusNeedsReview = "NeedsReview"
	// StatusReviewOverdue: a review's grace period ended without a
	// decision; no longer honoured.
	StatusReviewOverdue = "ReviewOverdue"
)

// WithStatus returns an exemption document with properties.postureStatus
// set for now. A document as Document writes it keeps its bytes and order:
// the status goes first in properties. Others are re-encoded; doc is
// returned unchanged when it has no properties object.
func WithStatus(doc []byte, now time.Time) []byte {
	var d struct {
		Properties *struct {
			ExpiresOn     *time.Time      `json:"expiresOn"`
			PostureStatus json.RawMessage `json:"postureStatus"`
			Review        *Review         `json:"review"`
		} `json:"properties"`
	}
	if json.Unmarshal(doc, &d) != nil || d.Properties == nil {
		return doc
	}
	status := StatusActive
	switch rv := d.Properties.Review; {
	case d.Properties.ExpiresOn != nil && !now.Before(*d.Properties.ExpiresOn):
		status = StatusExpired
	case rv.Pending() && !rv.GraceUntil.IsZero() && !now.Before(rv.GraceUntil):
		status = StatusReviewOverdue
	case rv.Pending():
		status = StatusNeedsReview
	}
	const head = `{"properties":{`
	if bytes.HasPrefix(doc, []byte(head)) && d.Properties.PostureStatus == nil {
		out := make([]byte, 0, len(doc)+32)
		out = append(out, head...)
		out = append(out, `"postureStatus":"`+status+`"`...)
		if doc[len(head)] != '}' {
			out = append(out, ',')
		}
		return append(out, doc[len(head):]...)
	}
	var m map[string]json.RawMessage
	var props map[string]json.RawMessage
	if json.Unmarshal(doc, &m) != nil || json.Unmarshal(m["properties"], &props) != nil {
		return doc
	}
	props["postureStatus"], _ = json.Marshal(status)
	m["properties"], _ = json.Marshal(props)
	out, err := json.Marshal(m)
	if err != nil {
		return doc
	}
	return out
}
