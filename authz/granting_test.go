package authz

import (
	"strings"
	"testing"

	"github.com/posture/posture"
)

// An MCSB-style estate: the policy assignment sits at management group
// mgA, exemptions are written on resources in s1 (under mgB, under mgA).
var (
	assignmentAtMG = mg("mgA") + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
	exemptionOnVM  = vm1 + "/providers/Microsoft.Authorization/policyExemptions/ex1"
)

func TestAuthorizeExemptionWrite(t *testing.T) {
	a := New(Data{RoleAssignments: []posture.RoleAssignment{
		assign("secadmin-mg", RoleSecurityAdmin, mg("mgA"), 1),
		assign("policy-mg", RoleResourcePolicyContributor, mg("mgA"), 2),
		assign("owner-sub", RoleOwner, "/subscriptions/s1", 3),
		assign("secadmin-sub", RoleSecurityAdmin, "/subscriptions/s1", 4),
		assign("contrib-mg", RoleContributor, mg("mgA"), 5),
		assign("reader-mg", RoleReader, mg("mgA"), 6),
		assign("secadmin-sub", RoleReader, mg("mgA"), 7),
	}}, hier)
	tests := []struct {
		principal string
		code      string // "" = allowed
	}{
		{"secadmin-mg", ""},
		{"policy-mg", ""},
		// Owner of the subscription may write the exemption but may not
		// exempt an assignment made above the subscription.
		{"owner-sub", CodeLinkedAuthorizationFailed},
		{"secadmin-sub", CodeLinkedAuthorizationFailed},
		// Contributor holds exempt/action but not policyExemptions/write
		// (Microsoft.Authorization/*/Write is in its notActions).
		{"contrib-mg", CodeAuthorizationFailed},
		{"reader-mg", CodeAuthorizationFailed},
		{"nobody", CodeAuthorizationFailed},
	}
	for _, tt := range tests {
		err := a.AuthorizeExemptionWrite(&posture.Principal{ID: tt.principal}, exemptionOnVM, assignmentAtMG)
		if got := posture.ErrorCode(err); got != tt.code {
			t.Errorf("%s: got %v, want code %q", tt.principal, err, tt.code)
		}
		if err != nil && posture.ErrorKind(err) != posture.EFORBIDDEN {
			t.Errorf("%s: kind %s, want forbidden", tt.principal, posture.ErrorKind(err))
		}
	}
}

func TestAuthorizeRoleAssignmentWrite(t *testing.T) {
	a := New(Data{RoleAssignments: []posture.RoleAssignment{
		assign("owner", RoleOwner, "/subscriptions/s1", 1),
		assign("uaa", RoleUserAccessAdministrator, rg1, 2),
		assign("contributor", RoleContributor, "/subscriptions/s1", 3),
		assign("rbacadmin", RoleRBACAdministrator, rg1, 4),
	}}, hier)
	tests := []struct {
		caller string
		ra     posture.RoleAssignment
		code   string
	}{
		{"owner", assign("x", RoleReader, rg1, 10), ""},
		// Granting more than one holds is allowed, as in Azure: UAA may
		// make someone (itself included) Owner where it holds UAA.
		{"uaa", assign("uaa", RoleOwner, rg1, 11), ""},
		{"rbacadmin", assign("y", RoleOwner, vm1, 12), ""},
		{"uaa", assign("x", RoleOwner, "/subscriptions/s1", 13), CodeAuthorizationFailed},
		{"contributor", assign("x", RoleReader, rg1, 14), CodeAuthorizationFailed},
		{"nobody", assign("x", "12345678-1234-1234-1234-123456789012", rg1, 15), CodeAuthorizationFailed}, // 403 before 400
		{"owner", assign("x", "12345678-1234-1234-1234-123456789012", rg1, 16), CodeRoleDefinitionDoesNotExist},
	}
	for _, tt := range tests {
		err := a.AuthorizeRoleAssignmentWrite(&posture.Principal{ID: tt.caller}, tt.ra)
		if got := posture.ErrorCode(err); got != tt.code {
			t.Errorf("%s assigning %s at %s: %v, want code %q", tt.caller, tt.ra.RoleDefinitionID, tt.ra.Scope, err, tt.code)
		}
	}
	// The 403 names the assignment's own id as the scope, as Azure does.
	err := a.AuthorizeRoleAssignmentWrite(&posture.Principal{ID: "contributor"}, assign("x", RoleReader, rg1, 17))
	if want := assign("x", RoleReader, rg1, 17).ID; !strings.Contains(err.Error(), "over scope '"+want+"'") {
		t.Errorf("403 does not name the assignment id: %v", err)
	}
}

