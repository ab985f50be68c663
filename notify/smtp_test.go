package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	smtpUser     = "posture-mailer"
	smtpPassword = "S3cret-Pa55word-for-smtp"
)

// testCert makes a self-signed certificate for 127.0.0.1 and localhost and
// writes it as PEM, for the client's CAFile.
func testCert(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "posture test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return pair, path
}

// received is one message as the sink saw it.
type received struct {
	From  string
	To    []string
	Data  []byte
	TLS   bool
	User  string // the authenticated user, "" without AUTH
	Mechs string // the mechanism used
}

// sink is an in-process SMTP server (emersion/go-smtp) that records what it
// receives and can refuse recipients or data with a chosen reply.
type sink struct {
	mu       sync.Mutex
	messages []received
	auth     bool // require AUTH before MAIL
	rcptErr  *smtp.SMTPError
	dataErr  *smtp.SMTPError
	authErrs int
}

func (s *sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &sinkSession{sink: s, conn: c}, nil
}

func (s *sink) got() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.messages...)
}

type sinkSession struct {
	sink *sink
	conn *smtp.Conn
	cur  received
}

func (s *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (s *sinkSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != smtpUser || pass != smtpPassword {
			s.sink.mu.Lock()
			s.sink.authErrs++
			s.sink.mu.Unlock()
			return smtp.ErrAuthFailed // 535 5.7.8
		}
		s.cur.User, s.cur.Mechs = user, mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.sink.auth && s.cur.User == "" {
		return smtp.ErrAuthRequired
	}
	s.cur.From = from
	_, s.cur.TLS = s.conn.TLSConnectionState()
	return nil
}

func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.sink.rcptErr != nil {
		return s.sink.rcptErr
	}
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *sinkSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.sink.dataErr != nil {
		return s.sink.dataErr
	}
	s.cur.Data = data
	s.sink.mu.Lock()
	s.sink.messages = append(s.sink.messages, s.cur)
	s.sink.mu.Unlock()
	return nil
}

func (s *sinkSession) Reset()        { s.cur = received{User: s.cur.User, Mechs: s.cur.Mechs} }
func (s *sinkSession) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl only has as a
// client: it asks for the user name, then the password.
type loginServer struct {
	step  int
	user  string
	check func(user, pass string) error
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if len(resp) > 0 { // user name sent as the initial response
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

type sinkOptions struct {
	startTLS bool // offer STARTTLS
	implicit bool // TLS from the first byte
	auth     bool
}

// startSink starts a sink on a loopback port and returns it with the port.
func startSink(t *testing.T, cert tls.Certificate, o sinkOptions) (*sink, int) {
	t.Helper()
	s := &sink{auth: o.auth}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = 5*time.Second, 5*time.Second
	if o.startTLS || o.implicit {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.implicit {
		l = tls.NewListener(l, srv.TLSConfig)
		srv.TLSConfig = nil // already TLS: do not offer STARTTLS on top
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s, l.Addr().(*net.TCPAddr).Port
}

func smtpConfig(port int, caFile string) SMTPConfig {
	return SMTPConfig{
		Host: "127.0.0.1", Port: port, TLS: TLSStartTLS, CAFile: caFile,
		Username: smtpUser, Password: smtpPassword,
		From: "posture <posture@contoso.example>", Timeout: Duration(5 * time.Second),
	}
}

// parsedMail is a received message taken apart with net/mail and
// mime/multipart, as a mail client would.
type parsedMail struct {
	Header mail.Header
	Parts  map[string]string // content type -> decoded body
	Order  []string
}

func parseMail(t *testing.T, data []byte) parsedMail {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a mail message: %v\n%s", err, data)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	p := parsedMail{Header: msg.Header, Parts: map[string]string{}}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // decodes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		p.Parts[ct] = string(body)
		p.Order = append(p.Order, ct)
	}
	return p
}

func TestEmailStartTLSAuthPlain(t *testing.T) {
	cert, caFile := testCert(t)
	s, port := startSink(t, cert, sinkOptions{startTLS: true, auth: true})
	ch, err := NewEmailChannel(smtpConfig(port, caFile))
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	m.Recipients, err = ParseAddressList("secops@contoso.example; ciso@contoso.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.got()
	if len(got) != 1 {
		t.Fatalf("sink received %d messages, want 1", len(got))
	}
	r := got[0]
	if !r.TLS || r.User != smtpUser || r.Mechs != sasl.Plain {
		t.Fatalf("session TLS=%v user=%q mech=%q, want STARTTLS then AUTH PLAIN as %s", r.TLS, r.User, r.Mechs, smtpUser)
	}
	if r.From != "posture@contoso.example" || strings.Join(r.To, ",") != "secops@contoso.example,ciso@contoso.example" {
		t.Fatalf("envelope from %q to %q", r.From, r.To)
	}

	p := parseMail(t, r.Data)
	subject, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "posture | Exemption request for resource " + testVM; subject != want {
		t.Fatalf("Subject %q, want %q", subject, want)
	}
	to, err := p.Header.AddressList("To")
	if err != nil || len(to) != 2 || to[1].Address != "ciso@contoso.example" {
		t.Fatalf("To %v (%v)", to, err)
	}
	if from, _ := p.Header.AddressList("From"); len(from) != 1 || from[0].Name != "posture" {
		t.Fatalf("From %v", from)
	}
	if id := p.Header.Get("Message-Id"); id != "<evt-0001@contoso.example>" {
		t.Fatalf("Message-Id %q, want one derived from the event id", id)
	}
	if p.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Fatalf("Auto-Submitted %q", p.Header.Get("Auto-Submitted"))
	}
	if strings.Join(p.Order, ",") != "text/plain,text/html" {
		t.Fatalf("parts %v, want text/plain then text/html", p.Order)
	}
	text, html := p.Parts["text/plain"], p.Parts["text/html"]
	for _, want := range []string{testVM, "Machines should have vulnerability findings resolved", "Waiver", "alice@contoso.example",
		"Approve: " + m.Links.Approve, "Reject: " + m.Links.Reject, "2026-09-30 00:00 UTC", "<script>alert(1)</script>"} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q\n%s", want, text)
		}
	}
	for _, want := range []string{
		`href="https://posture.example/requests/req-42/approve?sig=abc&amp;exp=1790000000"`,
		`href="https://posture.example/requests/req-42/reject?sig=def&amp;exp=1790000000"`,
		`href="https://posture.example/requests/req-42"`,
		"&lt;script&gt;alert(1)&lt;/script&gt; &amp; vendor",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML part lacks %q\n%s", want, html)
		}
	}
	if strings.Contains(html, "<script>") {
		t.Error("HTML part contains an unescaped script tag")
	}
}

