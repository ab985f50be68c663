package desired

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
)

// Limits the server also enforces (exemption-structure.md; see the
// exemption package), checked here so that plan reports them with a line.
const (
	maxDisplayName = 128
	maxDescription = 512
)

// checker turns raw entries into Entries, checking what needs no estate.
type checker struct {
	file     string
	now      time.Time
	format   *format
	defaults *defaults
	probs    *Problems
}

// targets are the fields naming what is exempted; exactly one is given.
var targets = []string{fAssignment, fRecommend, fDefID, fDefName, fSetID, fSetName}

func (c *checker) add(e *raw, v *value, code, format string, args ...any) {
	c.probs.add(v.pos, e.field(v), code, format, args...)
}

func (c *checker) entry(e *raw) Entry {
	out := Entry{Pos: e.pos, Index: e.index, Fields: make(map[string]Pos, 16)}
	str := func(key string) (*value, string) {
		v := e.vals[key]
		if v == nil || strings.TrimSpace(v.text) == "" && v.list == nil && v.json == nil {
			return nil, ""
		}
		out.Fields[canonical(key)] = v.pos
		return v, v.text
	}

	if v, name := str(fName); v == nil {
		c.missing(e, fName)
	} else {
		out.Name = name
		if err := exemption.ValidateName(name); err != nil {
			c.add(e, v, CodeInvalidName, "%s", message(err))
		}
	}
	if v, s := str(fDisplayName); v != nil {
		out.DisplayName = s
		c.length(e, v, maxDisplayName)
	} else if c.format.epac {
		c.missing(e, fDisplayName) // EPAC's schema requires it
	}
	if v, s := str(fDescription); v != nil {
		out.Description = s
		c.length(e, v, maxDescription)
	}
	if v, s := str(fCategory); v != nil {
		out.Category = c.oneOf(e, v, s, CodeInvalidCategory, Waiver, Mitigated)
	} else if d := c.defaults; d != nil && d.category != "" {
		out.Category, out.Fields[fCategory] = d.category, d.pos[fCategory]
	} else {
		c.missing(e, fCategory)
	}
	c.scopes(e, &out)
	c.target(e, &out)
	c.referenceIDs(e, &out)
	if v, s := str(fExpiresOn); v != nil {
		out.ExpiresOn = c.expiresOn(e, v, s)
	} else if d := c.defaults; d != nil && !d.expiresOn.IsZero() {
		out.ExpiresOn, out.Fields[fExpiresOn] = d.expiresOn, d.pos[fExpiresOn]
	}
	if v, s := str(fOwner); v != nil {
		out.Owner = s
	} else if d := c.defaults; d != nil && d.owner != "" {
		out.Owner, out.Fields[fOwner] = d.owner, d.pos[fOwner]
	}
	if v, s := str(fTicket); v != nil {
		out.Ticket = s
	} else if d := c.defaults; d != nil && d.ticket != "" {
		out.Ticket, out.Fields[fTicket] = d.ticket, d.pos[fTicket]
	}
	out.Metadata = c.metadata(e, &out)
	if v, _ := str(fSelectors); v != nil {
		out.ResourceSelectors = v.json
	}
	if v, _ := str(fFilter); v != nil {
		out.ResourceFilter = v.json
	}
	if v, _ := str(fHistory); v != nil {
		out.History = v.json
	}
	if v, s := str(fValidation); v != nil {
		out.AssignmentScopeValidation = c.oneOf(e, v, s, CodeInvalidValidation, "Default", "DoNotValidate")
	}
	return out
}

// canonical maps the raw keys that share an Entry field to its name.
func canonical(key string) string {
	switch key {
	case fScope:
		return fScopes
	case fDefName:
		return fDefID
	case fSetName:
		return fSetID
	}
	return key
}

func (c *checker) missing(e *raw, key string) {
	if e.invalid[key] {
		return
	}
	name := c.format.spelled(key)
	c.probs.add(e.pos, e.path+"."+name, CodeMissingField, "The field '%s' is required.", name)
}

