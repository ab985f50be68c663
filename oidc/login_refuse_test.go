package oidc_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/posture/posture/oidc"
	"github.com/posture/posture/oidc/oidctest"
)

// halfway is a sign-in stopped where the OP redirects the browser back to
// the portal's callback: the browser holds the login cookie.
type halfway struct {
	browser  *http.Client
	callback *url.URL // with code and state
	portal   *url.URL
}

func signInHalfway(t *testing.T, op *oidctest.OP, pt *portal) *halfway {
	t.Helper()
	h := &halfway{browser: op.Browser()}
	h.portal, _ = url.Parse(pt.URL)
	h.browser.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == h.portal.Host && r.URL.Path == "/auth/callback" {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp := op.Login(t, h.browser, pt.URL+"/login", oidctest.Alice)
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("the OP answered %s, not a redirect with a code", resp.Status)
	}
	h.callback = loc
	return h
}

func (h *halfway) cookie(t *testing.T) string {
	t.Helper()
	for _, c := range h.browser.Jar.Cookies(h.portal) {
		if c.Name == "__Host-posture-login" {
			return c.Value
		}
	}
	t.Fatal("no login cookie in the browser")
	return ""
}

func (h *halfway) setCookie(value string) {
	h.browser.Jar.SetCookies(h.portal, []*http.Cookie{{Name: "__Host-posture-login", Value: value, Path: "/", Secure: true}})
}

// finish opens the callback with query edited by edit.
func (h *halfway) finish(t *testing.T, edit func(url.Values)) outcome {
	t.Helper()
	u := *h.callback
	q := u.Query()
	if edit != nil {
		edit(q)
	}
	u.RawQuery = q.Encode()
	resp, err := h.browser.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	return read(t, resp)
}

// refused checks a LoginFailed outcome whose message contains want and
// which shows none of secrets, and returns FinishLogin's error.
func refused(t *testing.T, pt *portal, out outcome, want string, secrets ...string) error {
	t.Helper()
	if out.Code != oidc.CodeLoginFailed || !strings.Contains(out.Message, want) {
		t.Fatalf("outcome %s %q, want %s with %q", out.Code, out.Message, oidc.CodeLoginFailed, want)
	}
	err := <-pt.errs
	for _, s := range secrets {
		if s != "" && (strings.Contains(out.Message, s) || strings.Contains(err.Error(), s)) {
			t.Errorf("the refusal %q shows a secret", err)
		}
	}
	wantRefusal(t, err, oidc.CodeLoginFailed)
	return err
}

func TestFinishLoginReplay(t *testing.T) {
	op := oidctest.Start(t)
	pt := startPortal(t, op, nil)
	h := signInHalfway(t, op, pt)
	cookie, code := h.cookie(t), h.callback.Query().Get("code")
	if out := h.finish(t, nil); out.Code != "" || out.Identity == nil {
		t.Fatalf("first callback: %s %q", out.Code, out.Message)
	}
	// The cookie is gone: the same callback again has no session.
	refused(t, pt, h.finish(t, nil), "no session", code, cookie)
	// Even with the cookie put back, the OP redeems a code once.
	h.setCookie(cookie)
	err := refused(t, pt, h.finish(t, nil), "did not redeem", code, cookie)
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("cause %v, want the OP's invalid_grant", err)
	}
}

func TestFinishLoginState(t *testing.T) {
	op := oidctest.Start(t)
	pt := startPortal(t, op, nil)
	h := signInHalfway(t, op, pt)
	refused(t, pt, h.finish(t, func(q url.Values) { q.Set("state", "forged") }), "does not match", h.callback.Query().Get("code"))

	h = signInHalfway(t, op, pt)
	refused(t, pt, h.finish(t, func(q url.Values) { q.Del("state") }), "does not match")

	// A login cookie from another browser's sign-in does not fit.
	h, other := signInHalfway(t, op, pt), signInHalfway(t, op, pt)
	h.setCookie(other.cookie(t))
	refused(t, pt, h.finish(t, nil), "does not match")
}

// TestFinishLoginPKCE shows that the verifier in the cookie is what
// redeems the code: with another one, sealed with the right key and with
// the right state, the OP refuses.
func TestFinishLoginPKCE(t *testing.T) {
	op := oidctest.Start(t)
	pt := startPortal(t, op, nil)
	h := signInHalfway(t, op, pt)
	forged := oauth2.GenerateVerifier()
	v, err := oidc.EditLoginCookie(pt.p, h.cookie(t), func(verifier, _ *string) { *verifier = forged })
	if err != nil {
		t.Fatal(err)
	}
	h.setCookie(v)
	err = refused(t, pt, h.finish(t, nil), "did not redeem", forged, v, h.callback.Query().Get("code"))
	if !strings.Contains(err.Error(), "invalid_grant") {
		t.Errorf("cause %v, want the OP's invalid_grant", err)
	}
}

func TestFinishLoginNonce(t *testing.T) {
	op := oidctest.Start(t)
	pt := startPortal(t, op, nil)
	h := signInHalfway(t, op, pt)
	v, err := oidc.EditLoginCookie(pt.p, h.cookie(t), func(_, nonce *string) { *nonce = "another-sign-in" })
	if err != nil {
		t.Fatal(err)
	}
	h.setCookie(v)
	refused(t, pt, h.finish(t, nil), "does not belong to this sign-in")
}

func TestFinishLoginCookie(t *testing.T) {
	op := oidctest.Start(t)
	var offset atomic.Int64
	pt := startPortal(t, op, func(c *oidc.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	})

	h := signInHalfway(t, op, pt)
	h.browser.Jar, _ = newJar()
	refused(t, pt, h.finish(t, nil), "no session")

	h = signInHalfway(t, op, pt)
	c := []byte(h.cookie(t))
	if i := len(c) / 2; c[i] != 'A' { // another base64url letter
		c[i] = 'A'
	} else {
		c[i] = 'B'
	}
	h.setCookie(string(c))
	refused(t, pt, h.finish(t, nil), "invalid or expired", string(c))

	h = signInHalfway(t, op, pt)
	h.setCookie("not-base64!")
	refused(t, pt, h.finish(t, nil), "invalid or expired")

	// Ten minutes from StartLogin to FinishLogin, whatever the browser keeps.
	h = signInHalfway(t, op, pt)
	offset.Store(int64(11 * time.Minute))
	refused(t, pt, h.finish(t, nil), "invalid or expired")
}

func TestFinishLoginProviderError(t *testing.T) {
	op := oidctest.Start(t)
	pt := startPortal(t, op, nil)
	h := signInHalfway(t, op, pt)
	refused(t, pt, h.finish(t, func(q url.Values) {
		q.Del("code")
		q.Set("error", "access_denied")
		q.Set("error_description", "The user said no <script>")
	}), "refused the sign-in (access_denied).")

	h = signInHalfway(t, op, pt)
	out := h.finish(t, func(q url.Values) { q.Del("code"); q.Set("error", "<b>x</b>") })
	refused(t, pt, out, "refused the sign-in.")
	if strings.Contains(out.Message, "<b>") {
		t.Errorf("message %q echoes the error parameter", out.Message)
	}

	h = signInHalfway(t, op, pt)
	refused(t, pt, h.finish(t, func(q url.Values) { q.Del("code") }), "no authorization code")
}
