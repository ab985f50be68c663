package policy

import (
	"fmt"
	"sort"
	"strings"
)

// Existence checks for AuditIfNotExists and DeployIfNotExists
// (effect-audit-if-not-exists.md): find the related resources of
// details.type — under the evaluated resource when the type is nested
// under it, attached to it for extension types, otherwise in its resource
// group (or details.resourceGroupName) or subscription (existenceScope) —
// narrow them by details.name, and check existenceCondition against each;
// any match makes the resource compliant. field() inside the
// existenceCondition reads the evaluated resource; field conditions read
// the related one.

// unknownWhenAbsent are related types whose documents come from Defender or
// the guest agent rather than from the customer's configuration: when none
// was imported, the compliance is unknown rather than non-compliant.
// Microsoft.Security/pricings is listed because Azure has a pricing for
// every plan in every subscription; an absent one was simply not imported.
var unknownWhenAbsent = map[string]string{
	"microsoft.security/assessments":                             "the result comes from a Defender for Cloud assessment; none was imported for this resource",
	"microsoft.guestconfiguration/guestconfigurationassignments": "the result comes from the machine configuration agent; no guest configuration assignment was imported for this resource",
	"microsoft.security/pricings":                                "every subscription has a Defender pricing per plan; none was imported for this subscription",
}

// maxExplainedCandidates limits how many failing related resources are
// explained in reasons.
const maxExplainedCandidates = 3

func (cr *CompiledReference) checkExistence(c *evalCtx, lookup Lookup) (ComplianceState, []Reason, []string, error) {
	d := cr.details
	r := c.ifRes
	const detailsPath = "properties.policyRule.then.details"
	relType, relKey := d.relatedType, d.relatedTypeKey
	if relType == "" {
		v, err := d.typeExpr.eval(c)
		if err != nil {
			return StateError, nil, nil, withPath(err, detailsPath+".type")
		}
		if relType, _ = v.(string); relType == "" {
			return StateError, nil, nil, &evalError{path: detailsPath + ".type", msg: "details.type did not evaluate to a type name"}
		}
		relKey = strings.ToLower(relType)
	}
	name := ""
	if d.nameExpr != nil {
		v, err := d.nameExpr.eval(c)
		if err != nil {
			return StateError, nil, nil, withPath(err, detailsPath+".name")
		}
		s, ok := v.(string)
		if !ok {
			return StateError, nil, nil, &evalError{path: detailsPath + ".name", msg: fmt.Sprintf("details.name evaluated to %s, not a string", typeName(v))}
		}
		name = s
	}
	scopeExpr := d.scopeExpr
	if scopeExpr != nil {
		if _, isConst := constValue(scopeExpr); !isConst {
			v, err := scopeExpr.eval(c)
			if err != nil {
				return StateError, nil, nil, withPath(err, detailsPath+".existenceScope")
			}
			scopeExpr = &litExpr{v: v}
		}
	}
	// Ids and types go to the Lookup in lower case: they compare
	// case-insensitively, and lower-case keys cost no allocation.
	q := RelatedQuery{
		Type:           relKey,
		Scope:          relatedScopeForKeys(r.typeKey, relKey, scopeExpr),
		ParentID:       r.idKey,
		SubscriptionID: r.SubscriptionID,
		ResourceGroup:  r.ResourceGroup,
		Name:           name,
	}
	if d.resourceGroupExpr != nil && q.Scope == ScopeResourceGroup {
		v, err := d.resourceGroupExpr.eval(c)
		if err != nil {
			return StateError, nil, nil, withPath(err, detailsPath+".resourceGroupName")
		}
		if s, _ := v.(string); s != "" {
			q.ResourceGroup = s
		}
	}
	var candidates []*Resource
	if lookup != nil {
		found, err := lookup.Related(c.ctx, q)
		if err != nil {
			return StateError, nil, nil, fmt.Errorf("looking up related %s resources: %w", relType, err)
		}
		candidates = filterRelated(found, q, r)
	}
	explain := c.tracing
	if len(candidates) == 0 {
		why, unknown := unknownWhenAbsent[relKey]
		state := StateNonCompliant
		if unknown {
			state = StateUnknown
		}
		if !explain {
			return state, nil, nil, nil
		}
		msg := fmt.Sprintf("no related resource of type %s%s was found %s", relType, nameText(name), describeScope(q, r.ID))
		if unknown {
			msg += "; " + why
		}
		return state, []Reason{{Condition: detailsPath, Message: msg}}, nil, nil
	}
	related := make([]string, len(candidates))
	for i, cand := range candidates {
		related[i] = cand.ID
	}
	var failures []Reason
	if c.sub == nil {
		c.sub = &evalCtx{}
	}
	for i, cand := range candidates {
		if d.existenceCondition == nil {
			if !explain {
				return StateCompliant, nil, related, nil
			}
			msg := fmt.Sprintf("related resource %s exists %s (no existenceCondition)", cand.ID, describeScope(q, r.ID))
			return StateCompliant, []Reason{{Condition: detailsPath, Resource: cand.ID, Message: msg, Result: true}}, related, nil
		}
		sub := c.sub
		*sub = evalCtx{
			ctx: c.ctx, res: cand, ifRes: r, frames: sub.frames[:0], policyInfo: c.policyInfo, now: c.now,
			apiVersion: c.apiVersion, aliases: c.aliases, budget: c.budget, tracing: explain,
		}
		ok, err := d.existenceCondition.eval(sub)
		c.budget = sub.budget
		if err != nil {
			return StateError, sub.reasons, related, fmt.Errorf("existenceCondition on %s: %w", cand.ID, err)
		}
		if ok {
			if !explain {
				return StateCompliant, nil, related, nil
			}
			msg := fmt.Sprintf("related resource %s satisfies the existenceCondition", cand.ID)
			return StateCompliant, append([]Reason{{Condition: detailsPath + ".existenceCondition", Resource: cand.ID, Message: msg, Result: true}}, sub.reasons...), related, nil
		}
		if explain && i < maxExplainedCandidates {
			failures = append(failures, Reason{Condition: detailsPath + ".existenceCondition", Resource: cand.ID,
				Message: fmt.Sprintf("related resource %s does not satisfy the existenceCondition", cand.ID)})
			failures = append(failures, sub.reasons...)
		}
	}
	if !explain {
		return StateNonCompliant, nil, related, nil
	}
	msg := fmt.Sprintf("%d related resource(s) of type %s%s found %s; none satisfies the existenceCondition", len(candidates), relType, nameText(name), describeScope(q, r.ID))
	return StateNonCompliant, append([]Reason{{Condition: detailsPath, Message: msg}}, failures...), related, nil
}

