package armdoc_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
)

// id, name and type in another case are read as ARM reads them and then
// written once, in ARM's spelling: a PUT body with "Id":"" was stored with
// both "id" and "Id" (found by FuzzFromPut).
func TestIdentityKeysInAnotherCase(t *testing.T) {
	check := func(what string, body []byte, keys ...string) {
		t.Helper()
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for k := range doc {
			if other, ok := seen[strings.ToLower(k)]; ok {
				t.Errorf("%s: %q and %q in %s", what, other, k, body)
			}
			seen[strings.ToLower(k)] = k
		}
		for _, k := range keys {
			if _, ok := doc[k]; !ok {
				t.Errorf("%s: no %q in %s", what, k, body)
			}
		}
	}
	rg := armid.MustParse("/subscriptions/s/resourceGroups/rg")
	for _, body := range []string{`{"Id":"","location":"westeurope"}`, `{"ID":"/subscriptions/s/resourceGroups/rg","NAME":"rg","Type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`} {
		r, err := armdoc.FromPut(rg, []byte(body))
		if err != nil {
			t.Fatalf("FromPut %s: %v", body, err)
		}
		check("FromPut "+body, r.Body, "id", "name", "type")
	}
	for body, keys := range map[string][]string{
		`{"ID":"/subscriptions/s/resourceGroups/rg","NAME":"rg","TYPE":"Microsoft.Resources/resourceGroups","location":"westeurope"}`: {"id", "name", "type"},
		`{"Id":"/subscriptions/s","Name":"S","Type":"Microsoft.Resources/subscriptions"}`:                                             {"id"}, // a subscription has no name or type
	} {
		r, err := armdoc.Normalize([]byte(body))
		if err != nil {
			t.Fatalf("Normalize %s: %v", body, err)
		}
		check("Normalize "+body, r.Body, keys...)
	}
	if _, err := armdoc.FromPut(rg, []byte(`{"Id":"/subscriptions/s/resourceGroups/other"}`)); err == nil {
		t.Error("FromPut takes an Id naming another resource")
	}
}
