package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/match"
)

// The exemption pages: the list (filters, paging), one exemption with its
// history, the edit form (GET-modify-PUT with If-Match) and delete.

const (
	exemptionTypeName     = "Microsoft.Authorization/policyExemptions"
	actionExemptionDelete = "Microsoft.Authorization/policyExemptions/delete"
	// exemptionsPerPage is the page size of the portal's long lists.
	exemptionsPerPage = 50
)

// Statuses an exemption has on the pages.
var exemptionStatuses = []string{"active", "expiring", "expired", "orphaned", "needs-review", "review-overdue"}

// exemptionItem is an exemption as the lists (exemptions, resource) show it.
type exemptionItem struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	DisplayName string   `json:"displayName"`
	Category    string   `json:"category"`
	ExpiresOn   string   `json:"expiresOn"`
	Assignment  string   `json:"assignment"`
	Status      string   `json:"status"`
	Refs        []string `json:"refs"`
	Owner       string   `json:"owner"`       // metadata.owner
	RequestedBy string   `json:"requestedBy"` // metadata.requestedBy (a principal id)
	TicketRef   string   `json:"ticketRef"`
	TicketURL   string   `json:"ticketUrl"`

	Scope     string     `json:"-"`
	OwnerName string     `json:"-"`
	Recs      []recoLink `json:"-"`
}

// recoLink names a recommendation an exemption exempts from; Key is its
// assessment key when known (for the link).
type recoLink struct {
	Ref, Key, Name string
}

// Title is what a list shows as the exemption's name.
func (x exemptionItem) Title() string { return cmp.Or(x.DisplayName, x.Name) }

// exemptionsKQL lists exemptions with their page status: orphaned when the
// assignment is gone, else expired, expiring within ExpiringDays, or
// active. Rows the user cannot read are not in the tables, so an
// assignment missing from them is called gone only where the user can see
// what is there: its scope is a container they can read, or they can read
// other assignments at that scope. where filters the rows (KQL after the
// extends, may be empty).
func exemptionsKQL(where string) string {
	const cut = "'/providers/microsoft.authorization/policyassignments/'"
	return "policyresources | where type == 'microsoft.authorization/policyexemptions'" +
		" | extend displayName = tostring(properties.displayName), category = tostring(properties.exemptionCategory), expiresOn = tostring(properties.expiresOn)," +
		" assignment = tostring(properties.policyAssignmentId), la = tolower(tostring(properties.policyAssignmentId))" +
		" | extend ascope = iff(indexof(la, " + cut + ") > 0, substring(la, 0, indexof(la, " + cut + ")), '')" +
		" | extend status = case(la !in (policyresources | where type == 'microsoft.authorization/policyassignments' | project aid = tolower(id))" +
		" and (ascope in (resourcecontainers | project cid = tolower(id))" +
		" or ascope in (policyresources | where type == 'microsoft.authorization/policyassignments' | extend aid = tolower(id)" +
		" | project ascope = substring(aid, 0, indexof(aid, " + cut + ")))), 'orphaned'," +
		" isnotempty(expiresOn) and todatetime(expiresOn) <= now(), 'expired'," +
		" properties.postureStatus == 'ReviewOverdue', 'review-overdue', properties.postureStatus == 'NeedsReview', 'needs-review'," +
		fmt.Sprintf(" isnotempty(expiresOn) and todatetime(expiresOn) <= now() + %dd, 'expiring',", ExpiringDays) +
		" 'active')" +
		where +
		" | extend sortKey = iff(isempty(expiresOn), datetime(9999-12-31), todatetime(expiresOn))" +
		" | order by sortKey asc, id asc" +
		" | project id, name, displayName, category, expiresOn, assignment, status, refs = properties.policyDefinitionReferenceIds," +
		" owner = tostring(properties.metadata.owner), requestedBy = tostring(properties.metadata.requestedBy)," +
		" ticketRef = tostring(properties.metadata.ticketRef), ticketUrl = tostring(properties.metadata.ticketUrl)"
}

