package oidc

// CookieName is the login cookie's name, for tests that handle it.
var CookieName = (*Provider).cookieName

// EditLoginCookie opens a login cookie value with p's key, lets edit change
// the PKCE verifier and nonce, and seals it again: what a forger who knew
// CookieKey could do, and so a way to show that the identity provider and
// FinishLogin check what the cookie carries.
func EditLoginCookie(p *Provider, value string, edit func(verifier, nonce *string)) (string, error) {
	s, err := p.unseal(value, p.cfg.Now())
	if err != nil {
		return "", err
	}
	edit(&s.Verifier, &s.Nonce)
	return p.seal(s)
}
