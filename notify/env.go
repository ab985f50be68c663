package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment variable ApplyEnv reads.
const EnvPrefix = "POSTURE_NOTIFY_"

// ApplyEnv overlays environment variables on c, so that secrets can come
// from the environment (or a secret store mounted as one) rather than a
// file. Setting any variable of a section creates that section. lookup is
// os.LookupEnv in production.
//
//	POSTURE_NOTIFY_SMTP_HOST, _PORT, _TLS, _CA_FILE, _USERNAME, _PASSWORD,
//	  _AUTH, _FROM, _TO (";"-separated), _HELO, _TIMEOUT
//	POSTURE_NOTIFY_TEAMS_URL, POSTURE_NOTIFY_TEAMS_TIMEOUT
//	POSTURE_NOTIFY_SLACK_URL, POSTURE_NOTIFY_SLACK_TIMEOUT
//	POSTURE_NOTIFY_WEBHOOK_URL, _SECRET, _NAME, _TIMEOUT (one more webhook)
//	POSTURE_NOTIFY_JIRA_URL, _PROJECT, _ISSUE_TYPE, _EMAIL, _TOKEN, _LABELS (","-separated), _TIMEOUT
//	POSTURE_NOTIFY_SERVICENOW_URL, _TABLE, _USERNAME, _PASSWORD, _ASSIGNMENT_GROUP, _TIMEOUT
//
// Values are not validated here; call Validate afterwards.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	get := func(name string) (string, bool) { return lookup(EnvPrefix + name) }
	var errs []string
	str := func(dst *string, name string) bool {
		v, ok := get(name)
		if ok {
			*dst = v
		}
		return ok
	}
	secret := func(dst *Secret, name string) bool {
		v, ok := get(name)
		if ok {
			*dst = Secret(v)
		}
		return ok
	}
	dur := func(dst *Duration, name string) bool {
		v, ok := get(name)
		if !ok {
			return false
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s%s: %v", EnvPrefix, name, err))
			return true
		}
		*dst = Duration(d)
		return true
	}
	list := func(dst *[]string, name, sep string) bool {
		v, ok := get(name)
		if !ok {
			return false
		}
		*dst = nil
		for _, part := range strings.Split(v, sep) {
			if part = strings.TrimSpace(part); part != "" {
				*dst = append(*dst, part)
			}
		}
		return true
	}

	smtp := orNew(c.SMTP)
	set := str(&smtp.Host, "SMTP_HOST")
	if v, ok := get("SMTP_PORT"); ok {
		set = true
		port, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, EnvPrefix+"SMTP_PORT: not a number")
		}
		smtp.Port = port
	}
	var mode string
	if str(&mode, "SMTP_TLS") {
		smtp.TLS, set = TLSMode(strings.ToLower(mode)), true
	}
	set = str(&smtp.CAFile, "SMTP_CA_FILE") || set
	set = str(&smtp.Username, "SMTP_USERNAME") || set
	set = secret(&smtp.Password, "SMTP_PASSWORD") || set
	set = str(&smtp.Auth, "SMTP_AUTH") || set
	set = str(&smtp.From, "SMTP_FROM") || set
	set = list(&smtp.DefaultTo, "SMTP_TO", ";") || set
	set = str(&smtp.HELO, "SMTP_HELO") || set
	set = dur(&smtp.Timeout, "SMTP_TIMEOUT") || set
	if set {
		c.SMTP = smtp
	}

	teams := orNew(c.Teams)
	if set := secret(&teams.URL, "TEAMS_URL"); dur(&teams.Timeout, "TEAMS_TIMEOUT") || set {
		c.Teams = teams
	}
	slack := orNew(c.Slack)
	if set := secret(&slack.URL, "SLACK_URL"); dur(&slack.Timeout, "SLACK_TIMEOUT") || set {
		c.Slack = slack
	}

	var hook WebhookConfig
	set = secret(&hook.URL, "WEBHOOK_URL")
	set = secret(&hook.Secret, "WEBHOOK_SECRET") || set
	set = str(&hook.Name, "WEBHOOK_NAME") || set
	set = dur(&hook.Timeout, "WEBHOOK_TIMEOUT") || set
	if set {
		c.Webhooks = append(c.Webhooks, hook)
	}

	jira := orNew(c.Jira)
	set = str(&jira.BaseURL, "JIRA_URL")
	set = str(&jira.Project, "JIRA_PROJECT") || set
	set = str(&jira.IssueType, "JIRA_ISSUE_TYPE") || set
	set = str(&jira.Email, "JIRA_EMAIL") || set
	set = secret(&jira.APIToken, "JIRA_TOKEN") || set
	set = list(&jira.Labels, "JIRA_LABELS", ",") || set
	set = dur(&jira.Timeout, "JIRA_TIMEOUT") || set
	if set {
		c.Jira = jira
	}

	snow := orNew(c.ServiceNow)
	set = str(&snow.InstanceURL, "SERVICENOW_URL")
	set = str(&snow.Table, "SERVICENOW_TABLE") || set
	set = str(&snow.Username, "SERVICENOW_USERNAME") || set
	set = secret(&snow.Password, "SERVICENOW_PASSWORD") || set
	set = str(&snow.AssignmentGroup, "SERVICENOW_ASSIGNMENT_GROUP") || set
	set = dur(&snow.Timeout, "SERVICENOW_TIMEOUT") || set
	if set {
		c.ServiceNow = snow
	}

	if len(errs) > 0 {
		return fmt.Errorf("notify: environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// orNew returns a copy of *p to fill in, or a zero value when p is nil.
func orNew[T any](p *T) *T {
	v := new(T)
	if p != nil {
		*v = *p
	}
	return v
}

// Build validates c and constructs every configured channel and ticket
// connector.
func (c *Config) Build(opts ...Option) ([]Channel, []TicketConnector, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	var channels []Channel
	var tickets []TicketConnector
	add := func(ch Channel, err error) error {
		if err == nil {
			channels = append(channels, ch)
		}
		return err
	}
	if c.SMTP != nil {
		if err := add(NewEmailChannel(*c.SMTP)); err != nil {
			return nil, nil, err
		}
	}
	if c.Teams != nil {
		if err := add(NewTeamsChannel(*c.Teams, opts...)); err != nil {
			return nil, nil, err
		}
	}
	if c.Slack != nil {
		if err := add(NewSlackChannel(*c.Slack, opts...)); err != nil {
			return nil, nil, err
		}
	}
	for _, w := range c.Webhooks {
		if err := add(NewWebhookChannel(w, opts...)); err != nil {
			return nil, nil, err
		}
	}
	if c.Jira != nil {
		j, err := NewJiraConnector(*c.Jira, opts...)
		if err != nil {
			return nil, nil, err
		}
		tickets = append(tickets, j)
	}
	if c.ServiceNow != nil {
		s, err := NewServiceNowConnector(*c.ServiceNow, opts...)
		if err != nil {
			return nil, nil, err
		}
		tickets = append(tickets, s)
	}
	return channels, tickets, nil
}
