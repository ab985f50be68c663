package exemption

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/posture/posture"
)

// Severities of the recommendations an exemption covers, strictest first.
var severities = []string{"High", "Medium", "Low"}

// maxRuleDays bounds a MaxDays limit so that it converts to a Duration
// (about 292 years fit); a century is already no limit in practice.
const maxRuleDays = 36500

// Rules are posture's governance rules (beyond Azure), checked on every write.
type Rules struct {
	// RequiredMetadata lists metadata keys that must be present with a
	// non-blank string value. Keys match case-insensitively.
	RequiredMetadata []string `json:"requiredMetadata"`
	// MaxDays limits expiresOn - now per category and severity ("High",
	// "Medium", "Low"); 0 or missing = no limit. Under a limit an exemption
	// must have an expiresOn.
	MaxDays map[Category]map[string]int `json:"maxDays"`
	// WaiverRequiresExpiry refuses Waivers without expiresOn.
	WaiverRequiresExpiry bool `json:"waiverRequiresExpiry"`
}

// DefaultRules: Waivers expire, within 90/180/365 days for High/Medium/Low
// severity; Mitigated exemptions are not limited; no metadata is required.
func DefaultRules() Rules {
	return Rules{
		MaxDays:              map[Category]map[string]int{Waiver: {"High": 90, "Medium": 180, "Low": 365}},
		WaiverRequiresExpiry: true,
	}
}

// LoadRules parses rules JSON. Unknown fields are an error: this is our own
// configuration, and a misspelt rule must not silently do nothing. Category
// and severity keys ignore case and are stored canonical.
func LoadRules(b []byte) (Rules, error) {
	var in Rules
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return Rules{}, rulesError("", "%s", jsonProblem(err))
	}
	if dec.More() {
		return Rules{}, rulesError("", "unexpected data after the rules object")
	}
	out := Rules{WaiverRequiresExpiry: in.WaiverRequiresExpiry}
	for i, k := range in.RequiredMetadata {
		if strings.TrimSpace(k) == "" {
			return Rules{}, rulesError(fmt.Sprintf("requiredMetadata[%d]", i), "a metadata key must not be empty")
		}
		out.RequiredMetadata = append(out.RequiredMetadata, k)
	}
	for c, bySeverity := range in.MaxDays {
		cat, ok := canonical(string(c), string(Waiver), string(Mitigated))
		if !ok {
			return Rules{}, rulesError("maxDays."+string(c), "unknown category; use Waiver or Mitigated")
		}
		for s, days := range bySeverity {
			sev, ok := canonical(s, severities...)
			if !ok {
				return Rules{}, rulesError("maxDays."+cat+"."+s, "unknown severity; use High, Medium or Low")
			}
			if days < 0 || days > maxRuleDays {
				return Rules{}, rulesError("maxDays."+cat+"."+sev, "days must be between 0 (no limit) and %d", maxRuleDays)
			}
			if out.MaxDays == nil {
				out.MaxDays = map[Category]map[string]int{}
			}
			if out.MaxDays[Category(cat)] == nil {
				out.MaxDays[Category(cat)] = map[string]int{}
			}
			out.MaxDays[Category(cat)][sev] = days
		}
	}
	return out, nil
}

func rulesError(target, format string, args ...any) error {
	return posture.Errorf(posture.EINVALID, codeRules, "Invalid exemption rules: "+format+".", args...).WithTarget(target)
}

// canonical returns the value of values that s equals ignoring case.
func canonical(s string, values ...string) (string, bool) {
	for _, v := range values {
		if strings.EqualFold(s, v) {
			return v, true
		}
	}
	return "", false
}

// Check checks an exemption at now. severity is the highest severity of
// what the exemption covers. When it is unknown ("" or anything else) the
// strictest limit of the category applies, so an exemption cannot escape a
// limit because its severity could not be found. Each broken rule is an
// EINVALID ExemptionPolicyViolation whose message names the rule; all are
// reported.
func (r Rules) Check(e *Exemption, now time.Time, severity string) error {
	var p problems
	r.checkMetadata(&p, e)
	noExpiry := e.ExpiresOn.IsZero()
	if r.WaiverRequiresExpiry && e.Category == Waiver && noExpiry {
		p.add(codeViolation, "properties.expiresOn", "rule waiverRequiresExpiry: a Waiver must have an expiresOn.")
	}
	days, rule, what := r.limit(e.Category, severity)
	if days > 0 && days <= maxRuleDays { // a longer limit is none, and would overflow
		limit := time.Duration(days) * 24 * time.Hour
		switch left := e.ExpiresOn.Sub(now); {
		case noExpiry && !(r.WaiverRequiresExpiry && e.Category == Waiver): // reported once, above
			p.add(codeViolation, "properties.expiresOn", "rule %s: %s may last at most %d days; this one has no expiresOn.", rule, what, days)
		case !noExpiry && left > limit:
			lasts := int64(left / (24 * time.Hour)) // whole days, rounded up
			if left%(24*time.Hour) != 0 {
				lasts++
			}
			p.add(codeViolation, "properties.expiresOn", "rule %s: %s may last at most %d days; this one lasts %d.", rule, what, days, lasts)
		}
	}
	return p.err()
}

// limit returns the MaxDays limit for a category and severity, the rule's
// name and a phrase for messages.
func (r Rules) limit(c Category, severity string) (days int, rule, what string) {
	bySeverity := r.MaxDays[c]
	if sev, ok := canonical(severity, severities...); ok {
		return bySeverity[sev], fmt.Sprintf("maxDays.%s.%s", c, sev), fmt.Sprintf("a %s of a %s severity recommendation", c, sev)
	}
	for _, sev := range severities {
		if d := bySeverity[sev]; d > 0 && (days == 0 || d < days) {
			days, rule = d, fmt.Sprintf("maxDays.%s.%s", c, sev)
		}
	}
	return days, rule + " (severity unknown: strictest applies)", fmt.Sprintf("a %s of unknown severity", c)
}

// checkMetadata checks RequiredMetadata.
func (r Rules) checkMetadata(p *problems, e *Exemption) {
	if len(r.RequiredMetadata) == 0 {
		return
	}
	var md map[string]json.RawMessage
	_ = json.Unmarshal(e.Metadata, &md) // nil or not an object: every key is missing
	for _, key := range r.RequiredMetadata {
		if !hasText(md, key) {
			p.add(codeViolation, "properties.metadata."+key, "rule requiredMetadata: metadata.%s must be a non-empty string.", key)
		}
	}
}

func hasText(md map[string]json.RawMessage, key string) bool {
	for k, raw := range md {
		var s string
		if strings.EqualFold(k, key) && json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
			return true
		}
	}
	return false
}
