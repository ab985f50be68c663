package requests_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/requests"
)

// FuzzParse checks the reading of exemption request bodies: an error is a
// coded EINVALID *posture.Error; a request that parses is stored as a
// document that reads back to the same request.
func FuzzParse(f *testing.F) {
	id := "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Security/exemptionRequests/req-1"
	f.Add(id, []byte(`{"properties":{"assessmentKey":"3b363842-30f5-4056-980d-3a40fa5de8b3","resourceIds":["/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"],"exemptionCategory":"Waiver","justification":"vendor appliance","expiresOn":"2030-01-01T00:00:00+02:00","ticketRef":"CHG-1"}}`))
	f.Add(id, []byte(`{"properties":{"policyAssignmentId":"/subscriptions/s1/providers/Microsoft.Authorization/policyAssignments/a","policyDefinitionReferenceIds":["r1"],"exemptionCategory":"mitigated","justification":" waf ","renewalOf":"/subscriptions/s1/providers/Microsoft.Authorization/policyExemptions/x"}}`))
	f.Add(id, []byte(`{"properties":{"assessmentKey":"k","exemptionCategory":"Waiver","justification":"j","expiresOn":null,"resourceIds":["/subscriptions/s1/resourceGroups/RG","/subscriptions/s1/resourcegroups/rg","/subscriptions/s2"]}}`))
	f.Add(id, []byte(`{"properties":{"unknown":1}}`))
	f.Fuzz(func(t *testing.T, idText string, body []byte) {
		rid, err := armid.Parse(idText)
		if err != nil {
			return
		}
		r, err := requests.Parse(rid, body)
		if err != nil {
			if pe, ok := err.(*posture.Error); !ok || pe.Kind != posture.EINVALID || pe.Code == "" {
				t.Fatalf("Parse(%q): %v is not a coded EINVALID error", idText, err)
			}
			return
		}
		doc := requests.Document(rid, r)
		again, err := requests.FromDocument(doc)
		if err != nil {
			t.Fatalf("the request's document %s does not read back: %v", doc, err)
		}
		a, _ := json.Marshal(r)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("round trip through its document:\n%s\n%s", a, b)
		}
	})
}

// FuzzLinkVerify checks the one-click links of notices: no token the
// fuzzer makes up verifies, and a token this server made verifies with
// its claims, or, changed anywhere, verifies to the very same claims (as
// when only unused base64 bits change) or not at all.
func FuzzLinkVerify(f *testing.F) {
	l := &requests.Linker{Key: bytes.Repeat([]byte{7}, 32), BaseURL: "https://posture.example", TTL: time.Hour}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Add("eyJhIjoiYXBwcm92ZSJ9.AAAA", "approve", "/subscriptions/s/providers/Microsoft.Security/exemptionRequests/r", uint16(3), byte(1))
	f.Add("", "renew", "/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/x", uint16(40), byte(0x80))
	f.Add(".", "reject", "", uint16(0), byte(0))
	f.Fuzz(func(t *testing.T, token, action, target string, at uint16, flip byte) {
		if c, err := l.Verify(token, now); err == nil {
			t.Fatalf("a made-up token verifies: %q → %+v", token, c)
		} else if pe, ok := err.(*posture.Error); !ok || pe.Kind != posture.EFORBIDDEN || (pe.Code != "InvalidLink" && pe.Code != "LinkExpired") {
			t.Fatalf("Verify(%q): %v", token, err)
		}
		link := l.Make(action, target, now)
		if link == "" {
			// Too long to verify: Make makes no link. Any real id fits.
			if esc, _ := json.Marshal([]string{action, target}); len(esc) <= 1000 {
				t.Fatalf("no link for (%q, %q)", action, target)
			}
			return
		}
		_, tok, _ := bytes.Cut([]byte(link), []byte("?token="))
		made, err := url.QueryUnescape(string(tok))
		if err != nil {
			t.Fatal(err)
		}
		c, err := l.Verify(made, now)
		if !utf8.ValidString(target) {
			return // targets are ids, which are UTF-8 (armid)
		}
		valid := (action == requests.LinkApprove || action == requests.LinkReject || action == requests.LinkRenew) && target != ""
		if valid != (err == nil) {
			t.Fatalf("Verify of a made link (%q, %q): %v", action, target, err)
		}
		if err != nil {
			return
		}
		if c.Action != action || c.Target != target {
			t.Fatalf("claims %+v for (%q, %q)", c, action, target)
		}
		if _, err := l.Verify(made, now.Add(time.Hour)); posture.ErrorCode(err) != "LinkExpired" {
			t.Fatalf("an hour later: %v", err)
		}
		if flip == 0 {
			return
		}
		b := []byte(made)
		b[int(at)%len(b)] ^= flip
		if c2, err := l.Verify(string(b), now); err == nil && *c2 != *c {
			t.Fatalf("a changed token %q verifies to other claims %+v (was %+v)", b, c2, c)
		}
	})
}
