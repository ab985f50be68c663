package exemption

import (
	"encoding/json"
	"time"
)

// Statuses posture adds to an exemption's properties (postureStatus): Azure
// has no field saying whether an exemption is in force, and an expired one
// is kept and listed.
const (
	StatusActive  = "Active"
	StatusExpired = "Expired"
)

// WithStatus returns an exemption document with properties.postureStatus
// set for now; doc is returned unchanged when it is not an object with
// properties.
func WithStatus(doc []byte, now time.Time) []byte {
	var d map[string]json.RawMessage
	if json.Unmarshal(doc, &d) != nil {
		return doc
	}
	var props map[string]json.RawMessage
	if json.Unmarshal(d["properties"], &props) != nil || props == nil {
		return doc
	}
	status := StatusActive
	var exp struct {
		ExpiresOn *time.Time `json:"expiresOn"`
	}
	if json.Unmarshal(d["properties"], &exp) == nil && exp.ExpiresOn != nil && !now.Before(*exp.ExpiresOn) {
		status = StatusExpired
	}
	props["postureStatus"], _ = json.Marshal(status)
	d["properties"], _ = json.Marshal(props)
	out, err := json.Marshal(d)
	if err != nil {
		return doc
	}
	return out
}