// kqlList renders strings as a KQL list literal: ('a', 'b').
func kqlList(vals []string) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("'" + kqlString(v) + "'")
	}
	b.WriteByte(')')
	return b.String()
}

// exemptionScope is the scope an exemption id sits on ("" if the id does
// not parse).
func exemptionScope(id string) string {
	x, err := armid.Parse(id)
	if err != nil {
		return ""
	}
	return x.Scope().String()
}

// enrichExemptions fills in what the rows of one page need beyond their
// KQL columns, with a fixed number of calls whatever the rows: the
// recommendations' names (one KQL over assessments), the creators of
// exemptions without an owner in their metadata (one KQL over the audit
// log) and the principals' names (one list).
func (p *Portal) enrichExemptions(ctx context.Context, s *session, rows []exemptionItem) {
	if len(rows) == 0 {
		return
	}
	refs := map[string]bool{}
	var ids []string
	for i := range rows {
		rows[i].Scope = exemptionScope(rows[i].ID)
		for _, r := range rows[i].Refs {
			refs[strings.ToLower(r)] = true
		}
		if rows[i].Owner == "" && rows[i].RequestedBy == "" {
			ids = append(ids, strings.ToLower(rows[i].ID))
		}
	}
	names := p.recommendationNames(ctx, s, refs)
	for i := range rows {
		for _, r := range rows[i].Refs {
			l := names[strings.ToLower(r)]
			l.Ref = r
			rows[i].Recs = append(rows[i].Recs, l)
		}
	}
	creators := map[string]string{}
	if len(ids) > 0 {
		got, err := queryAll[struct {
			Scope  string `json:"scope"`
			Caller string `json:"caller"`
		}](ctx, s, "auditevents | where tostring(properties.kind) == 'Created'"+
			" | extend scope = tolower(tostring(properties.scope)), at = todatetime(properties.timestamp), caller = tostring(properties.caller)"+
			" | where scope in "+kqlList(ids)+" | summarize arg_max(at, caller) by scope")
		if err != nil {
			p.Logger.Warn("portal: reading exemption creators", "err", err)
		}
		for _, g := range got {
			creators[g.Scope] = g.Caller
		}
	}
	var who []string
	for i := range rows {
		switch {
		case rows[i].Owner != "":
			rows[i].OwnerName = rows[i].Owner
		case rows[i].RequestedBy != "":
			who = append(who, rows[i].RequestedBy)
		case creators[strings.ToLower(rows[i].ID)] != "":
			who = append(who, creators[strings.ToLower(rows[i].ID)])
		}
	}
	if len(who) == 0 {
		return
	}
	pn := principalNames(ctx, s)
	for i := range rows {
		if rows[i].OwnerName != "" {
			continue
		}
		id := cmp.Or(rows[i].RequestedBy, creators[strings.ToLower(rows[i].ID)])
		rows[i].OwnerName = cmp.Or(pn[strings.ToLower(id)], id)
	}
}

// recommendationNames maps policy definition reference ids (lower case) to
// the recommendation they are, from the benchmark's catalog (no query: at
// 100,000 resources scanning the assessments for them took 200 ms).
func (p *Portal) recommendationNames(_ context.Context, _ *session, refs map[string]bool) map[string]recoLink {
	out := map[string]recoLink{}
	if p.Catalog == nil {
		return out
	}
	for r := range refs {
		if rec, ok := p.Catalog.ByReference(r); ok {
			out[r] = recoLink{Key: rec.Key, Name: rec.DisplayName}
		}
	}
	return out
}

// principalNames maps principal ids (lower case) to display names; every
// signed-in user may read principals. One call, whatever the page shows.
func principalNames(ctx context.Context, s *session) map[string]string {
	out := map[string]string{}
	docs, err := s.list(ctx, "/providers/Posture.Identity/principals", "2026-11-01", nil)
	if err != nil {
		return out
	}
	for _, raw := range docs {
		var d struct {
			Name       string `json:"name"`
			Properties struct {
				DisplayName string `json:"displayName"`
			} `json:"properties"`
		}
		if decodeJSON(raw, &d) == nil && d.Properties.DisplayName != "" {
			out[strings.ToLower(d.Name)] = d.Properties.DisplayName
		}
	}
	return out
}

