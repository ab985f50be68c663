package identity_test

import (
	"encoding/json"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/identity"
)

func codedInvalid(err error) bool {
	pe, ok := err.(*posture.Error)
	return ok && pe.Kind == posture.EINVALID && pe.Code != ""
}

// FuzzParseRoleAssignment checks the reading of role assignment bodies: an
// error is a coded EINVALID *posture.Error; an assignment that parses has
// the path's id and scope, and its own document parses back to it.
func FuzzParseRoleAssignment(f *testing.F) {
	id := "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Authorization/roleAssignments/4f5c7a1e-1111-4c5e-9d3b-2b1f0e6a7c9d"
	f.Add(id, []byte(`{"properties":{"roleDefinitionId":"/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7","principalId":"p1"}}`))
	f.Add(id, []byte(`{"properties":{"roleDefinitionId":"/subscriptions/s1/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7","principalId":"p1","principalType":"Group","scope":"/subscriptions/s1/resourcegroups/RG","description":"d"}}`))
	f.Add("/providers/Microsoft.Authorization/roleAssignments/4f5c7a1e-1111-4c5e-9d3b-2b1f0e6a7c9d", []byte(`{"properties":{"roleDefinitionId":"x","principalId":"","condition":"@Resource[x] == 'y'","conditionVersion":"2.0"}}`))
	f.Add(id, []byte(`{"properties":null}`))
	f.Fuzz(func(t *testing.T, idText string, body []byte) {
		rid, err := armid.Parse(idText)
		if err != nil {
			return
		}
		ra, err := identity.ParseRoleAssignment(rid, body)
		if err != nil {
			if !codedInvalid(err) {
				t.Fatalf("ParseRoleAssignment(%q): %v is not a coded EINVALID error", idText, err)
			}
			return
		}
		if ra.ID != rid.String() || ra.Scope != rid.Scope().String() {
			t.Fatalf("ParseRoleAssignment(%q): id %q scope %q", idText, ra.ID, ra.Scope)
		}
		doc := identity.AssignmentDocument(&ra)
		again, err := identity.ParseRoleAssignment(rid, doc)
		if err != nil || again != ra {
			t.Fatalf("the assignment's own document %s reads back as %+v, %v; want %+v", doc, again, err, ra)
		}
	})
}

// FuzzParsePrincipal checks the reading of principal bodies likewise.
func FuzzParsePrincipal(f *testing.F) {
	f.Add("alice@example.com", []byte(`{"properties":{"principalType":"User","displayName":"Alice"}}`))
	f.Add("admins", []byte(`{"properties":{"principalType":"Group","displayName":" Admins ","members":["alice@example.com","ci"]}}`))
	f.Add("ci", []byte(`{"properties":{"principalType":"ServicePrincipal","displayName":"CI","members":[]}}`))
	f.Add("a b", []byte(`{}`))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		w, err := identity.ParsePrincipal(id, body)
		if err != nil {
			if !codedInvalid(err) {
				t.Fatalf("ParsePrincipal(%q): %v is not a coded EINVALID error", id, err)
			}
			return
		}
		if w.ID != id || !identity.ValidPrincipalID(id) {
			t.Fatalf("ParsePrincipal(%q) = %+v", id, w)
		}
		var members []string
		if w.Members != nil {
			members = *w.Members
		}
		doc := identity.PrincipalDocument(&posture.Principal{ID: w.ID, Type: w.Type, DisplayName: w.DisplayName}, members)
		again, err := identity.ParsePrincipal(id, doc)
		if err != nil || again.Type != w.Type || again.DisplayName != w.DisplayName {
			t.Fatalf("the principal's own document %s reads back as %+v, %v; want %+v", doc, again, err, w)
		}
		// A group's document lists its members ([] for none); others
		// have none.
		if w.Type == posture.PrincipalGroup {
			a, _ := json.Marshal(append([]string{}, members...))
			b, _ := json.Marshal(again.Members)
			if string(a) != string(b) {
				t.Fatalf("members %s read back as %s", a, b)
			}
		} else if again.Members != nil {
			t.Fatalf("a %s has members %v", w.Type, *again.Members)
		}
	})
}
