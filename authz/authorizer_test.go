package authz

import (
	"fmt"
	"hash/fnv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/posture/posture"
)

func assign(principal, role, scope string, n int) posture.RoleAssignment {
	ra := readerAt(principal, scope, n)
	ra.RoleDefinitionID = "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/" + role
	return ra
}

func mustCheck(t *testing.T, a *Authorizer, principal, action, scope string) Decision {
	t.Helper()
	d, err := a.Check(principal, action, scope)
	if err != nil {
		t.Fatalf("Check(%s, %s, %s): %v", principal, action, scope, err)
	}
	return d
}

func TestUnionOfAssignments(t *testing.T) {
	a := New(Data{RoleAssignments: []posture.RoleAssignment{
		assign("p", RoleReader, "/subscriptions/s1", 1),
		assign("p", RoleSecurityAdmin, rg1, 2),
		assign("q", RoleContributor, "/subscriptions/s1", 3),
		assign("q", RoleUserAccessAdministrator, rg1, 4),
	}}, hier)
	tests := []struct {
		principal, action, scope string
		want                     bool
		role                     string
	}{
		{"p", vmRead, vm1, true, "Reader"},
		{"p", ActionPolicyExemptionWrite, vm1 + "/providers/Microsoft.Authorization/policyExemptions/e", true, "Security Admin"},
		{"p", ActionPolicyExemptionWrite, "/subscriptions/s1/providers/Microsoft.Authorization/policyExemptions/e", false, ""},
		// Contributor's notActions remove role assignment writes, but UAA
		// at the resource group grants them back there: no deny rules.
		{"q", ActionRoleAssignmentWrite, rg1 + "/providers/Microsoft.Authorization/roleAssignments/x", true, "User Access Administrator"},
		{"q", ActionRoleAssignmentWrite, "/subscriptions/s1/resourceGroups/rg2", false, ""},
		{"q", "Microsoft.Compute/virtualMachines/write", vm1, true, "Contributor"},
	}
	for _, tt := range tests {
		d := mustCheck(t, a, tt.principal, tt.action, tt.scope)
		if d.Allowed != tt.want || d.RoleName != tt.role {
			t.Errorf("%s %s at %s: allowed %v via %q, want %v via %q", tt.principal, tt.action, tt.scope, d.Allowed, d.RoleName, tt.want, tt.role)
		}
	}
	// The decision names the nearest assignment.
	d := mustCheck(t, a, "p", "Microsoft.Authorization/roleAssignments/read", vm1)
	if d.AssignmentScope != rg1 {
		t.Errorf("reported assignment at %q, want the nearer one at %q", d.AssignmentScope, rg1)
	}
}

func TestGroupMemberships(t *testing.T) {
	a := New(Data{
		RoleAssignments: []posture.RoleAssignment{assign("G-Outer", RoleSecurityAdmin, "/subscriptions/s1", 1)},
		// user → inner → outer → inner: nested and cyclic.
		Memberships: map[string][]string{"user": {"G-INNER"}, "g-inner": {"g-outer"}, "g-outer": {"g-inner"}},
	}, hier)
	d := mustCheck(t, a, "USER", ActionPolicyExemptionWrite, vm1)
	if !d.Allowed || d.Via != "G-Outer" {
		t.Fatalf("nested group grant: allowed %v via %q", d.Allowed, d.Via)
	}
	if a.Allowed("someone-else", ActionPolicyExemptionWrite, vm1) {
		t.Fatal("a non-member got the group's access")
	}
	a.SetMemberships("user", nil)
	if a.Allowed("user", ActionPolicyExemptionWrite, vm1) {
		t.Fatal("access survived the end of the membership")
	}
	a.SetMemberships("user", []string{"g-outer"})
	if !a.Allowed("user", ActionPolicyExemptionWrite, vm1) {
		t.Fatal("a direct membership gives no access")
	}
}

func TestDataActionsAreSeparate(t *testing.T) {
	const blobRead = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
	custom := customRole(t, "Blob Reader", []string{"/subscriptions/s1"}, Permission{
		Actions:     []string{"Microsoft.Storage/storageAccounts/blobServices/containers/read"},
		DataActions: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"},
	})
	a := New(Data{
		RoleDefinitions: []RoleDefinition{custom},
		RoleAssignments: []posture.RoleAssignment{
			assign("owner", RoleOwner, "/", 1),
			assign("reader", custom.Name, "/subscriptions/s1", 2),
		},
	}, hier)
	scope := rg1 + "/providers/Microsoft.Storage/storageAccounts/sa"
	if d, _ := a.CheckData("owner", blobRead, scope); d.Allowed {
		t.Error(`Owner's "*" granted a data action`)
	}
	if d, _ := a.CheckData("reader", blobRead, scope); !d.Allowed {
		t.Error("a data action in dataActions was not granted")
	}
	if a.Allowed("reader", blobRead, scope) {
		t.Error("a data action was granted as a control-plane action")
	}
}

