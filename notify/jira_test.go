package notify

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const (
	jiraEmail = "posture-bot@contoso.example"
	jiraToken = "ATATT3xFfGF0-jira-api-token-value"
)

// checkADF walks an Atlassian Document Format document and fails on what
// Jira would refuse: a root that is not doc version 1, unknown node or mark
// types, empty text nodes, links that are not absolute http(s).
func checkADF(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("ADF is not a JSON object: %v", err)
	}
	if root["type"] != "doc" || root["version"] != float64(1) {
		t.Fatalf("ADF root type %v version %v, want doc 1", root["type"], root["version"])
	}
	var text strings.Builder
	var walk func(n map[string]any, parent string)
	walk = func(n map[string]any, parent string) {
		typ, _ := n["type"].(string)
		allowedParents := map[string][]string{
			"paragraph": {"doc", "listItem"}, "bulletList": {"doc", "listItem"}, "listItem": {"bulletList"},
			"text": {"paragraph"}, "hardBreak": {"paragraph"},
		}
		if typ != "doc" {
			ok := false
			for _, p := range allowedParents[typ] {
				ok = ok || p == parent
			}
			if !ok {
				t.Fatalf("ADF node %q inside %q", typ, parent)
			}
		}
		if typ == "text" {
			s, _ := n["text"].(string)
			if s == "" {
				t.Fatal("empty ADF text node")
			}
			text.WriteString(s)
			marks, _ := n["marks"].([]any)
			for _, m := range marks {
				mark := m.(map[string]any)
				switch mark["type"] {
				case "strong":
				case "link":
					href, _ := mark["attrs"].(map[string]any)["href"].(string)
					if u, err := url.Parse(href); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
						t.Fatalf("ADF link %q", href)
					}
					text.WriteString(" <" + href + ">")
				default:
					t.Fatalf("ADF mark %v", mark["type"])
				}
			}
			return
		}
		if typ == "hardBreak" {
			text.WriteString("\n")
			return
		}
		children, _ := n["content"].([]any)
		if (typ == "paragraph" || typ == "bulletList" || typ == "listItem") && len(children) == 0 {
			t.Fatalf("empty ADF %s", typ)
		}
		for _, c := range children {
			walk(c.(map[string]any), typ)
		}
		text.WriteString("\n")
	}
	walk(root, "")
	return text.String()
}

// fakeJira answers like Jira Cloud's REST API v3 and checks each request
// against the documented shape.
type fakeJira struct {
	t        *testing.T
	h        *hookServer
	created  json.RawMessage
	comments []string
	key      string // the key create answers with
}

func newFakeJira(t *testing.T) *fakeJira {
	f := &fakeJira{t: t, h: newHookServer(t), key: "SEC-17"}
	f.h.setRespond(f.serve)
	return f
}

func (f *fakeJira) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	user, pass, ok := r.BasicAuth()
	if !ok || user != jiraEmail || pass != jiraToken {
		w.WriteHeader(401)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept") != "application/json" {
		t.Errorf("Content-Type %q Accept %q", r.Header.Get("Content-Type"), r.Header.Get("Accept"))
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method == "POST" && r.URL.Path == "/rest/api/3/issue":
		var req struct {
			Fields struct {
				Project     struct{ Key string }  `json:"project"`
				IssueType   struct{ Name string } `json:"issuetype"`
				Summary     string                `json:"summary"`
				Description json.RawMessage       `json:"description"`
				Labels      []string              `json:"labels"`
			} `json:"fields"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			t.Errorf("create body: %v\n%s", err, body)
		}
		if req.Fields.Project.Key != "SEC" || req.Fields.IssueType.Name != "Task" || req.Fields.Summary == "" || len(req.Fields.Summary) > 255 {
			t.Errorf("fields %+v", req.Fields)
		}
		f.created = req.Fields.Description
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]string{"id": "10042", "key": f.key, "self": "http://" + r.Host + "/rest/api/3/issue/10042"})
	case r.Method == "POST" && strings.HasPrefix(r.URL.Path, "/rest/api/3/issue/") && strings.HasSuffix(r.URL.Path, "/comment"):
		var req struct {
			Body json.RawMessage `json:"body"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			t.Errorf("comment body: %v", err)
		}
		f.comments = append(f.comments, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/rest/api/3/issue/"), "/comment")+"|"+checkADF(t, req.Body))
		w.WriteHeader(201)
		io.WriteString(w, `{"id":"10100"}`)
	default:
		t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		w.WriteHeader(404)
	}
}

func jiraConfig(base string) JiraConfig {
	return JiraConfig{BaseURL: base + "/", Project: "SEC", Email: jiraEmail, APIToken: jiraToken, Labels: []string{"security"}, Timeout: Duration(2 * time.Second)}
}

