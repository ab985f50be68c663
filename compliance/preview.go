package compliance

import (
	"context"
	"fmt"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/match"
)

// broadStates is the number of covered states above which a preview warns.
const broadStates = 1000

// PreviewExemption implements posture.ExemptionService: it checks the
// exemption as a PUT would and lists what it covers now, without writing.
func (s *Service) PreviewExemption(ctx context.Context, w posture.ExemptionWrite) (*posture.ExemptionPreview, error) {
	id, err := parseExemptionID(w.ID)
	if err != nil {
		return nil, err
	}
	x, err := exemption.Parse(w.Body, w.APIVersion)
	if err != nil {
		return nil, err
	}
	as, hier, _, _ := s.snapshot()
	now := s.now()
	var entry *exemptionEntry
	var share filterShare
	p := &posture.ExemptionPreview{Covered: []posture.CoveredState{}, Future: []string{}, Warnings: []string{}}
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		if err := s.checkExemption(tx, id, x, as, hier, now); err != nil {
			return err
		}
		entry = entryOf(id, x)
		if !x.Active(now) {
			return nil // covers nothing, ever
		}
		a := as[entry.assignment]
		st := &stamper{ix: s.exemptions, hier: hier, over: override{entry.key: entry}}
		return eachStatePage(tx, hier.scopeRoots(entry.scope), entry.assignment, st.needsResource(entry.assignment), func(rows []*posture.ResourceStates, subject func(*posture.ResourceStates) *match.Resource) error {
			for _, row := range rows {
				r := subject(row)
				share.count(x, row, r)
				for _, state := range row.States {
					if state.State == posture.StateDisabled || !x.Selects(state.ReferenceID, row.ResourceType, r) {
						continue
					}
					def, _ := s.DefinitionOf(row.AssignmentKey, state.ReferenceID)
					p.Covered = append(p.Covered, posture.CoveredState{
						ResourceID: row.ResourceKey, SubscriptionID: row.SubscriptionID, AssignmentID: a.compiled.Assignment.ID,
						ReferenceID: state.ReferenceID, DefinitionID: def, State: state.State,
						AlreadyExempt: state.Exempt(now) && state.Exemption != entry.key,
					})
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	p.Exemption = exemption.Document(id.String(), id.Name(), x, exemption.SystemData{}, storedVersion)
	p.Future = futureOf(entry, as[entry.assignment])
	p.Warnings = append(warningsOf(entry, as[entry.assignment], len(p.Covered)), share.warnings(x, s.FilterWarnShare)...)
	if !x.Active(now) {
		p.Warnings = append([]string{"expiresOn is already past: the exemption would be stored but never in force."}, p.Warnings...)
	}
	return p, nil
}

// futureOf says in words what the exemption covers of resources created
// later.
func futureOf(e *exemptionEntry, a *assignment) []string {
	what := fmt.Sprintf("all %d policy definitions of the assignment", len(a.compiled.References))
	if refs := e.x.PolicyDefinitionReferenceIDs; len(refs) > 0 {
		what = "the policy definitions " + strings.Join(refs, ", ")
	}
	scope := e.scope
	if id, err := armid.Parse(e.id); err == nil {
		scope = id.Scope().String()
	}
	out := []string{fmt.Sprintf("Resources created later at or under %s are covered for %s.", scope, what)}
	for _, rs := range e.x.ResourceSelectors {
		var conds []string
		for _, sel := range rs.Selectors {
			switch {
			case len(sel.In) > 0:
				conds = append(conds, fmt.Sprintf("%s in [%s]", sel.Kind, strings.Join(sel.In, ", ")))
			default:
				conds = append(conds, fmt.Sprintf("%s not in [%s]", sel.Kind, strings.Join(sel.NotIn, ", ")))
			}
		}
		out = append(out, fmt.Sprintf("Resource selector '%s': only resources with %s.", rs.Name, strings.Join(conds, " and ")))
	}
	if f := e.x.ResourceFilter; f != nil {
		out = append(out, fmt.Sprintf("Resource filter: only resources where %s, checked again whenever a resource is created or changes.", f))
	}
	return out
}

// warningsOf flags exemptions broader or longer than they may need to be.
func warningsOf(e *exemptionEntry, a *assignment, covered int) []string {
	out := []string{}
	switch {
	case isGroup(e.scope):
		out = append(out, "The scope is a management group: every subscription under it, now and later, is exempted.")
	case !strings.Contains(strings.TrimPrefix(e.scope, "/subscriptions/"), "/"):
		out = append(out, "The scope is a whole subscription: every resource in it, now and later, is exempted.")
	}
	if len(e.x.PolicyDefinitionReferenceIDs) == 0 && a.compiled.SetDefinition != nil {
		out = append(out, fmt.Sprintf("No policyDefinitionReferenceIds: all %d recommendations of the initiative are exempted, not one.", len(a.compiled.References)))
	}
	if e.x.ExpiresOn.IsZero() {
		out = append(out, "No expiresOn: the exemption never ends; review it by hand.")
	}
	if covered > broadStates {
		out = append(out, fmt.Sprintf("It covers %d policy states today.", covered))
	}
	if covered == 0 {
		out = append(out, "It covers nothing today.")
	}
	return out
}
