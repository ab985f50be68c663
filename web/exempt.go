package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/api"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/requests"
)

// exemptInput is the Exempt form (and its query string when it opens).
type exemptInput struct {
	Key       string
	Resources []string
	// Target: "resources" (one exemption per selected resource),
	// "subscriptions" (one per subscription of the selection), "all" (one
	// per subscription the user can read: the whole recommendation).
	Target                                 string
	Name, Category, ExpiresOn, Description string
	Ticket                                 string
}

func readExemptInput(v url.Values) exemptInput {
	in := exemptInput{Key: strings.TrimSpace(v.Get("key")), Target: v.Get("target"), Name: strings.TrimSpace(v.Get("name")),
		Category: v.Get("category"), ExpiresOn: strings.TrimSpace(v.Get("expiresOn")), Description: strings.TrimSpace(v.Get("description")),
		Ticket: strings.TrimSpace(v.Get("ticket"))}
	for _, r := range v["resource"] {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(in.Resources, r) {
			in.Resources = append(in.Resources, r)
		}
	}
	if in.Target == "" {
		in.Target = "resources"
		if len(in.Resources) == 0 {
			in.Target = "all"
		}
	}
	return in
}

// exemptData is the Exempt page.
type exemptData struct {
	In            exemptInput
	Rec           requests.Recommendation
	Planned       []string // the exemption ids the form would create
	Subscriptions []string
	Preview       *previewView
	Errors        map[string]string // by form field
	Alert         string
	Today         string
}

func (d exemptData) PageTitle() (string, string) {
	return "Exempt: " + d.Rec.DisplayName, "recommendations"
}

// previewView is the impact of the planned exemptions.
type previewView struct {
	Covered       int
	AlreadyExempt int
	Resources     int
	Scores        []posture.ScorePreview
	Warnings      []string
	Future        []string
	Problems      []string
}

// planned is one exemption the form creates.
type planned struct {
	ID   string
	Body map[string]any
}

// plan turns the form into exemptions of the benchmark's assignment:
// Defender's Exempt writes them at each resource (or subscription) against
// its subscription's SecurityCenterBuiltIn assignment, naming the
// recommendation's reference in the initiative.
func (p *Portal) plan(ctx context.Context, s *session, in exemptInput) ([]planned, requests.Recommendation, map[string]string, error) {
	errs := map[string]string{}
	rec, err := p.benchmarkRecommendation(in.Key)
	if err != nil {
		return nil, rec, nil, err
	}
	var scopes []armid.ID
	switch in.Target {
	case "resources":
		if len(in.Resources) == 0 {
			errs["target"] = "Select at least one resource, or exempt whole subscriptions."
		}
		for _, r := range in.Resources {
			id, err := armid.Parse(r)
			if err != nil || id.SubscriptionID() == "" {
				errs["target"] = fmt.Sprintf("'%s' is not a resource id.", r)
				break
			}
			scopes = append(scopes, id)
		}
	case "subscriptions", "all":
		subs, err := p.targetSubscriptions(ctx, s, in)
		if err != nil {
			return nil, rec, nil, err
		}
		for _, sub := range subs {
			scopes = append(scopes, armid.SubscriptionScope(sub))
		}
		if len(scopes) == 0 {
			errs["target"] = "You can read no subscription to exempt."
		}
	default:
		errs["target"] = "Choose what to exempt."
	}
	if in.Category != "Waiver" && in.Category != "Mitigated" {
		errs["category"] = "Choose a category: risk accepted (waiver) or resolved through a third party (mitigated)."
	}
	var expires string
	if in.ExpiresOn != "" {
		t, err := time.Parse("2006-01-02", in.ExpiresOn)
		if err != nil {
			errs["expiresOn"] = "The expiry must be a date (YYYY-MM-DD)."
		} else {
			// The exemption lasts through the chosen day (UTC).
			expires = t.Add(24*time.Hour - time.Second).UTC().Format(time.RFC3339)
		}
	}
	name := armName(in.Name)
	if in.Name == "" {
		errs["name"] = "Give the exemption a name."
	} else if name == "" {
		errs["name"] = "The name needs at least one letter or digit."
	}
	if len(errs) > 0 {
		return nil, rec, errs, nil
	}
	meta := map[string]any{"createdFrom": "posture portal", "assessmentKey": in.Key, "owner": s.Name()}
	if in.Ticket != "" {
		meta["ticketRef"] = in.Ticket
	}
	props := map[string]any{"policyDefinitionReferenceIds": []string{rec.ReferenceID}, "exemptionCategory": in.Category,
		"displayName": in.Name, "metadata": meta}
	if in.Description != "" {
		props["description"] = in.Description
	}
	if expires != "" {
		props["expiresOn"] = expires
	}
	out := make([]planned, 0, len(scopes))
	for _, sc := range scopes {
		pr := maps.Clone(props)
		pr["policyAssignmentId"] = armid.SubscriptionScope(sc.SubscriptionID()).Provider("Microsoft.Authorization", "policyAssignments", requests.DefaultAssignment).String()
		out = append(out, planned{ID: sc.Provider("Microsoft.Authorization", "policyExemptions", name).String(), Body: map[string]any{"properties": pr}})
	}
	return out, rec, nil, nil
}

