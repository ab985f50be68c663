package authz

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/posture/posture"
)

const customGUID = "88888888-8888-8888-8888-888888888888"

var customPath = "/subscriptions/sub1/providers/Microsoft.Authorization/roleDefinitions/" + customGUID

// customBody returns a valid PUT body after applying edit to its
// properties.
func customBody(t *testing.T, edit func(p map[string]any)) []byte {
	t.Helper()
	props := map[string]any{
		"roleName":    "Virtual Machine Operator",
		"description": "Can monitor and restart virtual machines.",
		"permissions": []any{map[string]any{
			"actions": []any{
				"Microsoft.Compute/*/read",
				"Microsoft.Compute/virtualMachines/start/action",
				"Microsoft.Compute/virtualMachines/restart/action",
				"Microsoft.Authorization/*/read",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
			},
		}},
		"assignableScopes": []any{"/subscriptions/sub1", "/providers/Microsoft.Management/managementGroups/mg1"},
	}
	if edit != nil {
		edit(props)
	}
	b, err := json.Marshal(map[string]any{"properties": props})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRoleDefinition(t *testing.T) {
	d, err := ParseRoleDefinition(customPath, customBody(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != customPath || d.Name != customGUID || d.Type != RoleDefinitionType || d.Properties.RoleType != CustomRole {
		t.Errorf("identity: %q %q %q %q", d.ID, d.Name, d.Type, d.Properties.RoleType)
	}
	if diff := cmp.Diff(Permission{
		Actions: []string{"Microsoft.Compute/*/read", "Microsoft.Compute/virtualMachines/start/action",
			"Microsoft.Compute/virtualMachines/restart/action", "Microsoft.Authorization/*/read",
			"Microsoft.Resources/subscriptions/resourceGroups/read"},
		NotActions: []string{}, DataActions: []string{}, NotDataActions: []string{},
	}, d.Properties.Permissions[0]); diff != "" {
		t.Errorf("permissions (-want +got):\n%s", diff)
	}
	if !d.Allows("microsoft.compute/virtualMachines/RESTART/action") || d.Allows("Microsoft.Compute/virtualMachines/delete") {
		t.Error("the parsed role grants the wrong actions")
	}
}

func TestParseRoleDefinitionErrors(t *testing.T) {
	long := strings.Repeat("x", 513)
	tests := []struct {
		name     string
		path     string
		body     []byte
		code     string
		target   string
		contains string
	}{
		{name: "not JSON", body: []byte(`{"properties":`), code: CodeInvalidRequestContent},
		{name: "two objects", body: []byte(`{} {}`), code: CodeInvalidRequestContent},
		{name: "body names another role", body: []byte(`{"name":"99999999-9999-9999-9999-999999999999","properties":{}}`), code: CodeInvalidRoleDefinition, target: "name"},
		{name: "name not a GUID", path: "/subscriptions/sub1/providers/Microsoft.Authorization/roleDefinitions/vm-operator", code: CodeInvalidRoleDefinition, target: "name"},
		{name: "path is not a role definition", path: "/subscriptions/sub1/providers/Microsoft.Authorization/roleAssignments/" + customGUID, code: CodeInvalidRoleDefinition, target: "id"},
		{name: "built-in type", body: customBody(t, func(p map[string]any) { p["type"] = BuiltInRole }), code: CodeBuiltInRoleNotModifiable},
		{name: "no role name", body: customBody(t, func(p map[string]any) { p["roleName"] = "  " }), code: CodeInvalidRoleDefinition, target: "properties.roleName"},
		{name: "role name too long", body: customBody(t, func(p map[string]any) { p["roleName"] = long }), code: CodeInvalidRoleDefinition, target: "properties.roleName"},
		{name: "description too long", body: customBody(t, func(p map[string]any) { p["description"] = strings.Repeat(long, 4) }), code: CodeInvalidRoleDefinition, target: "properties.description"},
		{name: "grants nothing", body: customBody(t, func(p map[string]any) {
			p["permissions"] = []any{map[string]any{"notActions": []any{"Microsoft.Compute/*"}}}
		}), code: CodeInvalidRoleDefinition, target: "properties.permissions"},
		{name: "two wildcards", body: customBody(t, func(p map[string]any) {
			p["permissions"] = []any{map[string]any{"actions": []any{"Microsoft.Compute/*/*"}}}
		}), code: CodeInvalidActionOrNotAction, target: "properties.permissions[0].actions[0]", contains: "more than one wildcard"},
		{name: "no operation verb", body: customBody(t, func(p map[string]any) {
			p["permissions"] = []any{map[string]any{"actions": []any{"Microsoft.Compute/virtualMachines"}}}
		}), code: CodeInvalidActionOrNotAction},
		{name: "empty segment in notActions", body: customBody(t, func(p map[string]any) {
			p["permissions"] = []any{map[string]any{"actions": []any{"*"}, "notActions": []any{"Microsoft.Compute//delete"}}}
		}), code: CodeInvalidActionOrNotAction, target: "properties.permissions[0].notActions[0]"},
		{name: "not a namespace", body: customBody(t, func(p map[string]any) {
			p["permissions"] = []any{map[string]any{"actions": []any{"compute/virtualMachines/read"}}}
		}), code: CodeInvalidActionOrNotAction},
		{name: "space in data action", body: customBody(t, func(p map[string]any) {
			p["permissions"] = []any{map[string]any{"dataActions": []any{"Microsoft.Storage/storage Accounts/read"}}}
		}), code: CodeInvalidActionOrNotAction, target: "properties.permissions[0].dataActions[0]"},
		{name: "no assignable scope", body: customBody(t, func(p map[string]any) { p["assignableScopes"] = []any{} }), code: CodeInvalidAssignableScope},
		{name: "root assignable scope", body: customBody(t, func(p map[string]any) { p["assignableScopes"] = []any{"/"} }), code: CodeInvalidAssignableScope, target: "properties.assignableScopes[0]"},
		{name: "wildcard assignable scope", body: customBody(t, func(p map[string]any) { p["assignableScopes"] = []any{"/subscriptions/*"} }), code: CodeInvalidAssignableScope},
		{name: "two management groups", body: customBody(t, func(p map[string]any) {
			p["assignableScopes"] = []any{"/providers/Microsoft.Management/managementGroups/a", "/subscriptions/s", "/providers/Microsoft.Management/managementGroups/b"}
		}), code: CodeInvalidAssignableScope, target: "properties.assignableScopes[2]"},
		{name: "assignable scope not an id", body: customBody(t, func(p map[string]any) { p["assignableScopes"] = []any{"subscriptions/s"} }), code: CodeInvalidAssignableScope},
		{name: "provider-level assignable scope", body: customBody(t, func(p map[string]any) {
			p["assignableScopes"] = []any{"/providers/Microsoft.Authorization/policyDefinitions/x"}
		}), code: CodeInvalidAssignableScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = customPath
			}
			body := tt.body
			if body == nil {
				body = customBody(t, nil)
			}
			_, err := ParseRoleDefinition(path, body)
			if err == nil {
				t.Fatal("no error")
			}
			if posture.ErrorKind(err) != posture.EINVALID || posture.ErrorCode(err) != tt.code {
				t.Fatalf("got %v (kind %s), want code %s", err, posture.ErrorKind(err), tt.code)
			}
			var pe *posture.Error
			pe, _ = err.(*posture.Error)
			if tt.target != "" && pe.Target != tt.target {
				t.Errorf("target %q, want %q", pe.Target, tt.target)
			}
			if !strings.Contains(pe.Message, tt.contains) {
				t.Errorf("message %q lacks %q", pe.Message, tt.contains)
			}
		})
	}
}

func TestActionStrings(t *testing.T) {
	ok := []string{
		"*", "*/read", "Microsoft.Compute/*", "Microsoft.Compute/*/read", "Microsoft.Network/*/read",
		"Microsoft.Compute/virtualMachines/start/action", "microsoft.web/sites/restart/Action",
		"Microsoft.operationalInsights/workspaces/*/read", "NewRelic.APM/accounts/*", "Microsoft.Comp*/read",
		"Microsoft.KeyVault/vaults/secrets/getSecret/action",
	}
	bad := []string{
		"", "Microsoft.Compute", "Microsoft.Compute/", "/read", "Microsoft.Compute/virtualMachines",
		"Microsoft.Compute/*/*", "**", "Microsoft.Compute//read", "Compute/virtualMachines/read",
		"Microsoft.Compute/virtual Machines/read", "Microsoft.Compute/virtualMachines/read\n",
	}
	for _, a := range ok {
		if p := actionProblem(a, 1); p != "" {
			t.Errorf("%q rejected: %s", a, p)
		}
	}
	for _, a := range bad {
		if actionProblem(a, 1) == "" {
			t.Errorf("%q accepted", a)
		}
	}
	// Every shipped built-in role passes the same action rules.
	for _, r := range BuiltinRoles() {
		for _, p := range r.Properties.Permissions {
			for _, list := range [][]string{p.Actions, p.NotActions, p.DataActions, p.NotDataActions} {
				for _, a := range list {
					if why := actionProblem(a, 1); why != "" {
						t.Errorf("%s: %q: %s", r.Properties.RoleName, a, why)
					}
				}
			}
		}
	}
}
