package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const (
	snowUser     = "posture.integration"
	snowPassword = "Sn0w-Integration-Passw0rd!"
	snowSysID    = "9d385017c611228701d22104cc95c371"
)

// fakeServiceNow answers like the Table API and checks the documented shape.
type fakeServiceNow struct {
	t       *testing.T
	h       *hookServer
	records []map[string]string
	notes   []string
	tables  []string
	sysID   string
}

func newFakeServiceNow(t *testing.T) *fakeServiceNow {
	f := &fakeServiceNow{t: t, h: newHookServer(t), sysID: snowSysID}
	f.h.setRespond(f.serve)
	return f
}

func (f *fakeServiceNow) serve(w http.ResponseWriter, r *http.Request) {
	t := f.t
	user, pass, ok := r.BasicAuth()
	if !ok || user != snowUser || pass != snowPassword {
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}`)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept") != "application/json" {
		t.Errorf("Content-Type %q Accept %q", r.Header.Get("Content-Type"), r.Header.Get("Accept"))
	}
	if q := r.URL.Query(); q.Get("sysparm_exclude_reference_link") != "true" || q.Get("sysparm_fields") == "" {
		t.Errorf("query %q", r.URL.RawQuery)
	}
	body, _ := io.ReadAll(r.Body)
	var fields map[string]string
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&fields); err != nil {
		t.Errorf("body is not a flat JSON object of strings: %v\n%s", err, body)
	}
	w.Header().Set("Content-Type", "application/json")
	rest, _ := strings.CutPrefix(r.URL.Path, "/api/now/table/")
	table, sysID, hasID := strings.Cut(rest, "/")
	f.tables = append(f.tables, table)
	switch {
	case r.Method == "POST" && !hasID:
		f.records = append(f.records, fields)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"result": map[string]string{"sys_id": f.sysID, "number": "INC0010002"}})
	case r.Method == "PATCH" && hasID && sysID == snowSysID:
		if len(fields) != 1 || fields["work_notes"] == "" {
			t.Errorf("PATCH fields %v, want work_notes only", fields)
		}
		f.notes = append(f.notes, fields["work_notes"])
		json.NewEncoder(w).Encode(map[string]any{"result": map[string]string{"sys_id": sysID}})
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"error":{"message":"No Record found","detail":"Record doesn't exist or ACL restricts the record retrieval"},"status":"failure"}`)
	}
}

func snowConfig(base string) ServiceNowConfig {
	return ServiceNowConfig{InstanceURL: base, Username: snowUser, Password: snowPassword, Timeout: Duration(2 * time.Second)}
}

func TestServiceNowCreateAndWorkNote(t *testing.T) {
	f := newFakeServiceNow(t)
	cfg := snowConfig(f.h.URL)
	cfg.AssignmentGroup = "Security Operations"
	s, err := NewServiceNowConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := requestMessage()
	m.Resources = []string{testVM + strings.Repeat("/x", 100)} // a subject far over 160 characters
	ticket, err := s.Create(context.Background(), m)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := Ticket{System: "servicenow", ID: snowSysID, Key: "INC0010002", Table: "incident", URL: f.h.URL + "/incident.do?sys_id=" + snowSysID}
	if ticket != want {
		t.Fatalf("ticket %+v, want %+v", ticket, want)
	}
	rec := f.records[0]
	if f.tables[0] != "incident" || rec["correlation_id"] != "req-42" || rec["correlation_display"] != "posture" || rec["assignment_group"] != "Security Operations" {
		t.Fatalf("record %v in %s", rec, f.tables[0])
	}
	if n := utf8.RuneCountInString(rec["short_description"]); n > 160 || !strings.HasPrefix(rec["short_description"], "posture | Exemption request for resource /subscriptions/") {
		t.Fatalf("short_description (%d) %q", n, rec["short_description"])
	}
	for _, want := range []string{"Justification:", "Tracked by the vendor.", "View in posture: " + m.Links.View} {
		if !strings.Contains(rec["description"], want) {
			t.Errorf("description lacks %q:\n%s", want, rec["description"])
		}
	}
	if strings.Contains(rec["description"], "/approve") {
		t.Fatal("the record carries a one-click approve link")
	}

	m.Event, m.Actor, m.Reason = EventRequestRejected, "bob@contoso.example", "Patch exists; apply it."
	if err := s.Comment(context.Background(), ticket, m); err != nil {
		t.Fatalf("Comment: %v", err)
	}
	if len(f.notes) != 1 || !strings.HasPrefix(f.notes[0], "Exemption request rejected") || !strings.Contains(f.notes[0], "Patch exists; apply it.") {
		t.Fatalf("work notes %q", f.notes)
	}
}

func TestServiceNowScTask(t *testing.T) {
	f := newFakeServiceNow(t)
	cfg := snowConfig(f.h.URL)
	cfg.Table = "sc_task"
	s, err := NewServiceNowConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ticket, err := s.Create(context.Background(), requestMessage())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Comment(context.Background(), ticket, requestMessage()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.tables, ",") != "sc_task,sc_task" || ticket.URL != f.h.URL+"/sc_task.do?sys_id="+snowSysID {
		t.Fatalf("tables %v, ticket %+v", f.tables, ticket)
	}
}

func TestServiceNowErrors(t *testing.T) {
	f := newFakeServiceNow(t)
	cfg := snowConfig(f.h.URL)
	cfg.Password = "wrong-password-value"
	s, err := NewServiceNowConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Create(context.Background(), requestMessage())
	if ErrorCode(err) != CodeUnauthorized || IsRetryable(err) || !strings.Contains(err.Error(), "User Not Authenticated: Required to provide Auth information") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "wrong-password-value") {
		t.Fatal("the password is in the error")
	}

	s, _ = NewServiceNowConnector(snowConfig(f.h.URL))
	err = s.Comment(context.Background(), Ticket{System: "servicenow", ID: strings.Repeat("0", 32), Table: "incident"}, requestMessage())
	if ErrorCode(err) != CodeNotFound || !strings.Contains(err.Error(), "No Record found") {
		t.Fatalf("unknown record: %v", err)
	}
	if err := s.Comment(context.Background(), Ticket{System: "servicenow", ID: "../../sys_user"}, requestMessage()); ErrorCode(err) != CodeInvalidMessage {
		t.Fatalf("a malformed sys_id reached the server: %v", err)
	}

	f.sysID = "not-a-sys-id"
	if _, err := s.Create(context.Background(), requestMessage()); ErrorCode(err) != CodeBadResponse || IsRetryable(err) {
		t.Fatalf("malformed sys_id in the answer: %v", err)
	}
}

func TestServiceNowClassification(t *testing.T) {
	h := newHookServer(t)
	cfg := snowConfig(h.URL)
	cfg.Timeout = Duration(300 * time.Millisecond)
	s, err := NewServiceNowConnector(cfg, WithClock(func() time.Time { return fixedNow }))
	if err != nil {
		t.Fatal(err)
	}
	create := func(ctx context.Context, m *Message) error { _, err := s.Create(ctx, m); return err }
	runClassification(t, h, create, snowPassword)
}
