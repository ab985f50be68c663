package demo

import (
	"fmt"
	"time"
)

// A scanner's findings, as Defender for Cloud holds them when a partner or
// in-house tool reports through the assessments API: custom assessment
// metadata per subscription (PUT …/providers/Microsoft.Security/
// assessmentMetadata/{guid}), then one assessment per check and resource
// (PUT {resourceId}/providers/Microsoft.Security/assessments/{guid}). The
// documents have the shape posture's API stores, so an import holds the
// same as a scanner that wrote through the API.
//
// Generator.ScannerChecks sets how many checks run on each top-level
// resource; they make large assessment counts (the built-in benchmark
// gives about 5.5 per resource of the demo's mix, 11 at most).

var scannerSeverities = []string{"High", "Medium", "Low"}

// scannerCheck is the metadata name of check i: the same GUID in every
// subscription, as a tool that registers its checks everywhere would.
func (e *emitter) scannerCheck(i int) string { return guid(e.g.Seed, "scanner-check", i) }

// scannerMetadata emits the custom assessment metadata of every check of
// a subscription.
func (e *emitter) scannerMetadata(sub string) error {
	for i := range e.g.ScannerChecks {
		key := e.scannerCheck(i)
		doc := map[string]any{
			"id":   sub + "/providers/Microsoft.Security/assessmentMetadata/" + key,
			"name": key,
			"type": "Microsoft.Security/assessmentMetadata",
			"properties": map[string]any{
				"displayName":            fmt.Sprintf("Scanner check %03d: configuration drift", i+1),
				"description":            fmt.Sprintf("Check %d of the configuration scanner compares the resource with the organisation's baseline.", i+1),
				"remediationDescription": "Apply the baseline, or exempt the resource with a justification.",
				"severity":               scannerSeverities[i%len(scannerSeverities)],
				"assessmentType":         "CustomerManaged",
				"categories":             []string{"Compute"},
			},
		}
		if err := e.emit(doc); err != nil {
			return err
		}
	}
	return nil
}

// scannerFindings emits the assessments of every check on one resource,
// about a fifth of them unhealthy.
func (e *emitter) scannerFindings(resourceID string) error {
	if e.g.ScannerChecks == 0 {
		return nil
	}
	at := time.Date(2026, 11, 1+e.rnd.IntN(20), 0, 0, 0, 0, time.UTC).Format(time.RFC3339)
	for i := range e.g.ScannerChecks {
		key := e.scannerCheck(i)
		code := "Healthy"
		if e.rnd.IntN(5) == 0 {
			code = "Unhealthy"
		}
		doc := map[string]any{
			"id":   resourceID + "/providers/Microsoft.Security/assessments/" + key,
			"name": key,
			"type": "Microsoft.Security/assessments",
			"properties": map[string]any{
				"resourceDetails": map[string]any{"source": "Azure", "id": resourceID, "Source": "Azure", "Id": resourceID},
				"displayName":     fmt.Sprintf("Scanner check %03d: configuration drift", i+1),
				"status":          map[string]any{"code": code, "firstEvaluationDate": at, "statusChangeDate": at},
			},
		}
		if err := e.emit(doc); err != nil {
			return err
		}
	}
	return nil
}
