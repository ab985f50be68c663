package data

import _ "embed"

// Recommendations is recommendations.json: one entry per member of the
// Microsoft cloud security benchmark initiative, in initiative order.
//
//go:embed recommendations.json
var Recommendations []byte

// Controls is controls.json: the classic secure score's security controls.
//
//go:embed controls.json
var Controls []byte
