package ledger_test

import (
	"testing"

	"github.com/posture/posture/ledger"
)

// FuzzParseKey reads key files and configured public keys: a key that
// parses writes out to a text that parses to it again; a public key has
// the size of one.
func FuzzParseKey(f *testing.F) {
	f.Add("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add(" 3q2+7w== \n")
	f.Add("not base64")
	f.Fuzz(func(t *testing.T, s string) {
		if key, err := ledger.ParseKey(s); err == nil {
			again, err := ledger.ParseKey(ledger.EncodeKey(key))
			if err != nil || !key.Equal(again) {
				t.Fatalf("ParseKey(%q) does not read back: %v", s, err)
			}
		}
		if pub, err := ledger.ParsePublicKey(s); err == nil && len(pub) != 32 {
			t.Fatalf("ParsePublicKey(%q) is %d bytes", s, len(pub))
		}
	})
}
