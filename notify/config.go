package notify

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/posture/posture"
)

// Config holds every channel and ticket connector an operator can configure.
// A nil section is not configured. It reads from JSON (durations as "15s")
// and from the environment (ApplyEnv).
type Config struct {
	SMTP       *SMTPConfig       `json:"smtp,omitempty"`
	Teams      *TeamsConfig      `json:"teams,omitempty"`
	Slack      *SlackConfig      `json:"slack,omitempty"`
	Webhooks   []WebhookConfig   `json:"webhooks,omitempty"`
	Jira       *JiraConfig       `json:"jira,omitempty"`
	ServiceNow *ServiceNowConfig `json:"serviceNow,omitempty"`
}

// Secret is a password, token, key or secret-bearing URL. It prints and
// marshals as "[redacted]", so logging or dumping a Config never leaks it;
// it unmarshals from a plain JSON string.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// MarshalText keeps secrets out of any serialized configuration.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Duration is a time.Duration written as text ("10s", "1m30s").
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// TLSMode says how the SMTP connection is protected.
type TLSMode string

// SMTP TLS modes.
const (
	TLSStartTLS      TLSMode = "starttls"      // STARTTLS is required (RFC 3207); the default
	TLSOpportunistic TLSMode = "opportunistic" // STARTTLS when the server offers it, else plaintext
	TLSImplicit      TLSMode = "implicit"      // TLS from the first byte (RFC 8314, port 465)
	TLSNone          TLSMode = "none"          // plaintext; refused together with AUTH
)

// SMTPConfig configures the e-mail channel.
type SMTPConfig struct {
	Host     string  `json:"host"`
	Port     int     `json:"port,omitempty"` // default 587, or 465 for implicit TLS, 25 for none
	TLS      TLSMode `json:"tls,omitempty"`
	CAFile   string  `json:"caFile,omitempty"` // PEM roots to trust instead of the system's
	Username string  `json:"username,omitempty"`
	Password Secret  `json:"password,omitempty"`
	// Auth is "plain" (default when a username is set) or "login".
	Auth      string   `json:"auth,omitempty"`
	From      string   `json:"from"`                // "posture <posture@example.com>"
	DefaultTo []string `json:"defaultTo,omitempty"` // used when a message names no recipients
	HELO      string   `json:"helo,omitempty"`      // default: the host name
	Timeout   Duration `json:"timeout,omitempty"`   // per connection and command; default 15s
}

// TeamsConfig configures a Microsoft Teams incoming webhook (or a Workflows
// "when a Teams webhook request is received" URL, which takes the same body).
type TeamsConfig struct {
	URL     Secret   `json:"url"`
	Timeout Duration `json:"timeout,omitempty"` // default 10s
}

// SlackConfig configures a Slack incoming webhook.
type SlackConfig struct {
	URL     Secret   `json:"url"`
	Timeout Duration `json:"timeout,omitempty"` // default 10s
}

// WebhookConfig configures a generic JSON webhook signed with HMAC-SHA256.
type WebhookConfig struct {
	Name    string   `json:"name,omitempty"` // shown in errors and logs
	URL     Secret   `json:"url"`
	Secret  Secret   `json:"secret"`            // the HMAC key, at least 32 bytes
	Timeout Duration `json:"timeout,omitempty"` // default 10s
}

// JiraConfig configures the Jira Cloud connector (REST API v3, basic auth
// with an account e-mail and API token).
type JiraConfig struct {
	BaseURL   string   `json:"baseUrl"`             // https://your-domain.atlassian.net
	Project   string   `json:"project"`             // project key, e.g. SEC
	IssueType string   `json:"issueType,omitempty"` // default "Task"
	Email     string   `json:"email"`
	APIToken  Secret   `json:"apiToken"`
	Labels    []string `json:"labels,omitempty"`
	Timeout   Duration `json:"timeout,omitempty"` // default 10s
}

// ServiceNowConfig configures the ServiceNow connector (Table API, basic auth).
type ServiceNowConfig struct {
	InstanceURL     string   `json:"instanceUrl"`     // https://your-instance.service-now.com
	Table           string   `json:"table,omitempty"` // "incident" (default) or "sc_task"
	Username        string   `json:"username"`
	Password        Secret   `json:"password"`
	AssignmentGroup string   `json:"assignmentGroup,omitempty"` // sys_id or name
	Timeout         Duration `json:"timeout,omitempty"`         // default 10s
}

