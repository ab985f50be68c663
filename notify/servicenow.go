package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// ServiceNowConnector opens records through the ServiceNow Table API
// (servicenow.com docs, "Table API", c_TableAPI):
//
//	POST  /api/now/table/{tableName}            {"short_description","description",…} → 201 {"result":{"sys_id","number",…}}
//	PATCH /api/now/table/{tableName}/{sys_id}   {"work_notes"}                         → 200 {"result":{…}}
//
// with basic auth. sysparm_fields limits the answer to the fields used and
// sysparm_exclude_reference_link drops reference links. Errors come as
// {"error":{"message","detail"},"status":"failure"}; rate limiting answers 429
// with Retry-After ("Inbound REST API rate limiting"). incident and sc_task
// are the tables this was written for; any task table with short_description,
// description, work_notes and correlation_id works the same way.
type ServiceNowConnector struct {
	cfg      ServiceNowConfig
	instance string
	table    string
	poster   *poster
}

// NewServiceNowConnector checks cfg and prepares a connector.
func NewServiceNowConnector(cfg ServiceNowConfig, opts ...Option) (*ServiceNowConnector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	table := cfg.Table
	if table == "" {
		table = "incident"
	}
	auth := basicAuth(cfg.Username, string(cfg.Password))
	p := newPoster("servicenow", timeoutOr(cfg.Timeout, defaultHTTPTimeout), opts, newScrubber(string(cfg.Password), auth))
	p.describe = describeServiceNowError
	return &ServiceNowConnector{cfg: cfg, instance: strings.TrimRight(cfg.InstanceURL, "/"), table: table, poster: p}, nil
}

// Name identifies the connector in errors and logs.
func (s *ServiceNowConnector) Name() string { return "servicenow" }

const (
	serviceNowShortMax       = 160  // incident.short_description
	serviceNowDescriptionMax = 4000 // incident.description
)

var (
	sysIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	recordNumber = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`) // INC0010002, SCTASK0010001
)

// Create inserts a record for m and returns its sys_id, number and URL.
func (s *ServiceNowConnector) Create(ctx context.Context, m *Message) (Ticket, error) {
	if err := m.Validate(); err != nil {
		return Ticket{}, invalidMessage("servicenow", err)
	}
	c := ticketContent(m)
	record := map[string]string{
		"short_description": truncate(c.Subject, serviceNowShortMax),
		"description":       truncate(plainText(c, false), serviceNowDescriptionMax),
		// correlation_id lets an operator find the duplicate a retried
		// create may leave behind, and ties the record to posture.
		"correlation_id":      orDefault(m.RequestID, m.ID),
		"correlation_display": "posture",
	}
	if s.cfg.AssignmentGroup != "" {
		record["assignment_group"] = s.cfg.AssignmentGroup
	}
	body, err := json.Marshal(record)
	if err != nil {
		return Ticket{}, invalidMessage("servicenow", err)
	}
	q := url.Values{"sysparm_fields": {"sys_id,number"}, "sysparm_exclude_reference_link": {"true"}}
	resp, err := s.send(ctx, "create record", http.MethodPost, s.tableURL(s.table)+"?"+q.Encode(), body)
	if err != nil {
		return Ticket{}, err
	}
	t, err := decodeServiceNowCreated(s.instance, s.table, resp.Body)
	if err != nil {
		return Ticket{}, s.poster.badResponse("create record", redactURL(s.instance), "%v", err)
	}
	return t, nil
}

// decodeServiceNowCreated reads {"result":{"sys_id","number"}}. The sys_id
// goes into later URLs, so it must be the 32 hex digits ServiceNow uses.
func decodeServiceNowCreated(instance, table string, body []byte) (Ticket, error) {
	var created struct {
		Result struct {
			SysID  string `json:"sys_id"`
			Number string `json:"number"`
		} `json:"result"`
	}
	if err := json.Unmarshal(body, &created); err != nil {
		return Ticket{}, fmt.Errorf("the created record is not JSON: %v", err)
	}
	r := created.Result
	if !sysIDPattern.MatchString(r.SysID) {
		return Ticket{}, fmt.Errorf("sys_id %q is not 32 hex digits", truncate(r.SysID, 40))
	}
	if !recordNumber.MatchString(r.Number) {
		return Ticket{}, fmt.Errorf("number %q is not a record number", truncate(r.Number, 40))
	}
	return Ticket{
		System: "servicenow", ID: r.SysID, Key: r.Number, Table: table,
		URL: instance + "/" + url.PathEscape(table) + ".do?sys_id=" + r.SysID,
	}, nil
}

// Comment adds m to the record's work notes.
func (s *ServiceNowConnector) Comment(ctx context.Context, t Ticket, m *Message) error {
	if err := m.Validate(); err != nil {
		return invalidMessage("servicenow", err)
	}
	if !sysIDPattern.MatchString(t.ID) {
		return invalidMessage("servicenow", errors.New("the ticket has no ServiceNow sys_id"))
	}
	table := orDefault(t.Table, s.table)
	if !serviceNowTable.MatchString(table) {
		return invalidMessage("servicenow", errors.New("the ticket's table is not a table name"))
	}
	body, err := json.Marshal(map[string]string{"work_notes": plainText(ticketContent(m), false)})
	if err != nil {
		return invalidMessage("servicenow", err)
	}
	q := url.Values{"sysparm_fields": {"sys_id"}, "sysparm_exclude_reference_link": {"true"}}
	_, err = s.send(ctx, "add work note", http.MethodPatch, s.tableURL(table)+"/"+t.ID+"?"+q.Encode(), body)
	return err
}

func (s *ServiceNowConnector) tableURL(table string) string {
	return s.instance + "/api/now/table/" + url.PathEscape(table)
}

func (s *ServiceNowConnector) send(ctx context.Context, op, method, target string, body []byte) (*response, error) {
	req, err := newJSONRequest(method, target, body)
	if err != nil {
		return nil, s.poster.badResponse(op, redactURL(s.instance), "%v", err)
	}
	req.SetBasicAuth(s.cfg.Username, string(s.cfg.Password))
	return s.poster.do(ctx, op, req)
}

// describeServiceNowError reads {"error":{"message","detail"},"status":"failure"}.
func describeServiceNowError(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
			Detail  string `json:"detail"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return ""
	}
	if e.Error.Detail != "" {
		return e.Error.Message + ": " + e.Error.Detail
	}
	return e.Error.Message
}
