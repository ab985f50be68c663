package web

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/requests"
)

// The approvals inbox (pending requests, oldest first, and those decided
// lately), one request with its deliveries, and the decision forms.

const requestTypeName = "Microsoft.Security/exemptionRequests"

// requestItem is a request as the inbox lists it.
type requestItem struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Status         string   `json:"status"`
	Requester      string   `json:"requester"`
	RequesterID    string   `json:"requesterId"`
	Recommendation string   `json:"recommendation"`
	Severity       string   `json:"severity"`
	Assignment     string   `json:"assignment"`
	RenewalOf      string   `json:"renewalOf"`
	Resources      []string `json:"resources"`
	Category       string   `json:"category"`
	ExpiresOn      string   `json:"expiresOn"`
	RequestedAt    string   `json:"requestedAt"`
	DecisionDueAt  string   `json:"decisionDueAt"`
	DecidedBy      string   `json:"decidedBy"`
	DecidedAt      string   `json:"decidedAt"`
	Reason         string   `json:"reason"`

	CanDecide bool `json:"-"`
}

// ResourceCount is how many resources the request would exempt (none
// named: its scope).
func (r requestItem) ResourceCount() int { return max(1, len(r.Resources)) }

// What names what the request exempts from.
func (r requestItem) What() string {
	if r.Recommendation != "" {
		return r.Recommendation
	}
	if r.Assignment != "" {
		return "All of " + r.Assignment[strings.LastIndexByte(r.Assignment, '/')+1:]
	}
	return ""
}

// Requested, Due, Expires and Decided are the request's times as the
// pages show them.
func (r requestItem) Requested() string { return whenText(r.RequestedAt) }
func (r requestItem) Due() string       { return whenText(r.DecisionDueAt) }
func (r requestItem) Expires() string   { return whenText(r.ExpiresOn) }
func (r requestItem) Decided() string   { return whenText(r.DecidedAt) }

// whenText shows an RFC 3339 time to the minute in UTC.
func whenText(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Overdue reports whether the decision is past due.
func (r requestItem) Overdue(now time.Time) bool {
	t, err := time.Parse(time.RFC3339, r.DecisionDueAt)
	return err == nil && !t.After(now)
}

const requestColumns = " | project id, name, status = tostring(properties.status), requester = tostring(properties.requestedBy.displayName)," +
	" requesterId = tostring(properties.requestedBy.principalId), recommendation = tostring(properties.recommendationDisplayName)," +
	" severity = tostring(properties.severity), assignment = tostring(properties.policyAssignmentId), renewalOf = tostring(properties.renewalOf)," +
	" resources = properties.resourceIds, category = tostring(properties.exemptionCategory), expiresOn = tostring(properties.expiresOn)," +
	" requestedAt = tostring(properties.requestedAt), decisionDueAt = tostring(properties.decisionDueAt)," +
	" decidedBy = tostring(properties.decision.by.displayName), decidedAt = tostring(properties.decision.at), reason = tostring(properties.decision.reason)"

type approvalsData struct {
	Pending []requestItem
	Total   int64
	Next    string
	Later   bool
	Decided []requestItem
	Now     time.Time
}

func (approvalsData) PageTitle() (string, string) { return "Approvals", "approvals" }

// recentDays is how far back "Decided recently" looks.
const recentDays = 30

func (p *Portal) approvals(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	skip := r.URL.Query().Get("skipToken")
	pending, err := query[requestItem](ctx, s, "securityresources | where type == 'microsoft.security/exemptionrequests' and tostring(properties.status) == 'Pending'"+
		" | extend requestedOn = todatetime(properties.requestedAt) | order by requestedOn asc, id asc"+requestColumns, exemptionsPerPage, skip)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	decided, err := queryAll[requestItem](ctx, s, "securityresources | where type == 'microsoft.security/exemptionrequests' and tostring(properties.status) != 'Pending'"+
		" | extend decidedOn = todatetime(iff(isnotempty(tostring(properties.decision.at)), tostring(properties.decision.at), tostring(properties.decisionDueAt)))"+
		" | where decidedOn >= ago(30d) | order by decidedOn desc, id asc | take 20"+requestColumns)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d := approvalsData{Pending: pending.Rows, Total: pending.Total, Next: pending.SkipToken, Later: skip != "", Decided: decided, Now: p.Now()}
	for i := range d.Pending {
		x := &d.Pending[i]
		x.CanDecide = p.mayDecide(s, x.ID, x.RequesterID, x.Assignment, x.RenewalOf, x.Resources)
	}
	p.render(w, r, s, http.StatusOK, "approvals", d)
}

// mayDecide says whether to offer Approve and Reject: the user is not the
// requester and may write each exemption the request asks for (the
// request service's own check, which the API makes again).
func (p *Portal) mayDecide(s *session, id, requester, assignment, renewalOf string, resources []string) bool {
	if p.Authz == nil || strings.EqualFold(requester, s.principal.ID) {
		return false
	}
	rid, err := armid.Parse(id)
	if err != nil {
		return false
	}
	targets := resources
	if len(targets) == 0 {
		targets = []string{rid.Scope().String()}
	}
	if renewalOf != "" {
		targets = targets[:1]
	}
	for _, t := range targets {
		tid, err := armid.Parse(t)
		if err != nil {
			return false
		}
		a := assignment
		if a == "" {
			if tid.SubscriptionID() == "" {
				return false
			}
			a = armid.SubscriptionScope(tid.SubscriptionID()).Provider("Microsoft.Authorization", "policyAssignments", requests.DefaultAssignment).String()
		}
		x := tid.Provider("Microsoft.Authorization", "policyExemptions", rid.Name()).String()
		if renewalOf != "" {
			x = renewalOf
		}
		if p.Authz.AuthorizeExemptionWrite(s.principal, x, a) != nil {
			return false
		}
	}
	return true
}

// --- one request ---

// delivery is one notice job of a request, as the API adds them.
type delivery struct {
	Name       string `json:"name"`
	Properties struct {
		Kind        string    `json:"kind"`
		State       string    `json:"state"`
		Attempts    int       `json:"attempts"`
		MaxAttempts int       `json:"maxAttempts"`
		RunAt       time.Time `json:"runAt"`
		LastError   string    `json:"lastError"`
		CreatedAt   time.Time `json:"createdAt"`
		UpdatedAt   time.Time `json:"updatedAt"`
	} `json:"properties"`
}

type requestDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		requests.Request
		Deliveries []delivery `json:"deliveries"`
	} `json:"properties"`
}