// message returns the text of a posture error without its code.
func message(err error) string {
	var pe *posture.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

func (c *checker) length(e *raw, v *value, limit int) {
	if n := utf8.RuneCountInString(v.text); n > limit {
		c.add(e, v, CodeTooLong, "'%s' may have at most %d characters; it has %d.", v.written, limit, n)
	}
}

// oneOf reads an enumerated value case-insensitively (Azure's docs write
// "waiver") and returns its canonical spelling.
func (c *checker) oneOf(e *raw, v *value, s, code string, values ...string) string {
	for _, want := range values {
		if strings.EqualFold(strings.TrimSpace(s), want) {
			return want
		}
	}
	c.add(e, v, code, "'%s' is not a valid %s; use %s.", clip(s), v.written, strings.Join(values, " or "))
	return s
}

// scopes reads scope or scopes: one or more ARM ids of a management group,
// subscription, resource group or resource.
func (c *checker) scopes(e *raw, out *Entry) {
	one, many := e.vals[fScope], e.vals[fScopes]
	if one != nil && strings.TrimSpace(one.text) == "" {
		one = nil
	}
	switch {
	case one != nil && many != nil:
		c.add(e, many, CodeConflictingFields, "Give either scope or scopes, not both.")
		return
	case one != nil:
		many = &value{written: one.written, pos: one.pos, list: []item{{one.text, one.pos}}}
	case many == nil:
		if e.invalid[fScope] || e.invalid[fScopes] {
			return
		}
		c.probs.add(e.pos, e.path, CodeMissingField, "One of the fields scope and scopes is required.")
		return
	case len(many.list) == 0:
		c.add(e, many, CodeMissingField, "'%s' lists no scope.", many.written)
		return
	}
	out.Fields[fScopes] = many.pos
	seen := make(map[string]Pos, len(many.list))
	for i, it := range many.list {
		field := func() string {
			if one != nil {
				return e.field(many)
			}
			return index(e.field(many), i)
		}
		out.Fields[fieldKey(fScopes, i)] = it.pos
		s, ok := c.scopeText(it, field)
		if !ok {
			out.Scopes = append(out.Scopes, it.text)
			continue
		}
		id, err := armid.Parse(s)
		switch {
		case err != nil:
			c.probs.add(it.pos, field(), CodeInvalidScope, "'%s' is not a scope: %s.", clip(s), reason(err))
		case id.Kind() == armid.Tenant:
			c.probs.add(it.pos, field(), CodeInvalidScope, "The tenant root '/' cannot hold exemptions; use the tenant root management group.")
		default:
			s = id.String()
			if prev, dup := seen[id.Key()]; dup {
				c.probs.add(it.pos, field(), CodeDuplicateScope, "The scope '%s' is listed twice; the first is at %s.", clip(s), prev)
			}
			seen[id.Key()] = it.pos
		}
		out.Scopes = append(out.Scopes, s)
	}
}

// scopeText applies EPAC's scope spellings: surrounding spaces are
// trimmed, and a leading ':' (no display-name suffix, which posture never
// adds) is dropped. EPAC's labels and patterns depend on what EPAC does at
// plan time, so they are refused rather than misread.
func (c *checker) scopeText(it item, field path) (string, bool) {
	s := it.text
	if c.format.epac {
		s = strings.TrimSpace(s)
		if label, rest, ok := strings.Cut(s, ":"); ok {
			if label != "" {
				c.probs.add(it.pos, field(), CodeUnsupportedFeature,
					"The scope label '%s:' names EPAC's display-name suffix, which posture does not generate; remove it (a leading ':' alone is accepted).", clip(label))
				return s, false
			}
			s = rest
		}
		if strings.Contains(strings.ToLower(s), "subscriptionspattern") || strings.Contains(s, "*") {
			c.probs.add(it.pos, field(), CodeUnsupportedFeature,
				"EPAC's scope patterns are expanded against the estate at plan time; posture does not expand them. List the scopes, or use a posture file with resourceFilter.")
			return s, false
		}
	} else if strings.Contains(s, "*") {
		c.probs.add(it.pos, field(), CodeInvalidScope, "Scopes have no wildcards; list the scopes, or use resourceFilter to select resources by tag or name pattern.")
		return s, false
	}
	return s, true
}

func reason(err error) string {
	var se *armid.SyntaxError
	if errors.As(err, &se) {
		return se.Reason
	}
	return err.Error()
}

// target checks that exactly one of the target fields is given.
func (c *checker) target(e *raw, out *Entry) {
	var given []*value
	var keys []string
	for _, k := range targets {
		if v := e.vals[k]; v != nil && strings.TrimSpace(v.text) != "" {
			given = append(given, v)
			keys = append(keys, k)
		}
	}
	if len(given) == 0 {
		for _, k := range targets {
			if e.invalid[k] {
				return
			}
		}
		c.probs.add(e.pos, e.path, CodeMissingField, "%s", c.format.target)
		return
	}
	for i := 1; i < len(given); i++ {
		c.add(e, given[i], CodeConflictingFields, "Give only one of %s and %s.", given[0].written, given[i].written)
	}
	v, k := given[0], keys[0]
	out.Fields[canonical(k)] = v.pos
	s := strings.TrimSpace(v.text)
	switch k {
	case fAssignment:
		out.Assignment = c.definitionID(e, v, s, "Microsoft.Authorization/policyAssignments", CodeInvalidAssignment, "policy assignment")
	case fRecommend:
		out.Recommendation = s
		if strings.HasPrefix(s, "/") {
			out.Recommendation = c.definitionID(e, v, s, "Microsoft.Authorization/policyDefinitions", CodeInvalidRecommend, "policy definition")
		} else if !isName(s) {
			c.add(e, v, CodeInvalidRecommend, "'%s' is neither an assessment key, a policy definition name nor a policy definition id.", clip(s))
		}
	case fDefID:
		out.PolicyDefinitionID = c.definitionID(e, v, s, "Microsoft.Authorization/policyDefinitions", CodeInvalidDefinition, "policy definition")
	case fSetID:
		out.PolicySetDefinitionID = c.definitionID(e, v, s, "Microsoft.Authorization/policySetDefinitions", CodeInvalidDefinition, "policy set definition")
	case fDefName:
		out.PolicyDefinitionID = c.definitionName(e, v, s)
	case fSetName:
		out.PolicySetDefinitionID = c.definitionName(e, v, s)
	}
}

// definitionID checks that s is the full id of a resource of type typ and
// returns it canonical.
func (c *checker) definitionID(e *raw, v *value, s, typ, code, what string) string {
	id, err := armid.Parse(s)
	if err == nil && id.Kind() == armid.Resource && strings.EqualFold(id.Type(), typ) {
		return id.String()
	}
	c.add(e, v, code, "'%s' is not the full id of a %s ({scope}/providers/%s/{name}).", clip(s), what, typ)
	return s
}

// definitionName checks a policy (set) definition name, which the planner
// resolves; an id here belongs in the …Id field.
func (c *checker) definitionName(e *raw, v *value, s string) string {
	if !isName(s) {
		c.add(e, v, CodeInvalidDefinition, "'%s' is not a policy definition name (an id goes in the field ending in Id).", clip(s))
	}
	return s
}

// isName reports whether s can be the last segment of an ARM id.
func isName(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return r == '/' || unicode.IsControl(r) || unicode.IsSpace(r)
	})
}

