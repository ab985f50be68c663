package securitycontact

import (
	"unicode/utf8"

	"github.com/posture/posture"
)

// Error codes. InvalidRequestContent is ARM's for bodies that do not
// deserialize; InvalidApiVersionParameter the one the api package answers
// for an api-version a type does not serve; InvalidInputJson is what Azure
// answered for a security contact whose email was not one address
// (SOURCE.md). The rest are posture's, one per kind of mistake so that
// clients and tests can tell them apart.
const (
	codeContent    = "InvalidRequestContent"
	codeAPIVersion = "InvalidApiVersionParameter"
	codeMissing    = "MissingRequiredProperty"
	codeName       = "InvalidSecurityContactName"
	codeEmail      = "InvalidInputJson"
	codePhone      = "InvalidPhoneNumber"
	codeState      = "InvalidState"
	codeSeverity   = "InvalidMinimalSeverity"
	codeRiskLevel  = "InvalidMinimalRiskLevel"
	codeRole       = "InvalidSecurityContactRole"
	codeSourceType = "InvalidNotificationsSourceType"
	codeSourceDup  = "DuplicateNotificationsSource"
)

// problems collects validation failures so a client sees all of them at once.
type problems []*posture.Error

func (p *problems) add(code, target, format string, args ...any) {
	*p = append(*p, posture.Errorf(posture.EINVALID, code, format, args...).WithTarget(target))
}

// addErr adds an error already made (CanonicalName's).
func (p *problems) addErr(err error) {
	if e, ok := err.(*posture.Error); ok {
		*p = append(*p, e)
	}
}

// err is posture.Join of the problems.
func (p problems) err() error { return posture.Join(p) }

// clip shortens user input echoed in messages.
func clip(s string) string {
	if utf8.RuneCountInString(s) <= 200 {
		return s
	}
	return string([]rune(s)[:200]) + "…"
}
