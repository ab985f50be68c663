package automation

import (
	"unicode/utf8"

	"github.com/posture/posture"
)

// Error codes. Azure documents no error codes for automations.
// InvalidRequestContent is ARM's for bodies that do not deserialize,
// InvalidApiVersionParameter the one the api package answers for an
// api-version a type does not serve; the rest are posture's, one per kind of
// mistake so that clients and tests can tell them apart (SOURCE.md).
const (
	codeContent     = "InvalidRequestContent"
	codeAPIVersion  = "InvalidApiVersionParameter"
	codeName        = "InvalidResourceName"
	codeMissing     = "MissingRequiredProperty"
	codeEventSource = "InvalidEventSource"
	codePropType    = "InvalidPropertyType"
	codeOperator    = "InvalidOperator"
	codeActionType  = "InvalidActionType"
	codeScopePath   = "InvalidScopePath"
	codeScope       = "ScopeOutsideSubscription"
	codeURI         = "InvalidUri"
)

// problems collects validation failures so a client sees all of them at once.
type problems []*posture.Error

func (p *problems) add(code, target, format string, args ...any) {
	*p = append(*p, posture.Errorf(posture.EINVALID, code, format, args...).WithTarget(target))
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

// details returns the problems an error from problems.err reports: its
// Details, or itself.
func details(err error) []*posture.Error {
	e, ok := err.(*posture.Error)
	if !ok {
		return nil
	}
	if len(e.Details) > 0 {
		return e.Details
	}
	return []*posture.Error{e}
}
