package authz

import (
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestMatchAction(t *testing.T) {
	tests := []struct {
		pattern, action string
		want            bool
	}{
		{"*", "Microsoft.Compute/virtualMachines/read", true},
		{"*", "Microsoft.Authorization/roleAssignments/write", true},
		{"*/read", "Microsoft.Compute/virtualMachines/read", true},
		{"*/read", "Microsoft.Network/virtualNetworks/subnets/read", true},
		{"*/read", "Microsoft.Compute/virtualMachines/write", false},
		{"*/read", "Microsoft.Compute/virtualMachines/readSomething/action", false},
		{"*/read", "read", false}, // the slash is part of the pattern
		{"Microsoft.Compute/*", "Microsoft.Compute/virtualMachines/start/action", true},
		{"Microsoft.Compute/*", "microsoft.compute/VIRTUALMACHINES/read", true},
		{"Microsoft.Compute/*", "Microsoft.ComputeSchedule/actions/read", false}, // segment-aware: the slash belongs to the prefix
		{"Microsoft.Compute/*", "Microsoft.Network/virtualNetworks/read", false},
		{"Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/read", true},
		{"Microsoft.Authorization/*/read", "Microsoft.Authorization/policyAssignments/privateLinkAssociations/read", true},
		{"Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/write", false},
		{"Microsoft.Authorization/*/read", "Microsoft.Compute/virtualMachines/read", false},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/policyExemptions/write", true},
		{"Microsoft.Authorization/*/Write", "Microsoft.Authorization/policyAssignments/exempt/action", false},
		{"Microsoft.Security/*", "Microsoft.Security/assessments/write", true},
		{"Microsoft.Security/*", "Microsoft.SecurityInsights/incidents/read", false},
		{"Microsoft.Authorization/policyexemptions/*", "Microsoft.Authorization/policyExemptions/write", true},
		{"microsoft.web/sites/restart/Action", "Microsoft.Web/sites/restart/action", true},
		{"Microsoft.Web/sites/restart/action", "Microsoft.Web/sites/restart/action/x", false},
	}
	for _, tt := range tests {
		if got := MatchAction(tt.pattern, tt.action); got != tt.want {
			t.Errorf("MatchAction(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
		}
	}
}

// actionGen draws action-like strings: segments of letters and dots joined
// by slashes, in random case.
func actionGen() *rapid.Generator[string] {
	seg := rapid.StringMatching(`[A-Za-z.]{1,6}`)
	return rapid.Custom(func(t *rapid.T) string {
		return strings.Join(rapid.SliceOfN(seg, 1, 5).Draw(t, "segs"), "/")
	})
}

func TestPropertyPrefixWildcard(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		prefix := actionGen().Draw(t, "prefix")
		action := rapid.OneOf(actionGen(), rapid.Custom(func(t *rapid.T) string {
			// Often an action under the prefix, with its case changed.
			return flipCase(t, prefix+"/"+actionGen().Draw(t, "rest"))
		})).Draw(t, "action")
		want := strings.HasPrefix(strings.ToLower(action), strings.ToLower(prefix)+"/")
		if got := MatchAction(prefix+"/*", action); got != want {
			t.Fatalf("MatchAction(%q, %q) = %v, want %v", prefix+"/*", action, got, want)
		}
	})
}

func TestPropertyReadWildcard(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		action := rapid.OneOf(actionGen(), rapid.Custom(func(t *rapid.T) string {
			return flipCase(t, actionGen().Draw(t, "a")+"/read")
		})).Draw(t, "action")
		want := strings.HasSuffix(strings.ToLower(action), "/read")
		if got := MatchAction("*/read", action); got != want {
			t.Fatalf("MatchAction(*/read, %q) = %v, want %v", action, got, want)
		}
	})
}

func flipCase(t *rapid.T, s string) string {
	b := []byte(s)
	for i := range b {
		if rapid.Bool().Draw(t, "upper") {
			b[i] = strings.ToUpper(string(b[i]))[0]
		} else {
			b[i] = strings.ToLower(string(b[i]))[0]
		}
	}
	return string(b)
}