// referenceIDs reads policyDefinitionReferenceIds, which narrow an
// assignment or, in EPAC, a policy set definition.
func (c *checker) referenceIDs(e *raw, out *Entry) {
	v := e.vals[fRefs]
	if v == nil {
		return
	}
	out.Fields[fRefs] = v.pos
	if out.Assignment == "" && out.PolicySetDefinitionID == "" && len(v.list) > 0 {
		c.add(e, v, CodeReferenceIDs, "'%s' narrows a policy assignment or policy set definition; give assignment or policySetDefinitionId/Name with it, or remove it.", v.written)
	}
	seen := make(map[string]Pos, len(v.list))
	for i, it := range v.list {
		field := func() string { return index(e.field(v), i) }
		out.Fields[fieldKey(fRefs, i)] = it.pos
		key := strings.ToLower(it.text)
		switch prev, dup := seen[key]; {
		case strings.TrimSpace(it.text) == "":
			c.probs.add(it.pos, field(), CodeInvalidReferenceID, "A policy definition reference id must not be empty.")
		case dup:
			c.probs.add(it.pos, field(), CodeDuplicateReference, "The reference id '%s' is listed twice; the first is at %s.", clip(it.text), prev)
		default:
			seen[key] = it.pos
		}
		out.ReferenceIDs = append(out.ReferenceIDs, it.text)
	}
}

// Accepted expiresOn spellings: RFC 3339, a date, or a date-time without
// offset, which EPAC (and so this package) reads as UTC.
var expiryLayouts = []string{time.RFC3339Nano, "2006-01-02", "2006-01-02T15:04:05.999999999"}

func (c *checker) expiresOn(e *raw, v *value, s string) time.Time {
	t, ok := parseExpiry(s)
	if !ok {
		c.add(e, v, CodeInvalidExpiresOn, "'%s' is not a date (2027-01-31, meaning 00:00 UTC) or an RFC 3339 date-time (2027-01-31T17:00:00Z).", clip(s))
		return time.Time{}
	}
	if !c.now.Before(t) {
		c.add(e, v, CodeExpiryInPast, "The expiry %s is not after now (%s); extend it or remove the exemption.",
			t.Format(time.RFC3339), c.now.UTC().Format(time.RFC3339))
	}
	return t
}

// parseExpiry reads an expiry as UTC, to the microsecond as the server
// keeps it (so that plan does not see a difference that can never go).
func parseExpiry(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	layouts := expiryLayouts
	if len(s) == len("2006-01-02") {
		layouts = expiryLayouts[1:2] // the common case, without a failed RFC 3339 parse first
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC().Truncate(time.Microsecond)
			if y := t.Year(); y >= 1 && y <= 9999 {
				return t, true
			}
			return time.Time{}, false
		}
	}
	return time.Time{}, false
}

// metadata reads the entry's metadata over the defaults' (the entry's keys
// win).
func (c *checker) metadata(e *raw, out *Entry) map[string]any {
	var base map[string]any
	if d := c.defaults; d != nil && d.metadata != nil {
		base = maps.Clone(d.metadata)
		out.Fields[fMetadata] = d.pos[fMetadata]
	}
	v := e.vals[fMetadata]
	if v == nil {
		return base
	}
	out.Fields[fMetadata] = v.pos
	m, err := decodeObject(v.json)
	if err != nil {
		c.add(e, v, CodeWrongType, "'%s' must be a JSON object: %v.", v.written, err)
		return base
	}
	if base == nil {
		return m
	}
	maps.Copy(base, m)
	return base
}

// decodeObject decodes a JSON object keeping numbers as written.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("null is not an object")
	}
	return m, nil
}