func nameText(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" named %q", name)
}

func describeScope(q RelatedQuery, parentID string) string {
	switch q.Scope {
	case ScopeChildren:
		return "under " + parentID
	case ScopeExtension:
		return "attached to " + parentID
	case ScopeResourceGroup:
		if q.ResourceGroup == "" {
			return "at the level of subscription " + q.SubscriptionID
		}
		return "in resource group " + q.ResourceGroup
	case ScopeSubscription:
		return "in subscription " + q.SubscriptionID
	}
	return ""
}

// filterRelated keeps the candidates that really match the query (a Lookup
// may return a superset), sorted by id for stable results.
func filterRelated(found []*Resource, q RelatedQuery, self *Resource) []*Resource {
	t := strings.ToLower(q.Type)
	out := make([]*Resource, 0, len(found))
	for _, cand := range found {
		if cand == nil || cand.typeKey != t {
			continue
		}
		switch q.Scope {
		case ScopeChildren, ScopeExtension:
			if cand.idKey == self.idKey || !idHasPrefix(cand.ID, q.ParentID) {
				continue
			}
		case ScopeResourceGroup:
			if !strings.EqualFold(cand.SubscriptionID, q.SubscriptionID) || !strings.EqualFold(cand.ResourceGroup, q.ResourceGroup) {
				continue
			}
		case ScopeSubscription:
			if !strings.EqualFold(cand.SubscriptionID, q.SubscriptionID) {
				continue
			}
		}
		if !relatedNameMatches(q.Name, cand) {
			continue
		}
		out = append(out, cand)
	}
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool { return out[i].idKey < out[j].idKey })
	}
	return out
}

// relatedNameMatches compares details.name with a candidate. A plain name
// matches the candidate's own name ("web" for .../sites/a/config/web); a
// "parent/child" name matches its full name; "?" stands for any segment.
func relatedNameMatches(pattern string, cand *Resource) bool {
	if pattern == "" {
		return true
	}
	if !strings.Contains(pattern, "/") {
		return pattern == "?" || strings.EqualFold(pattern, cand.Name)
	}
	ps := strings.Split(pattern, "/")
	fs := strings.Split(cand.FullName, "/")
	if len(ps) > len(fs) {
		return false
	}
	// Compare the trailing segments: a child's full name may carry more
	// ancestors than the pattern names.
	fs = fs[len(fs)-len(ps):]
	for i := range ps {
		if ps[i] != "?" && !strings.EqualFold(ps[i], fs[i]) {
			return false
		}
	}
	return true
}
