package exemption

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// Limits. Name: 1–64 characters, none of <>*%&:\?.+/ or control characters,
// not ending in a space (Bicep/ARM template reference for policyExemptions,
// and the TypeSpec name pattern). Display name and description: exemption
// structure docs. The metadata limit is posture's: Azure documents none for
// exemptions, and a bounded size keeps documents and lists small.
const (
	maxNameLen        = 64
	maxDisplayNameLen = 128
	maxDescriptionLen = 512
	maxMetadataBytes  = 32 << 10
)

// ValidateName checks the exemption name segment of the id.
func ValidateName(name string) error {
	n := utf8.RuneCountInString(name)
	bad := n == 0 || n > maxNameLen || strings.HasSuffix(name, " ") || !utf8.ValidString(name)
	for _, r := range name {
		if strings.ContainsRune(`<>*%&:\?.+/`, r) || unicode.IsControl(r) {
			bad = true
		}
	}
	if bad {
		return posture.Errorf(posture.EINVALID, codeName,
			"The policy exemption name '%s' is invalid: it must have 1 to %d characters, none of <>*%%&:\\?.+/ or control characters, and must not end with a space.",
			clip(name), maxNameLen).WithTarget("name")
	}
	return nil
}

// rawProps holds each property undecoded, so that a property of the wrong
// JSON type is reported with its own target. encoding/json matches names
// case-insensitively, as ARM does.
type rawProps struct {
	PolicyAssignmentID           json.RawMessage `json:"policyAssignmentId"`
	PolicyDefinitionReferenceIDs json.RawMessage `json:"policyDefinitionReferenceIds"`
	ExemptionCategory            json.RawMessage `json:"exemptionCategory"`
	ExpiresOn                    json.RawMessage `json:"expiresOn"`
	DisplayName                  json.RawMessage `json:"displayName"`
	Description                  json.RawMessage `json:"description"`
	Metadata                     json.RawMessage `json:"metadata"`
	ResourceSelectors            json.RawMessage `json:"resourceSelectors"`
	AssignmentScopeValidation    json.RawMessage `json:"assignmentScopeValidation"`
	ExemptionManagementMode      json.RawMessage `json:"exemptionManagementMode"`
	ResourceFilter               json.RawMessage `json:"resourceFilter"`
	Evidence                     json.RawMessage `json:"evidence"`
}