func TestAuthorizeRoleDefinitionWrite(t *testing.T) {
	a := New(Data{RoleAssignments: []posture.RoleAssignment{
		assign("uaa", RoleUserAccessAdministrator, "/subscriptions/s1", 1),
		assign("owner-mg", RoleOwner, mg("mgA"), 2),
	}}, hier)
	both := customRole(t, "Two Subs", []string{"/subscriptions/s1", "/subscriptions/s2"}, Permission{Actions: []string{"*/read"}})
	one := customRole(t, "One Sub", []string{"/subscriptions/s1"}, Permission{Actions: []string{"*/read"}})
	uaa, owner := &posture.Principal{ID: "uaa"}, &posture.Principal{ID: "owner-mg"}
	if err := a.AuthorizeRoleDefinitionWrite(uaa, one, nil); err != nil {
		t.Errorf("UAA on s1 writing a role for s1: %v", err)
	}
	if err := a.AuthorizeRoleDefinitionWrite(uaa, both, nil); posture.ErrorCode(err) != CodeAuthorizationFailed || !strings.Contains(err.Error(), "'/subscriptions/s2'") {
		t.Errorf("UAA on s1 writing a role for s1 and s2: %v", err)
	}
	if err := a.AuthorizeRoleDefinitionWrite(owner, both, nil); err != nil {
		t.Errorf("Owner of the management group above both: %v", err)
	}
	// Narrowing a role to s1 still needs rights where it was assignable.
	if err := a.AuthorizeRoleDefinitionWrite(uaa, one, &both); posture.ErrorCode(err) != CodeAuthorizationFailed {
		t.Errorf("UAA on s1 taking a role away from s2: %v", err)
	}
}

func TestReadableScopes(t *testing.T) {
	a := New(Data{
		RoleAssignments: []posture.RoleAssignment{
			assign("p", RoleReader, "/subscriptions/s3", 1),
			assign("g", RoleReader, mg("mgA"), 2),
			assign("p", RoleReader, "/subscriptions/s1x/resourceGroups/rg", 3),
			assign("p", RoleSecurityReader, "/subscriptions/s9", 4),
			assign("admin", RoleOwner, "/", 5),
		},
		Memberships: map[string][]string{"p": {"g"}},
	}, hier)
	set, err := a.ReadableScopes("p", ActionReadAll)
	if err != nil {
		t.Fatal(err)
	}
	if set.All() || set.Empty() {
		t.Fatal("wrong extent")
	}
	if got := set.Subscriptions(); len(got) != 1 || got[0] != "/subscriptions/s3" {
		t.Errorf("Subscriptions() = %v (Security Reader on s9 does not grant */read)", got)
	}
	if got := set.ManagementGroups(); len(got) != 1 || got[0] != key(mg("mgA")) {
		t.Errorf("ManagementGroups() = %v", got)
	}
	for id, want := range map[string]bool{
		vm1:                                  true, // s1 is under mgB under mgA
		"/subscriptions/s2/resourceGroups/x": true,
		"/SUBSCRIPTIONS/S3":                  true,
		"/subscriptions/s1x/resourceGroups/rg/providers/A.B/c/d":       true,
		"/subscriptions/s1x/resourceGroups/rg2":                        false,
		"/subscriptions/s1x":                                           false,
		"/subscriptions/s9/providers/Microsoft.Security/assessments/a": false,
		mg("mgC"): true,
		"/":       false,
	} {
		if got := set.Contains(id); got != want {
			t.Errorf("Contains(%s) = %v, want %v", id, got, want)
		}
	}
	if !set.ContainsSubscription("s2") || set.ContainsSubscription("s1x") {
		t.Error("ContainsSubscription is wrong")
	}
	// Security Reader reads assessments on s9 but not the resources.
	sec, _ := a.ReadableScopes("p", "Microsoft.Security/assessments/read")
	if !sec.Contains("/subscriptions/s9/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/v/providers/Microsoft.Security/assessments/a") {
		t.Error("assessment read on s9 missing")
	}
	if all, _ := a.ReadableScopes("admin", ActionReadAll); !all.All() || !all.Contains("/subscriptions/anything") {
		t.Error("Owner at the root does not read everything")
	}
	if none, _ := a.ReadableScopes("stranger", ActionReadAll); !none.Empty() || none.Contains(vm1) {
		t.Error("a stranger reads something")
	}
}

func TestReadFilter(t *testing.T) {
	a := New(Data{RoleAssignments: []posture.RoleAssignment{
		assign("sec", RoleSecurityReader, "/subscriptions/s1", 1),
		assign("reader", RoleReader, rg1, 2),
	}}, hier)
	assessment := vm1 + "/providers/Microsoft.Security/assessments/21300918-b2e3-0346-785f-c77ff57d243b"
	rows := []struct {
		principal, id string
		want          bool
	}{
		{"sec", assessment, true},
		{"sec", vm1, false}, // Security Reader cannot read virtual machines
		{"sec", "/subscriptions/s1/resourceGroups/rg2", true},
		{"sec", "/subscriptions/s2/providers/Microsoft.Security/assessments/x", false},
		{"reader", assessment, true},
		{"reader", vm1, true},
		{"reader", "/subscriptions/s1/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/v", false},
		{"reader", "not an id", false},
	}
	filters := map[string]*ReadFilter{"sec": a.ReadFilter("sec"), "reader": a.ReadFilter("READER")}
	for _, r := range rows {
		if got := filters[r.principal].Allows(r.id); got != r.want {
			t.Errorf("%s reading %s: %v, want %v", r.principal, r.id, got, r.want)
		}
	}
}