func TestEmailImplicitTLSAuthLogin(t *testing.T) {
	cert, caFile := testCert(t)
	s, port := startSink(t, cert, sinkOptions{implicit: true, auth: true})
	cfg := smtpConfig(port, caFile)
	cfg.TLS, cfg.Auth = TLSImplicit, "login"
	ch, err := NewEmailChannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	m.Event = EventExemptionExpiring
	m.Links.Renew = "https://posture.example/exemptions/ex-7/renew?sig=zz"
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.got()
	if len(got) != 1 || !got[0].TLS || got[0].Mechs != sasl.Login {
		t.Fatalf("received %+v, want one message over TLS with AUTH LOGIN", got)
	}
	p := parseMail(t, got[0].Data)
	if !strings.Contains(p.Parts["text/html"], `href="https://posture.example/exemptions/ex-7/renew?sig=zz"`) {
		t.Fatalf("renewal link missing:\n%s", p.Parts["text/html"])
	}
	if strings.Contains(p.Parts["text/html"], "/approve") {
		t.Fatal("an expiry reminder offers an approve link")
	}
}

func TestEmailOpportunisticWithoutSTARTTLS(t *testing.T) {
	cert, _ := testCert(t)
	s, port := startSink(t, cert, sinkOptions{})
	cfg := SMTPConfig{Host: "127.0.0.1", Port: port, TLS: TLSOpportunistic, From: "posture@contoso.example", Timeout: Duration(5 * time.Second)}
	ch, err := NewEmailChannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(context.Background(), requestMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := s.got(); len(got) != 1 || got[0].TLS {
		t.Fatalf("received %+v, want one plaintext message", got)
	}

	// The same server with STARTTLS required: refused, and permanently so.
	cfg.TLS = TLSStartTLS
	ch, err = NewEmailChannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), requestMessage())
	if ErrorCode(err) != CodeTLS || !IsPermanent(err) {
		t.Fatalf("mandatory STARTTLS without server support: %v, want a permanent TLS error", err)
	}
	if len(s.got()) != 1 {
		t.Fatal("a message went out without the required STARTTLS")
	}
}

func TestEmailUntrustedCertificate(t *testing.T) {
	cert, _ := testCert(t)
	_, port := startSink(t, cert, sinkOptions{startTLS: true, auth: true})
	ch, err := NewEmailChannel(smtpConfig(port, "")) // system roots do not know the test CA
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), requestMessage())
	if ErrorCode(err) != CodeTLS || IsRetryable(err) {
		t.Fatalf("got %v, want a permanent TLS error", err)
	}
}