// --- the list ---

type exemptionsData struct {
	Rows                           []exemptionItem
	Status, Category, Subscription string
	Q                              string
	Statuses                       []string
	Subscriptions                  []subscriptionOption
	Total                          int64
	Next                           string // the next page's skip token
	Later                          bool   // this is not the first page
	Deleted                        bool
	Days                           int
}

type subscriptionOption struct {
	ID   string `json:"subscriptionId"`
	Name string `json:"name"`
}

func (exemptionsData) PageTitle() (string, string) { return "Exemptions", "exemptions" }

func (p *Portal) exemptions(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	in := r.URL.Query()
	d := exemptionsData{Statuses: exemptionStatuses, Deleted: in.Get("deleted") == "1", Days: ExpiringDays, Q: strings.TrimSpace(in.Get("q"))}
	if v := strings.ToLower(in.Get("status")); slices.Contains(exemptionStatuses, v) {
		d.Status = v
	}
	for _, c := range []string{"Waiver", "Mitigated"} {
		if strings.EqualFold(in.Get("category"), c) {
			d.Category = c
		}
	}
	subs, err := queryAll[subscriptionOption](ctx, s, "resourcecontainers | where type == 'microsoft.resources/subscriptions' | project subscriptionId, name | order by name asc")
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Subscriptions = subs
	// A subscription the user cannot read is still a filter: it matches
	// nothing.
	d.Subscription = strings.TrimSpace(in.Get("subscription"))
	var where strings.Builder
	if d.Status != "" {
		where.WriteString(" | where status == '" + d.Status + "'")
	}
	if d.Category != "" {
		where.WriteString(" | where category =~ '" + d.Category + "'")
	}
	if d.Subscription != "" {
		where.WriteString(" | where subscriptionId =~ '" + kqlString(d.Subscription) + "'")
	}
	if d.Q != "" {
		q := kqlString(d.Q)
		where.WriteString(" | where name contains '" + q + "' or displayName contains '" + q + "' or tostring(properties.description) contains '" + q +
			"' or tostring(properties.metadata.ticketRef) contains '" + q + "' or id contains '" + q + "'")
	}
	skip := in.Get("skipToken")
	page, err := query[exemptionItem](ctx, s, exemptionsKQL(where.String()), exemptionsPerPage, skip)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	p.enrichExemptions(ctx, s, page.Rows)
	d.Rows, d.Total, d.Next, d.Later = page.Rows, page.Total, page.SkipToken, skip != ""
	p.render(w, r, s, http.StatusOK, "exemptions", d)
}

// --- one exemption ---

// exemptionDoc is an exemption document as the API returns it.
type exemptionDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Properties struct {
		PostureStatus      string          `json:"postureStatus"`
		PolicyAssignmentID string          `json:"policyAssignmentId"`
		References         []string        `json:"policyDefinitionReferenceIds"`
		Category           string          `json:"exemptionCategory"`
		ExpiresOn          string          `json:"expiresOn"`
		DisplayName        string          `json:"displayName"`
		Description        string          `json:"description"`
		Metadata           json.RawMessage `json:"metadata"`
		ResourceSelectors  json.RawMessage `json:"resourceSelectors"`
		ScopeValidation    string          `json:"assignmentScopeValidation"`
		ResourceFilter     json.RawMessage `json:"resourceFilter"`
		Evidence           *struct {
			Condition json.RawMessage `json:"condition"`
			Query     string          `json:"query"`
		} `json:"evidence"`
		Review *exemption.Review `json:"review"`
	} `json:"properties"`
	SystemData struct {
		CreatedBy      string `json:"createdBy"`
		CreatedAt      string `json:"createdAt"`
		LastModifiedBy string `json:"lastModifiedBy"`
		LastModifiedAt string `json:"lastModifiedAt"`
	} `json:"systemData"`
}