// targetSubscriptions are the subscriptions of the selection, or every
// readable one with the recommendation.
func (p *Portal) targetSubscriptions(ctx context.Context, s *session, in exemptInput) ([]string, error) {
	if in.Target == "subscriptions" {
		var subs []string
		for _, r := range in.Resources {
			if id, err := armid.Parse(r); err == nil && id.SubscriptionID() != "" && !slices.Contains(subs, id.SubscriptionID()) {
				subs = append(subs, id.SubscriptionID())
			}
		}
		return subs, nil
	}
	rows, err := queryAll[struct {
		Sub string `json:"subscriptionId"`
	}](ctx, s, "securityresources | where type == 'microsoft.security/assessments' and name == '"+kqlString(strings.ToLower(in.Key))+"' | summarize by subscriptionId | order by subscriptionId asc")
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Sub
	}
	return out, nil
}

var nameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// armName makes an exemption's resource name from the name the user typed
// (which becomes its displayName).
func armName(s string) string {
	n := strings.Trim(nameChars.ReplaceAllString(s, "-"), "-.")
	if len(n) > 64 {
		n = strings.TrimRight(n[:64], "-.")
	}
	return n
}

// preview asks the API what the planned exemptions would do together.
func (p *Portal) preview(ctx context.Context, s *session, ps []planned) (*previewView, error) {
	batch := map[string]any{"apiVersion": exemptionVersion}
	var xs []map[string]any
	for _, x := range ps {
		xs = append(xs, map[string]any{"id": x.ID, "properties": x.Body["properties"]})
	}
	batch["exemptions"] = xs
	var out posture.ExemptionPreview
	if err := s.send(ctx, http.MethodPost, "/providers/Posture.Security/previewExemptions", postureVersion, "", batch, &out); err != nil {
		return nil, err
	}
	v := &previewView{Scores: out.Scores, Warnings: out.Warnings, Future: out.Future}
	res := map[string]bool{}
	for _, c := range out.Covered {
		if c.AlreadyExempt {
			v.AlreadyExempt++
		} else {
			v.Covered++
		}
		res[strings.ToLower(c.ResourceID)] = true
	}
	v.Resources = len(res)
	return v, nil
}

// createFields are the Exempt and Request forms' fields by API error
// target (see fieldFor).
var createFields = map[string]string{
	"properties.displayname":       "name",
	"name":                         "name",
	"properties.exemptioncategory": "category",
	"properties.expireson":         "expiresOn",
	"properties.description":       "description",
	"properties.justification":     "description",
	"properties.ticketref":         "ticket",
	"properties.metadata":          "ticket",
}

// apiProblems spreads an API error over the Exempt or Request form:
// messages with a target go next to their field, the rest into the alert.
func apiProblems(err error, errs map[string]string) string {
	var pe *posture.Error
	if !errors.As(err, &pe) {
		return errorText(err)
	}
	all := append([]*posture.Error{pe}, pe.Details...)
	var rest []string
	for _, e := range all {
		if f := fieldFor(e.Target, createFields); f != "" {
			if errs[f] == "" {
				errs[f] = e.Message
			}
			continue
		}
		if e == pe && len(pe.Details) > 0 {
			continue
		}
		rest = append(rest, e.Message+" ("+e.Code+")")
	}
	if len(rest) == 0 {
		return "The exemption was not saved: " + pe.Message + " (" + pe.Code + ")"
	}
	return strings.Join(rest, " ")
}

