package oidctest

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

var loginForm = template.Must(template.New("login").Parse(`<!doctype html>
<title>Sign in</title>
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.}}">
<label>User name <input name="username"></label>
<label>Password <input name="password" type="password"></label>
<button>Sign in</button>
</form>
`))

// loginPage is the OP's login UI: GET shows the form, POST checks the
// password, marks the auth request done and sends the browser on to the
// OP's callback, which redirects to the client with a code.
func (s *storage) loginPage(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		loginForm.Execute(w, r.URL.Query().Get("authRequestID"))
	case http.MethodPost:
		id := r.PostFormValue("id")
		if err := s.signIn(id, r.PostFormValue("username"), r.PostFormValue("password")); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/authorize/callback?id="+url.QueryEscape(id), http.StatusFound)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *storage) signIn(id, username, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return errors.New("unknown auth request")
	}
	for _, u := range s.users {
		if u.Username == username && u.Password == password {
			a.userID, a.done, a.authTime = u.ID, true, time.Now()
			return nil
		}
	}
	return errors.New("wrong user name or password")
}

// Login signs u in through a sign-in that starts at startURL, posture's
// page that calls StartLogin: it follows the redirects to the OP's login
// form, posts u's name and password, and follows the redirects back to
// posture's callback and beyond. client must keep cookies and follow
// redirects (Browser does). It returns the last response; close its body.
func (o *OP) Login(t testing.TB, client *http.Client, startURL string, u User) *http.Response {
	t.Helper()
	id := o.openLoginForm(t, client, startURL)
	resp, err := client.PostForm(o.Issuer+"/login", url.Values{"id": {id}, "username": {u.Username}, "password": {u.Password}})
	if err != nil {
		t.Fatalf("oidctest: posting the login form: %v", err)
	}
	return resp
}

// openLoginForm follows startURL to the login form and returns the id of
// the auth request it is for.
func (o *OP) openLoginForm(t testing.TB, client *http.Client, startURL string) string {
	t.Helper()
	resp, err := client.Get(startURL)
	if err != nil {
		t.Fatalf("oidctest: following %s to the login form: %v", startURL, err)
	}
	resp.Body.Close()
	at := resp.Request.URL
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(at.String(), o.Issuer+"/login?") {
		t.Fatalf("oidctest: %s led to %s (%s), not to the OP's login form", startURL, at.Redacted(), resp.Status)
	}
	return at.Query().Get("authRequestID")
}

// UserToken signs u in with the authorization-code grant and PKCE, as a
// command-line client would, and returns the JWT access token: for
// Audience, with u's oid, name and groups.
func (o *OP) UserToken(t testing.TB, u User) string {
	t.Helper()
	conf := oauth2.Config{
		ClientID:    cliClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: o.Issuer + "/authorize", TokenURL: o.Issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: cliRedirect,
		Scopes:      []string{"openid", "profile", "email"},
	}
	verifier := oauth2.GenerateVerifier()
	client := o.Browser()
	// The redirect URI is not served: stop at it and read the code.
	client.CheckRedirect = func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), cliRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	id := o.openLoginForm(t, client, conf.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier)))
	resp, err := client.PostForm(o.Issuer+"/login", url.Values{"id": {id}, "username": {u.Username}, "password": {u.Password}})
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("oidctest: signing in %s gave %s, not a code", u.Username, resp.Status)
	}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, o.HTTPClient())
	tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("oidctest: redeeming the code: %v", err)
	}
	return tok.AccessToken
}

// ClientCredentialsToken returns a JWT access token for the service
// principal, from the client-credentials grant.
func (o *OP) ClientCredentialsToken(t testing.TB) string {
	t.Helper()
	conf := clientcredentials.Config{ClientID: ServiceClientID, ClientSecret: ServiceClientSecret, TokenURL: o.Issuer + "/oauth/token"}
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, o.HTTPClient())
	tok, err := conf.Token(ctx)
	if err != nil {
		t.Fatalf("oidctest: client credentials: %v", err)
	}
	return tok.AccessToken
}
