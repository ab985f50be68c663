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
func WithStatus(doc []byte, now time.Time) []byte { return Prepare(doc).At(now) }

// Prepared is a document read once for WithStatus: what its status depends
// on (expiry, review) is kept, so that a cached document gets its status
// at each read without being parsed again.
type Prepared struct {
	doc       []byte
	ok        bool // a JSON object with a properties object
	fast      bool // as Document writes it: the status goes in front
	expiresOn *time.Time
	review    *Review
}

// Prepare reads doc for At. doc must not change afterwards.
func Prepare(doc []byte) *Prepared {
	var d struct {
		Properties *struct {
			ExpiresOn     *time.Time      `json:"expiresOn"`
			PostureStatus json.RawMessage `json:"postureStatus"`
			Review        *Review         `json:"review"`
		} `json:"properties"`
	}
	p := &Prepared{doc: doc}
	if json.Unmarshal(doc, &d) != nil || d.Properties == nil {
		return p
	}
	p.ok, p.expiresOn, p.review = true, d.Properties.ExpiresOn, d.Properties.Review
	p.fast = bytes.HasPrefix(doc, []byte(statusHead)) && d.Properties.PostureStatus == nil
	return p
}

const statusHead = `{"properties":{`

// Status is the exemption's postureStatus at now.
func (p *Prepared) Status(now time.Time) string {
	switch rv := p.review; {
	case p.expiresOn != nil && !now.Before(*p.expiresOn):
		return StatusExpired
	case rv.Pending() && !rv.GraceUntil.IsZero() && !now.Before(rv.GraceUntil):
		return StatusReviewOverdue
	case rv.Pending():
		return StatusNeedsReview
	}
	return StatusActive
}

// At returns the document with its postureStatus at now (a new slice: the
// prepared document is not changed).
func (p *Prepared) At(now time.Time) []byte {
	doc := p.doc
	if !p.ok {
		return doc
	}
	status := p.Status(now)
	if p.fast {
		out := make([]byte, 0, len(doc)+32)
		out = append(out, statusHead...)
		out = append(out, `"postureStatus":"`+status+`"`...)
		if doc[len(statusHead)] != '}' {
			out = append(out, ',')
		}
		return append(out, doc[len(statusHead):]...)
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