const (
	defaultSMTPTimeout = 15 * time.Second
	defaultHTTPTimeout = 10 * time.Second
	minHMACKeyLength   = 32
)

// configErrors collects validation problems, each with the path of the field.
type configErrors struct{ details []*posture.Error }

func (c *configErrors) add(target, format string, args ...any) {
	c.details = append(c.details, posture.Errorf(posture.EINVALID, "InvalidNotificationConfig", format, args...).WithTarget(target))
}

func (c *configErrors) err() error {
	switch len(c.details) {
	case 0:
		return nil
	case 1:
		return c.details[0]
	}
	msgs := make([]string, len(c.details))
	for i, d := range c.details {
		msgs[i] = d.Target + ": " + d.Message
	}
	e := posture.Errorf(posture.EINVALID, "InvalidNotificationConfig", "%d problems: %s", len(c.details), strings.Join(msgs, "; "))
	e.Details = c.details
	return e
}

// Validate checks every configured section. The error is a *posture.Error
// of kind EINVALID whose Target (or Details' targets) name the fields, e.g.
// "smtp.host" or "webhooks[1].secret".
func (c *Config) Validate() error {
	var errs configErrors
	if c.SMTP != nil {
		c.SMTP.check(&errs, "smtp")
	}
	if c.Teams != nil {
		checkEndpoint(&errs, "teams.url", string(c.Teams.URL))
		checkTimeout(&errs, "teams.timeout", c.Teams.Timeout)
	}
	if c.Slack != nil {
		checkEndpoint(&errs, "slack.url", string(c.Slack.URL))
		checkTimeout(&errs, "slack.timeout", c.Slack.Timeout)
	}
	for i := range c.Webhooks {
		c.Webhooks[i].check(&errs, fmt.Sprintf("webhooks[%d]", i))
	}
	if c.Jira != nil {
		c.Jira.check(&errs, "jira")
	}
	if c.ServiceNow != nil {
		c.ServiceNow.check(&errs, "serviceNow")
	}
	return errs.err()
}

// Validate checks an SMTP configuration on its own.
func (s *SMTPConfig) Validate() error { var e configErrors; s.check(&e, "smtp"); return e.err() }

// Validate checks a Teams configuration on its own.
func (t *TeamsConfig) Validate() error {
	var e configErrors
	checkEndpoint(&e, "teams.url", string(t.URL))
	checkTimeout(&e, "teams.timeout", t.Timeout)
	return e.err()
}

// Validate checks a Slack configuration on its own.
func (s *SlackConfig) Validate() error {
	var e configErrors
	checkEndpoint(&e, "slack.url", string(s.URL))
	checkTimeout(&e, "slack.timeout", s.Timeout)
	return e.err()
}

// Validate checks a generic webhook configuration on its own.
func (w *WebhookConfig) Validate() error { var e configErrors; w.check(&e, "webhook"); return e.err() }

// Validate checks a Jira configuration on its own.
func (j *JiraConfig) Validate() error { var e configErrors; j.check(&e, "jira"); return e.err() }

// Validate checks a ServiceNow configuration on its own.
func (s *ServiceNowConfig) Validate() error {
	var e configErrors
	s.check(&e, "serviceNow")
	return e.err()
}

