package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// JiraConnector opens Jira Cloud issues through REST API v3:
//
//	POST {base}/rest/api/3/issue
//	  {"fields":{"project":{"key"},"issuetype":{"name"},"summary","description":<ADF>,"labels"}}
//	  → 201 {"id","key","self"}
//	POST {base}/rest/api/3/issue/{issueIdOrKey}/comment  {"body":<ADF>} → 201
//
// (developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues,
// .../api-group-issue-comments; the CreatedIssue schema of the Jira Cloud
// platform OpenAPI document). Authentication is basic auth with the account
// e-mail and an API token. Errors come as {"errorMessages":[…],"errors":{…}};
// 429 carries Retry-After and X-RateLimit-Reset
// (developer.atlassian.com/cloud/jira/platform/rate-limiting).
type JiraConnector struct {
	cfg    JiraConfig
	base   string
	auth   string
	poster *poster
}

// NewJiraConnector checks cfg and prepares a connector.
func NewJiraConnector(cfg JiraConfig, opts ...Option) (*JiraConnector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.IssueType == "" {
		cfg.IssueType = "Task"
	}
	auth := basicAuth(cfg.Email, string(cfg.APIToken))
	p := newPoster("jira", timeoutOr(cfg.Timeout, defaultHTTPTimeout), opts, newScrubber(string(cfg.APIToken), auth))
	p.describe = describeJiraError
	return &JiraConnector{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), auth: "Basic " + auth, poster: p}, nil
}

// Name identifies the connector in errors and logs.
func (j *JiraConnector) Name() string { return "jira" }

// jiraSummaryMax is the length Jira allows for a summary.
const jiraSummaryMax = 255

var (
	jiraIssueKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*-[0-9]+$`)
	labelUnsafe  = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// Create opens an issue for m and returns its key and browse URL.
func (j *JiraConnector) Create(ctx context.Context, m *Message) (Ticket, error) {
	if err := m.Validate(); err != nil {
		return Ticket{}, invalidMessage("jira", err)
	}
	c := ticketContent(m)
	labels := append([]string(nil), j.cfg.Labels...)
	if m.RequestID != "" {
		// Finds the duplicate a retried create may leave behind.
		labels = append(labels, truncate("posture-request-"+labelUnsafe.ReplaceAllString(m.RequestID, "-"), 255))
	}
	type named struct {
		Key  string `json:"key,omitempty"`
		Name string `json:"name,omitempty"`
	}
	body, err := json.Marshal(map[string]any{"fields": map[string]any{
		"project":     named{Key: j.cfg.Project},
		"issuetype":   named{Name: j.cfg.IssueType},
		"summary":     truncate(c.Subject, jiraSummaryMax),
		"description": adfDocument(c),
		"labels":      labels,
	}})
	if err != nil {
		return Ticket{}, invalidMessage("jira", err)
	}
	resp, err := j.send(ctx, "create issue", http.MethodPost, j.base+"/rest/api/3/issue", body)
	if err != nil {
		return Ticket{}, err
	}
	t, err := decodeJiraCreated(j.base, resp.Body)
	if err != nil {
		return Ticket{}, j.poster.badResponse("create issue", redactURL(j.base), "%v", err)
	}
	return t, nil
}

// decodeJiraCreated reads the CreatedIssue answer {"id","key","self"}. The
// key goes into URLs and the id is stored, so neither may be anything but
// what Jira documents.
func decodeJiraCreated(base string, body []byte) (Ticket, error) {
	var created struct {
		ID   string `json:"id"`
		Key  string `json:"key"`
		Self string `json:"self"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		return Ticket{}, fmt.Errorf("the created issue is not JSON: %v", err)
	}
	if !jiraIssueKey.MatchString(created.Key) || len(created.Key) > 255 {
		return Ticket{}, fmt.Errorf("the issue key %q is not a Jira key", truncate(created.Key, 40))
	}
	if created.ID != "" && (!isDigits(created.ID) || len(created.ID) > 20) {
		return Ticket{}, fmt.Errorf("the issue id %q is not numeric", truncate(created.ID, 40))
	}
	return Ticket{System: "jira", ID: created.ID, Key: created.Key, URL: base + "/browse/" + url.PathEscape(created.Key)}, nil
}

// Comment posts m to the issue as an ADF comment.
func (j *JiraConnector) Comment(ctx context.Context, t Ticket, m *Message) error {
	if err := m.Validate(); err != nil {
		return invalidMessage("jira", err)
	}
	ref := t.Key
	if ref == "" {
		ref = t.ID
	}
	if !jiraIssueKey.MatchString(ref) && !isDigits(ref) {
		return invalidMessage("jira", errors.New("the ticket has no Jira issue key or id"))
	}
	c := ticketContent(m)
	doc := adfDocument(c)
	// Lead with the headline so the issue's activity reads as a timeline.
	doc.Content = append([]adfNode{{Type: "paragraph", Content: adfText(c.Title, adfStrong)}}, doc.Content...)
	body, err := json.Marshal(map[string]any{"body": doc})
	if err != nil {
		return invalidMessage("jira", err)
	}
	_, err = j.send(ctx, "comment", http.MethodPost, j.base+"/rest/api/3/issue/"+url.PathEscape(ref)+"/comment", body)
	return err
}

func (j *JiraConnector) send(ctx context.Context, op, method, target string, body []byte) (*response, error) {
	req, err := newJSONRequest(method, target, body)
	if err != nil {
		return nil, j.poster.badResponse(op, redactURL(j.base), "%v", err)
	}
	req.Header.Set("Authorization", j.auth)
	return j.poster.do(ctx, op, req)
}

// describeJiraError reads Jira's error collection:
// {"errorMessages":["…"],"errors":{"summary":"…"}}.
func describeJiraError(body []byte) string {
	var e struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
	}
	if json.Unmarshal(body, &e) != nil {
		return ""
	}
	parts := append([]string(nil), e.ErrorMessages...)
	fields := make([]string, 0, len(e.Errors))
	for f := range e.Errors {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		parts = append(parts, f+": "+e.Errors[f])
	}
	return strings.Join(parts, "; ")
}
