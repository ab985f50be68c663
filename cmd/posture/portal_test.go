package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is a signed-in portal user: a cookie jar, no redirects followed
// by itself unless asked, and the session's form token.
type browser struct {
	t    testing.TB
	base string
	c    *http.Client
	csrf string
}

// signIn signs in to the portal with an API token through the sign-in
// form, as a user would.
func signIn(t testing.TB, s *server, token string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, base: s.url, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	code, hdr, body := b.post("/signin", url.Values{"token": {token}, "returnTo": {"/"}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		t.Fatalf("sign-in: %d %s %s", code, hdr.Get("Location"), body)
	}
	code, _, page := b.get("/")
	if code != http.StatusOK {
		t.Fatalf("overview after sign-in: %d %s", code, page)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token on the overview:\n%s", page)
	}
	b.csrf = m[1]
	return b
}

// get fetches a page.
func (b *browser) get(path string) (int, http.Header, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// post submits a form, with the session's form token unless the values
// carry one (or are for the sign-in).
func (b *browser) post(path string, v url.Values) (int, http.Header, string) {
	b.t.Helper()
	v = cloneValues(v) // the caller's values are not changed
	if b.csrf != "" && !v.Has("csrf") {
		v.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.base)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// page fetches a page that must answer 200.
func (b *browser) page(path string) string {
	b.t.Helper()
	code, _, body := b.get(path)
	if code != http.StatusOK {
		b.t.Fatalf("GET %s: %d\n%s", path, code, body)
	}
	return body
}

func TestPortalSignIn(t *testing.T) {
	s := startServer(t, "--demo")
	// Without a session, pages go to the sign-in and come back.
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Get(s.url + "/recommendations?severity=High")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/signin?returnTo=%2Frecommendations%3Fseverity%3DHigh" {
		t.Fatalf("anonymous page: %d %q", resp.StatusCode, loc)
	}
	b := signIn(t, s, s.token)
	page := b.page("/")
	for _, want := range []string{"Contoso Production", "Security controls", "Secure score", `<meter`} {
		if !strings.Contains(page, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// A wrong token is refused with the API's message; an off-site return
	// address is not followed.
	anon := &browser{t: t, base: s.url, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if code, _, body := anon.post("/signin", url.Values{"token": {"pst_wrong"}}); code != http.StatusUnauthorized || !strings.Contains(body, "AuthenticationFailed") {
		t.Errorf("wrong token: %d %s", code, body)
	}
	jar, _ := cookiejar.New(nil)
	off := &browser{t: t, base: s.url, c: &http.Client{Jar: jar, CheckRedirect: anon.c.CheckRedirect}}
	if code, hdr, _ := off.post("/signin", url.Values{"token": {s.token}, "returnTo": {"//evil.example/x"}}); code != http.StatusSeeOther || hdr.Get("Location") != "/" {
		t.Errorf("off-site returnTo: %d %q", code, hdr.Get("Location"))
	}
	// A form without the session's token, or from another site, is refused.
	if code, _, body := b.post("/signout", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden || !strings.Contains(body, "InvalidFormToken") {
		t.Errorf("forged form token: %d %s", code, body)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/signout", strings.NewReader(url.Values{"csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := b.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %v %v", resp.StatusCode, err)
	}
	// Sign-out revokes the session: the old cookie no longer works, even
	// sent by hand.
	u, _ := url.Parse(s.url)
	old := b.c.Jar.Cookies(u)
	if code, hdr, _ := b.post("/signout", url.Values{}); code != http.StatusSeeOther || hdr.Get("Location") != "/signin" {
		t.Fatalf("sign-out: %d %q", code, hdr.Get("Location"))
	}
	if len(old) != 1 || old[0].Name != "posture_session" {
		t.Fatalf("session cookies: %v", old)
	}
	req, _ = http.NewRequest(http.MethodGet, s.url+"/", nil)
	req.AddCookie(old[0])
	if resp, err := anon.c.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/signin") {
		t.Errorf("revoked session still works: %v %v", resp.StatusCode, err)
	}
	if strings.Contains(s.err.String(), s.token) {
		t.Error("the token reached the logs")
	}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
