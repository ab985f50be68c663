package armid_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/posture/posture/armid"
)

// FuzzParsePath checks ParsePath, which reads every request path: an error
// is a *SyntaxError; a path without a tail addresses exactly the id Parse
// reads; a collection's item is of the collection's item type, and its id
// reads back as a path addressing it.
func FuzzParsePath(f *testing.F) {
	for _, s := range corpus {
		f.Add(s)
		f.Add(s + "/providers/Microsoft.Authorization/policyExemptions")
		f.Add(s + "/preview")
	}
	for _, s := range []string{"/", "//subscriptions//s/", "/subscriptions/s/resourcegroups", "/providers/Microsoft.Management/managementGroups",
		"/subscriptions/s/providers/Microsoft.Compute", "/providers", "/subscriptions/s/providers/a/b/c/d", "/x/y/z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := armid.ParsePath(s)
		id, idErr := armid.Parse(s)
		if err != nil {
			var se *armid.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("ParsePath(%q): error of type %T: %v", s, err, err)
			}
			if idErr == nil {
				t.Fatalf("Parse(%q) = %q but ParsePath fails: %v", s, id, err)
			}
			return
		}
		if again, err := armid.Parse(p.ID.String()); err != nil || again.String() != p.ID.String() {
			t.Fatalf("ParsePath(%q).ID %q does not read back: %q %v", s, p.ID, again, err)
		}
		if !p.IsCollection() {
			if idErr != nil || id.String() != p.ID.String() {
				t.Fatalf("ParsePath(%q) addresses %q, Parse gives %q %v", s, p.ID, id, idErr)
			}
			return
		}
		if idErr == nil {
			t.Fatalf("%q parses as the id %q and as the collection %+v", s, id, p)
		}
		item, ok := p.Item("x1")
		if !ok {
			return
		}
		if !strings.EqualFold(item.Type(), p.ItemType()) || item.Name() != "x1" {
			t.Fatalf("ParsePath(%q): item %q of type %q, ItemType %q", s, item, item.Type(), p.ItemType())
		}
		ip, err := armid.ParsePath(item.String())
		if err != nil || ip.IsCollection() || ip.ID.String() != item.String() {
			t.Fatalf("item %q of %q reads back as %+v %v", item, s, ip, err)
		}
	})
}
