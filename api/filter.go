package api

import (
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
)

// parseResourceFilter reads the $filter of ARM's resource lists: clauses
// "field eq 'value'" joined by "and", where field is resourceType, location,
// tagName or tagValue (tagValue only with tagName), as ARM documents for
// Resources - List. Anything else is refused with a clear error rather than
// ignored: a filter silently dropped would return too much.
func parseResourceFilter(s string, f *posture.ResourceFilter) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	for _, clause := range splitAnd(s) {
		field, value, err := parseEq(clause)
		if err != nil {
			return err
		}
		switch strings.ToLower(field) {
		case "resourcetype":
			f.Types = append(f.Types, strings.ToLower(value))
		case "location":
			f.Location = armdoc.NormalizeLocation(value)
		case "tagname":
			f.TagName = value
		case "tagvalue":
			f.TagValue = value
		default:
			return badFilter("the field '%s' is not supported; use resourceType, location, tagName and tagValue", field)
		}
	}
	if f.TagValue != "" && f.TagName == "" {
		return badFilter("tagValue needs tagName")
	}
	return nil
}

func badFilter(format string, args ...any) error {
	e := posture.Errorf(posture.EINVALID, "InvalidFilterInQueryString", "Invalid $filter: "+format+".", args...)
	return e
}

// filterClauses splits a $filter into its clauses; none for "".
func filterClauses(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return splitAnd(s)
}

// splitAnd splits on " and " outside quotes.
func splitAnd(s string) []string {
	var out []string
	inQuote := false
	start := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\'':
			inQuote = !inQuote
		case !inQuote && i+5 <= len(s) && strings.EqualFold(s[i:i+5], " and "):
			out = append(out, s[start:i])
			start = i + 5
			i += 4
		}
	}
	return append(out, s[start:])
}

// parseEq parses "field eq 'value'"; a doubled single quote stands for one, as in OData.
func parseEq(clause string) (string, string, error) {
	clause = strings.TrimSpace(clause)
	field, rest, ok := strings.Cut(clause, " ")
	if !ok {
		return "", "", badFilter("'%s' is not of the form field eq 'value'", clip(clause))
	}
	rest = strings.TrimSpace(rest)
	op, rest, ok := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(op, "eq") {
		return "", "", badFilter("only the eq operator is supported, in '%s'", clip(clause))
	}
	rest = strings.TrimSpace(rest)
	if len(rest) < 2 || rest[0] != '\'' || rest[len(rest)-1] != '\'' {
		return "", "", badFilter("the value in '%s' must be quoted with single quotes", clip(clause))
	}
	return field, strings.ReplaceAll(rest[1:len(rest)-1], "''", "'"), nil
}
