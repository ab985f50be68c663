package automation

import (
	"strings"

	"github.com/posture/posture/armid"
)

// Matches reports whether an event triggers the automation: the automation
// is enabled; one of its scopes covers scopeID, the id of the event's
// resource (an assessment, secure score or control id; segment-aware and
// case-insensitive, so a resource group scope covers the resources and
// assessments in it); it has a source for eventSource (compared ignoring
// case); and that source has no rule sets, or one rule set whose rules all
// hold on payload, the event's JSON document (rules ANDed, sets ORed, per
// the spec's AutomationRuleSet and AutomationSource descriptions). A rule
// set without rules holds. An automation without scopes applies nowhere
// (the spec: "The automation will only apply on defined scopes").
func (a *Automation) Matches(eventSource, scopeID string, payload []byte) bool {
	if !a.IsEnabled || !a.covers(scopeID) {
		return false
	}
	var event any
	decoded := false
	for _, src := range a.Sources {
		if !strings.EqualFold(src.EventSource, eventSource) {
			continue
		}
		if len(src.RuleSets) == 0 {
			return true
		}
		if !decoded {
			var ok bool
			if event, ok = decodeEvent(payload); !ok {
				return false
			}
			decoded = true
		}
		for _, set := range src.RuleSets {
			if set.holds(event) {
				return true
			}
		}
	}
	return false
}

func (s RuleSet) holds(event any) bool {
	for _, r := range s.Rules {
		if !r.holds(event) {
			return false
		}
	}
	return true
}

// covers reports whether one of the scopes contains id.
func (a *Automation) covers(id string) bool {
	target, err := armid.Parse(id)
	if err != nil {
		return false
	}
	for _, s := range a.Scopes {
		if scope, err := scopeID(s.ScopePath); err == nil && scope.Contains(target) {
			return true
		}
	}
	return false
}
