package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

// browserResolve resolves a Location header as a browser does (WHATWG URL:
// tabs and newlines dropped, '\' read as '/') against the page's URL.
func browserResolve(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(loc)
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(u), nil
}

// FuzzSafeReturn checks the sign-in's return address: whatever returnTo
// says, the redirect it becomes stays on this site (found by this target:
// "/\t/evil.example" passed and browsers read it as "//evil.example").
func FuzzSafeReturn(f *testing.F) {
	for _, s := range []string{"/", "/exemptions?x=1", "//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example", "/\r\n/x", "javascript:alert(1)", "/%2F/evil.example", "/./ /x", "/..//evil.example"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://posture.example/signin")
	f.Fuzz(func(t *testing.T, s string) {
		got := safeReturn(s)
		if got != "/" && got != s {
			t.Fatalf("safeReturn(%q) = %q", s, got)
		}
		// The redirect the sign-in sends, as the browser follows it.
		w := httptest.NewRecorder()
		http.Redirect(w, httptest.NewRequest(http.MethodPost, "https://posture.example/signin", nil), got, http.StatusSeeOther)
		loc := w.Header().Get("Location")
		u, err := browserResolve(base, loc)
		if err != nil {
			return // the browser does not follow it
		}
		if u.Scheme != "https" || u.Host != "posture.example" {
			t.Fatalf("returnTo %q redirects to %q, which a browser opens as %q", s, loc, u)
		}
	})
}

// FuzzIDParams checks the portal's id parameters: an id of the wrong kind
// is a coded not-found; an accepted one is the canonical id of its type.
func FuzzIDParams(f *testing.F) {
	for _, s := range []string{"/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/x", " /subscriptions/s/resourcegroups/rg/providers/microsoft.security/exemptionRequests/r ", "/subscriptions/s", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			parse func(string) (string, error)
			typ   string
		}{{exemptionIDParam, exemptionTypeName}, {requestIDParam, requestTypeName}} {
			id, err := c.parse(s)
			if err != nil {
				if pe, ok := err.(*posture.Error); !ok || pe.Kind != posture.ENOTFOUND || pe.Code == "" {
					t.Fatalf("%q: %v", s, err)
				}
				continue
			}
			x, err := armid.Parse(id)
			if err != nil || x.String() != id || !strings.EqualFold(x.Type(), c.typ) {
				t.Fatalf("%q → %q (%v)", s, id, err)
			}
			if again, err := c.parse(id); err != nil || again != id {
				t.Fatalf("%q → %q → %q, %v", s, id, again, err)
			}
		}
	})
}
