package drift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/policy"
)

// Evidence is an optional check on a Mitigated exemption: an Azure Policy
// if-condition (field, value and count conditions, allOf, anyOf and not)
// evaluated against the exempted resource. The evidence holds while the
// condition is true.
type Evidence struct {
	cond *policy.Condition
}

// EvidenceTarget is the JSON path of the condition in an exemption's
// body; the targets of ParseEvidence's errors start with it.
const EvidenceTarget = "properties.evidence.condition"

// CodeInvalidEvidence is the error code of a condition that does not
// parse.
const CodeInvalidEvidence = "InvalidEvidence"

// maxEvidenceBytes bounds a condition. Rules have their own limits (4096
// conditions, 2048 function calls), which ParseEvidence also applies;
// this one stops a huge body before it is decoded.
const maxEvidenceBytes = 64 << 10

// ParseEvidence compiles an evidence condition. Aliases resolve as in
// policy rules; an alias outside posture's catalog is resolved
// heuristically and reported by Warnings. A condition that does not parse
// (bad JSON, an unknown operator, a parameter reference: evidence has no
// parameters) is an EINVALID *posture.Error with code InvalidEvidence and
// the JSON path of the problem as Target; when there are several, the
// first carries all of them in Details.
func ParseEvidence(raw json.RawMessage) (*Evidence, error) {
	if len(raw) > maxEvidenceBytes {
		return nil, invalid(EvidenceTarget, "The evidence condition has %d bytes; at most %d are allowed.", len(raw), maxEvidenceBytes)
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return nil, invalid(EvidenceTarget, "The evidence condition is empty; it must be a policy if-condition such as {\"field\": \"<alias>\", \"equals\": \"<value>\"}.")
	}
	c, err := policy.ParseCondition(raw, policy.ConditionOptions{Path: EvidenceTarget})
	if err != nil {
		var es policy.Errors
		if !errors.As(err, &es) || len(es) == 0 {
			return nil, invalid(EvidenceTarget, "The evidence condition is invalid: %v.", err)
		}
		details := make([]*posture.Error, len(es))
		for i, e := range es {
			details[i] = invalid(e.Path, "%s", sentence(e.Message))
		}
		if len(details) == 1 {
			return nil, details[0]
		}
		top := *details[0]
		top.Details = details
		return nil, &top
	}
	return &Evidence{cond: c}, nil
}

func invalid(target, format string, args ...any) *posture.Error {
	return posture.Errorf(posture.EINVALID, CodeInvalidEvidence, format, args...).WithTarget(target)
}

// sentence capitalises and ends a policy error message the way API
// messages read.
func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// Warnings are the condition's aliases that are not in posture's catalog
// and were resolved heuristically: often a typo, which would make the
// check read nothing.
func (e *Evidence) Warnings() []policy.Warning { return e.cond.Warnings() }

// Check evaluates the evidence against the exempted resource. When it does
// not hold, why names the conditions that failed, with the field, its
// document path, the value found and the one expected (the reasons
// Evaluate gives). err is an evaluation error (a comparison between
// incompatible types, a failing function); the evidence then neither holds
// nor fails, and why is empty.
func (e *Evidence) Check(r *policy.Resource) (holds bool, why string, err error) {
	if r == nil {
		return false, "", errors.New("drift: evidence check: no resource")
	}
	holds, reasons, err := e.cond.Eval(context.Background(), r, policy.EvalOptions{Reasons: policy.ReasonsAll})
	if err != nil {
		return false, "", fmt.Errorf("drift: evidence check on %s: %w", r.ID, err)
	}
	if holds {
		return true, "", nil
	}
	return false, explain(reasons), nil
}

// explain renders reasons as one line, e.g.
// `properties.networkAcls.defaultAction is "Allow" (equals "Deny": false)`,
// each prefixed with its place in the condition when it is nested.
func explain(reasons []policy.Reason) string {
	if len(reasons) == 0 {
		return "the condition is false"
	}
	parts := make([]string, 0, len(reasons))
	for _, rs := range reasons {
		var b strings.Builder
		if at := strings.TrimPrefix(strings.TrimPrefix(rs.Condition, EvidenceTarget), "."); at != "" {
			b.WriteString(at + ": ")
		}
		switch {
		case rs.Count != "":
			b.WriteString("count of " + rs.Count)
		case rs.Path != "":
			b.WriteString(rs.Path)
		case rs.Field != "":
			b.WriteString(rs.Field)
		default:
			b.WriteString("value " + rs.Value)
		}
		b.WriteString(" is ")
		if rs.Missing {
			b.WriteString("absent")
		} else {
			b.WriteString(short(rs.Actual))
		}
		fmt.Fprintf(&b, " (%s %s: %t)", rs.Operator, short(rs.Expected), rs.Result)
		parts = append(parts, b.String())
	}
	return strings.Join(parts, "; ")
}

// short renders a value as JSON, cut to a readable length.
func short(v any) string {
	s := string(appendCanonical(nil, v))
	const limit = 120
	if len(s) > limit {
		cut := limit
		for cut > 0 && s[cut]&0xC0 == 0x80 { // do not split a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
