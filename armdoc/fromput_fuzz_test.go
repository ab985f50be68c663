package armdoc_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
)

// FuzzFromPut checks the reading of every PUT body of the estate: an error
// is an EINVALID *posture.Error with a code; a body it takes is stored as
// valid JSON under the path's key, names the path's id, and reads again to
// the same document.
func FuzzFromPut(f *testing.F) {
	// The REST examples: a body, and the id of a resource of its type.
	files, _ := filepath.Glob("../demo/examples/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		ns, typ, _ := strings.Cut(strings.TrimSuffix(filepath.Base(file), ".json"), "_")
		f.Add("/subscriptions/s/resourceGroups/rg/providers/"+ns+"/"+typ+"/x", b)
	}
	f.Add("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa", []byte(`{"location":"West Europe","tags":{"a":"b"},"properties":{}}`))
	f.Add("/subscriptions/s", []byte(`{"displayName":"S","managementGroupId":"mg1"}`))
	f.Add("/subscriptions/s/resourceGroups/rg", []byte(`{"id":"/subscriptions/S/resourcegroups/RG","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`))
	f.Add("/providers/Microsoft.Management/managementGroups/mg", []byte(`{"properties":{"details":{"parent":{"id":"/providers/Microsoft.Management/managementGroups/root"}}}}`))
	f.Fuzz(func(t *testing.T, idText string, body []byte) {
		id, err := armid.Parse(idText)
		if err != nil {
			return
		}
		r, err := armdoc.FromPut(id, body)
		if err != nil {
			var pe *posture.Error
			if posture.ErrorKind(err) != posture.EINVALID || !asError(err, &pe) || pe.Code == "" {
				t.Fatalf("FromPut(%q): %v is not a coded EINVALID error", idText, err)
			}
			return
		}
		if r.Key != id.Key() || !json.Valid(r.Body) {
			t.Fatalf("FromPut(%q): key %q, body %s", idText, r.Key, r.Body)
		}
		var doc struct{ ID string }
		if err := json.Unmarshal(r.Body, &doc); err != nil || doc.ID != id.String() {
			t.Fatalf("FromPut(%q): the document names %q (%v)", idText, doc.ID, err)
		}
		// (Not the parent: a subscription's managementGroupId places it
		// and is not kept in its document, as ARM's has none.)
		again, err := armdoc.FromPut(id, r.Body)
		if err != nil || string(again.Body) != string(r.Body) || again.Key != r.Key {
			t.Fatalf("FromPut(%q) of its own document: %v\n%s\n%s", idText, err, r.Body, again.Body)
		}
	})
}

func asError(err error, target **posture.Error) bool {
	pe, ok := err.(*posture.Error)
	if ok {
		*target = pe
	}
	return ok
}
