package authz

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// FuzzParseRoleDefinition checks the reading of custom role bodies: an
// error is an EINVALID *posture.Error with a code; a role that parses
// validates, and its own document parses back to the same role.
func FuzzParseRoleDefinition(f *testing.F) {
	body := func(props string) []byte { return []byte(`{"properties":` + props + `}`) }
	f.Add(customPath, body(`{"roleName":"VM Operator","description":"d","permissions":[{"actions":["Microsoft.Compute/*/read","Microsoft.Compute/virtualMachines/start/action"],"notActions":[],"dataActions":["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"]}],"assignableScopes":["/subscriptions/sub1","/providers/Microsoft.Management/managementGroups/mg1"]}`))
	f.Add(customPath, body(`{"roleName":"r","type":"CustomRole","permissions":[{"actions":["*"],"notActions":["Microsoft.Authorization/*/Delete"]}],"assignableScopes":["/subscriptions/sub1/resourceGroups/rg"]}`))
	f.Add("/providers/Microsoft.Authorization/roleDefinitions/"+customGUID, []byte(`{"id":"/providers/Microsoft.Authorization/roleDefinitions/`+customGUID+`","name":"`+customGUID+`","type":"Microsoft.Authorization/roleDefinitions","properties":{"roleName":"x","permissions":[{"actions":["a.b/c/*/read"]}],"assignableScopes":["/"]}}`))
	f.Add(customPath, body(`{"roleName":"","permissions":[],"assignableScopes":[]}`))
	f.Add(customPath, []byte(`{"properties":null} {}`))
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		d, err := ParseRoleDefinition(path, body)
		if err != nil {
			var pe *posture.Error
			if !asPostureError(err, &pe) || pe.Kind != posture.EINVALID || pe.Code == "" {
				t.Fatalf("ParseRoleDefinition(%q): %v is not a coded EINVALID error", path, err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("a parsed role does not validate: %v", err)
		}
		doc, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseRoleDefinition(path, doc)
		if err != nil {
			t.Fatalf("the role's own document %s does not parse: %v", doc, err)
		}
		if diff := cmp.Diff(d, again); diff != "" {
			t.Fatalf("round trip through %s (-first +again):\n%s", doc, diff)
		}
	})
}

func asPostureError(err error, target **posture.Error) bool {
	pe, ok := err.(*posture.Error)
	if ok {
		*target = pe
	}
	return ok
}

// FuzzActionFor checks the action every API call is authorized as: for
// any method and path it returns an action or an error, never panics, and
// the action's verb is the method's.
func FuzzActionFor(f *testing.F) {
	for _, s := range []string{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
		"/subscriptions/s/providers/Microsoft.Authorization/policyExemptions", "/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e/preview",
		"/subscriptions/s/resourcegroups", "/providers/Microsoft.Management/managementGroups/mg/subscriptions/s", "/subscriptions/s/providers/Microsoft.Compute",
		"/providers/Microsoft.ResourceGraph/resources", "/subscriptions/s/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults",
		"/providers/Posture.Identity/principals/p/tokens/t", "/"} {
		for _, m := range []string{"GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"} {
			f.Add(m, s)
		}
	}
	f.Fuzz(func(t *testing.T, method, path string) {
		p, err := armid.ParsePath(path)
		if err != nil {
			return
		}
		action, err := ActionFor(method, p)
		if err != nil {
			return
		}
		want := map[string]string{"GET": "/read", "HEAD": "/read", "PUT": "/write", "PATCH": "/write", "DELETE": "/delete", "POST": "/"}[strings.ToUpper(method)]
		if want == "" || !strings.Contains(action, want) || strings.HasPrefix(action, "/") || strings.Contains(action, "//") {
			t.Fatalf("ActionFor(%q, %q) = %q", method, path, action)
		}
		if want != "/" && !strings.HasSuffix(strings.ToLower(action), want) {
			t.Fatalf("ActionFor(%q, %q) = %q, want a %s action", method, path, action, want)
		}
	})
}
