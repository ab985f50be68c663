package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/posture/posture/authz"
	"github.com/posture/posture/notify"
)

// mailSink is an SMTP server that keeps what it receives; mail to
// refuse@ gets 451 (try again later) every time.
type mailSink struct {
	mu   sync.Mutex
	msgs []sunk
}

type sunk struct {
	to   []string
	data []byte
}

func (s *mailSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct {
	s   *mailSink
	cur sunk
}

func (x *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "refuse@") {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	x.cur.to = append(x.cur.to, to)
	return nil
}
func (x *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	x.cur.data = b
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, x.cur)
	x.s.mu.Unlock()
	return err
}
func (x *sinkSession) Reset()        { x.cur = sunk{} }
func (x *sinkSession) Logout() error { return nil }

func (s *mailSink) all() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.msgs...)
}

func startMailSink(t *testing.T) (*mailSink, int) {
	s := &mailSink{}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s, l.Addr().(*net.TCPAddr).Port
}

// recorder is an HTTP receiver that keeps the bodies it gets; answer
// decides each reply.
type recorder struct {
	mu     sync.Mutex
	reqs   []recorded
	answer func(n int, r *http.Request, body []byte) (int, string, http.Header)
}

type recorded struct {
	path   string
	header http.Header
	body   []byte
}

