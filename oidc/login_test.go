package oidc_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/posture/posture"
	"github.com/posture/posture/oidc"
	"github.com/posture/posture/oidc/oidctest"
)

// portal is a stand-in for posture's portal: /login calls StartLogin with
// the returnTo query parameter, /auth/callback calls FinishLogin and answers
// with what it returned, as JSON.
type portal struct {
	URL string
	p   *oidc.Provider
	// errs receives FinishLogin's errors, for the causes that the response
	// does not show.
	errs chan error
}

type outcome struct {
	Identity *oidc.Identity
	ReturnTo string
	Code     string
	Message  string
}

func startPortal(t *testing.T, op *oidctest.OP, edit func(*oidc.Config)) *portal {
	t.Helper()
	pt := &portal{errs: make(chan error, 10)}
	mux := http.NewServeMux()
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	pt.URL = srv.URL
	op.AllowRedirect(srv.URL + "/auth/callback")
	pt.p = newProvider(t, op, func(c *oidc.Config) {
		c.RedirectURL = srv.URL + "/auth/callback"
		if edit != nil {
			edit(c)
		}
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := pt.p.StartLogin(w, r, r.URL.Query().Get("returnTo")); err != nil {
			http.Error(w, posture.ErrorCode(err), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/auth/callback", func(w http.ResponseWriter, r *http.Request) {
		var out outcome
		id, returnTo, err := pt.p.FinishLogin(w, r)
		if err != nil {
			pt.errs <- err
			var e *posture.Error
			errors.As(err, &e)
			out.Code, out.Message = e.Code, e.Message
			w.WriteHeader(http.StatusUnauthorized)
		}
		out.Identity, out.ReturnTo = id, returnTo
		json.NewEncoder(w).Encode(out)
	})
	return pt
}

func read(t *testing.T, resp *http.Response) outcome {
	t.Helper()
	defer resp.Body.Close()
	var out outcome
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s from %s: %v", resp.Status, resp.Request.URL.Redacted(), err)
	}
	return out
}

// record makes the browser note every URL it is redirected to.
func record(c *http.Client) *[]*url.URL {
	var seen []*url.URL
	c.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		seen = append(seen, r.URL)
		return nil
	}
	return &seen
}

func TestLogin(t *testing.T) {
	op := oidctest.Start(t)
	for _, tc := range []struct {
		name string
		edit func(*oidc.Config)
	}{
		{"confidential client", nil},
		{"public client, PKCE only", func(c *oidc.Config) { c.ClientID, c.ClientSecret = oidctest.PublicClientID, "" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := startPortal(t, op, tc.edit)
			browser := op.Browser()
			seen := record(browser)
			out := read(t, op.Login(t, browser, pt.URL+"/login?returnTo="+url.QueryEscape("/portal/scores?sub=1"), oidctest.Alice))
			if out.Code != "" {
				t.Fatalf("%s: %s (%v)", out.Code, out.Message, <-pt.errs)
			}
			want := &oidc.Identity{
				ObjectID: oidctest.Alice.ObjectID, Type: posture.PrincipalUser, DisplayName: "Alice Admin",
				Groups: []string{oidctest.AdminsGroup}, Issuer: op.Issuer, Subject: oidctest.Alice.ID,
				ExpiresAt: out.Identity.ExpiresAt,
			}
			if diff := cmp.Diff(want, out.Identity); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
			if out.ReturnTo != "/portal/scores?sub=1" {
				t.Errorf("returnTo %q", out.ReturnTo)
			}
			auth := (*seen)[0]
			q := auth.Query()
			if !strings.HasPrefix(auth.String(), op.Issuer+"/authorize?") || q.Get("code_challenge_method") != "S256" ||
				len(q.Get("code_challenge")) != 43 || q.Get("nonce") == "" || q.Get("state") == "" || q.Has("code_verifier") {
				t.Errorf("the first redirect is not an authorization request with PKCE S256: %s", auth)
			}
			if got := q.Get("scope"); got != "openid profile email" {
				t.Errorf("scope %q", got)
			}
			u, _ := url.Parse(pt.URL)
			if cookies := browser.Jar.Cookies(u); len(cookies) != 0 {
				t.Errorf("cookies left after the sign-in: %v", cookies)
			}
		})
	}
}