func (s *SMTPConfig) check(e *configErrors, p string) {
	switch {
	case s.Host == "":
		e.add(p+".host", "the SMTP host is required")
	case strings.ContainsAny(s.Host, " /:@") && net.ParseIP(s.Host) == nil:
		e.add(p+".host", "want a host name or IP address without port or scheme, got %q", s.Host)
	}
	if s.Port < 0 || s.Port > 65535 {
		e.add(p+".port", "want 1-65535, got %d", s.Port)
	}
	switch s.TLS {
	case "", TLSStartTLS, TLSOpportunistic, TLSImplicit, TLSNone:
	default:
		e.add(p+".tls", "want starttls, opportunistic, implicit or none, got %q", s.TLS)
	}
	if s.Username != "" && s.TLS == TLSNone {
		// A password sent in the clear is a password given away.
		e.add(p+".tls", "AUTH needs TLS: use starttls or implicit, not none")
	}
	if s.Username == "" && s.Password != "" {
		e.add(p+".username", "a password is set without a username")
	}
	switch strings.ToLower(s.Auth) {
	case "", "plain", "login":
	default:
		e.add(p+".auth", "want plain or login, got %q", s.Auth)
	}
	if s.From == "" {
		e.add(p+".from", "the sender address is required")
	} else if _, err := mail.ParseAddress(s.From); err != nil {
		e.add(p+".from", "not an e-mail address: %v", err)
	}
	for i, to := range s.DefaultTo {
		if _, err := mail.ParseAddress(to); err != nil {
			e.add(fmt.Sprintf("%s.defaultTo[%d]", p, i), "not an e-mail address: %v", err)
		}
	}
	if strings.ContainsAny(s.HELO, " \r\n") {
		e.add(p+".helo", "want a host name, got %q", s.HELO)
	}
	checkTimeout(e, p+".timeout", s.Timeout)
}

func (w *WebhookConfig) check(e *configErrors, p string) {
	checkEndpoint(e, p+".url", string(w.URL))
	if len(w.Secret) < minHMACKeyLength {
		e.add(p+".secret", "the HMAC key must be at least %d bytes (have %d)", minHMACKeyLength, len(w.Secret))
	}
	checkTimeout(e, p+".timeout", w.Timeout)
}

// jiraKeyPattern is Jira's default project key format; sites may loosen it,
// so only what would break a URL or JSON is refused beyond this.
var jiraKeyPattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,254}$`)

func (j *JiraConfig) check(e *configErrors, p string) {
	checkEndpoint(e, p+".baseUrl", j.BaseURL)
	if !jiraKeyPattern.MatchString(j.Project) {
		e.add(p+".project", "want a project key such as SEC, got %q", j.Project)
	}
	if strings.ContainsAny(j.IssueType, "\r\n") {
		e.add(p+".issueType", "must be one line")
	}
	if _, err := mail.ParseAddress(j.Email); err != nil {
		e.add(p+".email", "want the Atlassian account e-mail: %v", err)
	}
	if j.APIToken == "" {
		e.add(p+".apiToken", "the API token is required")
	}
	for i, l := range j.Labels {
		if l == "" || strings.ContainsAny(l, " \t\r\n") {
			e.add(fmt.Sprintf("%s.labels[%d]", p, i), "Jira labels cannot be empty or contain spaces, got %q", l)
		}
	}
	checkTimeout(e, p+".timeout", j.Timeout)
}

var serviceNowTable = regexp.MustCompile(`^[a-z][a-z0-9_]{0,79}$`)

func (s *ServiceNowConfig) check(e *configErrors, p string) {
	checkEndpoint(e, p+".instanceUrl", s.InstanceURL)
	if s.Table != "" && !serviceNowTable.MatchString(s.Table) {
		e.add(p+".table", "want a table name such as incident or sc_task, got %q", s.Table)
	}
	if s.Username == "" {
		e.add(p+".username", "the user name is required")
	}
	if s.Password == "" {
		e.add(p+".password", "the password is required")
	}
	checkTimeout(e, p+".timeout", s.Timeout)
}

// checkEndpoint accepts https URLs, and http only to a loopback address (a
// local relay or a test server): over plain http a webhook URL or a basic-auth
// header would be readable by anyone on the path. Messages never repeat the
// URL, which may be secret.
func checkEndpoint(e *configErrors, target, raw string) {
	if raw == "" {
		e.add(target, "the URL is required")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		e.add(target, "not an absolute URL")
		return
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		e.add(target, "want https (http is only accepted for loopback addresses), host %s", u.Host)
	default:
		e.add(target, "want an https URL, got scheme %q", u.Scheme)
	}
	if u.User != nil {
		e.add(target, "credentials in the URL are not accepted; use the user and password fields")
	}
	if u.Fragment != "" {
		e.add(target, "a URL fragment is not sent to the server; remove it")
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkTimeout(e *configErrors, target string, d Duration) {
	if d < 0 {
		e.add(target, "must not be negative")
	}
}

func timeoutOr(d Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return time.Duration(d)
}