// smallStrings returns every string over {a, b, /} up to length n.
func smallStrings(n int) []string {
	out := []string{""}
	level := []string{""}
	for i := 0; i < n; i++ {
		var next []string
		for _, s := range level {
			for _, c := range []string{"a", "b", "/"} {
				next = append(next, s+c)
			}
		}
		out = append(out, next...)
		level = next
	}
	return out
}

// TestPropertyCoversAndOverlaps checks the wildcard-against-wildcard rules
// used for questions such as "may this principal read everything" against
// brute force. With literal parts of at most two characters, any
// counterexample or witness has at most seven characters, so enumerating
// strings up to length eight decides both relations exactly.
func TestPropertyCoversAndOverlaps(t *testing.T) {
	universe := smallStrings(8)
	part := rapid.StringMatching(`[ab/]{0,2}`)
	glob := rapid.Custom(func(t *rapid.T) string {
		if rapid.Bool().Draw(t, "wild") {
			return part.Draw(t, "p1") + "*" + part.Draw(t, "p2")
		}
		return part.Draw(t, "lit")
	})
	rapid.Check(t, func(t *rapid.T) {
		p, w := compilePattern(glob.Draw(t, "p")), compilePattern(glob.Draw(t, "w"))
		covers, overlaps := true, false
		for _, s := range universe {
			inW, inP := w.match(s), p.match(s)
			if inW && !inP {
				covers = false
			}
			if inW && inP {
				overlaps = true
			}
		}
		if got := p.covers(w); got != covers {
			t.Fatalf("%q covers %q = %v, brute force says %v", strings.Join(p.parts, "*"), strings.Join(w.parts, "*"), got, covers)
		}
		if got := p.overlaps(w); got != overlaps {
			t.Fatalf("%q overlaps %q = %v, brute force says %v", strings.Join(p.parts, "*"), strings.Join(w.parts, "*"), got, overlaps)
		}
	})
}

func TestMultiWildcardIsConservative(t *testing.T) {
	two := compilePattern("a*b*c")
	if !two.match("axbyc") || two.match("axbyd") {
		t.Fatal("two-wildcard matching is wrong")
	}
	if compilePattern("*").covers(two) {
		t.Error("covers must refuse multi-wildcard questions")
	}
	if !compilePattern("zzz*").overlaps(two) {
		t.Error("overlaps must assume multi-wildcard exclusions apply")
	}
}

func TestNotActionsSubtractWithinABlock(t *testing.T) {
	// role-definitions.md: Microsoft.CostManagement/exports/* minus
	// .../exports/delete leaves action, read, write and run/action.
	r := RoleDefinition{Properties: RoleDefinitionProperties{Permissions: []Permission{{
		Actions:    []string{"Microsoft.CostManagement/exports/*"},
		NotActions: []string{"Microsoft.CostManagement/exports/delete"},
	}}}}
	for action, want := range map[string]bool{
		"Microsoft.CostManagement/exports/action":     true,
		"Microsoft.CostManagement/exports/read":       true,
		"Microsoft.CostManagement/exports/write":      true,
		"Microsoft.CostManagement/exports/run/action": true,
		"Microsoft.CostManagement/exports/delete":     false,
		"Microsoft.CostManagement/exports/*":          false, // not every exports action
	} {
		if got := r.Allows(action); got != want {
			t.Errorf("Allows(%q) = %v, want %v", action, got, want)
		}
	}
	// A second block that grants the action back wins: notActions is no deny.
	r.Properties.Permissions = append(r.Properties.Permissions, Permission{Actions: []string{"Microsoft.CostManagement/exports/delete"}})
	if !r.Allows("Microsoft.CostManagement/exports/delete") {
		t.Error("a second block must grant back what the first block's notActions removed")
	}
}
