package requests_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/authz"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/identity"
	"github.com/posture/posture/notify"
	"github.com/posture/posture/outbox"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/requests"
	"github.com/posture/posture/sqlite"
)

const (
	sub  = "/subscriptions/00000000-0000-0000-0000-00000000000a"
	rg   = sub + "/resourceGroups/rg1"
	mcsb = sub + "/providers/microsoft.authorization/policyassignments/securitycenterbuiltin"
	// The benchmark member "Secure transfer to storage accounts should be
	// enabled" (the initiative's policyDefinitionReferenceId).
	secureTransferRef = "secureTransferToStorageAccountMonitoring"

	alice = "11111111-0000-0000-0000-000000000001" // Reader: files requests
	bob   = "11111111-0000-0000-0000-000000000002" // Security Admin: decides
	carol = "11111111-0000-0000-0000-000000000003" // Reader: may not decide
	dave  = "11111111-0000-0000-0000-000000000004" // Security Admin on another subscription only
	erin  = "11111111-0000-0000-0000-000000000005" // Owner: may file and decide, not her own
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// namedChannel stands for a configured channel: the outbox only needs
// names to fan out jobs; sending is tested end to end in cmd/posture.
type namedChannel string

func (n namedChannel) Name() string                                { return string(n) }
func (n namedChannel) Send(context.Context, *notify.Message) error { return nil }

type env struct {
	t        testing.TB
	clock    *clock
	store    posture.Store
	policies *compliance.Service
	estate   *estate.Service
	ids      *identity.Service
	svc      *requests.Service
	key      string // the secure-transfer recommendation's assessment key
	sa1, sa2 string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, clock: &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}}
	store, err := sqlite.Open(ctx, t.TempDir(), e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	catalog, err := defender.NewCatalog(reg)
	if err != nil {
		t.Fatal(err)
	}
	var mu posture.LocalWriteLock
	e.store = store
	e.policies = &compliance.Service{Store: store, Registry: reg, Now: e.clock.Now, WriteMu: &mu, DefaultAssignment: true,
		Rules: exemption.DefaultRules(), Severity: func(_ string, refs []string) string { return catalog.MaxSeverity(refs) }}
	e.estate = &estate.Service{Store: store, Now: e.clock.Now, Observer: e.policies, WriteMu: &mu}
	if _, err := e.estate.EnsureTenant(ctx, "tenant-1"); err != nil {
		t.Fatal(err)
	}
	if err := e.policies.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	e.put(`{"id":"/subscriptions/00000000-0000-0000-0000-00000000000b","displayName":"B"}`)
	e.put(`{"id":"%s","type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`, rg)
	e.sa1, e.sa2 = e.put("%s", storage("sa1")).ID, e.put("%s", storage("sa2")).ID
	e.put(`{"id":"%s/providers/Microsoft.Security/securityContacts/default","type":"Microsoft.Security/securityContacts",
		"properties":{"emails":"secops@example.com; lead@example.com","isEnabled":true}}`, sub)

	ids, err := identity.Load(ctx, store, e.policies, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	e.ids = ids
	for id, role := range map[string]string{alice: authz.RoleReader, bob: authz.RoleSecurityAdmin, carol: authz.RoleReader, erin: authz.RoleOwner} {
		e.principal(id)
		e.assign(sub, id, role)
	}
	e.principal(dave)
	e.assign("/subscriptions/00000000-0000-0000-0000-00000000000b", dave, authz.RoleSecurityAdmin)

	rec, ok := catalog.ByReference(secureTransferRef)
	if !ok {
		t.Fatal("the benchmark has no secure transfer member")
	}
	e.key = rec.Key
	ob := &outbox.Outbox{Channels: []notify.Channel{namedChannel("email"), namedChannel("teams"), namedChannel("webhook")}, Tickets: ticketStub{}, Store: store}
	e.svc = &requests.Service{
		Store: store, Exemptions: e.policies, Authz: ids.Authz, Outbox: ob, Now: e.clock.Now,
		Links: &requests.Linker{Key: []byte(strings.Repeat("k", 32)), BaseURL: "https://posture.example.com", TTL: 48 * time.Hour},
		Recommendation: func(key string) (requests.Recommendation, bool) {
			r, ok := catalog.Recommendation(key)
			if !ok {
				return requests.Recommendation{}, false
			}
			return requests.Recommendation{DisplayName: r.DisplayName, ReferenceID: r.ReferenceID, Severity: r.Severity}, true
		},
	}
	return e
}

// ticketStub makes the outbox queue ticket jobs; they are not run here.
type ticketStub struct{}

func (ticketStub) Name() string { return "jira" }
func (ticketStub) Create(context.Context, *notify.Message) (notify.Ticket, error) {
	return notify.Ticket{}, nil
}
func (ticketStub) Comment(context.Context, notify.Ticket, *notify.Message) error { return nil }

func storage(name string) string {
	return fmt.Sprintf(`{"id":"%s/providers/Microsoft.Storage/storageAccounts/%s","type":"Microsoft.Storage/storageAccounts","location":"westeurope","kind":"StorageV2",
		"properties":{"supportsHttpsTrafficOnly":false,"minimumTlsVersion":"TLS1_2"}}`, rg, name)
}

func (e *env) put(doc string, args ...any) *posture.Resource {
	e.t.Helper()
	r, err := armdoc.Normalize([]byte(fmt.Sprintf(doc, args...)))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.estate.PutResource(context.Background(), r, posture.PutImport, ""); err != nil {
		e.t.Fatalf("put %s: %v", r.ID, err)
	}
	return r
}

func (e *env) principal(id string) {
	e.t.Helper()
	if _, err := e.ids.EnsurePrincipal(context.Background(), id, posture.PrincipalUser, "user "+id[len(id)-1:]); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) assign(scope, principal, role string) {
	e.t.Helper()
	ra := posture.RoleAssignment{
		ID:               scope + "/providers/Microsoft.Authorization/roleAssignments/" + fmt.Sprintf("aaaaaaaa-0000-0000-0000-%s", principal[len(principal)-12:]),
		Scope:            scope,
		PrincipalID:      principal,
		RoleDefinitionID: "/providers/Microsoft.Authorization/roleDefinitions/" + role,
	}
	if _, _, err := e.ids.PutRoleAssignment(context.Background(), ra); err != nil {
		e.t.Fatal(err)
	}
}

func as(id string) context.Context {
	return posture.NewContextWithPrincipal(context.Background(), &posture.Principal{ID: id, Type: posture.PrincipalUser})
}

func reqID(name string) string {
	return sub + "/providers/Microsoft.Security/exemptionRequests/" + name
}

func (e *env) body(resources ...string) []byte {
	b, _ := json.Marshal(map[string]any{"properties": map[string]any{
		"assessmentKey": e.key, "resourceIds": resources, "exemptionCategory": "waiver",
		"justification": "Legacy client needs HTTP until the March migration.", "expiresOn": "2027-01-31T00:00:00Z", "ticketRef": "CHG-42",
	}})
	return b
}

func (e *env) file(who, name string, resources ...string) *requests.Request {
	e.t.Helper()
	out, err := e.svc.File(as(who), reqID(name), e.body(resources...))
	if err != nil {
		e.t.Fatalf("filing %s: %v", name, err)
	}
	return decode(e.t, out.Resource)
}

func decode(t testing.TB, r *posture.Resource) *requests.Request {
	t.Helper()
	req, err := requests.FromDocument(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func wantCode(t *testing.T, err error, kind posture.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s %s, got success", kind, code)
	}
	if posture.ErrorKind(err) != kind || posture.ErrorCode(err) != code {
		t.Fatalf("want %s %s, got %s %s: %v", kind, code, posture.ErrorKind(err), posture.ErrorCode(err), err)
	}
}

// jobs returns the keys of the jobs about an object.
func (e *env) jobs(ref string) []string {
	e.t.Helper()
	var keys []string
	err := e.store.Read(context.Background(), func(tx posture.Tx) error {
		js, err := tx.Jobs(posture.JobFilter{Ref: strings.ToLower(ref), Limit: 1000})
		for _, j := range js {
			keys = append(keys, j.Key)
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return keys
}

func countWith(keys []string, part string) int {
	n := 0
	for _, k := range keys {
		if strings.Contains(k, part) {
			n++
		}
	}
	return n
}

func (e *env) effective(resourceID string) string {
	e.t.Helper()
	rows, _, err := e.policies.PolicyStates(context.Background(), posture.PolicyStateFilter{ResourceKey: strings.ToLower(resourceID), AssignmentKey: mcsb})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, row := range rows {
		for i := range row.States {
			if row.States[i].ReferenceID == secureTransferRef {
				return row.States[i].Effective(e.clock.Now())
			}
		}
	}
	return "<none>"
}

// TestApproveCreatesExemptions: a Reader files a request for two storage
// accounts; a Security Admin approves it; both are exempt when Approve
// returns, each through its own exemption linked to the request, and the
// notices of both steps are queued on every channel and the ticket.
func TestApproveCreatesExemptions(t *testing.T) {
	e := newEnv(t)
	if got := e.effective(e.sa1); got != posture.StateNonCompliant {
		t.Fatalf("sa1 before: %s, want NonCompliant (supportsHttpsTrafficOnly false)", got)
	}
	r := e.file(alice, "legacy-http", e.sa1, e.sa2)
	if r.Status != requests.Pending || r.RequestedBy.PrincipalID != alice || r.PolicyDefinitionReferenceIDs[0] != secureTransferRef {
		t.Fatalf("filed: %+v", r)
	}
	if !r.DecisionDueAt.Equal(e.clock.Now().Add(14 * 24 * time.Hour)) {
		t.Errorf("decision due %s, want 14 days after filing", r.DecisionDueAt)
	}
	keys := e.jobs(reqID("legacy-http"))
	// email (the contacts have addresses), teams, webhook and the ticket.
	if countWith(keys, ".request.created.") != 4 || countWith(keys, "/ticket") != 1 {
		t.Fatalf("jobs after filing: %v", keys)
	}
	if e.effective(e.sa1) != posture.StateNonCompliant {
		t.Fatal("a request alone must not exempt anything")
	}

	res, err := e.svc.Approve(as(bob), reqID("legacy-http"), "ok until March")
	if err != nil {
		t.Fatal(err)
	}
	got := decode(t, res)
	if got.Status != requests.Approved || got.Decision.By.PrincipalID != bob || len(got.ExemptionIDs) != 2 {
		t.Fatalf("approved: %+v", got)
	}
	for _, sa := range []string{e.sa1, e.sa2} {
		if eff := e.effective(sa); eff != posture.StateExempt {
			t.Errorf("%s after approval: %s, want Exempt", sa, eff)
		}
		x, err := e.policies.GetExemption(context.Background(), sa+"/providers/Microsoft.Authorization/policyExemptions/legacy-http")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Properties struct {
				Category  string         `json:"exemptionCategory"`
				ExpiresOn string         `json:"expiresOn"`
				Metadata  map[string]any `json:"metadata"`
			} `json:"properties"`
		}
		json.Unmarshal(x.Body, &doc)
		if doc.Properties.Category != "Waiver" || doc.Properties.ExpiresOn != "2027-01-31T00:00:00Z" ||
			doc.Properties.Metadata["requestId"] != reqID("legacy-http") || doc.Properties.Metadata["ticketRef"] != "CHG-42" || doc.Properties.Metadata["approvedBy"] != bob {
			t.Errorf("exemption %s: %+v", sa, doc.Properties)
		}
	}
	keys = e.jobs(reqID("legacy-http"))
	if countWith(keys, ".request.approved.") != 4 {
		t.Fatalf("jobs after approval: %v", keys)
	}
	// Decided is decided.
	_, err = e.svc.Reject(as(bob), reqID("legacy-http"), "changed my mind")
	wantCode(t, err, posture.ECONFLICT, "ExemptionRequestNotPending")
	_, err = e.svc.File(as(alice), reqID("legacy-http"), e.body(e.sa1))
	wantCode(t, err, posture.ECONFLICT, "ExemptionRequestDecided")
}

// TestWhoDecides: the requester never decides their own request, even with
// the rights; a decider needs the exemption permissions at each resource;
// only the requester withdraws.
func TestWhoDecides(t *testing.T) {
	e := newEnv(t)
	// A Security Admin cannot read storage accounts (its actions hold no
	// Microsoft.Storage read), so it cannot ask for them.
	_, err := e.svc.File(as(bob), reqID("own"), e.body(e.sa1))
	wantCode(t, err, posture.EFORBIDDEN, "AuthorizationFailed")
	e.file(erin, "own", e.sa1)
	_, err = e.svc.Approve(as(erin), reqID("own"), "")
	wantCode(t, err, posture.EFORBIDDEN, "SelfApprovalNotAllowed")
	_, err = e.svc.Reject(as(erin), reqID("own"), "no")
	wantCode(t, err, posture.EFORBIDDEN, "SelfApprovalNotAllowed")

	e.file(alice, "by-alice", e.sa1)
	_, err = e.svc.Approve(as(carol), reqID("by-alice"), "")
	wantCode(t, err, posture.EFORBIDDEN, "AuthorizationFailed")
	_, err = e.svc.Approve(as(dave), reqID("by-alice"), "") // admin elsewhere
	wantCode(t, err, posture.EFORBIDDEN, "AuthorizationFailed")
	_, err = e.svc.Withdraw(as(bob), reqID("by-alice"))
	wantCode(t, err, posture.EFORBIDDEN, "NotRequester")
	if e.effective(e.sa1) != posture.StateNonCompliant {
		t.Fatal("a refused decision changed a state")
	}
	res, err := e.svc.Withdraw(as(alice), reqID("by-alice"))
	if err != nil || decode(t, res).Status != requests.Withdrawn {
		t.Fatalf("withdraw: %v", err)
	}
	_, err = e.svc.Approve(as(bob), reqID("by-alice"), "")
	wantCode(t, err, posture.ECONFLICT, "ExemptionRequestNotPending")

	// Someone who cannot read a resource cannot ask for it.
	_, err = e.svc.File(as(dave), reqID("dave"), e.body(e.sa1))
	wantCode(t, err, posture.EFORBIDDEN, "AuthorizationFailed")
}

// TestRejectAndExpire: a rejection needs a reason; a request nobody
// decides expires after the timeout, with a notice each time.
func TestRejectAndExpire(t *testing.T) {
	e := newEnv(t)
	e.file(alice, "r1", e.sa1)
	_, err := e.svc.Reject(as(bob), reqID("r1"), "  ")
	wantCode(t, err, posture.EINVALID, "InvalidExemptionRequest")
	res, err := e.svc.Reject(as(bob), reqID("r1"), "Fix it instead: it is one setting.")
	if err != nil {
		t.Fatal(err)
	}
	if r := decode(t, res); r.Status != requests.Rejected || r.Decision.Reason != "Fix it instead: it is one setting." {
		t.Fatalf("rejected: %+v", r)
	}
	if n := countWith(e.jobs(reqID("r1")), ".request.rejected."); n != 4 {
		t.Fatalf("%d rejection jobs, want 4", n)
	}

	e.file(alice, "r2", e.sa2)
	e.clock.Advance(14*24*time.Hour - time.Second)
	if n, err := e.svc.ExpireDue(context.Background()); err != nil || n != 0 {
		t.Fatalf("expired %d before the timeout (%v)", n, err)
	}
	e.clock.Advance(time.Second)
	_, err = e.svc.Approve(as(bob), reqID("r2"), "")
	wantCode(t, err, posture.ECONFLICT, "ExemptionRequestNotPending")
	if n, err := e.svc.ExpireDue(context.Background()); err != nil || n != 1 {
		t.Fatalf("expired %d at the timeout (%v), want 1", n, err)
	}
	res, _ = e.svc.Get(context.Background(), reqID("r2"))
	if r := decode(t, res); r.Status != requests.Expired {
		t.Fatalf("status %s, want Expired", r.Status)
	}
	if n := countWith(e.jobs(reqID("r2")), ".request.expired."); n != 4 {
		t.Fatalf("%d expiry jobs, want 4", n)
	}
	if n, _ := e.svc.ExpireDue(context.Background()); n != 0 {
		t.Fatal("expired twice")
	}
}

// TestApprovalIsAtomic: when one exemption of an approval cannot be
// written, nothing of the approval is kept: no exemption, no status
// change, no notice.
func TestApprovalIsAtomic(t *testing.T) {
	e := newEnv(t)
	e.file(alice, "clash", e.sa1, e.sa2)
	// Someone already made an exemption of that name on sa2.
	x := sub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn"
	_, err := e.policies.PutExemption(as(bob), posture.ExemptionWrite{ID: e.sa2 + "/providers/Microsoft.Authorization/policyExemptions/clash", APIVersion: "2022-07-01-preview",
		Body: []byte(`{"properties":{"policyAssignmentId":"` + x + `","policyDefinitionReferenceIds":["` + secureTransferRef + `"],"exemptionCategory":"Mitigated"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	before := e.jobs(reqID("clash"))
	_, err = e.svc.Approve(as(bob), reqID("clash"), "")
	wantCode(t, err, posture.ECONFLICT, "ExemptionExists")
	if got := e.effective(e.sa1); got != posture.StateNonCompliant {
		t.Errorf("sa1 is %s after a failed approval, want NonCompliant", got)
	}
	if _, err := e.policies.GetExemption(context.Background(), e.sa1+"/providers/Microsoft.Authorization/policyExemptions/clash"); !posture.IsNotFound(err) {
		t.Errorf("sa1's exemption exists after a failed approval: %v", err)
	}
	res, _ := e.svc.Get(context.Background(), reqID("clash"))
	if decode(t, res).Status != requests.Pending {
		t.Error("the request left Pending")
	}
	if after := e.jobs(reqID("clash")); len(after) != len(before) {
		t.Errorf("jobs %v after a failed approval, had %v", after, before)
	}
}

// linkToken takes the token out of a link URL.
func linkToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || u.Path != requests.LinkPath {
		t.Fatalf("link %q", link)
	}
	return u.Query().Get("token")
}

// TestLinks: a link works once, for a principal allowed to decide; a
// tampered, expired or replayed link is refused.
func TestLinks(t *testing.T) {
	e := newEnv(t)
	e.file(alice, "via-link", e.sa1)
	l := e.svc.Links
	tok := linkToken(t, l.Make(requests.LinkApprove, reqID("via-link"), e.clock.Now()))

	// Altered: another target under the same signature.
	p, sig, _ := strings.Cut(tok, ".")
	forged := p[:len(p)-2] + "xx." + sig
	_, err := l.Verify(forged, e.clock.Now())
	wantCode(t, err, posture.EFORBIDDEN, "InvalidLink")
	other := &requests.Linker{Key: []byte(strings.Repeat("z", 32)), BaseURL: l.BaseURL}
	_, err = l.Verify(linkToken(t, other.Make(requests.LinkApprove, reqID("via-link"), e.clock.Now())), e.clock.Now())
	wantCode(t, err, posture.EFORBIDDEN, "InvalidLink")

	c, err := l.Verify(tok, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The link does not make its holder an approver.
	_, err = e.svc.UseLink(as(carol), c, requests.LinkForm{})
	wantCode(t, err, posture.EFORBIDDEN, "AuthorizationFailed")
	_, err = e.svc.UseLink(as(alice), c, requests.LinkForm{})
	wantCode(t, err, posture.EFORBIDDEN, "SelfApprovalNotAllowed")
	if _, err := e.svc.UseLink(as(bob), c, requests.LinkForm{Reason: "fine"}); err != nil {
		t.Fatalf("approving through the link: %v", err)
	}
	if e.effective(e.sa1) != posture.StateExempt {
		t.Fatal("not exempt after the link approval")
	}
	// Replayed on another request: spent.
	e.file(alice, "second", e.sa2)
	_, err = e.svc.UseLink(as(bob), c, requests.LinkForm{})
	wantCode(t, err, posture.EFORBIDDEN, "LinkAlreadyUsed")
	rej := linkToken(t, l.Make(requests.LinkReject, reqID("second"), e.clock.Now()))
	cr, _ := l.Verify(rej, e.clock.Now())
	if _, err := e.svc.UseLink(as(bob), cr, requests.LinkForm{Reason: "no"}); err != nil {
		t.Fatal(err)
	}
	e.file(alice, "third", e.sa2)
	cr.Target = reqID("third") // the same nonce, spent
	_, err = e.svc.UseLink(as(bob), cr, requests.LinkForm{Reason: "no"})
	wantCode(t, err, posture.EFORBIDDEN, "LinkAlreadyUsed")

	e.clock.Advance(48 * time.Hour)
	_, err = l.Verify(linkToken(t, l.Make(requests.LinkApprove, reqID("third"), e.clock.Now().Add(-48*time.Hour))), e.clock.Now())
	wantCode(t, err, posture.EFORBIDDEN, "LinkExpired")
}

// TestRemindersAndRenewal: an exemption is reminded about at the nearest
// threshold passed, once each, and when it expires; the renewal link files
// a request that, approved, moves the expiry.
func TestRemindersAndRenewal(t *testing.T) {
	e := newEnv(t)
	e.file(alice, "short", e.sa1)
	if _, err := e.svc.Approve(as(bob), reqID("short"), ""); err != nil {
		t.Fatal(err)
	}
	xid := e.sa1 + "/providers/Microsoft.Authorization/policyExemptions/short"
	ctx := context.Background()
	remind := func(want int) {
		t.Helper()
		n, err := e.svc.Remind(ctx)
		if err != nil || n != want {
			t.Fatalf("Remind at %s: %d notices (%v), want %d", e.clock.Now(), n, err, want)
		}
	}
	// Expires 2027-01-31: 68 days away.
	remind(0)
	e.clock.Advance(40 * 24 * time.Hour) // 28 days left: the 30-day reminder
	remind(1)
	remind(0)
	e.clock.Advance(22 * 24 * time.Hour) // 6 days left: the 7-day one
	remind(1)
	remind(0)
	keys := e.jobs(xid)
	if countWith(keys, ".720h.") != 3 || countWith(keys, ".168h.") != 3 {
		t.Fatalf("reminder jobs: %v", keys)
	}

	tok := linkToken(t, e.svc.Links.Make(requests.LinkRenew, xid, e.clock.Now()))
	c, err := e.svc.Links.Verify(tok, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.UseLink(as(alice), c, requests.LinkForm{})
	wantCode(t, err, posture.EINVALID, "InvalidExemptionRequest")
	newExpiry := time.Date(2027, 4, 20, 0, 0, 0, 0, time.UTC) // 85 days: High waivers last 90 at most
	res, err := e.svc.UseLink(as(alice), c, requests.LinkForm{Justification: "Migration slipped to April.", ExpiresOn: &newExpiry})
	if err != nil {
		t.Fatal(err)
	}
	renewal := decode(t, res)
	if renewal.Status != requests.Pending || !strings.EqualFold(renewal.RenewalOf, xid) {
		t.Fatalf("renewal request: %+v", renewal)
	}
	if _, err := e.svc.Approve(as(bob), res.ID, ""); err != nil {
		t.Fatal(err)
	}
	x, err := e.policies.GetExemption(ctx, xid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(x.Body), `"expiresOn":"2027-04-20T00:00:00Z"`) {
		t.Fatalf("renewed exemption: %s", x.Body)
	}
	_, err = e.svc.UseLink(as(alice), c, requests.LinkForm{Justification: "again", ExpiresOn: &newExpiry})
	wantCode(t, err, posture.EFORBIDDEN, "LinkAlreadyUsed")

	// The expiry moved: the old 1-day reminder never comes; the new
	// 30-day one does once 30 days are left.
	e.clock.Advance(6 * 24 * time.Hour)
	remind(0)
	e.clock.Advance(60 * 24 * time.Hour)
	remind(1)
	e.clock.Advance(20 * 24 * time.Hour) // a day past the expiry
	remind(1)
	if countWith(e.jobs(xid), ".expired.") != 3 {
		t.Fatalf("no expiry notice: %v", e.jobs(xid))
	}
}

// TestBadRequests: coded errors for malformed requests.
func TestBadRequests(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name, id, body, code string
	}{
		{"not json", reqID("a"), `{`, "InvalidRequestContent"},
		{"no properties", reqID("a"), `{}`, "InvalidExemptionRequest"},
		{"unknown field", reqID("a"), `{"properties":{"assessmentKey":"` + e.key + `","exemptionCategory":"Waiver","justification":"x","expiresOn":"2027-01-01T00:00:00Z","colour":"red"}}`, "InvalidRequestContent"},
		{"no recommendation", reqID("a"), `{"properties":{"exemptionCategory":"Waiver","justification":"x"}}`, "InvalidExemptionRequest"},
		{"bad category", reqID("a"), `{"properties":{"assessmentKey":"` + e.key + `","exemptionCategory":"Forever","justification":"x"}}`, "InvalidExemptionRequest"},
		{"no justification", reqID("a"), `{"properties":{"assessmentKey":"` + e.key + `","exemptionCategory":"Waiver","justification":" "}}`, "InvalidExemptionRequest"},
		{"bad expiry", reqID("a"), `{"properties":{"assessmentKey":"` + e.key + `","exemptionCategory":"Waiver","justification":"x","expiresOn":"tomorrow"}}`, "InvalidExemptionRequest"},
		{"resource outside scope", rg + "/providers/Microsoft.Security/exemptionRequests/a", `{"properties":{"assessmentKey":"` + e.key + `","exemptionCategory":"Waiver","justification":"x","resourceIds":["/subscriptions/00000000-0000-0000-0000-00000000000b/resourceGroups/x"]}}`, "InvalidExemptionRequest"},
		{"unknown recommendation", reqID("a"), `{"properties":{"assessmentKey":"00000000-1111-2222-3333-444444444444","exemptionCategory":"Waiver","justification":"x"}}`, "InvalidExemptionRequest"},
		{"bad name", sub + "/providers/Microsoft.Security/exemptionRequests/a%20b", `{}`, "InvalidName"},
		{"wrong type", sub + "/providers/Microsoft.Security/assessments/a", `{}`, "InvalidResourceType"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.File(as(alice), c.id, []byte(c.body))
			if posture.ErrorKind(err) != posture.EINVALID || posture.ErrorCode(err) != c.code {
				t.Fatalf("got %v, want EINVALID %s", err, c.code)
			}
		})
	}
	// A Waiver longer than the governance rules allow is refused when
	// filed, not when approved (default rules: High severity at most 90
	// days, Medium 180, Low 365).
	long := strings.Replace(string(e.body(e.sa1)), "2027-01-31T00:00:00Z", "2030-01-01T00:00:00Z", 1)
	_, err := e.svc.File(as(alice), reqID("long"), []byte(long))
	if posture.ErrorKind(err) != posture.EINVALID {
		t.Fatalf("a five-year waiver: %v, want refused", err)
	}
}

// TestNeedsReviewNotice: an approved exemption of one resource whose
// secure-transfer field flips goes to review, and Remind queues one notice
// per review on every channel, with the grace period's end as its date.
func TestNeedsReviewNotice(t *testing.T) {
	e := newEnv(t)
	e.file(alice, "drifty", e.sa1)
	if _, err := e.svc.Approve(as(bob), reqID("drifty"), ""); err != nil {
		t.Fatal(err)
	}
	xid := e.sa1 + "/providers/Microsoft.Authorization/policyExemptions/drifty"
	ctx := context.Background()
	if n, err := e.svc.Remind(ctx); err != nil || n != 0 {
		t.Fatalf("before drift: %d notices, %v", n, err)
	}
	e.put("%s", strings.Replace(storage("sa1"), `"supportsHttpsTrafficOnly":false`, `"supportsHttpsTrafficOnly":true`, 1))
	for i, want := range []int{1, 0} {
		if n, err := e.svc.Remind(ctx); err != nil || n != want {
			t.Fatalf("Remind %d after drift: %d notices (%v), want %d", i, n, err, want)
		}
	}
	if keys := e.jobs(xid); countWith(keys, ".review-") != 3 {
		t.Fatalf("review notice jobs: %v", keys)
	}
}