func (p *Portal) exemptForm(w http.ResponseWriter, r *http.Request, s *session) {
	in := readExemptInput(r.URL.Query())
	d := exemptData{In: in, Errors: map[string]string{}, Today: p.Now().UTC().Format("2006-01-02")}
	rec, err := p.benchmarkRecommendation(in.Key)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Rec = rec
	d.In.Name = fmt.Sprintf("%s %s", truncate(rec.DisplayName, 40), p.Now().UTC().Format("2006-01-02"))
	p.render(w, r, s, http.StatusOK, "exempt", d)
}

// exempt saves the form, or (action=preview, the no-JavaScript path)
// shows its preview.
func (p *Portal) exempt(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	in := readExemptInput(r.PostForm)
	d := exemptData{In: in, Errors: map[string]string{}, Today: p.Now().UTC().Format("2006-01-02")}
	ps, rec, errs, err := p.plan(ctx, s, in)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.Rec = rec
	if len(errs) > 0 {
		d.Errors, d.Alert = errs, "Correct the fields marked below."
		p.render(w, r, s, http.StatusBadRequest, "exempt", d)
		return
	}
	for _, x := range ps {
		d.Planned = append(d.Planned, x.ID)
	}
	// The preview validates every exemption as the PUT would (governance
	// rules included): nothing is written unless all of them pass.
	d.Preview, err = p.preview(ctx, s, ps)
	if err != nil {
		d.Alert = apiProblems(err, d.Errors)
		p.render(w, r, s, api.StatusOf(err), "exempt", d)
		return
	}
	if r.PostForm.Get("action") == "preview" {
		p.render(w, r, s, http.StatusOK, "exempt", d)
		return
	}
	// A new exemption must not replace one of the same name.
	for _, x := range ps {
		if _, err := s.get(ctx, x.ID, exemptionVersion, nil); err == nil {
			d.Errors["name"] = fmt.Sprintf("An exemption named '%s' already exists at %s; choose another name.", armName(in.Name), exemptionScope(x.ID))
			d.Alert = "Nothing was saved."
			p.render(w, r, s, http.StatusConflict, "exempt", d)
			return
		} else if posture.ErrorKind(err) != posture.ENOTFOUND {
			d.Alert = apiProblems(err, d.Errors)
			p.render(w, r, s, api.StatusOf(err), "exempt", d)
			return
		}
	}
	var saved []string
	for _, x := range ps {
		if err := s.send(ctx, http.MethodPut, x.ID, exemptionVersion, "", x.Body, nil); err != nil {
			d.Alert = apiProblems(err, d.Errors)
			if len(saved) > 0 {
				d.Alert = fmt.Sprintf("%d of %d exemptions were saved before this error: %s", len(saved), len(ps), d.Alert)
			}
			p.render(w, r, s, api.StatusOf(err), "exempt", d)
			return
		}
		saved = append(saved, x.ID)
	}
	back := "/recommendations/" + url.PathEscape(in.Key) + "?" + url.Values{"tab": {"notapplicable"}, "saved": {fmt.Sprint(len(saved))}}.Encode()
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// exemptPreview answers the form's live preview (htmx): the impact, or
// the problems the API finds.
func (p *Portal) exemptPreview(w http.ResponseWriter, r *http.Request, s *session) {
	in := readExemptInput(r.PostForm)
	d := exemptData{In: in, Errors: map[string]string{}}
	ps, rec, errs, err := p.plan(r.Context(), s, in)
	d.Rec = rec
	switch {
	case err != nil:
		d.Alert = errorText(err)
	case len(errs) > 0:
		d.Errors = errs
	default:
		for _, x := range ps {
			d.Planned = append(d.Planned, x.ID)
		}
		if d.Preview, err = p.preview(r.Context(), s, ps); err != nil {
			d.Alert = apiProblems(err, d.Errors)
		}
	}
	p.fragment(w, s, "exempt", "preview", d)
}

// requestData is the Request exemption page: what a user who may not
// exempt sees instead.
type requestData struct {
	In     exemptInput
	Rec    requests.Recommendation
	Errors map[string]string
	Alert  string
	Today  string
}

func (d requestData) PageTitle() (string, string) {
	return "Request an exemption: " + d.Rec.DisplayName, "recommendations"
}

func (p *Portal) requestForm(w http.ResponseWriter, r *http.Request, s *session) {
	in := readExemptInput(r.URL.Query())
	rec, err := p.benchmarkRecommendation(in.Key)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d := requestData{In: in, Rec: rec, Errors: map[string]string{}, Today: p.Now().UTC().Format("2006-01-02")}
	if len(in.Resources) == 0 {
		d.Alert = "Select the resources to exempt on the recommendation's page first."
	}
	p.render(w, r, s, http.StatusOK, "request", d)
}

// request files an exemption request with the API; security contacts and
// admins decide it.
func (p *Portal) request(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	in := readExemptInput(r.PostForm)
	in.Description = strings.TrimSpace(r.PostForm.Get("justification"))
	rec, err := p.benchmarkRecommendation(in.Key)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d := requestData{In: in, Rec: rec, Errors: map[string]string{}, Today: p.Now().UTC().Format("2006-01-02")}
	scope, err := commonScope(in.Resources)
	if err != nil {
		d.Alert = err.Error()
	}
	if in.Category != "Waiver" && in.Category != "Mitigated" {
		d.Errors["category"] = "Choose a category."
	}
	if in.Description == "" {
		d.Errors["description"] = "Say why the resources should be exempted."
	}
	props := map[string]any{"assessmentKey": in.Key, "resourceIds": in.Resources, "exemptionCategory": in.Category, "justification": in.Description}
	if in.ExpiresOn != "" {
		t, err := time.Parse("2006-01-02", in.ExpiresOn)
		if err != nil {
			d.Errors["expiresOn"] = "The expiry must be a date (YYYY-MM-DD)."
		}
		props["expiresOn"] = t.Add(24*time.Hour - time.Second).UTC().Format(time.RFC3339)
	}
	if in.Ticket != "" {
		props["ticketRef"] = in.Ticket
	}
	if d.Alert != "" || len(d.Errors) > 0 {
		if d.Alert == "" {
			d.Alert = "Correct the fields marked below."
		}
		p.render(w, r, s, http.StatusBadRequest, "request", d)
		return
	}
	id := scope.Provider("Microsoft.Security", "exemptionRequests", "req-"+p.Now().UTC().Format("20060102-150405")+"-"+randomHex(3)).String()
	if err := s.send(ctx, http.MethodPut, id, requestVersion, "", map[string]any{"properties": props}, nil); err != nil {
		d.Alert = apiProblems(err, d.Errors)
		p.render(w, r, s, api.StatusOf(err), "request", d)
		return
	}
	http.Redirect(w, r, "/requests/view?"+url.Values{"id": {id}, "filed": {"1"}}.Encode(), http.StatusSeeOther)
}

// commonScope is the deepest scope holding every resource: a request
// lives there.
func commonScope(resources []string) (armid.ID, error) {
	if len(resources) == 0 {
		return armid.ID{}, errors.New("Select at least one resource on the recommendation's page.")
	}
	var sub, rg string
	for i, r := range resources {
		id, err := armid.Parse(r)
		if err != nil || id.SubscriptionID() == "" {
			return armid.ID{}, fmt.Errorf("'%s' is not a resource id.", r)
		}
		if i == 0 {
			sub, rg = id.SubscriptionID(), id.ResourceGroup()
			continue
		}
		if !strings.EqualFold(sub, id.SubscriptionID()) {
			return armid.ID{}, errors.New("A request covers resources of one subscription; file one request per subscription.")
		}
		if !strings.EqualFold(rg, id.ResourceGroup()) {
			rg = ""
		}
	}
	if rg != "" {
		return armid.ResourceGroupScope(sub, rg), nil
	}
	return armid.SubscriptionScope(sub), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