func TestStartLoginCookie(t *testing.T) {
	op := oidctest.Start(t)
	now := time.Now()
	p := newProvider(t, op, func(c *oidc.Config) { c.Now = func() time.Time { return now } })
	rec := httptest.NewRecorder()
	if err := p.StartLogin(rec, httptest.NewRequest("GET", "/login", nil), ""); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusFound || rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("status %d, Cache-Control %q", rec.Code, rec.Header().Get("Cache-Control"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	c := cookies[0]
	if c.Name != "__Host-posture-login" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
		c.Path != "/" || c.Domain != "" || c.MaxAge != 600 {
		t.Errorf("cookie attributes: %s", c)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	for _, secret := range []string{loc.Query().Get("state"), loc.Query().Get("nonce")} {
		if strings.Contains(c.Value, secret) {
			t.Error("the cookie shows the state or nonce in clear")
		}
	}

	// Over plain http (a loopback test setup) the cookie cannot be Secure,
	// and so cannot have the __Host- prefix.
	p = newProvider(t, op, func(c *oidc.Config) { c.RedirectURL = "http://127.0.0.1:8080/auth/callback" })
	rec = httptest.NewRecorder()
	if err := p.StartLogin(rec, httptest.NewRequest("GET", "/login", nil), "/"); err != nil {
		t.Fatal(err)
	}
	if c := rec.Result().Cookies()[0]; c.Name != "posture-login" || c.Secure {
		t.Errorf("cookie over http: %s", c)
	}
}

func TestStartLoginReturnTo(t *testing.T) {
	op := oidctest.Start(t)
	p := newProvider(t, op, nil)
	for _, returnTo := range []string{
		"//evil.example", "https://evil.example", "http://evil.example/", "//evil.example/path",
		"/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example",
		"evil.example", "javascript:alert(1)", "/portal\x00", "https:/evil.example",
		"/" + strings.Repeat("a", 1024),
		// Harmless to a browser, but code that decodes the path before
		// redirecting would get "//evil.example": refused too.
		"/%2F%2Fevil.example",
	} {
		rec := httptest.NewRecorder()
		err := p.StartLogin(rec, httptest.NewRequest("GET", "/login", nil), returnTo)
		if posture.ErrorKind(err) != posture.EINVALID || posture.ErrorCode(err) != oidc.CodeInvalidReturnTo {
			t.Errorf("returnTo %q: %v", returnTo, err)
		}
		if len(rec.Header()) != 0 || rec.Code != http.StatusOK {
			t.Errorf("returnTo %q: StartLogin wrote %d %v", returnTo, rec.Code, rec.Header())
		}
	}
	for _, returnTo := range []string{"", "/", "/portal?x=1&y=%2F%2Fa#top", "/a//b"} {
		if err := p.StartLogin(httptest.NewRecorder(), httptest.NewRequest("GET", "/login", nil), returnTo); err != nil {
			t.Errorf("returnTo %q: %v", returnTo, err)
		}
	}
}

func TestLoginWithoutConfig(t *testing.T) {
	op := oidctest.Start(t)
	p, err := oidc.New(t.Context(), oidc.Config{Issuer: op.Issuer, Audience: []string{oidctest.Audience}, HTTPClient: op.HTTPClient()})
	if err != nil {
		t.Fatal(err)
	}
	err = p.StartLogin(httptest.NewRecorder(), httptest.NewRequest("GET", "/login", nil), "/")
	if posture.ErrorKind(err) != posture.EINTERNAL {
		t.Errorf("StartLogin without sign-in config: %v", err)
	}
	_, _, err = p.FinishLogin(httptest.NewRecorder(), httptest.NewRequest("GET", "/auth/callback", nil))
	if posture.ErrorKind(err) != posture.EINTERNAL {
		t.Errorf("FinishLogin without sign-in config: %v", err)
	}
}