// metadata returns the exemption's metadata values as strings (others as
// their JSON).
func (x exemptionDoc) metadata() map[string]string {
	var m map[string]json.RawMessage
	out := map[string]string{}
	if json.Unmarshal(x.Properties.Metadata, &m) != nil {
		return out
	}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

type metaPair struct{ Key, Value string }

type historyRow struct {
	Sequence  int64  `json:"sequence"`
	Kind      string `json:"kind"`
	Actor     string `json:"actor"`
	ActorType string `json:"actorType"`
	Time      string `json:"time"`
	Before    json.RawMessage
	After     json.RawMessage

	ActorName string   `json:"-"`
	Changes   []string `json:"-"`
}

// When is the event's time as the pages show it.
func (h historyRow) When() string { return whenText(h.Time) }

type exemptionViewData struct {
	ID, ETag, Scope, Status string
	Doc                     exemptionDoc
	Raw                     json.RawMessage
	Meta                    []metaPair
	TicketRef, TicketURL    string
	Recs                    []recoLink
	// Filter is the resource filter in words; Evidence the evidence
	// check's condition (JSON) or query.
	Filter, Evidence      string
	Orphaned              bool
	CreatedBy, ModifiedBy string
	CreatedAt, ModifiedAt string
	History               []historyRow
	CanEdit, CanDelete    bool
	Saved                 bool
	Stale                 bool // a delete from an out-of-date page
}

func (d exemptionViewData) PageTitle() (string, string) {
	return "Exemption " + cmp.Or(d.Doc.Properties.DisplayName, d.Doc.Name), "exemptions"
}

// exemptionIDParam reads and checks an exemption id from a page's input:
// anything that is not an exemption id is a clear 404.
func exemptionIDParam(v string) (string, error) {
	x, err := armid.Parse(strings.TrimSpace(v))
	if err != nil || !strings.EqualFold(x.Type(), exemptionTypeName) {
		return "", posture.Errorf(posture.ENOTFOUND, "ExemptionNotFound", "There is no exemption '%s'. Exemption ids look like {scope}/providers/Microsoft.Authorization/policyExemptions/{name}.", truncate(v, 300))
	}
	return x.String(), nil
}

// notFoundExemption turns the API's 404 into the page's clear message.
func notFoundExemption(id string, err error) error {
	if posture.ErrorKind(err) == posture.ENOTFOUND {
		return posture.Errorf(posture.ENOTFOUND, "ExemptionNotFound", "There is no exemption '%s'; it may have been deleted.", id)
	}
	return err
}

func (p *Portal) exemptionView(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := exemptionIDParam(r.URL.Query().Get("id"))
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d, err := p.loadExemptionView(r.Context(), s, id)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Saved = r.URL.Query().Get("saved") == "1"
	p.render(w, r, s, http.StatusOK, "exemption_view", d)
}

// loadExemptionView reads an exemption, its history and whether its
// assignment still exists.
func (p *Portal) loadExemptionView(ctx context.Context, s *session, id string) (exemptionViewData, error) {
	var raw json.RawMessage
	etag, err := s.get(ctx, id, exemptionVersion, &raw)
	if err != nil {
		return exemptionViewData{}, notFoundExemption(id, err)
	}
	d := exemptionViewData{ID: id, ETag: etag, Raw: raw, Scope: exemptionScope(id)}
	if err := json.Unmarshal(raw, &d.Doc); err != nil {
		return d, posture.Internal(err)
	}
	props := d.Doc.Properties
	meta := d.Doc.metadata()
	for k, v := range meta {
		d.Meta = append(d.Meta, metaPair{k, v})
	}
	slices.SortFunc(d.Meta, func(a, b metaPair) int { return cmp.Compare(a.Key, b.Key) })
	d.TicketRef, d.TicketURL = meta["ticketRef"], meta["ticketUrl"]
	// The status as the lists compute it (orphaned only where the user can
	// tell), from the exemption's Resource Graph row: asking the API for
	// an assignment the user cannot read would be a denial in the ledger
	// at every view.
	d.Status = exemptionStatusOf(props.ExpiresOn, p.Now())
	if row, err := query[exemptionItem](ctx, s, exemptionsKQL(" | where id =~ '"+kqlString(id)+"'"), 1, ""); err == nil && len(row.Rows) == 1 {
		d.Status = row.Rows[0].Status
	}
	d.Orphaned = d.Status == "orphaned"
	if raw := props.ResourceFilter; len(raw) > 0 {
		d.Filter = string(raw)
		if f, err := match.Parse(raw, "resourceFilter"); err == nil {
			d.Filter = f.String()
		}
	}
	if ev := props.Evidence; ev != nil {
		d.Evidence = cmp.Or(ev.Query, string(ev.Condition))
	}
	refs := map[string]bool{}
	for _, r := range props.References {
		refs[strings.ToLower(r)] = true
	}
	names := p.recommendationNames(ctx, s, refs)
	for _, r := range props.References {
		l := names[strings.ToLower(r)]
		l.Ref = r
		d.Recs = append(d.Recs, l)
	}
	hist, err := s.list(ctx, id+"/history", exemptionVersion, nil)
	if err != nil {
		return d, err
	}
	for _, h := range hist {
		var e historyRow
		if err := json.Unmarshal(h, &e); err != nil {
			continue
		}
		e.Changes = exemptionChanges(e.Before, e.After)
		d.History = append(d.History, e)
	}
	pn := principalNames(ctx, s)
	name := func(id string) string { return cmp.Or(pn[strings.ToLower(id)], id) }
	for i := range d.History {
		d.History[i].ActorName = name(d.History[i].Actor)
	}
	d.CreatedBy, d.ModifiedBy = name(d.Doc.SystemData.CreatedBy), name(d.Doc.SystemData.LastModifiedBy)
	d.CreatedAt, d.ModifiedAt = whenText(d.Doc.SystemData.CreatedAt), whenText(d.Doc.SystemData.LastModifiedAt)
	if p.Authz != nil {
		d.CanEdit = p.Authz.AuthorizeExemptionWrite(s.principal, id, props.PolicyAssignmentID) == nil
		d.CanDelete = p.Authz.Authorize(s.principal, actionExemptionDelete, id) == nil
	}
	return d, nil
}

// exemptionStatusOf is the status of an exemption by its expiry alone, as
// exemptionsKQL computes it.
func exemptionStatusOf(expiresOn string, now time.Time) string {
	if expiresOn == "" {
		return "active"
	}
	t, err := time.Parse(time.RFC3339, expiresOn)
	switch {
	case err != nil:
		return "active"
	case !t.After(now):
		return "expired"
	case !t.After(now.Add(ExpiringDays * 24 * time.Hour)):
		return "expiring"
	}
	return "active"
}

// exemptionChanges says what an event changed, field by field.
func exemptionChanges(before, after json.RawMessage) []string {
	type doc struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var b, a doc
	_ = json.Unmarshal(before, &b)
	_ = json.Unmarshal(after, &a)
	if b.Properties == nil || a.Properties == nil {
		return nil
	}
	keys := map[string]bool{}
	for k := range b.Properties {
		keys[k] = true
	}
	for k := range a.Properties {
		keys[k] = true
	}
	var out []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	}) {
		if k == "postureStatus" {
			continue
		}
		bv, av := compactJSON(b.Properties[k]), compactJSON(a.Properties[k])
		if bv != av {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, cmp.Or(bv, "(none)"), cmp.Or(av, "(none)")))
		}
	}
	return out
}

func compactJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// --- edit ---

// exemptionForm is what the edit form changes.
type exemptionForm struct {
	DisplayName, Category, ExpiresOn, Description, TicketRef string
}

type exemptionEditData struct {
	ID, Name, ETag string
	Form           exemptionForm
	// Errors are the API's messages per form field; Alert is the API's
	// error, Details its details.
	Errors  map[string]string
	Alert   string
	Details []*posture.Error
	Stale   bool
	CanEdit bool
}

func (d exemptionEditData) PageTitle() (string, string) {
	return "Edit exemption " + d.Name, "exemptions"
}

func (p *Portal) exemptionEditForm(w http.ResponseWriter, r *http.Request, s *session) {
	id, err := exemptionIDParam(r.URL.Query().Get("id"))
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	var doc exemptionDoc
	etag, err := s.get(r.Context(), id, exemptionVersion, &doc)
	if err != nil {
		p.fail(w, r, s, notFoundExemption(id, err))
		return
	}
	meta := doc.metadata()
	d := exemptionEditData{ID: id, Name: doc.Name, ETag: etag, Form: exemptionForm{
		DisplayName: doc.Properties.DisplayName, Category: doc.Properties.Category, ExpiresOn: dateOf(doc.Properties.ExpiresOn),
		Description: doc.Properties.Description, TicketRef: meta["ticketRef"],
	}}
	if p.Authz != nil {
		d.CanEdit = p.Authz.AuthorizeExemptionWrite(s.principal, id, doc.Properties.PolicyAssignmentID) == nil
	}
	p.render(w, r, s, http.StatusOK, "exemption_edit", d)
}