func TestEmailWrongPasswordIsPermanentAndNotLeaked(t *testing.T) {
	cert, caFile := testCert(t)
	s, port := startSink(t, cert, sinkOptions{startTLS: true, auth: true})
	cfg := smtpConfig(port, caFile)
	cfg.Password = "Wrong-Password-123456"
	ch, err := NewEmailChannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), requestMessage())
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnauthorized || e.Retryable || e.Status != 535 {
		t.Fatalf("got %#v, want permanent Unauthorized 535", err)
	}
	if strings.Contains(err.Error(), "Wrong-Password") || strings.Contains(e.Message, "Wrong-Password") {
		t.Fatalf("the password appears in the error: %v", err)
	}
	s.mu.Lock()
	authErrs := s.authErrs
	s.mu.Unlock()
	if authErrs != 1 || len(s.got()) != 0 {
		t.Fatalf("auth failures %d, messages %d", authErrs, len(s.got()))
	}
}

func TestEmailServerRefusals(t *testing.T) {
	cases := []struct {
		name      string
		rcpt      *smtp.SMTPError
		data      *smtp.SMTPError
		code      Code
		retryable bool
		status    int
	}{
		{"550 unknown mailbox", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}, nil, CodeMailPermanent, false, 550},
		{"451 try later", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Greylisted, try again"}, nil, CodeMailTransient, true, 451},
		{"552 at end of data", nil, &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big"}, CodeMailPermanent, false, 552},
		{"452 at end of data", nil, &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 3, 1}, Message: "Out of storage"}, CodeMailTransient, true, 452},
	}
	cert, caFile := testCert(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, port := startSink(t, cert, sinkOptions{startTLS: true, auth: true})
			s.rcptErr, s.dataErr = c.rcpt, c.data
			ch, err := NewEmailChannel(smtpConfig(port, caFile))
			if err != nil {
				t.Fatal(err)
			}
			err = ch.Send(context.Background(), requestMessage())
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want *Error", err)
			}
			if e.Code != c.code || e.Retryable != c.retryable || e.Status != c.status {
				t.Fatalf("got code %s retryable %v status %d (%v), want %s %v %d", e.Code, e.Retryable, e.Status, err, c.code, c.retryable, c.status)
			}
			if IsRetryable(err) != c.retryable || IsPermanent(err) == c.retryable {
				t.Fatal("IsRetryable / IsPermanent disagree with the error")
			}
		})
	}
}

func TestEmailServerThatNeverAnswersTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept() // accept, then say nothing
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	cfg := smtpConfig(l.Addr().(*net.TCPAddr).Port, "")
	cfg.Timeout = Duration(300 * time.Millisecond)
	ch, err := NewEmailChannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = ch.Send(context.Background(), requestMessage())
	if ErrorCode(err) != CodeTimeout || !IsRetryable(err) {
		t.Fatalf("got %v, want a retryable timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("gave up after %s, want about the 300ms timeout", d)
	}
}

func TestEmailConnectionRefusedIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there any more
	ch, err := NewEmailChannel(smtpConfig(port, ""))
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Send(context.Background(), requestMessage())
	if ErrorCode(err) != CodeNetwork || !IsRetryable(err) {
		t.Fatalf("got %v, want a retryable network error", err)
	}
	if !strings.Contains(err.Error(), "smtp://127.0.0.1") || strings.Contains(err.Error(), smtpPassword) {
		t.Fatalf("error text: %v", err)
	}
}

func TestEmailNoRecipients(t *testing.T) {
	ch, err := NewEmailChannel(SMTPConfig{Host: "127.0.0.1", Port: 1, TLS: TLSNone, From: "posture@contoso.example"})
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	m.Recipients = nil
	if err := ch.Send(context.Background(), m); ErrorCode(err) != CodeInvalidMessage || IsRetryable(err) {
		t.Fatalf("got %v, want a permanent InvalidMessage", err)
	}
}

func TestEmailDefaultRecipientsAndLongSubject(t *testing.T) {
	cert, caFile := testCert(t)
	s, port := startSink(t, cert, sinkOptions{startTLS: true, auth: true})
	cfg := smtpConfig(port, caFile)
	cfg.DefaultTo = []string{"fallback@contoso.example"}
	ch, err := NewEmailChannel(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	m.Recipients = nil
	long := testVM + "/extensions/" + strings.Repeat("x", 120) + "-ünïcode"
	m.Resources = []string{long}
	if err := ch.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := s.got()
	if len(got) != 1 || strings.Join(got[0].To, ",") != "fallback@contoso.example" {
		t.Fatalf("received %+v", got)
	}
	p := parseMail(t, got[0].Data)
	subject, err := new(mime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "posture | Exemption request for resource " + long; subject != want {
		t.Fatalf("a long non-ASCII subject did not survive folding and encoding:\n got %q\nwant %q", subject, want)
	}
	for _, line := range strings.Split(string(got[0].Data), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line of %d bytes exceeds RFC 5322's 998", len(line))
		}
	}
}