// Parse reads and validates a PUT body for an api-version. Unknown fields,
// and fields of later api-versions, are ignored as ARM does. It checks all
// that needs no estate and reports every problem (see problems.err).
func Parse(body []byte, apiVersion string) (*Exemption, error) {
	var p problems
	props, ok := readProperties(&p, body)
	if !ok {
		if len(p) == 0 {
			missing(&p, "properties")
		}
		return nil, p.err()
	}
	e := &Exemption{AssignmentScopeValidation: "Default"}
	assignmentOK := true
	if present(props.PolicyAssignmentID) {
		e.PolicyAssignmentID, assignmentOK = str(&p, props.PolicyAssignmentID, "properties.policyAssignmentId")
	}
	switch {
	case !assignmentOK:
	case e.PolicyAssignmentID == "":
		missing(&p, "properties.policyAssignmentId")
	default:
		checkAssignmentID(&p, e.PolicyAssignmentID)
	}
	if present(props.ExemptionCategory) {
		e.Category = category(&p, props.ExemptionCategory)
	} else {
		missing(&p, "properties.exemptionCategory")
	}
	e.PolicyDefinitionReferenceIDs = referenceIDs(&p, props.PolicyDefinitionReferenceIDs)
	e.ExpiresOn = expiresOn(&p, props.ExpiresOn)
	e.DisplayName = text(&p, props.DisplayName, "properties.displayName", maxDisplayNameLen, codeDisplayName)
	e.Description = text(&p, props.Description, "properties.description", maxDescriptionLen, codeDescription)
	e.Metadata = metadata(&p, props.Metadata)
	if atLeast(apiVersion, v2022) {
		e.ResourceSelectors = resourceSelectors(&p, props.ResourceSelectors)
		if present(props.AssignmentScopeValidation) {
			e.AssignmentScopeValidation = scopeValidation(&p, props.AssignmentScopeValidation)
		}
	}
	if atLeast(apiVersion, v2025) && present(props.ExemptionManagementMode) {
		e.ExemptionManagementMode = managementMode(&p, props.ExemptionManagementMode)
	}
	e.ResourceFilter = resourceFilter(&p, props.ResourceFilter)
	e.Evidence = evidence(&p, props.Evidence)
	if e.Evidence != nil && e.Category == Waiver {
		p.add(codeEvidence, "properties.evidence", "An evidence check shows that a mitigation still holds: it is for Mitigated exemptions, not Waivers.")
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	return e, nil
}

// ApplyPatch applies a PATCH body {properties:{resourceSelectors?,
// assignmentScopeValidation?, exemptionManagementMode? (2025-12-01-preview
// on)}}. Absent properties stay; null resets a property to its default
// (no selectors, "Default", no mode), as in JSON merge patch. Other
// properties are ignored: Azure's PATCH model has only these. On error e is
// unchanged.
func (e *Exemption) ApplyPatch(body []byte, apiVersion string) error {
	var p problems
	props, ok := readProperties(&p, body)
	if !ok {
		return p.err() // nil when properties is absent: nothing to change
	}
	next := *e
	if props.ResourceFilter != nil {
		next.ResourceFilter = resourceFilter(&p, props.ResourceFilter)
	}
	if atLeast(apiVersion, v2022) {
		if props.ResourceSelectors != nil {
			next.ResourceSelectors = resourceSelectors(&p, props.ResourceSelectors)
		}
		if props.AssignmentScopeValidation != nil {
			next.AssignmentScopeValidation = "Default"
			if present(props.AssignmentScopeValidation) {
				next.AssignmentScopeValidation = scopeValidation(&p, props.AssignmentScopeValidation)
			}
		}
	}
	if atLeast(apiVersion, v2025) && props.ExemptionManagementMode != nil {
		next.ExemptionManagementMode = ""
		if present(props.ExemptionManagementMode) {
			next.ExemptionManagementMode = managementMode(&p, props.ExemptionManagementMode)
		}
	}
	if err := p.err(); err != nil {
		return err
	}
	*e = next
	return nil
}

// readProperties decodes {"properties":{…}}. It returns ok false with no
// problem and nil props when properties is absent or null, which Parse
// reports as missing and ApplyPatch treats as nothing to do.
func readProperties(p *problems, body []byte) (*rawProps, bool) {
	// JSON text is UTF-8 (RFC 8259 §8.1); refusing other bytes keeps
	// metadata, which is stored verbatim, valid for every reader.
	if !utf8.Valid(body) {
		p.add(codeContent, "", "The request content is not valid UTF-8.")
		return nil, false
	}
	var top struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(body, &top); err != nil {
		p.add(codeContent, "", "The request content is not a valid JSON object: %s.", jsonProblem(err))
		return nil, false
	}
	if !present(top.Properties) {
		return nil, false
	}
	var props rawProps
	if err := json.Unmarshal(top.Properties, &props); err != nil {
		p.add(codeContent, "properties", "The request content is invalid: properties must be a JSON object.")
		return nil, false
	}
	return &props, true
}

// present reports whether a property was given with a non-null value.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

func missing(p *problems, target string) {
	p.add(codeMissing, target, "The property '%s' is required.", target)
}

// str decodes a string property; a wrong JSON type is a problem, reported
// once: callers stop checking when ok is false.
func str(p *problems, raw json.RawMessage, target string) (s string, ok bool) {
	if err := json.Unmarshal(raw, &s); err != nil {
		p.add(codeContent, target, "The property '%s' must be a string.", target)
		return "", false
	}
	return s, true
}

// checkAssignmentID checks that id is shaped like a policy assignment id;
// whether the assignment exists is the service's question.
func checkAssignmentID(p *problems, id string) {
	parsed, err := armid.Parse(id)
	if err == nil && parsed.Kind() == armid.Resource && strings.HasPrefix(id, "/") &&
		strings.EqualFold(parsed.Type(), "Microsoft.Authorization/policyAssignments") {
		return
	}
	p.add(codeAssignmentID, "properties.policyAssignmentId",
		"The policy assignment id '%s' is not the full id of a policy assignment ({scope}/providers/Microsoft.Authorization/policyAssignments/{name}).", clip(id))
}

// category reads exemptionCategory case-insensitively: Azure's own docs
// write "waiver" (exemption-structure.md example).
func category(p *problems, raw json.RawMessage) Category {
	const target = "properties.exemptionCategory"
	s, ok := str(p, raw, target)
	if !ok {
		return ""
	}
	for _, c := range []Category{Waiver, Mitigated} {
		if strings.EqualFold(s, string(c)) {
			return c
		}
	}
	if s == "" {
		missing(p, target)
	} else {
		p.add(codeCategory, target, "The exemption category '%s' is not valid; use Waiver or Mitigated.", clip(s))
	}
	return ""
}

// referenceIDs reads policyDefinitionReferenceIds; an empty list means the
// whole assignment, like an absent one, and is stored as nil.
func referenceIDs(p *problems, raw json.RawMessage) []string {
	const target = "properties.policyDefinitionReferenceIds"
	if !present(raw) {
		return nil
	}
	var ids []string
	if err := json.Unmarshal(raw, &ids); err != nil {
		p.add(codeContent, target, "The property '%s' must be an array of strings.", target)
		return nil
	}
	seen := map[string]bool{}
	for i, id := range ids {
		t := fmt.Sprintf("%s[%d]", target, i)
		switch key := strings.ToLower(id); {
		case strings.TrimSpace(id) == "":
			p.add(codeReferenceID, t, "A policy definition reference id must not be empty.")
		case seen[key]:
			p.add(codeReferenceDup, t, "The policy definition reference id '%s' is listed more than once.", clip(id))
		default:
			seen[key] = true
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// expiresOn reads an RFC 3339 date-time and keeps it in UTC. Past dates are
// accepted: an expired exemption is kept, not honoured. Years are limited to
// 1–9999 so that the time always formats back to RFC 3339.
func expiresOn(p *problems, raw json.RawMessage) time.Time {
	const target = "properties.expiresOn"
	if !present(raw) {
		return time.Time{}
	}
	s, ok := str(p, raw, target)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		// Policy states keep times to the microsecond: a finer expiry would
		// differ from its stamp forever and rewrite rows on every write.
		t = t.UTC().Truncate(time.Microsecond)
		if y := t.Year(); y >= 1 && y <= 9999 {
			return t
		}
	}
	p.add(codeExpiresOn, target, "The expiresOn value '%s' is not an RFC 3339 date-time such as 2026-12-31T23:59:00Z.", clip(s))
	return time.Time{}
}

// text reads a string property limited to max characters (runes).
func text(p *problems, raw json.RawMessage, target string, max int, code string) string {
	if !present(raw) {
		return ""
	}
	s, _ := str(p, raw, target)
	if n := utf8.RuneCountInString(s); n > max {
		p.add(code, target, "The property '%s' may have at most %d characters; it has %d.", target, max, n)
	}
	return s
}

// metadata keeps the object as compact JSON; key order and number spelling
// are the client's.
func metadata(p *problems, raw json.RawMessage) json.RawMessage {
	const target = "properties.metadata"
	if !present(raw) {
		return nil
	}
	if raw[0] != '{' {
		p.add(codeMetadata, target, "The property 'properties.metadata' must be a JSON object.")
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil { // raw came from a valid document
		p.add(codeMetadata, target, "The property 'properties.metadata' is not valid JSON.")
		return nil
	}
	if buf.Len() > maxMetadataBytes {
		p.add(codeMetadataSize, target, "The metadata may be at most %d bytes of JSON; it is %d.", maxMetadataBytes, buf.Len())
	}
	return buf.Bytes()
}

func scopeValidation(p *problems, raw json.RawMessage) string {
	return oneOf(p, raw, "properties.assignmentScopeValidation", codeScopeValidation, "Default", "DoNotValidate")
}

func managementMode(p *problems, raw json.RawMessage) string {
	return oneOf(p, raw, "properties.exemptionManagementMode", codeManagementMode, "Admin", "UserSelfServe")
}

// oneOf reads a string enum case-insensitively and returns its canonical
// spelling.
func oneOf(p *problems, raw json.RawMessage, target, code string, values ...string) string {
	s, ok := str(p, raw, target)
	if !ok {
		return values[0]
	}
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v
		}
	}
	p.add(code, target, "The value '%s' of '%s' is not valid; use %s.", clip(s), target, strings.Join(values, " or "))
	return values[0]
}

// jsonProblem describes a decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		where := "the document"
		if te.Field != "" {
			where = "'" + te.Field + "'"
		}
		return fmt.Sprintf("%s is a JSON %s where %s was expected", where, te.Value, jsonKind(te.Type))
	}
	return err.Error()
}

func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "another type"
}

// clip shortens user input echoed in messages.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 200 {
		return s
	}
	return string([]rune(s)[:200]) + "…"
}
