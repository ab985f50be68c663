package exemption

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/posture/posture/match"
)

// Resource selector rules, from the Azure Policy assignment structure docs
// ("Resource selectors"), which exemptions share (exemption structure docs):
// at most 10 resource selectors; each kind at most once per resource
// selector; resourceLocation and resourceWithoutLocation not together; in
// and notIn not together, each with at most 50 values; resourceWithoutLocation
// supports only subscriptionLevelResources. The selector kinds are the
// SelectorKind enum of the REST spec (models.tsp).
const (
	maxResourceSelectors = 10
	maxSelectorValues    = 50
)

// Selector kinds, canonical spelling.
const (
	kindLocation        = "resourceLocation"
	kindType            = "resourceType"
	kindWithoutLocation = "resourceWithoutLocation"
	kindReferenceID     = "policyDefinitionReferenceId"
	subscriptionLevel   = "subscriptionLevelResources"
)

var kinds = map[string]string{
	strings.ToLower(kindLocation):        kindLocation,
	strings.ToLower(kindType):            kindType,
	strings.ToLower(kindWithoutLocation): kindWithoutLocation,
	strings.ToLower(kindReferenceID):     kindReferenceID,
}

type rawResourceSelector struct {
	Name      *string       `json:"name"`
	Selectors []rawSelector `json:"selectors"`
}

type rawSelector struct {
	Kind  *string  `json:"kind"`
	In    []string `json:"in"`
	NotIn []string `json:"notIn"`
}

// resourceSelectors reads and checks resourceSelectors. An empty list is
// stored as nil (no narrowing), and a resource selector without selectors
// gets an empty, non-nil list so that documents show [] rather than null.
func resourceSelectors(p *problems, raw json.RawMessage) []ResourceSelector {
	const target = "properties.resourceSelectors"
	if !present(raw) {
		return nil
	}
	var in []rawResourceSelector
	if err := json.Unmarshal(raw, &in); err != nil {
		p.add(codeContent, target, "The property '%s' is invalid: %s.", target, jsonProblem(err))
		return nil
	}
	if len(in) > maxResourceSelectors {
		p.add(codeTooManyRS, target, "At most %d resource selectors are allowed; there are %d.", maxResourceSelectors, len(in))
	}
	if len(in) == 0 {
		return nil
	}
	out := make([]ResourceSelector, len(in))
	names := map[string]bool{}
	for i, rs := range in {
		t := fmt.Sprintf("%s[%d]", target, i)
		switch {
		case rs.Name == nil || strings.TrimSpace(*rs.Name) == "":
			missing(p, t+".name")
		case names[strings.ToLower(*rs.Name)]:
			p.add(codeRSNameDup, t+".name", "The resource selector name '%s' is used more than once.", clip(*rs.Name))
		default:
			names[strings.ToLower(*rs.Name)] = true
			out[i].Name = *rs.Name
		}
		out[i].Selectors = selectors(p, rs.Selectors, t)
	}
	return out
}

func selectors(p *problems, in []rawSelector, target string) []Selector {
	out := make([]Selector, len(in))
	seen := map[string]bool{}
	for i, s := range in {
		t := fmt.Sprintf("%s.selectors[%d]", target, i)
		if s.Kind == nil || *s.Kind == "" {
			missing(p, t+".kind")
		} else if k, ok := kinds[strings.ToLower(*s.Kind)]; !ok {
			p.add(codeSelectorKind, t+".kind", "The selector kind '%s' is not valid; use %s, %s, %s or %s.",
				clip(*s.Kind), kindLocation, kindType, kindWithoutLocation, kindReferenceID)
		} else if seen[k] {
			p.add(codeSelectorDup, t+".kind", "The selector kind '%s' may be used only once in a resource selector.", k)
		} else {
			seen[k] = true
			out[i].Kind = k
		}
		out[i].In, out[i].NotIn = values(p, s, out[i].Kind, t)
	}
	if seen[kindLocation] && seen[kindWithoutLocation] {
		p.add(codeSelectorMix, target+".selectors", "The selector kinds %s and %s cannot be used in the same resource selector.", kindLocation, kindWithoutLocation)
	}
	return out
}

