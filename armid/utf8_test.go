package armid_test

import (
	"testing"

	"github.com/posture/posture/armid"
)

// An id is UTF-8: JSON documents cannot hold other bytes, so a name with
// them was stored under one id and shown as another, with U+FFFD (found by
// the request fuzzer: PUT …/storageAccounts/a%FFb answered 201 with
// "a\ufffdb").
func TestIDIsUTF8(t *testing.T) {
	for _, s := range []string{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a\xffb", "/subscriptions/\xc0\xaf", "/providers/Microsoft.Management/managementGroups/\xed\xa0\x80"} {
		if _, err := armid.Parse(s); err == nil {
			t.Errorf("Parse(%q) accepts bytes that are not UTF-8", s)
		}
		if _, err := armid.ParsePath(s); err == nil {
			t.Errorf("ParsePath(%q) accepts bytes that are not UTF-8", s)
		}
	}
	if _, err := armid.Parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/ünï😀"); err != nil {
		t.Errorf("UTF-8 names: %v", err)
	}
}