func startRecorder(t *testing.T, answer func(n int, r *http.Request, body []byte) (int, string, http.Header)) (*recorder, string) {
	rec := &recorder{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{r.URL.Path, r.Header.Clone(), b})
		n := len(rec.reqs)
		rec.mu.Unlock()
		status, body, h := http.StatusOK, "1", http.Header(nil)
		if rec.answer != nil {
			status, body, h = rec.answer(n, r, b)
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const (
	reqSub      = "/subscriptions/7a1c0000-0000-4000-8000-00000000000a"
	reqRG       = reqSub + "/resourceGroups/apps"
	reqVersion  = "?api-version=2026-11-01"
	webhookKey  = "0123456789abcdef0123456789abcdef-key"
	requestPath = reqSub + "/providers/Microsoft.Security/exemptionRequests/"
	// The assessment key of "Secure transfer to storage accounts should
	// be enabled" (Defender's recommendations reference).
	secureTransferKey = "1c5de8e1-f68d-6a17-e0d2-ec259c42768c"
)

// TestExemptionRequestFlow files a request as a Reader and approves it
// from the link of its notice as a Security Admin, with every channel
// real: mail read back from an SMTP server, a Teams card, a signed
// webhook and a Jira ticket that gets the approval as a comment.
func TestExemptionRequestFlow(t *testing.T) {
	mails, smtpPort := startMailSink(t)
	teams, teamsURL := startRecorder(t, nil)
	hooks, hookURL := startRecorder(t, func(n int, r *http.Request, b []byte) (int, string, http.Header) {
		if n == 1 { // the first delivery is throttled: it must come back after Retry-After
			return http.StatusTooManyRequests, "slow down", http.Header{"Retry-After": {"1"}}
		}
		return http.StatusOK, "", nil
	})
	jira, jiraURL := startRecorder(t, func(n int, r *http.Request, b []byte) (int, string, http.Header) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/rest/api/3/issue":
			return http.StatusCreated, `{"id":"10001","key":"SEC-1","self":"` + "http://" + r.Host + `/rest/api/3/issue/10001"}`, nil
		case r.Method == http.MethodPost && r.URL.Path == "/rest/api/3/issue/SEC-1/comment":
			return http.StatusCreated, `{"id":"20001"}`, nil
		}
		return http.StatusNotFound, `{"errorMessages":["no"]}`, nil
	})
	cfg := fmt.Sprintf(`{"smtp":{"host":"127.0.0.1","port":%d,"tls":"none","from":"posture <posture@example.com>","timeout":"5s"},
		"teams":{"url":%q},"webhooks":[{"name":"siem","url":%q,"secret":%q}],
		"jira":{"baseUrl":%q,"project":"SEC","email":"bot@example.com","apiToken":"jira-token-secret"}}`,
		smtpPort, teamsURL+"/teams-hook", hookURL+"/hook", webhookKey, jiraURL)
	cfgFile := filepath.Join(t.TempDir(), "notify.json")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	s := startServer(t, "--no-default-assignment", "--notify-config", cfgFile, "--queue-attempts", "2")

	// The estate: a storage account without secure transfer, the
	// benchmark assigned, and the subscription's security contacts.
	for _, d := range []struct{ path, body string }{
		{reqSub + "?api-version=2022-12-01", `{"displayName":"apps"}`},
		{reqRG + "?api-version=2022-09-01", `{"location":"westeurope"}`},
		{reqRG + "/providers/Microsoft.Storage/storageAccounts/legacy?api-version=2023-01-01", `{"location":"westeurope","kind":"StorageV2","properties":{"supportsHttpsTrafficOnly":false}}`},
		{reqSub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn?api-version=2022-06-01", `{"properties":{"policyDefinitionId":"/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"}}`},
		{reqSub + "/providers/Microsoft.Security/securityContacts/default?api-version=2020-01-01-preview", `{"properties":{"emails":"secops@example.com;lead@example.com","alertNotifications":{"state":"On","minimalSeverity":"High"},"notificationsByRole":{"state":"On","roles":["Owner"]}}}`},
	} {
		if code, _, b := s.raw(t, http.MethodPut, d.path, d.body); code >= 300 {
			t.Fatalf("PUT %s: %d %s", d.path, code, b)
		}
	}
	alice := rbacNewCaller(t, s, "a11ce000-0000-4000-8000-000000000001", "Alice", "User")
	bob := rbacNewCaller(t, s, "b0b00000-0000-4000-8000-000000000002", "Bob", "User")
	rbacAssign(t, s, reqSub, rbacRoleGUID(t, "Reader"), alice.id)
	rbacAssign(t, s, reqSub, authz.RoleSecurityAdmin, bob.id)
	storage := reqRG + "/providers/Microsoft.Storage/storageAccounts/legacy"

	// Alice may not exempt; she files a request.
	body := fmt.Sprintf(`{"properties":{"assessmentKey":%q,"resourceIds":[%q],"exemptionCategory":"Waiver",
		"justification":"Vendor appliance speaks HTTP only <until> the Q1 upgrade.","expiresOn":"2027-02-01T00:00:00Z"}}`, secureTransferKey, storage)
	code, b := s.rbacAs(t, alice, http.MethodPut, storage+"/providers/Microsoft.Authorization/policyExemptions/direct?api-version=2022-07-01-preview",
		`{"properties":{"policyAssignmentId":"`+reqSub+`/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn","exemptionCategory":"Waiver"}}`)
	if code != http.StatusForbidden {
		t.Fatalf("a Reader wrote an exemption: %d %s", code, b)
	}
	code, b = s.rbacAs(t, alice, http.MethodPut, requestPath+"legacy-http"+reqVersion, body)
	if code != http.StatusCreated {
		t.Fatalf("filing: %d %s", code, b)
	}

	// The mail: to the subscription's contacts, the playbook's subject,
	// the justification escaped in HTML, approve and reject links.
	eventually(t, "the request mail", func() bool { return len(mails.all()) >= 1 })
	m := mails.all()[0]
	if strings.Join(m.to, ",") != "secops@example.com,lead@example.com" {
		t.Errorf("mail to %v, want the security contacts", m.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if want := "posture | Exemption request for resource " + storage; subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	html := mailPart(t, msg, "text/html")
	if !strings.Contains(html, "&lt;until&gt;") || strings.Contains(html, "<until>") {
		t.Error("the justification is not escaped in the HTML mail")
	}
	approve := regexp.MustCompile(`href="(`+regexp.QuoteMeta(s.url)+`/requests/link\?token=[^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(approve) < 2 {
		t.Fatalf("no approve/reject links in the mail:\n%s", html)
	}
	approveLink := strings.ReplaceAll(approve[0][1], "&amp;", "&")

	// Teams: an Adaptive Card in a message with the same links as buttons.
	eventually(t, "the Teams card", func() bool { return len(teams.all()) >= 1 })
	var card struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string `json:"type"`
				Actions []struct{ Type, Title, URL string }
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(teams.all()[0].body, &card); err != nil || card.Type != "message" || len(card.Attachments) != 1 ||
		card.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" || card.Attachments[0].Content.Type != "AdaptiveCard" {
		t.Fatalf("Teams body: %s", teams.all()[0].body)
	}
	buttons := map[string]string{}
	for _, a := range card.Attachments[0].Content.Actions {
		buttons[a.Title] = a.URL
	}
	if !strings.HasPrefix(buttons["Approve"], s.url+"/requests/link?token=") || !strings.HasPrefix(buttons["Reject"], s.url+"/requests/link?token=") {
		t.Errorf("Teams buttons: %v", buttons)
	}

	// The webhook: throttled once, delivered after Retry-After with the
	// same idempotency key, signed with the shared key.
	eventually(t, "the webhook retry", func() bool { return len(hooks.all()) >= 2 })
	h1, h2 := hooks.all()[0], hooks.all()[1]
	if h1.header.Get("Idempotency-Key") == "" || h1.header.Get("Idempotency-Key") != h2.header.Get("Idempotency-Key") {
		t.Errorf("idempotency keys %q then %q", h1.header.Get("Idempotency-Key"), h2.header.Get("Idempotency-Key"))
	}
	if err := notify.VerifySignature([][]byte{[]byte(webhookKey)}, h2.header.Get("X-Posture-Timestamp"), h2.header.Get("X-Posture-Signature"), h2.body, time.Now(), 0); err != nil {
		t.Errorf("webhook signature: %v", err)
	}

	// Jira: the ticket, stored on the request.
	eventually(t, "the ticket on the request", func() bool {
		return strings.Contains(string(s.get(t, requestPath+"legacy-http"+reqVersion)), `"key":"SEC-1"`)
	})

	// Alice cannot approve her own request, through the API or the link.
	code, b = s.rbacAs(t, alice, http.MethodPost, requestPath+"legacy-http/approve"+reqVersion, "")
	if code != http.StatusForbidden || !strings.Contains(string(b), "SelfApprovalNotAllowed") {
		t.Fatalf("self-approval: %d %s", code, b)
	}
	// Without a sign-in the link does nothing.
	resp, err := http.Get(approveLink)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("link without sign-in: %d", resp.StatusCode)
	}
	// A forged link is refused.
	u, _ := url.Parse(approveLink)
	tok := u.Query().Get("token")
	if code, page := postLink(t, s.url, bob.token, tok[:len(tok)-3]+"AAA"); code != http.StatusForbidden || !strings.Contains(page, "InvalidLink") {
		t.Fatalf("forged link: %d %s", code, page)
	}
	// Bob opens it, sees the form, approves.
	req, _ := http.NewRequest(http.MethodGet, approveLink, nil)
	req.Header.Set("Authorization", "Bearer "+bob.token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), `<button type="submit">Approve</button>`) {
		t.Fatalf("link page: %d %s", resp.StatusCode, page)
	}
	if code, page := postLink(t, s.url, bob.token, tok); code != http.StatusOK || !strings.Contains(page, "Done") {
		t.Fatalf("approving from the link: %d %s", code, page)
	}
	b = s.get(t, storage+"/providers/Microsoft.Authorization/policyExemptions/legacy-http?api-version=2022-07-01-preview")
	if !strings.Contains(string(b), `"exemptionCategory":"Waiver"`) || !strings.Contains(string(b), `"ticketRef":"SEC-1"`) {
		t.Fatalf("the approved exemption: %s", b)
	}
	// The assessment says Exempt at once.
	b = s.get(t, storage+"/providers/Microsoft.Security/assessments/"+secureTransferKey+"?api-version=2020-01-01")
	if !strings.Contains(string(b), `"cause":"Exempt"`) {
		t.Errorf("assessment after approval: %s", b)
	}
	// Replayed: refused, and the ledger has the denial.
	if code, page := postLink(t, s.url, bob.token, tok); code != http.StatusForbidden || !strings.Contains(page, "LinkAlreadyUsed") {
		t.Fatalf("replayed link: %d %s", code, page)
	}
	rows := s.rbacGraphRows(t, s.token, `auditevents | where properties.kind == "Denied" and tostring(properties.action) has "exemptionRequests" | project action = tostring(properties.action), code = tostring(properties.after.code)`)
	codes := map[any]bool{}
	for _, r := range rows {
		codes[r["code"]] = true
	}
	if !codes["InvalidLink"] || !codes["LinkAlreadyUsed"] {
		t.Errorf("ledger denials of the forged and replayed links: %v", rows)
	}

	// The approval reaches the contacts and the ticket.
	eventually(t, "the approval mail", func() bool { return len(mails.all()) >= 2 })
	eventually(t, "the Jira comment", func() bool {
		for _, r := range jira.all() {
			if r.path == "/rest/api/3/issue/SEC-1/comment" {
				return true
			}
		}
		return false
	})
	// Every delivery of the request is visible with its state.
	eventually(t, "every delivery done", func() bool {
		var doc struct {
			Properties struct {
				Deliveries []struct{ Properties struct{ State string } } `json:"deliveries"`
			} `json:"properties"`
		}
		json.Unmarshal(s.get(t, requestPath+"legacy-http"+reqVersion), &doc)
		for _, d := range doc.Properties.Deliveries {
			if d.Properties.State != "Done" {
				return false
			}
		}
		return len(doc.Properties.Deliveries) == 8 // (mail, Teams, webhook, ticket) × (filed, approved)
	})
	// The request is a row of securityresources.
	rows = s.rbacGraphRows(t, s.token, `securityresources | where type == "microsoft.security/exemptionrequests" | project name, status = tostring(properties.status)`)
	if len(rows) != 1 || rows[0]["status"] != "Approved" {
		t.Errorf("securityresources rows: %v", rows)
	}
}

// postLink submits the link page's form as the token's principal.
func postLink(t *testing.T, base, bearer, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/requests/link", strings.NewReader(url.Values{"token": {token}, "reason": {"ok"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mailPart returns the decoded part of a multipart message with the type.
func mailPart(t *testing.T, msg *mail.Message, want string) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %q", msg.Header.Get("Content-Type"))
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := r.NextPart()
		if err != nil {
			t.Fatalf("no %s part", want)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), want) {
			b, _ := io.ReadAll(p) // multipart decodes quoted-printable
			return string(b)
		}
	}
}

// TestDeadLetter: a notice that keeps failing is dead-lettered with its
// error after the configured tries, visible in the jobs API, and can be
// put back.
func TestDeadLetter(t *testing.T) {
	_, smtpPort := startMailSink(t)
	cfg := fmt.Sprintf(`{"smtp":{"host":"127.0.0.1","port":%d,"tls":"none","from":"posture@example.com","timeout":"5s"}}`, smtpPort)
	cfgFile := filepath.Join(t.TempDir(), "notify.json")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	s := startServer(t, "--no-default-assignment", "--notify-config", cfgFile, "--queue-attempts", "2")
	for _, d := range []struct{ path, body string }{
		{reqSub + "?api-version=2022-12-01", `{"displayName":"apps"}`},
		{reqSub + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn?api-version=2022-06-01", `{"properties":{"policyDefinitionId":"/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"}}`},
		{reqSub + "/providers/Microsoft.Security/securityContacts/default?api-version=2020-01-01-preview", `{"properties":{"emails":"refuse@example.com"}}`},
	} {
		if code, _, b := s.raw(t, http.MethodPut, d.path, d.body); code >= 300 {
			t.Fatalf("PUT %s: %d %s", d.path, code, b)
		}
	}
	body := fmt.Sprintf(`{"properties":{"assessmentKey":%q,"exemptionCategory":"Mitigated","justification":"A WAF terminates TLS."}}`, secureTransferKey)
	if code, _, b := s.raw(t, http.MethodPut, requestPath+"whole-sub"+reqVersion, body); code != http.StatusCreated {
		t.Fatalf("filing: %d %s", code, b)
	}
	var jobs struct {
		Value []struct {
			Name       string
			Properties struct {
				State, LastError, Kind string
				Attempts               int
			}
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("jobs: %s", s.get(t, "/providers/Posture.Queue/jobs?api-version=2026-11-01"))
		}
	}()
	eventually(t, "the dead letter", func() bool {
		json.Unmarshal(s.get(t, "/providers/Posture.Queue/jobs?api-version=2026-11-01&$filter=state eq 'Dead'"), &jobs)
		return len(jobs.Value) == 1
	})
	j := jobs.Value[0].Properties
	if j.Attempts != 2 || !strings.Contains(j.LastError, "451") {
		t.Errorf("dead job: %+v", j)
	}
	// The CLI: the request, then its withdrawal by its requester.
	cli := func(args ...string) (int, string) {
		out, errOut := &safeBuffer{}, &safeBuffer{}
		code := Main(context.Background(), append(args, "--server", s.url, "--token", s.token), &IO{Out: out, Err: errOut})
		return code, out.String() + errOut.String()
	}
	if code, out := cli("request", "list", "--scope", reqSub, "--status", "Pending"); code != 0 || !strings.Contains(out, "Pending") || !strings.Contains(out, requestPath+"whole-sub") {
		t.Errorf("request list: %d\n%s", code, out)
	}
	// 403: exit code 4 (not allowed).
	if code, out := cli("request", "approve", "--scope", reqSub, "-n", "whole-sub"); code != 4 || !strings.Contains(out, "SelfApprovalNotAllowed") {
		t.Errorf("approving one's own request from the CLI: %d\n%s", code, out)
	}
	if code, out := cli("request", "withdraw", "--scope", reqSub, "-n", "whole-sub"); code != 0 || !strings.Contains(out, `"status": "Withdrawn"`) {
		t.Errorf("request withdraw: %d\n%s", code, out)
	}
	code, _, b := s.raw(t, http.MethodPost, "/providers/Posture.Queue/jobs/"+jobs.Value[0].Name+"/retry?api-version=2026-11-01", "")
	if code != http.StatusOK || !strings.Contains(string(b), `"state":"Pending"`) {
		t.Fatalf("retry: %d %s", code, b)
	}
}
