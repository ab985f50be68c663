// Package oidc signs people and programs in to posture with OpenID Connect.
//
// It does two things against one configured issuer (Microsoft Entra ID,
// Keycloak, ZITADEL, ...):
//
//   - Verify checks a bearer JWT sent to the API: signature by a key from the
//     issuer's JWKS, an asymmetric algorithm, the exact issuer, one of the
//     accepted audiences and the token's lifetime with a clock skew. It maps
//     the claims to an Identity (user or service principal, groups).
//   - StartLogin and FinishLogin run the portal's sign-in with the
//     authorization-code flow and PKCE (S256). The state, nonce, PKCE
//     verifier and the page to return to travel in a sealed, short-lived
//     cookie, so posture keeps no login state on the server and any replica
//     can finish a sign-in that another began.
//
// Every refused token is a *posture.Error of kind EUNAUTHORIZED carrying the
// code Azure Resource Manager gives for the same fault, so that Azure SDK
// clients and scripts that handle ARM's 401s handle posture's too; a refused
// sign-in is EUNAUTHORIZED LoginFailed, and a return address off the site
// EINVALID InvalidReturnTo. No error or log
// line carries a token, authorization code, PKCE verifier, client secret or
// cookie value.
//
// Discovery and the checks of a JWT are go-oidc's, over posture's own JWKS
// cache, which re-reads the keys for a new kid at most every 30 seconds;
// the authorization-code exchange is golang.org/x/oauth2's. Package oidctest runs a real in-process OpenID
// provider for tests.
package oidc
