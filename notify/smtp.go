package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"net/textproto"
	"os"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// EmailChannel sends messages over SMTP with go-mail: one connection per
// message, multipart/alternative text and HTML, STARTTLS or implicit TLS,
// AUTH PLAIN or LOGIN.
type EmailChannel struct {
	cfg   SMTPConfig
	opts  []gomail.Option
	from  *mail.Address
	scrub *scrubber
}

// NewEmailChannel checks cfg and prepares a channel. The CA file, if any, is
// read now so that a bad path fails at start-up, not at the first send.
func NewEmailChannel(cfg SMTPConfig) (*EmailChannel, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	from, _ := mail.ParseAddress(cfg.From) // checked by Validate
	mode := cfg.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	port := cfg.Port
	if port == 0 {
		port = map[TLSMode]int{TLSStartTLS: 587, TLSOpportunistic: 587, TLSImplicit: 465, TLSNone: 25}[mode]
	}
	tlsConfig := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("notify: smtp.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify: smtp.caFile %s: no PEM certificates", cfg.CAFile)
		}
		tlsConfig.RootCAs = pool
	}
	opts := []gomail.Option{
		gomail.WithPort(port),
		gomail.WithTimeout(timeoutOr(cfg.Timeout, defaultSMTPTimeout)),
		gomail.WithTLSConfig(tlsConfig),
	}
	switch mode {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSOpportunistic:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if cfg.HELO != "" {
		opts = append(opts, gomail.WithHELO(cfg.HELO))
	}
	if cfg.Username != "" {
		// go-mail's PLAIN and LOGIN refuse to send the password over an
		// unencrypted connection (except to localhost); with opportunistic
		// TLS and a server without STARTTLS the send fails rather than leak.
		auth := gomail.SMTPAuthPlain
		if strings.EqualFold(cfg.Auth, "login") {
			auth = gomail.SMTPAuthLogin
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(cfg.Username), gomail.WithPassword(string(cfg.Password)))
	}
	return &EmailChannel{cfg: cfg, opts: opts, from: from, scrub: newScrubber(string(cfg.Password))}, nil
}

// Name identifies the channel in errors and logs.
func (c *EmailChannel) Name() string { return "email" }

// Send delivers m to m.Recipients, or to the configured default recipients
// when the message names none. All recipients get one message; a refused
// recipient fails the whole send (SMTP 5xx: permanent, 4xx: retryable).
func (c *EmailChannel) Send(ctx context.Context, m *Message) error {
	email, err := RenderEmail(m)
	if err != nil {
		return c.fail("render", CodeInvalidMessage, false, 0, err.Error(), nil)
	}
	rcpts := m.Recipients
	if len(rcpts) == 0 {
		rcpts = c.cfg.DefaultTo
	}
	if len(rcpts) == 0 {
		return c.fail("send", CodeInvalidMessage, false, 0, "no recipients: the message names none and smtp.defaultTo is empty", nil)
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(c.from)
	if err := msg.To(rcpts...); err != nil {
		return c.fail("send", CodeInvalidMessage, false, 0, err.Error(), nil)
	}
	msg.Subject(email.Subject)
	msg.SetDate()
	// The Message-ID comes from the event id, so that a retried delivery is
	// recognisably the same message to mail clients and archives.
	msg.SetMessageIDWithValue(strings.ReplaceAll(m.ID, ":", "-") + "@" + domainOf(c.from.Address))
	msg.SetUserAgent("posture")
	// Auto-Submitted (RFC 3834) and Precedence/X-Auto-Response-Suppress stop
	// out-of-office replies from flooding the sender.
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	msg.SetBulk()
	msg.SetBodyString(gomail.TypeTextPlain, email.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, email.HTML)

	client, err := gomail.NewClient(c.cfg.Host, c.opts...)
	if err != nil {
		return c.fail("send", CodeInvalidMessage, false, 0, err.Error(), nil)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return c.classify(err)
	}
	return nil
}

func (c *EmailChannel) fail(op string, code Code, retryable bool, status int, text string, cause error) *Error {
	return &Error{Channel: "email", Op: op, Code: code, Retryable: retryable, Status: status,
		Target: fmt.Sprintf("smtp://%s", c.cfg.Host), Message: c.scrub.clean(text), Err: cause}
}

// classify maps a go-mail error to a delivery error. SMTP replies decide by
// their first digit (RFC 5321 §4.2.1): 4yz is a transient failure, 5yz a
// permanent one. Failures before any reply are network or TLS problems.
func (c *EmailChannel) classify(err error) *Error {
	text := err.Error()
	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) && sendErr.ErrorCode() != 0 {
		code := sendErr.ErrorCode()
		if sendErr.IsTemp() || code/100 == 4 {
			return c.fail("send", CodeMailTransient, true, code, text, scrubbedError{c.scrub.clean(text), err})
		}
		return c.fail("send", CodeMailPermanent, false, code, text, scrubbedError{c.scrub.clean(text), err})
	}
	var reply *textproto.Error
	if errors.As(err, &reply) {
		// A reply during the dialogue before MAIL (EHLO, STARTTLS, AUTH).
		code := CodeMailPermanent
		switch {
		case reply.Code/100 == 4:
			return c.fail("send", CodeMailTransient, true, reply.Code, text, scrubbedError{c.scrub.clean(text), err})
		case reply.Code == 530 || reply.Code == 534 || reply.Code == 535 || reply.Code == 538:
			code = CodeUnauthorized // RFC 4954 §6: authentication required or refused
		}
		return c.fail("send", code, false, reply.Code, text, scrubbedError{c.scrub.clean(text), err})
	}
	if strings.Contains(text, "does not support STARTTLS") || strings.Contains(text, "unencrypted connection") {
		// Mandatory STARTTLS not offered, or a password that would have gone
		// out in the clear: only a configuration change helps.
		return c.fail("send", CodeTLS, false, 0, text, scrubbedError{c.scrub.clean(text), err})
	}
	if strings.Contains(text, "does not support SMTP AUTH") || strings.Contains(text, "AUTH not supported") {
		return c.fail("send", CodeUnauthorized, false, 0, text, scrubbedError{c.scrub.clean(text), err})
	}
	e := transportError("email", "send", fmt.Sprintf("smtp://%s", c.cfg.Host), err, c.scrub)
	return e
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return "posture.invalid"
}