// dateOf is the date part of an RFC 3339 time, for a date field.
func dateOf(t string) string {
	if v, err := time.Parse(time.RFC3339, t); err == nil {
		return v.UTC().Format(time.DateOnly)
	}
	return t
}

// formFields maps the API's error targets to the form's fields.
var formFields = map[string]string{
	"properties.displayname":        "displayName",
	"properties.exemptioncategory":  "category",
	"properties.expireson":          "expiresOn",
	"properties.description":        "description",
	"properties.metadata":           "ticketRef",
	"properties.metadata.ticketref": "ticketRef",
}

// fieldErrors places an API error and its details next to the edit form's
// fields their targets name.
func fieldErrors(err error) map[string]string {
	out := map[string]string{}
	pe, ok := err.(*posture.Error)
	if !ok {
		return out
	}
	for _, e := range append([]*posture.Error{pe}, pe.Details...) {
		if f := fieldFor(e.Target, formFields); f != "" && out[f] == "" {
			out[f] = e.Message
		}
	}
	return out
}

// fieldFor is the form field of an API error's target in fields (keys are
// lower-case targets): a batch's "exemptions[i]." prefix is dropped, and a
// target inside properties.metadata is the metadata's field.
func fieldFor(target string, fields map[string]string) string {
	t := strings.ToLower(target)
	if strings.HasPrefix(t, "exemptions[") {
		if _, rest, ok := strings.Cut(t, "]."); ok {
			t = rest
		}
	}
	if f, ok := fields[t]; ok {
		return f
	}
	if strings.HasPrefix(t, "properties.metadata.") {
		return fields["properties.metadata"]
	}
	return ""
}