func customRole(t *testing.T, name string, scopes []string, perms ...Permission) RoleDefinition {
	t.Helper()
	h := fnv.New32a()
	h.Write([]byte(name))
	guid := fmt.Sprintf("%08x-0000-4000-8000-000000000000", h.Sum32())
	d := RoleDefinition{
		ID:   "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/" + guid,
		Name: guid,
		Type: RoleDefinitionType,
		Properties: RoleDefinitionProperties{
			RoleName: name, RoleType: CustomRole, Permissions: perms, AssignableScopes: scopes,
		},
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestChangesTakeEffect(t *testing.T) {
	a := New(Data{}, hier)
	if a.Allowed("p", vmRead, vm1) {
		t.Fatal("allowed with no data")
	}
	ra := assign("p", RoleReader, rg1, 1)
	if err := a.PutRoleAssignment(ra); err != nil {
		t.Fatal(err)
	}
	if !a.Allowed("p", vmRead, vm1) {
		t.Fatal("a new assignment did not take effect")
	}
	if !a.DeleteRoleAssignment(ra.ID) || a.DeleteRoleAssignment(ra.ID) {
		t.Fatal("DeleteRoleAssignment did not report what it found")
	}
	// The cached allow must not survive the change.
	if a.Allowed("p", vmRead, vm1) {
		t.Fatal("a deleted assignment still allows")
	}

	role := customRole(t, "VM Restarter", []string{"/subscriptions/s1"}, Permission{Actions: []string{"Microsoft.Compute/virtualMachines/restart/action"}})
	if err := a.PutRoleDefinition(role); err != nil {
		t.Fatal(err)
	}
	if err := a.PutRoleAssignment(assign("p", role.Name, rg1, 2)); err != nil {
		t.Fatal(err)
	}
	if !a.Allowed("p", "Microsoft.Compute/virtualMachines/restart/action", vm1) {
		t.Fatal("custom role assignment did not take effect")
	}
	// Widening the role takes effect for its existing assignments.
	role.Properties.Permissions[0].Actions = append(role.Properties.Permissions[0].Actions, "Microsoft.Compute/virtualMachines/start/action")
	if err := a.PutRoleDefinition(role); err != nil {
		t.Fatal(err)
	}
	if !a.Allowed("p", "Microsoft.Compute/virtualMachines/start/action", vm1) {
		t.Fatal("updated role did not take effect")
	}
	if err := a.DeleteRoleDefinition(role.ID); posture.ErrorCode(err) != CodeRoleDefinitionHasAssignments {
		t.Fatalf("deleting a role in use: %v", err)
	}
	a.DeleteRoleAssignment(assign("p", role.Name, rg1, 2).ID)
	if err := a.DeleteRoleDefinition(role.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteRoleDefinition(role.ID); posture.ErrorCode(err) != CodeRoleDefinitionDoesNotExist || posture.ErrorKind(err) != posture.ENOTFOUND {
		t.Fatalf("deleting a missing role: %v", err)
	}
	if err := a.DeleteRoleDefinition(RoleOwner); posture.ErrorCode(err) != CodeBuiltInRoleNotModifiable {
		t.Fatalf("deleting Owner: %v", err)
	}
}

func TestReplace(t *testing.T) {
	a := New(Data{RoleAssignments: []posture.RoleAssignment{assign("p", RoleReader, rg1, 1)}}, hier)
	if !a.Allowed("p", vmRead, vm1) {
		t.Fatal("initial data not in effect")
	}
	a.Replace(Data{RoleAssignments: []posture.RoleAssignment{assign("q", RoleReader, rg1, 1)}})
	if a.Allowed("p", vmRead, vm1) || !a.Allowed("q", vmRead, vm1) {
		t.Fatal("Replace did not swap the data")
	}
}

func TestPutRoleDefinitionRules(t *testing.T) {
	a := New(Data{}, hier)
	first := customRole(t, "Operator", []string{"/subscriptions/s1"}, Permission{Actions: []string{"Microsoft.Compute/*/read"}})
	if err := a.PutRoleDefinition(first); err != nil {
		t.Fatal(err)
	}
	second := customRole(t, "operator ", []string{"/subscriptions/s1"}, Permission{Actions: []string{"Microsoft.Compute/*/read"}})
	second.Name, second.ID = "99999999-0000-4000-8000-000000000000", "/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/99999999-0000-4000-8000-000000000000"
	err := a.PutRoleDefinition(second)
	if posture.ErrorCode(err) != CodeRoleDefinitionWithSameNameExists || posture.ErrorKind(err) != posture.ECONFLICT {
		t.Fatalf("same name: %v", err)
	}
	second.Properties.RoleName = "Reader"
	if err := a.PutRoleDefinition(second); posture.ErrorCode(err) != CodeRoleDefinitionWithSameNameExists {
		t.Fatalf("a built-in role's name: %v", err)
	}
	// Re-putting a role under its own name is an update, not a conflict.
	if err := a.PutRoleDefinition(first); err != nil {
		t.Fatal(err)
	}
	owner, _ := BuiltinRole(RoleOwner)
	if err := a.PutRoleDefinition(owner); posture.ErrorCode(err) != CodeBuiltInRoleNotModifiable {
		t.Fatalf("writing Owner: %v", err)
	}
}

func TestValidateRoleAssignment(t *testing.T) {
	subOnly := customRole(t, "Sub One Reader", []string{"/subscriptions/s1"}, Permission{Actions: []string{"*/read"}})
	viaMG := customRole(t, "MG Reader", []string{mg("mgA")}, Permission{Actions: []string{"*/read"}})
	withData := customRole(t, "MG Data Reader", []string{mg("mgA")}, Permission{DataActions: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"}})
	a := New(Data{
		RoleDefinitions: []RoleDefinition{subOnly, viaMG, withData},
		RoleAssignments: []posture.RoleAssignment{assign("p", RoleReader, rg1, 1)},
	}, hier)
	tests := []struct {
		name string
		ra   posture.RoleAssignment
		code string
	}{
		{"built-in anywhere", assign("p", RoleOwner, "/", 2), ""},
		{"custom inside its scope", assign("p", subOnly.Name, rg1, 3), ""},
		{"custom outside its scope", assign("p", subOnly.Name, "/subscriptions/s2", 4), CodeInvalidCreateRoleAssignmentRequest},
		{"custom at a subscription under its management group", assign("p", viaMG.Name, "/subscriptions/s1", 5), ""},
		{"custom at a subscription outside its management group", assign("p", viaMG.Name, "/subscriptions/s3", 6), CodeInvalidCreateRoleAssignmentRequest},
		{"custom with data actions at its management group", assign("p", withData.Name, mg("mgA"), 7), CodeInvalidCreateRoleAssignmentRequest},
		{"custom with data actions below its management group", assign("p", withData.Name, "/subscriptions/s2", 8), ""},
		{"unknown role", assign("p", "12345678-1234-1234-1234-123456789012", rg1, 9), CodeRoleDefinitionDoesNotExist},
		{"duplicate", assign("P", RoleReader, "/SUBSCRIPTIONS/s1/resourceGroups/RG1", 10), CodeRoleAssignmentExists},
		{"same assignment again", assign("p", RoleReader, rg1, 1), ""},
		{"no principal", assign("", RoleReader, rg1, 11), CodeInvalidCreateRoleAssignmentRequest},
		{"scope disagrees with id", posture.RoleAssignment{ID: assign("p", RoleReader, rg1, 12).ID, Scope: "/subscriptions/s1", PrincipalID: "p", RoleDefinitionID: RoleReader}, CodeInvalidCreateRoleAssignmentRequest},
		{"id of another type", posture.RoleAssignment{ID: rg1 + "/providers/Microsoft.Authorization/roleDefinitions/x", PrincipalID: "p", RoleDefinitionID: RoleReader}, CodeInvalidCreateRoleAssignmentRequest},
	}
	for _, tt := range tests {
		err := a.ValidateRoleAssignment(tt.ra)
		if got := posture.ErrorCode(err); got != tt.code {
			t.Errorf("%s: got %v, want code %q", tt.name, err, tt.code)
		}
	}
}

func TestIgnoredEntriesGrantNothing(t *testing.T) {
	bad := customRole(t, "Bad", []string{"/subscriptions/s1"}, Permission{Actions: []string{"*"}})
	bad.Properties.AssignableScopes = []string{"/"} // custom roles may not use the root
	a := New(Data{
		RoleDefinitions: []RoleDefinition{bad},
		RoleAssignments: []posture.RoleAssignment{
			assign("p", "12345678-1234-1234-1234-123456789012", "/subscriptions/s1", 1), // no such role
			assign("p", bad.Name, "/subscriptions/s1", 2),                               // role ignored
			{ID: "x", Scope: "not a scope", PrincipalID: "p", RoleDefinitionID: RoleOwner},
		},
	}, hier)
	if n := len(a.Ignored()); n != 4 {
		t.Errorf("Ignored() has %d entries, want 4: %v", n, a.Ignored())
	}
	if a.Allowed("p", vmRead, vm1) {
		t.Error("an ignored entry grants access")
	}
}

func TestInvalidateHierarchy(t *testing.T) {
	h := HierarchyMap{"/subscriptions/s1": key(mg("mgA"))}
	a := New(Data{RoleAssignments: []posture.RoleAssignment{assign("p", RoleReader, mg("mgA"), 1)}}, h)
	if !a.Allowed("p", vmRead, vm1) {
		t.Fatal("management group assignment does not reach its subscription")
	}
	h["/subscriptions/s1"] = key(mg("mgC")) // the subscription moves
	if !a.Allowed("p", vmRead, vm1) {
		t.Fatal("the answer changed before InvalidateHierarchy (it should be cached)")
	}
	a.InvalidateHierarchy()
	if a.Allowed("p", vmRead, vm1) {
		t.Fatal("the move did not take effect after InvalidateHierarchy")
	}
}

func TestCheckErrors(t *testing.T) {
	a := New(Data{RoleAssignments: []posture.RoleAssignment{assign("p", RoleOwner, "/", 1)}}, nil)
	for _, action := range []string{"", "Microsoft.Compute/*/*", "Microsoft Compute/vm/read"} {
		if _, err := a.Check("p", action, vm1); posture.ErrorCode(err) != CodeInvalidAction {
			t.Errorf("Check with action %q: %v", action, err)
		}
	}
	if _, err := a.Check("p", vmRead, "subscriptions/s1"); posture.ErrorCode(err) != CodeInvalidScope || posture.ErrorKind(err) != posture.EINVALID {
		t.Errorf("Check with a bad scope: %v", err)
	}
	if a.Allowed("p", vmRead, "subscriptions/s1") {
		t.Error("Allowed with a bad scope")
	}
	// As in Azure, an invalid scope is a 403 for the caller.
	p := &posture.Principal{ID: "p"}
	if err := a.Authorize(p, vmRead, "subscriptions/s1"); posture.ErrorCode(err) != CodeAuthorizationFailed {
		t.Errorf("Authorize with a bad scope: %v", err)
	}
	if err := a.Authorize(p, vmRead, vm1); err != nil {
		t.Errorf("Authorize for Owner: %v", err)
	}
}

func TestAssignmentsAt(t *testing.T) {
	data := Data{RoleAssignments: []posture.RoleAssignment{
		assign("p", RoleReader, "/", 1),
		assign("p", RoleReader, mg("mgA"), 2),
		assign("p", RoleReader, "/subscriptions/s1", 3),
		assign("p", RoleReader, rg1, 4),
		assign("p", RoleReader, "/subscriptions/s1/resourceGroups/rg2", 5),
		assign("p", RoleReader, "/subscriptions/s2", 6),
	}}
	a := New(data, hier)
	got, err := a.AssignmentsAt(vm1)
	if err != nil {
		t.Fatal(err)
	}
	var scopes []string
	for _, ra := range got {
		scopes = append(scopes, ra.Scope)
	}
	if diff := cmp.Diff([]string{rg1, "/subscriptions/s1", mg("mgA"), "/"}, scopes); diff != "" {
		t.Errorf("AssignmentsAt(vm1) scopes (-want +got):\n%s", diff)
	}
}

func TestRoleDefinitionsListing(t *testing.T) {
	role := customRole(t, "Zeta", []string{"/subscriptions/s1"}, Permission{Actions: []string{"*/read"}})
	a := New(Data{RoleDefinitions: []RoleDefinition{role}}, nil)
	all := a.RoleDefinitions()
	if len(all) != len(BuiltinRoles())+1 || all[len(all)-1].Properties.RoleName != "Zeta" {
		t.Fatalf("RoleDefinitions() has %d roles, last %q", len(all), all[len(all)-1].Properties.RoleName)
	}
	if got, err := a.RoleDefinition(role.ID); err != nil || got.Properties.RoleName != "Zeta" {
		t.Fatalf("RoleDefinition(custom) = %v, %v", got.Properties.RoleName, err)
	}
	if _, err := a.RoleDefinition("12345678-1234-1234-1234-123456789012"); posture.ErrorKind(err) != posture.ENOTFOUND {
		t.Fatalf("RoleDefinition(missing): %v", err)
	}
}

// TestConcurrentReadersAndWriters runs checks while assignments change; run
// with -race it proves the snapshot swap safe. Each reader's final answer
// must reflect the last change.
func TestConcurrentReadersAndWriters(t *testing.T) {
	a := New(Data{}, hier)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					a.Allowed("p", vmRead, vm1)
					_, _ = a.ReadableScopes("p", ActionReadAll)
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		ra := assign("p", RoleReader, rg1, i)
		if err := a.PutRoleAssignment(ra); err != nil {
			t.Fatal(err)
		}
		if !a.Allowed("p", vmRead, vm1) {
			t.Fatal("a put is not visible to the next check")
		}
		a.DeleteRoleAssignment(ra.ID)
		if a.Allowed("p", vmRead, vm1) {
			t.Fatal("a delete is not visible to the next check")
		}
	}
	close(stop)
	wg.Wait()
}