// values checks in and notIn: exactly one of them, with 1 to 50 non-empty
// values. An empty list counts as absent.
func values(p *problems, s rawSelector, kind, target string) (in, notIn []string) {
	list, name := s.In, "in"
	switch {
	case len(s.In) > 0 && len(s.NotIn) > 0:
		p.add(codeSelectorValues, target, "A selector takes either 'in' or 'notIn', not both.")
		return s.In, s.NotIn
	case len(s.In) == 0 && len(s.NotIn) == 0:
		p.add(codeSelectorValues, target, "A selector needs 'in' or 'notIn' with at least one value.")
		return nil, nil
	case len(s.NotIn) > 0:
		list, name = s.NotIn, "notIn"
	}
	t := target + "." + name
	if len(list) > maxSelectorValues {
		p.add(codeTooManyValues, t, "A selector may list at most %d values; '%s' has %d.", maxSelectorValues, name, len(list))
	}
	for i, v := range list {
		switch {
		case strings.TrimSpace(v) == "":
			p.add(codeSelectorValues, fmt.Sprintf("%s[%d]", t, i), "A selector value must not be empty.")
		case kind == kindWithoutLocation && !strings.EqualFold(v, subscriptionLevel):
			p.add(codeSelectorValues, fmt.Sprintf("%s[%d]", t, i), "The only value of a %s selector is '%s'.", kindWithoutLocation, subscriptionLevel)
		case kind == kindWithoutLocation:
			list[i] = subscriptionLevel
		}
	}
	if name == "in" {
		return list, nil
	}
	return nil, list
}

// Covers reports whether the exemption applies to one policy state: the
// state's policy definition reference id is listed (any when the list is
// empty), and the resource matches any resource selector (a resource
// selector matches when all its selectors match; no resource selectors
// match everything). Comparisons ignore case; locations also ignore spaces,
// so "East US" is "eastus". A resource without a location (location "") is
// the one resourceWithoutLocation subscriptionLevelResources selects, and
// matches no resourceLocation selector, in or notIn. Covers expects a parsed
// Exemption: an unknown selector kind matches nothing.
func (e *Exemption) Covers(referenceID, resourceType, location string) bool {
	if len(e.PolicyDefinitionReferenceIDs) > 0 && !containsFold(e.PolicyDefinitionReferenceIDs, referenceID) {
		return false
	}
	if len(e.ResourceSelectors) == 0 {
		return true
	}
	for _, rs := range e.ResourceSelectors {
		if rs.matches(referenceID, resourceType, location) {
			return true
		}
	}
	return false
}

// Selects reports whether the exemption covers the policy state of
// referenceID on resource r: Covers (policy references and Azure's
// resource selectors, which compare policyType, the type Azure Policy
// sees: resource groups are Microsoft.Resources/subscriptions/resourceGroups)
// and posture's resource filter (which reads r, its ARM type included).
func (e *Exemption) Selects(referenceID, policyType string, r *match.Resource) bool {
	return e.Covers(referenceID, policyType, r.Location) && (e.ResourceFilter == nil || e.ResourceFilter.Match(r))
}

// NeedsResource reports whether Selects reads more of a resource than its
// type: its location, name or tags.
func (e *Exemption) NeedsResource() bool {
	if e.ResourceFilter != nil {
		return true
	}
	for _, rs := range e.ResourceSelectors {
		for _, s := range rs.Selectors {
			if s.Kind != kindReferenceID && s.Kind != kindType {
				return true
			}
		}
	}
	return false
}

func (rs *ResourceSelector) matches(referenceID, resourceType, location string) bool {
	for _, s := range rs.Selectors {
		if !s.matches(referenceID, resourceType, location) {
			return false
		}
	}
	return true
}

func (s *Selector) matches(referenceID, resourceType, location string) bool {
	var found bool
	switch s.Kind {
	case kindLocation:
		if location == "" {
			return false
		}
		found = containsFunc(s.In, s.NotIn, location, sameLocation)
	case kindType:
		found = containsFunc(s.In, s.NotIn, resourceType, strings.EqualFold)
	case kindReferenceID:
		found = containsFunc(s.In, s.NotIn, referenceID, strings.EqualFold)
	case kindWithoutLocation:
		// The one value is subscriptionLevelResources: "has no location".
		found = location == ""
	default:
		return false
	}
	if len(s.In) > 0 {
		return found
	}
	return !found
}

// containsFunc looks v up in whichever of in and notIn is in use.
func containsFunc(in, notIn []string, v string, eq func(a, b string) bool) bool {
	list := in
	if len(list) == 0 {
		list = notIn
	}
	for _, x := range list {
		if eq(x, v) {
			return true
		}
	}
	return false
}

func containsFold(list []string, v string) bool {
	return containsFunc(list, nil, v, strings.EqualFold)
}

// sameLocation compares locations as ARM normalises them: case and spaces
// do not matter ("West Europe" is "westeurope"). It does not allocate:
// Covers runs once per policy state.
func sameLocation(a, b string) bool {
	i, j := 0, 0
	for {
		for i < len(a) && a[i] == ' ' {
			i++
		}
		for j < len(b) && b[j] == ' ' {
			j++
		}
		if i == len(a) || j == len(b) {
			return i == len(a) && j == len(b)
		}
		if lower(a[i]) != lower(b[j]) {
			return false
		}
		i++
		j++
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