func TestJiraCreateAndComment(t *testing.T) {
	f := newFakeJira(t)
	j, err := NewJiraConnector(jiraConfig(f.h.URL))
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	ticket, err := j.Create(context.Background(), m)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if ticket.System != "jira" || ticket.Key != "SEC-17" || ticket.ID != "10042" || ticket.URL != f.h.URL+"/browse/SEC-17" {
		t.Fatalf("ticket %+v", ticket)
	}
	var req struct {
		Fields struct{ Labels []string } `json:"fields"`
	}
	json.Unmarshal(f.h.last(t).Body, &req)
	if strings.Join(req.Fields.Labels, ",") != "security,posture-request-req-42" {
		t.Fatalf("labels %v", req.Fields.Labels)
	}
	desc := checkADF(t, f.created)
	for _, want := range []string{testVM, "Justification: ", "Tracked by the vendor.", "View in posture <" + m.Links.View + ">", "Approvers decide in posture."} {
		if !strings.Contains(desc, want) {
			t.Errorf("description lacks %q:\n%s", want, desc)
		}
	}
	// Anyone who can read the issue could use a signed decision link.
	if strings.Contains(string(f.created), "/approve") || strings.Contains(string(f.created), "/reject") {
		t.Fatal("the issue carries one-click approve or reject links")
	}

	m.Event, m.Actor, m.Reason = EventRequestApproved, "bob@contoso.example", "Accepted until the vendor patch."
	m.Ticket = ticket.Ref()
	if err := j.Comment(context.Background(), ticket, m); err != nil {
		t.Fatalf("Comment: %v", err)
	}
	if len(f.comments) != 1 || !strings.HasPrefix(f.comments[0], "SEC-17|Exemption request approved") || !strings.Contains(f.comments[0], "Accepted until the vendor patch.") {
		t.Fatalf("comments %q", f.comments)
	}
}

func TestJiraRefusesAnUnusableKey(t *testing.T) {
	f := newFakeJira(t)
	f.key = "../../admin"
	j, err := NewJiraConnector(jiraConfig(f.h.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = j.Create(context.Background(), requestMessage())
	if ErrorCode(err) != CodeBadResponse || IsRetryable(err) {
		t.Fatalf("got %v, want a permanent BadResponse (a retry would open a second issue)", err)
	}
}

func TestJiraFieldErrorsAreReported(t *testing.T) {
	h := newHookServer(t)
	h.setRespond(answer(400, map[string]string{"Content-Type": "application/json"},
		`{"errorMessages":[],"errors":{"summary":"You must specify a summary of the issue.","issuetype":"Specify a valid issue type"}}`))
	j, err := NewJiraConnector(jiraConfig(h.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = j.Create(context.Background(), requestMessage())
	if ErrorCode(err) != CodeRejected || IsRetryable(err) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "issuetype: Specify a valid issue type; summary: You must specify a summary") {
		t.Fatalf("the field errors are not in %q", err)
	}
}

func TestJiraCredentialsNeverInErrors(t *testing.T) {
	h := newHookServer(t)
	// A proxy that echoes the request headers in its error page.
	h.setRespond(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(401)
		io.WriteString(w, "denied: Authorization: "+r.Header.Get("Authorization")+" token="+jiraToken)
	})
	j, err := NewJiraConnector(jiraConfig(h.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = j.Create(context.Background(), requestMessage())
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeUnauthorized {
		t.Fatalf("got %v", err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(jiraEmail + ":" + jiraToken))
	for _, s := range []string{err.Error(), e.Message} {
		if strings.Contains(s, jiraToken) || strings.Contains(s, b64) {
			t.Fatalf("credentials leak into %q", s)
		}
	}
	if !strings.Contains(e.Message, "[redacted]") {
		t.Fatalf("message %q", e.Message)
	}
}

func TestJiraClassification(t *testing.T) {
	h := newHookServer(t)
	cfg := jiraConfig(h.URL)
	cfg.Timeout = Duration(300 * time.Millisecond)
	j, err := NewJiraConnector(cfg, WithClock(func() time.Time { return fixedNow }))
	if err != nil {
		t.Fatal(err)
	}
	create := func(ctx context.Context, m *Message) error { _, err := j.Create(ctx, m); return err }
	runClassification(t, h, create, jiraToken)
	t.Run("comment", func(t *testing.T) {
		h.setRespond(answer(404, nil, `{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}`))
		err := j.Comment(context.Background(), Ticket{System: "jira", Key: "SEC-404"}, requestMessage())
		if ErrorCode(err) != CodeNotFound || !strings.Contains(err.Error(), "Issue does not exist") {
			t.Fatalf("got %v", err)
		}
		if p := h.last(t).Path; p != "/rest/api/3/issue/SEC-404/comment" {
			t.Fatalf("path %q", p)
		}
	})
}