type requestViewData struct {
	ID, Scope   string
	Doc         requestDoc
	Raw         json.RawMessage
	Targets     []string
	CanDecide   bool
	CanWithdraw bool
	Pending     bool
	Done        string
	// A decision the API refused: its message, the field it names, and
	// the reason typed.
	Alert       string
	ReasonError string
	Reason      string
	Decision    string
}

func (d requestViewData) PageTitle() (string, string) {
	return "Exemption request " + d.Doc.Name, "approvals"
}

// requestIDParam reads and checks a request id from a page's input.
func requestIDParam(v string) (string, error) {
	x, err := armid.Parse(strings.TrimSpace(v))
	if err != nil || !strings.EqualFold(x.Type(), requestTypeName) {
		return "", posture.Errorf(posture.ENOTFOUND, "ExemptionRequestNotFound", "There is no exemption request '%s'. Request ids look like {scope}/providers/Microsoft.Security/exemptionRequests/{name}.", truncate(v, 300))
	}
	return x.String(), nil
}

func (p *Portal) loadRequestView(r *http.Request, s *session, id string) (requestViewData, error) {
	d := requestViewData{ID: id}
	if _, err := s.get(r.Context(), id, requestVersion, &d.Raw); err != nil {
		if posture.ErrorKind(err) == posture.ENOTFOUND {
			err = posture.Errorf(posture.ENOTFOUND, "ExemptionRequestNotFound", "There is no exemption request '%s'.", id)
		}
		return d, err
	}
	if err := json.Unmarshal(d.Raw, &d.Doc); err != nil {
		return d, posture.Internal(err)
	}
	rid, _ := armid.Parse(id)
	d.Scope = rid.Scope().String()
	req := &d.Doc.Properties.Request
	d.Targets = req.ResourceIDs
	if len(d.Targets) == 0 {
		d.Targets = []string{d.Scope}
	}
	d.Pending = req.Status == requests.Pending
	if d.Pending {
		d.CanDecide = p.mayDecide(s, id, req.RequestedBy.PrincipalID, req.PolicyAssignmentID, req.RenewalOf, req.ResourceIDs)
		d.CanWithdraw = strings.EqualFold(req.RequestedBy.PrincipalID, s.principal.ID)
	}
	return d, nil
}

func (p *Portal) requestView(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := requestIDParam(r.URL.Query().Get("id"))
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d, err := p.loadRequestView(r, s, id)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	switch v := r.URL.Query().Get("done"); v {
	case "approve", "reject", "withdraw":
		d.Done = v
	}
	if r.URL.Query().Get("filed") != "" {
		d.Done = "file"
	}
	p.render(w, r, s, http.StatusOK, "request_view", d)
}

func (p *Portal) requestDecide(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := requestIDParam(r.PostForm.Get("id"))
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	decision := r.PostForm.Get("decision")
	if decision != "approve" && decision != "reject" && decision != "withdraw" {
		p.fail(w, r, s, posture.Errorf(posture.EINVALID, "InvalidDecision", "Choose approve, reject or withdraw."))
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	var body any
	if decision != "withdraw" {
		body = map[string]string{"reason": reason}
	}
	err = s.send(r.Context(), http.MethodPost, id+"/"+decision, requestVersion, "", body, nil)
	if err == nil {
		http.Redirect(w, r, "/requests/view?id="+url.QueryEscape(id)+"&done="+decision, http.StatusSeeOther)
		return
	}
	d, lerr := p.loadRequestView(r, s, id)
	if lerr != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Alert, d.Reason, d.Decision = errorText(err), reason, decision
	if pe, ok := err.(*posture.Error); ok && strings.EqualFold(pe.Target, "reason") {
		d.ReasonError = pe.Message
	}
	p.render(w, r, s, cmp.Or(api.StatusOf(err), http.StatusBadRequest), "request_view", d)
}
