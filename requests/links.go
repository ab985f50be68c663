package requests

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
)

// Link actions.
const (
	LinkApprove = "approve"
	LinkReject  = "reject"
	LinkRenew   = "renew" // Target is an exemption
)

// LinkPath is where links point, under the server's public URL.
const LinkPath = "/requests/link"

// Linker signs the one-click links of notices. A link carries what it is
// for (a request to approve or reject, an exemption to renew), a nonce and
// an expiry, under an HMAC-SHA256 of a key only the server holds. It is
// not a credential: the page it opens still needs a signed-in principal
// allowed to decide, and a link is spent the first time it is used.
type Linker struct {
	Key     []byte // at least 32 bytes
	BaseURL string // the server's public URL, e.g. https://posture.example.com
	TTL     time.Duration
}

// LinkClaims is what a link says.
type LinkClaims struct {
	Action  string `json:"a"`
	Target  string `json:"t"` // request or exemption id
	Nonce   string `json:"n"`
	Expires int64  `json:"e"` // unix seconds
}

// maxLinkToken bounds a token: Verify reads no more, and Make makes none
// longer (a target id of about 1,400 characters; ARM ids are far shorter).
const maxLinkToken = 2048

// linkDomain separates these MACs from any other use of the key.
const linkDomain = "posture-link-v1."

// Make returns a signed link. With no BaseURL it returns "" (a server
// without a public URL sends notices without buttons).
func (l *Linker) Make(action, target string, now time.Time) string {
	if l == nil || l.BaseURL == "" || len(l.Key) == 0 {
		return ""
	}
	var n [12]byte
	rand.Read(n[:])
	ttl := l.TTL
	if ttl <= 0 {
		ttl = 7 * 24 * time.Hour
	}
	c := LinkClaims{Action: action, Target: target, Nonce: hex.EncodeToString(n[:]), Expires: now.Add(ttl).Unix()}
	payload, _ := json.Marshal(c)
	p := base64.RawURLEncoding.EncodeToString(payload)
	tok := p + "." + base64.RawURLEncoding.EncodeToString(l.mac(p))
	if len(tok) > maxLinkToken {
		return "" // Verify would refuse it: no button rather than a dead one
	}
	return strings.TrimRight(l.BaseURL, "/") + LinkPath + "?token=" + url.QueryEscape(tok)
}

func (l *Linker) mac(payload string) []byte {
	m := hmac.New(sha256.New, l.Key)
	m.Write([]byte(linkDomain + payload))
	return m.Sum(nil)
}

// Verify checks a link token and returns its claims. A token that does not
// verify is EFORBIDDEN with code InvalidLink; an expired one LinkExpired.
func (l *Linker) Verify(token string, now time.Time) (*LinkClaims, error) {
	bad := posture.Errorf(posture.EFORBIDDEN, "InvalidLink", "The link is not valid: it was not made by this server or was altered.")
	if l == nil || len(l.Key) == 0 || len(token) > maxLinkToken {
		return nil, bad
	}
	p, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, l.mac(p)) {
		return nil, bad
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, bad
	}
	var c LinkClaims
	if err := json.Unmarshal(payload, &c); err != nil || c.Nonce == "" || c.Target == "" {
		return nil, bad
	}
	switch c.Action {
	case LinkApprove, LinkReject, LinkRenew:
	default:
		return nil, bad
	}
	if now.Unix() >= c.Expires {
		return nil, posture.Errorf(posture.EFORBIDDEN, "LinkExpired", "The link expired at %s; open the request in posture instead.", time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	return &c, nil
}

// usedKey is the setting that marks a link's nonce as spent.
func usedKey(nonce string) string { return "link_used:" + nonce }

// spent returns EFORBIDDEN LinkAlreadyUsed for a link used before.
func spent(tx posture.Tx, c *LinkClaims) error {
	v, err := tx.Setting(usedKey(c.Nonce))
	if err != nil {
		return err
	}
	if v != "" {
		return posture.Errorf(posture.EFORBIDDEN, "LinkAlreadyUsed", "The link was already used at %s; each link works once.", v)
	}
	return nil
}

// spend marks a link as used inside tx; a link used before is EFORBIDDEN
// LinkAlreadyUsed.
func spend(tx posture.Tx, c *LinkClaims, now time.Time) error {
	if err := spent(tx, c); err != nil {
		return err
	}
	return tx.PutSetting(usedKey(c.Nonce), now.UTC().Format(time.RFC3339))
}

// LinkForm is what the page a link opens submits.
type LinkForm struct {
	Reason        string // approval comment or rejection reason
	Justification string // a renewal's fresh justification
	ExpiresOn     *time.Time
}

// UseLink performs what a verified link is for, as the signed-in caller:
// approve or reject the request (with the same checks as the API), or
// file a renewal request for the exemption. The link is spent in the
// transaction that does it; it works once.
func (s *Service) UseLink(ctx context.Context, c *LinkClaims, f LinkForm) (*posture.Resource, error) {
	switch c.Action {
	case LinkApprove, LinkReject:
		id, err := ParseID(c.Target)
		if err != nil {
			return nil, err
		}
		if c.Action == LinkApprove {
			return s.approve(ctx, id, f.Reason, c)
		}
		return s.reject(ctx, id, f.Reason, c)
	case LinkRenew:
		return s.renew(ctx, c, f)
	}
	return nil, posture.Errorf(posture.EFORBIDDEN, "InvalidLink", "The link is not valid.")
}

// Renewal builds the request that renews an exemption: same scope,
// assignment, references and category, a new expiry and justification.
func (s *Service) renew(ctx context.Context, c *LinkClaims, f LinkForm) (*posture.Resource, error) {
	xid, err := armid.Parse(c.Target)
	if err != nil || !strings.EqualFold(xid.Type(), exemption.Type) {
		return nil, posture.Errorf(posture.EFORBIDDEN, "InvalidLink", "The link is not valid.")
	}
	just := strings.TrimSpace(f.Justification)
	if just == "" {
		return nil, invalid("justification", "A renewal needs a fresh justification.")
	}
	if f.ExpiresOn == nil || !f.ExpiresOn.After(s.now()) {
		return nil, invalid("expiresOn", "A renewal needs a new expiry in the future.")
	}
	x, err := s.Exemptions.GetExemption(ctx, xid.String())
	if err != nil {
		return nil, err
	}
	ex, _, err := exemption.FromDocument(x.Body)
	if err != nil {
		return nil, posture.Internal(err)
	}
	name := "renew-" + xid.Name()
	if len(name) > 48 {
		name = name[:48]
	}
	name += "-" + s.now().Format("20060102T1504")
	id := xid.Scope().Provider("Microsoft.Security", "exemptionRequests", name)
	t := f.ExpiresOn.UTC()
	r := &Request{
		PolicyAssignmentID:           ex.PolicyAssignmentID,
		PolicyDefinitionReferenceIDs: ex.PolicyDefinitionReferenceIDs,
		Category:                     string(ex.Category),
		Justification:                just,
		ExpiresOn:                    &t,
		RenewalOf:                    xid.String(),
		RecommendationDisplayName:    ex.DisplayName,
	}
	out, err := s.file(ctx, id, r, c)
	return out.Resource, err
}
