package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
)

const configJSON = `{
  "smtp": {"host": "smtp.contoso.example", "tls": "starttls", "username": "mailer", "password": "smtp-pass-123",
           "from": "posture <posture@contoso.example>", "defaultTo": ["secops@contoso.example"], "timeout": "20s"},
  "teams": {"url": "https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d"},
  "slack": {"url": "https://hooks.slack.com/services/T0/B0/slack-token-xyz"},
  "webhooks": [{"name": "soar", "url": "https://soar.contoso.example/hooks/posture", "secret": "0123456789abcdef0123456789abcdef"}],
  "jira": {"baseUrl": "https://contoso.atlassian.net", "project": "SEC", "email": "bot@contoso.example", "apiToken": "jira-token-abc"},
  "serviceNow": {"instanceUrl": "https://contoso.service-now.com", "table": "sc_task", "username": "integration", "password": "snow-pass-456"}
}`

func TestConfigFromJSONBuildsEverything(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(configJSON), &c); err != nil {
		t.Fatal(err)
	}
	if c.SMTP.Timeout != Duration(20*time.Second) || c.SMTP.Password != "smtp-pass-123" {
		t.Fatalf("smtp %+v", *c.SMTP)
	}
	channels, tickets, err := c.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	var names []string
	for _, ch := range channels {
		names = append(names, ch.Name())
	}
	for _, tc := range tickets {
		names = append(names, tc.Name())
	}
	if got := strings.Join(names, ","); got != "email,teams,slack,soar,jira,servicenow" {
		t.Fatalf("built %s", got)
	}
}

func TestSecretsDoNotPrint(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(configJSON), &c); err != nil {
		t.Fatal(err)
	}
	dumped, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	printed := fmt.Sprintf("%v %+v %+v %+v %+v %+v", c, *c.SMTP, *c.Teams, *c.Slack, c.Webhooks, *c.Jira) + fmt.Sprintf("%+v", *c.ServiceNow)
	for _, secret := range []string{"smtp-pass-123", "slack-token-xyz", "IncomingWebhook/c/d", "0123456789abcdef0123456789abcdef", "jira-token-abc", "snow-pass-456"} {
		if strings.Contains(string(dumped), secret) || strings.Contains(printed, secret) {
			t.Errorf("secret %q shows in a dump of the configuration", secret)
		}
	}
	if !strings.Contains(string(dumped), `"password":"[redacted]"`) {
		t.Fatalf("marshalled config: %s", dumped)
	}
}

func TestConfigValidationNamesTheFields(t *testing.T) {
	c := Config{
		SMTP:       &SMTPConfig{Host: "smtp.example:25", TLS: "none", Username: "u", Password: "p", From: "nobody", Port: 70000},
		Teams:      &TeamsConfig{URL: "http://teams.example/hook"},
		Slack:      &SlackConfig{URL: "https://user:pw@hooks.slack.com/x"},
		Webhooks:   []WebhookConfig{{URL: "https://ok.example/h", Secret: "short"}},
		Jira:       &JiraConfig{BaseURL: "ftp://jira.example", Project: "SEC PROJ", Email: "x"},
		ServiceNow: &ServiceNowConfig{InstanceURL: "https://x.service-now.com", Table: "incident; drop", Username: ""},
	}
	err := c.Validate()
	var pe *posture.Error
	if !errors.As(err, &pe) || pe.Kind != posture.EINVALID || pe.Code != "InvalidNotificationConfig" {
		t.Fatalf("got %v, want an EINVALID posture error", err)
	}
	targets := map[string]bool{}
	for _, d := range pe.Details {
		targets[d.Target] = true
	}
	for _, want := range []string{
		"smtp.host", "smtp.port", "smtp.tls", "smtp.from",
		"teams.url", "slack.url", "webhooks[0].secret",
		"jira.baseUrl", "jira.project", "jira.email", "jira.apiToken",
		"serviceNow.table", "serviceNow.username", "serviceNow.password",
	} {
		if !targets[want] {
			t.Errorf("no problem reported for %s (got %v)", want, targets)
		}
	}
	if strings.Contains(err.Error(), "pw@") || strings.Contains(err.Error(), "user:pw") {
		t.Fatalf("the error repeats URL credentials: %v", err)
	}
}

