package oidc

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/posture/posture"
)

// ARM error codes for refused credentials. The codes and the message shapes
// are Azure Resource Manager's, as its 401 responses show them in public
// reports:
//   - InvalidAuthenticationTokenAudience: Azure-Samples/
//     active-directory-dotnetcore-daemon-v2 issue #145, JetBrains/
//     azure-tools-for-intellij issue #16.
//   - ExpiredAuthenticationToken: microsoft/foundry-dev-tools issue #461
//     ("The access token expiry UTC time '6/15/2026 8:22:51 AM' is earlier
//     than current UTC time '6/15/2026 9:27:25 AM'.").
//   - InvalidAuthenticationTokenTenant: Azure/azure-sdk-for-python issue
//     #38382, Azure/azure-sdk-for-net issue #49391.
//   - InvalidAuthenticationToken "The access token is invalid.":
//     Azure/azure-powershell issue #27882.
//
// ARM has no text for a token that is not yet valid; posture words it in the
// same shape as the expiry message. LoginFailed and InvalidReturnTo are
// posture's own: ARM has no portal sign-in.
const (
	CodeInvalidToken    = "InvalidAuthenticationToken"
	CodeExpiredToken    = "ExpiredAuthenticationToken"
	CodeInvalidAudience = "InvalidAuthenticationTokenAudience"
	CodeInvalidTenant   = "InvalidAuthenticationTokenTenant"
	CodeLoginFailed     = "LoginFailed"
	CodeInvalidReturnTo = "InvalidReturnTo"
)

// azureTime is how ARM prints UTC times in its token messages (.NET's
// general date/time pattern in the invariant culture).
const azureTime = "1/2/2006 3:04:05 PM"

// invalid refuses a token without saying why: the reason goes to Err, for
// logs. Reasons are fixed strings or come from go-oidc and go-jose, which
// describe the token's structure but never copy it.
func invalid(reason string, cause error) *posture.Error {
	e := posture.Errorf(posture.EUNAUTHORIZED, CodeInvalidToken, "The access token is invalid.")
	e.Err = errors.New(reason)
	if cause != nil {
		e.Err = fmt.Errorf("%s: %w", reason, cause)
	}
	return e
}

func expired(exp, now time.Time) *posture.Error {
	return posture.Errorf(posture.EUNAUTHORIZED, CodeExpiredToken,
		"The access token expiry UTC time '%s' is earlier than current UTC time '%s'.",
		exp.UTC().Format(azureTime), now.UTC().Format(azureTime))
}

func notYetValid(claim string, t, now time.Time) *posture.Error {
	return posture.Errorf(posture.EUNAUTHORIZED, CodeInvalidToken,
		"The access token is not yet valid: its '%s' UTC time '%s' is later than current UTC time '%s'.",
		claim, t.UTC().Format(azureTime), now.UTC().Format(azureTime))
}

func wrongAudience(got, allowed []string) *posture.Error {
	return posture.Errorf(posture.EUNAUTHORIZED, CodeInvalidAudience,
		"The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences %s.",
		shown(strings.Join(got, ",")), quoteList(allowed))
}

func wrongIssuer(got, want string) *posture.Error {
	return posture.Errorf(posture.EUNAUTHORIZED, CodeInvalidTenant,
		"The access token is from the wrong issuer '%s'. It must match the tenant '%s' associated with this server. Please use the authority (URL) '%s' to get the token.",
		shown(got), want, want)
}

// loginFailed refuses a sign-in. msg is fixed text; cause is for logs and
// must not hold the code, a token, the verifier or the cookie.
func loginFailed(msg string, cause error) *posture.Error {
	e := posture.Errorf(posture.EUNAUTHORIZED, CodeLoginFailed, "%s", msg)
	e.Err = cause
	return e
}

// quoteList prints ARM's list form: 'a','b'.
func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = "'" + s + "'"
	}
	return strings.Join(q, ",")
}

// shown bounds a claim value the caller sent before it is echoed in a
// message, as ARM echoes iss and aud: at most 200 characters and no
// control characters, so it cannot forge log lines or flood a response.
func shown(s string) string {
	const max = 200
	var b strings.Builder
	for i, r := range s {
		if i >= max {
			b.WriteString("...")
			break
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