func (p *Portal) exemptionEdit(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	id, err := exemptionIDParam(r.PostForm.Get("id"))
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	f := exemptionForm{
		DisplayName: strings.TrimSpace(r.PostForm.Get("displayName")), Category: r.PostForm.Get("category"),
		ExpiresOn: strings.TrimSpace(r.PostForm.Get("expiresOn")), Description: strings.TrimSpace(r.PostForm.Get("description")),
		TicketRef: strings.TrimSpace(r.PostForm.Get("ticketRef")),
	}
	d := exemptionEditData{ID: id, ETag: r.PostForm.Get("etag"), Form: f, Errors: map[string]string{}}
	var doc map[string]json.RawMessage
	_, err = s.get(ctx, id, exemptionVersion, &doc)
	if err != nil {
		p.fail(w, r, s, notFoundExemption(id, err))
		return
	}
	var cur exemptionDoc
	raw, _ := json.Marshal(doc)
	_ = json.Unmarshal(raw, &cur)
	d.Name = cur.Name
	if p.Authz != nil {
		d.CanEdit = p.Authz.AuthorizeExemptionWrite(s.principal, id, cur.Properties.PolicyAssignmentID) == nil
	}
	if d.ETag == "" {
		// A form without the version it was made from cannot be checked
		// against changes: never write it blind.
		d.Stale = true
		p.render(w, r, s, http.StatusPreconditionFailed, "exemption_edit", d)
		return
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(doc["properties"], &props); err != nil || props == nil {
		props = map[string]json.RawMessage{}
	}
	setOrDrop := func(key, v string) {
		if v == "" {
			delete(props, key)
			return
		}
		props[key], _ = json.Marshal(v)
	}
	setOrDrop("displayName", f.DisplayName)
	setOrDrop("description", f.Description)
	props["exemptionCategory"], _ = json.Marshal(f.Category)
	setOrDrop("expiresOn", expiresFromForm(f.ExpiresOn, cur.Properties.ExpiresOn))
	var meta map[string]any
	_ = json.Unmarshal(props["metadata"], &meta)
	if meta == nil {
		meta = map[string]any{}
	}
	if old, _ := meta["ticketRef"].(string); old != f.TicketRef {
		// The ticket's address belongs to the old reference.
		delete(meta, "ticketUrl")
	}
	if f.TicketRef == "" {
		delete(meta, "ticketRef")
	} else {
		meta["ticketRef"] = f.TicketRef
	}
	if len(meta) == 0 {
		delete(props, "metadata")
	} else {
		props["metadata"], _ = json.Marshal(meta)
	}
	doc["properties"], _ = json.Marshal(props)
	err = s.send(ctx, http.MethodPut, id, exemptionVersion, d.ETag, doc, nil)
	if err == nil {
		http.Redirect(w, r, "/exemptions/view?id="+url.QueryEscape(id)+"&saved=1", http.StatusSeeOther)
		return
	}
	status := api.StatusOf(err)
	switch posture.ErrorKind(err) {
	case posture.EPRECONDITION:
		d.Stale = true
	case posture.EINVALID:
		d.Errors = fieldErrors(err)
		fallthrough
	default:
		d.Alert = errorText(err)
		if pe, ok := err.(*posture.Error); ok {
			d.Details = pe.Details
		}
	}
	p.render(w, r, s, status, "exemption_edit", d)
}

// expiresFromForm turns the form's date into the exemption's expiresOn:
// the same day as before keeps the time it had; another date is 00:00 UTC
// of that day. Input that is no date goes to the API as typed, which says
// what is wrong with it.
func expiresFromForm(v, old string) string {
	if v == "" {
		return ""
	}
	if dateOf(old) == v {
		return old
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t.UTC().Format(time.RFC3339)
	}
	return v
}

// --- delete ---

func (p *Portal) exemptionDelete(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	id, err := exemptionIDParam(r.PostForm.Get("id"))
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	etag := r.PostForm.Get("etag")
	if etag != "" {
		err = s.send(ctx, http.MethodDelete, id, exemptionVersion, etag, nil, nil)
		if err == nil {
			http.Redirect(w, r, "/exemptions?deleted=1", http.StatusSeeOther)
			return
		}
		if posture.ErrorKind(err) != posture.EPRECONDITION {
			p.fail(w, r, s, err)
			return
		}
	}
	// Stale (or no version at all): show the exemption as it is now.
	d, lerr := p.loadExemptionView(ctx, s, id)
	if lerr != nil {
		p.fail(w, r, s, lerr)
		return
	}
	d.Stale = true
	p.render(w, r, s, http.StatusPreconditionFailed, "exemption_view", d)
}

// Expires is the exemption's expiry as the pages show it.
func (d exemptionViewData) Expires() string { return whenText(d.Doc.Properties.ExpiresOn) }
