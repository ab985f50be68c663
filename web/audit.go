package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/posture/posture"
)

// The audit log reads the ledger's Resource Graph table, auditevents (see
// graph/ledger.go): one row per entry, readable where the user may read
// the entry's scope.

// auditPageRows is how many entries one page shows.
const auditPageRows = 50

// auditKinds are the ledger's kinds of entries (event.go).
var auditKinds = []string{posture.EventCreated, posture.EventUpdated, posture.EventDeleted, posture.EventExpired,
	posture.EventDenied, posture.EventSignIn, posture.EventSignInFailed}

// auditFilter is the page's form.
type auditFilter struct {
	Kind, Actor, Scope, Action, From, To string
}

// auditData is the audit log page.
type auditData struct {
	Filter     auditFilter
	Kinds      []string
	Errors     map[string]string // field name → message
	KQL        string
	Rows       []auditRow
	Total      int64
	Offset     int // the offset of the page's first row
	SkipToken  string
	Next       string
	NextOffset int
}

func (auditData) PageTitle() (string, string) { return "Audit log", "audit" }

func (d auditData) Last() int { return d.Offset + len(d.Rows) }

// Filtered reports whether any filter is set.
func (d auditData) Filtered() bool { return d.Filter != auditFilter{} }

// auditRow is one ledger entry as the query projects it.
type auditRow struct {
	ID        string          `json:"id"`
	Seq       int64           `json:"seq"`
	Time      string          `json:"time"`
	Kind      string          `json:"kind"`
	Actor     string          `json:"actor"`
	ActorType string          `json:"actorType"`
	Action    string          `json:"action"`
	Scope     string          `json:"scope"`
	Status    string          `json:"status"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

// When is the entry's time as the table shows it.
func (r auditRow) When() string {
	t, err := time.Parse(time.RFC3339Nano, r.Time)
	if err != nil {
		return r.Time
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ScopeLink is the page that shows the entry's scope: "exemption",
// "resource" or "" (not linked).
func (r auditRow) ScopeLink() string { return linkKind(r.Scope) }

// HasBefore and HasAfter report documents that are not null.
func (r auditRow) HasBefore() bool { return present(r.Before) }
func (r auditRow) HasAfter() bool  { return present(r.After) }

func present(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s != "" && s != "null"
}

// audit is GET /audit: the ledger's entries, newest first, filtered.
func (p *Portal) audit(w http.ResponseWriter, r *http.Request, s *session) {
	v := r.URL.Query()
	d := auditData{Kinds: auditKinds, Errors: map[string]string{}}
	d.Filter = auditFilter{Kind: strings.TrimSpace(v.Get("kind")), Actor: strings.TrimSpace(v.Get("actor")),
		Scope: strings.TrimSpace(v.Get("scope")), Action: strings.TrimSpace(v.Get("action")),
		From: strings.TrimSpace(v.Get("from")), To: strings.TrimSpace(v.Get("to"))}
	if d.Filter.Kind != "" && !slices.Contains(d.Kinds, d.Filter.Kind) {
		d.Kinds = append(slices.Clip(d.Kinds), d.Filter.Kind) // keep an unknown kind selectable; it is escaped like the rest
	}
	var from, to time.Time
	var err error
	if d.Filter.From != "" {
		if from, err = time.Parse(time.DateOnly, d.Filter.From); err != nil {
			d.Errors["from"] = "Enter the date as YYYY-MM-DD."
		}
	}
	if d.Filter.To != "" {
		if to, err = time.Parse(time.DateOnly, d.Filter.To); err != nil {
			d.Errors["to"] = "Enter the date as YYYY-MM-DD."
		}
	}
	if d.Errors["from"] == "" && d.Errors["to"] == "" && !from.IsZero() && !to.IsZero() && to.Before(from) {
		d.Errors["to"] = "The end date is before the start date."
	}
	for name, val := range map[string]string{"actor": d.Filter.Actor, "scope": d.Filter.Scope, "action": d.Filter.Action, "kind": d.Filter.Kind} {
		if len(val) > 1024 {
			d.Errors[name] = "At most 1024 characters."
		}
	}
	if len(d.Errors) > 0 {
		p.render(w, r, s, http.StatusBadRequest, "audit", d)
		return
	}
	d.KQL = auditKQL(d.Filter, from, to)
	d.SkipToken = v.Get("skipToken")
	if d.SkipToken != "" {
		d.Offset, _ = strconv.Atoi(v.Get("offset"))
		d.Offset = max(d.Offset, 0)
	}
	page, err := query[auditRow](r.Context(), s, d.KQL, auditPageRows, d.SkipToken)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Rows, d.Total, d.Next = page.Rows, page.Total, page.SkipToken
	d.NextOffset = d.Offset + len(d.Rows)
	p.render(w, r, s, http.StatusOK, "audit", d)
}

// auditKQL is the page's query. Every value the user typed goes in as an
// escaped string literal (kqlString); the dates are parsed first.
func auditKQL(f auditFilter, from, to time.Time) string {
	var b strings.Builder
	b.WriteString("auditevents")
	if f.Kind != "" {
		fmt.Fprintf(&b, "\n| where properties.kind == '%s'", kqlString(f.Kind))
	}
	if f.Actor != "" {
		fmt.Fprintf(&b, "\n| where tostring(properties.caller) =~ '%s'", kqlString(f.Actor))
	}
	if f.Scope != "" {
		fmt.Fprintf(&b, "\n| where tostring(properties.scope) startswith '%s'", kqlString(f.Scope))
	}
	if f.Action != "" {
		fmt.Fprintf(&b, "\n| where tostring(properties.action) contains '%s'", kqlString(f.Action))
	}
	if !from.IsZero() {
		fmt.Fprintf(&b, "\n| where todatetime(properties.timestamp) >= todatetime('%s')", kqlString(from.UTC().Format(time.RFC3339)))
	}
	if !to.IsZero() {
		// The end date is inclusive: entries before the next midnight.
		fmt.Fprintf(&b, "\n| where todatetime(properties.timestamp) < todatetime('%s')", kqlString(to.AddDate(0, 0, 1).UTC().Format(time.RFC3339)))
	}
	b.WriteString("\n| project id, seq = tolong(properties.sequenceNumber), time = tostring(properties.timestamp), kind = tostring(properties.kind)," +
		" actor = tostring(properties.caller), actorType = tostring(properties.callerType), action = tostring(properties.action)," +
		" scope = tostring(properties.scope), status = tostring(properties.status), before = properties.before, after = properties.after")
	b.WriteString("\n| order by seq desc")
	return b.String()
}
