package desired

import (
	"errors"
	"strings"
	"unicode"

	"github.com/posture/posture/armid"
)

// Where an exemption applies (its scopes) and what it exempts (its
// target): the ARM ids are checked with armid, names for their shape.

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
