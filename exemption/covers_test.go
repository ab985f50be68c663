package exemption_test

import (
	"testing"
	"time"

	"github.com/posture/posture/exemption"
)

// Expected results follow the Azure Policy assignment structure docs,
// "Resource selectors": a resource is in scope when it satisfies any one
// resource selector, and satisfies a resource selector when it meets all of
// its selectors; in lists allowed values, notIn not-allowed ones;
// resourceWithoutLocation (subscriptionLevelResources) selects resources
// without a location. Exemptions use resource selectors "the same way"
// (exemption structure docs).
func TestCovers(t *testing.T) {
	parse := func(props string) *exemption.Exemption {
		t.Helper()
		e, err := exemption.Parse([]byte(body(props)), v2022)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	vm := "Microsoft.Compute/virtualMachines"
	type state struct{ ref, typ, loc string }
	for _, tc := range []struct {
		name  string
		props string
		yes   []state
		no    []state
	}{
		{"no references, no selectors: everything", "",
			[]state{{"", vm, "eastus"}, {"anyRef", "Microsoft.Resources/subscriptions", ""}}, nil},
		{"reference ids ignore case", `"policyDefinitionReferenceIds":["Limit_Skus","limitType"]`,
			[]state{{"limit_skus", vm, "eastus"}, {"LIMITTYPE", vm, ""}},
			[]state{{"other", vm, "eastus"}, {"", vm, "eastus"}}},
		{"location in: case and spaces do not matter", `"resourceSelectors":[{"name":"r","selectors":[{"kind":"resourceLocation","in":["westcentralus","East US"]}]}]`,
			[]state{{"x", vm, "westcentralus"}, {"x", vm, "West Central US"}, {"x", vm, "eastus"}},
			[]state{{"x", vm, "westus"}, {"x", vm, ""}}},
		{"location notIn; a resource without location is not selected by location", `"resourceSelectors":[{"name":"r","selectors":[{"kind":"resourceLocation","notIn":["eastus"]}]}]`,
			[]state{{"x", vm, "westus"}},
			[]state{{"x", vm, "eastus"}, {"x", vm, "EAST US"}, {"x", vm, ""}}},
		{"type in ignores case", `"resourceSelectors":[{"name":"r","selectors":[{"kind":"resourceType","in":["microsoft.compute/virtualmachines"]}]}]`,
			[]state{{"x", vm, "eastus"}},
			[]state{{"x", "Microsoft.Storage/storageAccounts", "eastus"}}},
		{"without location in", `"resourceSelectors":[{"name":"r","selectors":[{"kind":"resourceWithoutLocation","in":["subscriptionLevelResources"]}]}]`,
			[]state{{"x", "Microsoft.Authorization/roleAssignments", ""}},
			[]state{{"x", vm, "eastus"}}},
		{"without location notIn", `"resourceSelectors":[{"name":"r","selectors":[{"kind":"resourceWithoutLocation","notIn":["subscriptionLevelResources"]}]}]`,
			[]state{{"x", vm, "eastus"}},
			[]state{{"x", "Microsoft.Authorization/roleAssignments", ""}}},
		{"reference id selector", `"resourceSelectors":[{"name":"r","selectors":[{"kind":"policyDefinitionReferenceId","notIn":["A"]}]}]`,
			[]state{{"b", vm, "eastus"}},
			[]state{{"a", vm, "eastus"}}},
		{"all selectors of a resource selector must match", `"resourceSelectors":[{"name":"r","selectors":[
				{"kind":"resourceType","in":["` + vm + `"]},{"kind":"resourceLocation","in":["eastus"]}]}]`,
			[]state{{"x", vm, "eastus"}},
			[]state{{"x", vm, "westus"}, {"x", "Microsoft.Storage/storageAccounts", "eastus"}}},
		{"any resource selector may match", `"resourceSelectors":[
				{"name":"vms","selectors":[{"kind":"resourceType","in":["` + vm + `"]}]},
				{"name":"west","selectors":[{"kind":"resourceLocation","in":["westus"]}]}]`,
			[]state{{"x", vm, "eastus"}, {"x", "Microsoft.Storage/storageAccounts", "westus"}},
			[]state{{"x", "Microsoft.Storage/storageAccounts", "eastus"}}},
		{"a resource selector without selectors matches everything", `"resourceSelectors":[{"name":"all","selectors":[]},{"name":"none","selectors":[{"kind":"resourceLocation","in":["nowhere"]}]}]`,
			[]state{{"x", vm, "eastus"}, {"x", vm, ""}}, nil},
		{"reference ids and selectors both apply", `"policyDefinitionReferenceIds":["a"],"resourceSelectors":[{"name":"r","selectors":[{"kind":"resourceLocation","in":["eastus"]}]}]`,
			[]state{{"a", vm, "eastus"}},
			[]state{{"b", vm, "eastus"}, {"a", vm, "westus"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := parse(tc.props)
			for _, s := range tc.yes {
				if !e.Covers(s.ref, s.typ, s.loc) {
					t.Errorf("does not cover %+v", s)
				}
			}
			for _, s := range tc.no {
				if e.Covers(s.ref, s.typ, s.loc) {
					t.Errorf("covers %+v", s)
				}
			}
		})
	}
}

// An exemption is honoured until expiresOn, not at it; no expiresOn is
// forever (exemption structure docs, "Expiration").
func TestActive(t *testing.T) {
	end := time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)
	e := &exemption.Exemption{ExpiresOn: end}
	if !e.Active(end.Add(-time.Nanosecond)) || e.Active(end) || e.Active(end.Add(time.Hour)) {
		t.Fatal("expiry boundary wrong")
	}
	// The instant matters, not the zone it is written in.
	if e.Active(end.In(time.FixedZone("x", 3600))) {
		t.Fatal("zone changed the answer")
	}
	if !(&exemption.Exemption{}).Active(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatal("no expiresOn expired")
	}
}
