package notify

import (
	"net/mail"
	"strings"
	"testing"
)

// FuzzParseAddressList reads securityContacts' "a@x;b@y" lists: every
// address it returns is one address, which reads back as itself, has no
// separator or line break (it goes into SMTP commands and headers), and
// the list written with ";" reads back the same.
func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{"secops@example.com;lead@example.com", " a@x.example , B <b@y.example>;", "", ";;", "not an address", `"a;b"@x.example`, "a@[127.0.0.1]", "=?utf-8?q?J=C3=B6rg?= <j@x.example>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := ParseAddressList(s)
		if err != nil {
			return
		}
		for _, a := range addrs {
			if strings.ContainsAny(a, ";,\r\n") {
				t.Fatalf("ParseAddressList(%q): address %q holds a separator or a line break", s, a)
			}
			back, err := mail.ParseAddress(a)
			if err != nil || back.Address != a {
				t.Fatalf("ParseAddressList(%q): address %q reads back as %v, %v", s, a, back, err)
			}
		}
		again, err := ParseAddressList(strings.Join(addrs, ";"))
		if err != nil || strings.Join(again, ";") != strings.Join(addrs, ";") {
			t.Fatalf("ParseAddressList(%q) = %q; written with ';' it reads %q, %v", s, addrs, again, err)
		}
	})
}
