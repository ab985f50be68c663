package exemption

import (
	"fmt"
	"strings"

	"github.com/posture/posture"
)

// Filter is a parsed list $filter. The REST spec lists four values:
// atScope(), atExactScope(), excludeExpired() and policyAssignmentId eq
// '{value}'. Whether Azure combines them with "and" is not documented;
// posture allows it, since each narrows the list independently.
type Filter struct {
	AtScope, AtExactScope, ExcludeExpired bool
	PolicyAssignmentID                    string
}

// ParseFilter parses a $filter. Keywords ignore case, terms are joined by
// " and ", a quote inside the value is written ” (OData). A term may appear
// once, and atScope() and atExactScope() exclude each other. The empty
// string is no filter. Anything else is EINVALID InvalidFilterInQueryString,
// the code ARM answers for a malformed $filter elsewhere (see SOURCE.md).
func ParseFilter(s string) (Filter, error) {
	var f Filter
	rest := strings.Trim(s, " ")
	if rest == "" {
		return f, nil
	}
	seen := map[string]bool{}
	for {
		term, after, err := nextTerm(rest, &f)
		if err != "" {
			return Filter{}, filterError(s, err)
		}
		if seen[term] {
			return Filter{}, filterError(s, term+" is given more than once")
		}
		seen[term] = true
		if f.AtScope && f.AtExactScope {
			return Filter{}, filterError(s, "atScope() and atExactScope() cannot be combined")
		}
		rest = strings.TrimLeft(after, " ")
		if rest == "" {
			return f, nil
		}
		if strings.EqualFold(rest, "and") {
			return Filter{}, filterError(s, "a condition must follow 'and'")
		}
		if after == rest || !hasPrefixFold(rest, "and ") {
			return Filter{}, filterError(s, fmt.Sprintf("expected 'and' before %q", clip(rest)))
		}
		rest = strings.TrimLeft(rest[len("and "):], " ")
		if rest == "" {
			return Filter{}, filterError(s, "a condition must follow 'and'")
		}
	}
}

// nextTerm reads one term at the start of s into f and returns its name and
// the text after it, or a problem.
func nextTerm(s string, f *Filter) (term, after, problem string) {
	for _, fn := range []string{"atScope()", "atExactScope()", "excludeExpired()"} {
		if hasPrefixFold(s, fn) {
			switch fn {
			case "atScope()":
				f.AtScope = true
			case "atExactScope()":
				f.AtExactScope = true
			default:
				f.ExcludeExpired = true
			}
			return fn, s[len(fn):], ""
		}
	}
	const field = "policyAssignmentId"
	if !hasPrefixFold(s, field+" ") {
		return "", "", fmt.Sprintf("unknown condition %q", clip(s))
	}
	s = strings.TrimLeft(s[len(field):], " ")
	if !hasPrefixFold(s, "eq ") {
		return "", "", "policyAssignmentId must be followed by eq"
	}
	s = strings.TrimLeft(s[len("eq"):], " ")
	value, after, ok := quoted(s)
	if !ok {
		return "", "", "the policyAssignmentId value must be a quoted string such as 'id'"
	}
	if value == "" {
		return "", "", "the policyAssignmentId value must not be empty"
	}
	f.PolicyAssignmentID = value
	return field, after, ""
}

// quoted reads an OData string literal: '…' with ” for a quote.
func quoted(s string) (value, after string, ok bool) {
	if !strings.HasPrefix(s, "'") {
		return "", "", false
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), s[i+1:], true
	}
	return "", "", false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func filterError(s, problem string) error {
	return posture.Errorf(posture.EINVALID, codeFilter,
		"The $filter '%s' is not valid: %s. Valid conditions are atScope(), atExactScope(), excludeExpired() and policyAssignmentId eq '{value}', joined by 'and'.",
		clip(s), problem).WithTarget("$filter")
}
