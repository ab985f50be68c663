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
	relType := d.relatedType
	if relType == "" {
		v, err := d.typeExpr.eval(c)
		if err != nil {
			return StateError, nil, nil, withPath(err, detailsPath+".type")
		}
		if relType, _ = v.(string); relType == "" {
			return StateError, nil, nil, &evalError{path: detailsPath + ".type", msg: "details.type did not evaluate to a type name"}
		}
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
	q := RelatedQuery{
		Type:           relType,
		Scope:          relatedScopeFor(r.Type, relType, scopeExpr),
		ParentID:       r.ID,
		SubscriptionID: r.SubscriptionID,
		ResourceGroup:  r.ResourceGroup,
		Name:           name,
	}
	if d.resourceGroupExpr != nil && q.Scope == ScopeResourceGroup {
		v, err := d.resourceGroupExpr.eval(c)
		if err != nil {
			return StateError, nil, nil, withPath(err, detailsPath+".resourceGroupName")
		}
		s, _ := v.(string)
		if s != "" {
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
	scopeText := describeScope(q)
	if len(candidates) == 0 {
		msg := fmt.Sprintf("no related resource of type %s%s was found %s", relType, nameText(name), scopeText)
		if why, ok := unknownWhenAbsent[strings.ToLower(relType)]; ok {
			return StateUnknown, []Reason{{Condition: detailsPath, Message: msg + "; " + why}}, nil, nil
		}
		return StateNonCompliant, []Reason{{Condition: detailsPath, Message: msg}}, nil, nil
	}
	related := make([]string, len(candidates))
	for i, cand := range candidates {
		related[i] = cand.ID
	}
	var failures []Reason
	for i, cand := range candidates {
		if d.existenceCondition == nil {
			msg := fmt.Sprintf("related resource %s exists %s (no existenceCondition)", cand.ID, scopeText)
			return StateCompliant, []Reason{{Condition: detailsPath, Resource: cand.ID, Message: msg, Result: true}}, related, nil
		}
		sub := &evalCtx{
			ctx: c.ctx, res: cand, ifRes: r, policyInfo: c.policyInfo, now: c.now,
			apiVersion: c.apiVersion, aliases: c.aliases, budget: c.budget, tracing: c.tracing,
		}
		ok, err := d.existenceCondition.eval(sub)
		c.budget = sub.budget
		if err != nil {
			return StateError, sub.reasons, related, fmt.Errorf("existenceCondition on %s: %w", cand.ID, err)
		}
		if ok {
			msg := fmt.Sprintf("related resource %s satisfies the existenceCondition", cand.ID)
			return StateCompliant, append([]Reason{{Condition: detailsPath + ".existenceCondition", Resource: cand.ID, Message: msg, Result: true}}, sub.reasons...), related, nil
		}
		if i < maxExplainedCandidates {
			failures = append(failures, Reason{Condition: detailsPath + ".existenceCondition", Resource: cand.ID,
				Message: fmt.Sprintf("related resource %s does not satisfy the existenceCondition", cand.ID)})
			failures = append(failures, sub.reasons...)
		}
	}
	msg := fmt.Sprintf("%d related resource(s) of type %s%s found %s; none satisfies the existenceCondition", len(candidates), relType, nameText(name), scopeText)
	return StateNonCompliant, append([]Reason{{Condition: detailsPath, Message: msg}}, failures...), related, nil
}

func nameText(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" named %q", name)
}

func describeScope(q RelatedQuery) string {
	switch q.Scope {
	case ScopeChildren:
		return "under " + q.ParentID
	case ScopeExtension:
		return "attached to " + q.ParentID
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
	var out []*Resource
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
	sort.Slice(out, func(i, j int) bool { return out[i].idKey < out[j].idKey })
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