func TestConfigAcceptsLoopbackHTTPOnly(t *testing.T) {
	for url, ok := range map[string]bool{
		"https://hooks.slack.com/services/x": true,
		"http://127.0.0.1:8080/hook":         true,
		"http://[::1]:8080/hook":             true,
		"http://localhost/hook":              true,
		"http://10.0.0.5/hook":               false,
		"hooks.slack.com/services/x":         false,
		"https://hooks.slack.com/x#frag":     false,
	} {
		err := (&SlackConfig{URL: Secret(url)}).Validate()
		if (err == nil) != ok {
			t.Errorf("%s: err=%v, want ok=%v", url, err, ok)
		}
	}
}

func TestConfigSingleProblemHasTarget(t *testing.T) {
	err := (&SMTPConfig{Host: "smtp.contoso.example"}).Validate()
	var pe *posture.Error
	if !errors.As(err, &pe) || pe.Target != "smtp.from" {
		t.Fatalf("got %#v, want one problem targeted at smtp.from", err)
	}
}

func TestApplyEnv(t *testing.T) {
	env := map[string]string{
		"POSTURE_NOTIFY_SMTP_HOST":        "smtp.contoso.example",
		"POSTURE_NOTIFY_SMTP_PORT":        "2525",
		"POSTURE_NOTIFY_SMTP_TLS":         "IMPLICIT",
		"POSTURE_NOTIFY_SMTP_USERNAME":    "mailer",
		"POSTURE_NOTIFY_SMTP_PASSWORD":    "from-env",
		"POSTURE_NOTIFY_SMTP_FROM":        "posture@contoso.example",
		"POSTURE_NOTIFY_SMTP_TO":          "a@contoso.example; b@contoso.example",
		"POSTURE_NOTIFY_SMTP_TIMEOUT":     "3s",
		"POSTURE_NOTIFY_SLACK_URL":        "https://hooks.slack.com/services/T/B/env",
		"POSTURE_NOTIFY_WEBHOOK_URL":      "https://soar.contoso.example/h",
		"POSTURE_NOTIFY_WEBHOOK_SECRET":   "0123456789abcdef0123456789abcdef",
		"POSTURE_NOTIFY_JIRA_TOKEN":       "token-from-env",
		"POSTURE_NOTIFY_JIRA_LABELS":      "security, exemption",
		"POSTURE_NOTIFY_SERVICENOW_TABLE": "sc_task",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var c Config
	if err := json.Unmarshal([]byte(configJSON), &c); err != nil {
		t.Fatal(err)
	}
	c.Teams = nil
	if err := c.ApplyEnv(lookup); err != nil {
		t.Fatal(err)
	}
	s := c.SMTP
	if s.Host != "smtp.contoso.example" || s.Port != 2525 || s.TLS != TLSImplicit || s.Password != "from-env" ||
		strings.Join(s.DefaultTo, ",") != "a@contoso.example,b@contoso.example" || s.Timeout != Duration(3*time.Second) {
		t.Fatalf("smtp %+v", *s)
	}
	if c.Teams != nil {
		t.Fatal("a section without variables was created")
	}
	if c.Slack.URL != "https://hooks.slack.com/services/T/B/env" || len(c.Webhooks) != 2 || c.Jira.APIToken != "token-from-env" ||
		c.Jira.Project != "SEC" || strings.Join(c.Jira.Labels, ",") != "security,exemption" || c.ServiceNow.Table != "sc_task" {
		t.Fatalf("env not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("the merged configuration is invalid: %v", err)
	}

	bad := func(k string) (string, bool) {
		if k == "POSTURE_NOTIFY_SLACK_TIMEOUT" {
			return "ten seconds", true
		}
		return "", false
	}
	if err := new(Config).ApplyEnv(bad); err == nil || !strings.Contains(err.Error(), "POSTURE_NOTIFY_SLACK_TIMEOUT") {
		t.Fatalf("got %v, want an error naming the variable", err)
	}
}
