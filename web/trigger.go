package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/posture/posture/api"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/requests"
)

// triggerData is the Trigger workflow page: the workflow automations of
// the selection's subscriptions, to send the selected assessments to.
type triggerData struct {
	In          exemptInput
	Rec         requests.Recommendation
	Automations []automationRow
	Chosen      []string
	Alert, Done string
}

func (d triggerData) PageTitle() (string, string) {
	return "Trigger workflow: " + d.Rec.DisplayName, "recommendations"
}

type automationRow struct {
	ID, Name, Description string
	Enabled               bool
	Actions               int
}

func (p *Portal) triggerPage(w http.ResponseWriter, r *http.Request, s *session, in exemptInput, status int, d triggerData) {
	ctx := r.Context()
	rec, err := p.benchmarkRecommendation(in.Key)
	if err != nil {
		p.fail(w, r, s, err)
		return
	}
	d.In, d.Rec = in, rec
	var subs []string
	for _, res := range in.Resources {
		if id, err := armid.Parse(res); err == nil && id.SubscriptionID() != "" && !slices.Contains(subs, id.SubscriptionID()) {
			subs = append(subs, id.SubscriptionID())
		}
	}
	if len(subs) == 0 && d.Alert == "" {
		d.Alert = "Select the resources to send on the recommendation's page first."
	}
	for _, sub := range subs {
		docs, err := s.list(ctx, armid.SubscriptionScope(sub).String()+"/providers/Microsoft.Security/automations", automationVer, nil)
		if err != nil {
			d.Alert = "The automations of " + sub + " could not be listed: " + errorText(err)
			continue
		}
		for _, raw := range docs {
			var a struct {
				ID         string `json:"id"`
				Name       string `json:"name"`
				Properties struct {
					Description string            `json:"description"`
					IsEnabled   bool              `json:"isEnabled"`
					Actions     []json.RawMessage `json:"actions"`
				} `json:"properties"`
			}
			if json.Unmarshal(raw, &a) == nil {
				d.Automations = append(d.Automations, automationRow{ID: a.ID, Name: a.Name, Description: a.Properties.Description, Enabled: a.Properties.IsEnabled, Actions: len(a.Properties.Actions)})
			}
		}
	}
	slices.SortFunc(d.Automations, func(a, b automationRow) int { return cmp.Compare(a.Name, b.Name) })
	p.render(w, r, s, status, "trigger", d)
}

func (p *Portal) triggerForm(w http.ResponseWriter, r *http.Request, s *session) {
	p.triggerPage(w, r, s, readExemptInput(r.URL.Query()), http.StatusOK, triggerData{})
}

// trigger sends the selected assessments to each chosen automation.
func (p *Portal) trigger(w http.ResponseWriter, r *http.Request, s *session) {
	in := readExemptInput(r.PostForm)
	chosen := r.PostForm["automation"]
	d := triggerData{Chosen: chosen}
	if len(chosen) == 0 {
		d.Alert = "Choose at least one automation."
		p.triggerPage(w, r, s, in, http.StatusBadRequest, d)
		return
	}
	var ids []string
	for _, res := range in.Resources {
		ids = append(ids, strings.TrimRight(res, "/")+"/providers/Microsoft.Security/assessments/"+in.Key)
	}
	total := 0
	for _, a := range chosen {
		var out struct {
			Queued int `json:"queued"`
		}
		if err := s.send(r.Context(), http.MethodPost, a+"/trigger", automationVer, "", map[string]any{"assessmentIds": ids}, &out); err != nil {
			d.Alert = fmt.Sprintf("%s: %s", idName(a), errorText(err))
			p.triggerPage(w, r, s, in, api.StatusOf(err), d)
			return
		}
		total += out.Queued
	}
	d.Done = fmt.Sprintf("Sent %d assessment%s to %d automation%s (%d deliveries queued).", len(ids), plural(len(ids)), len(chosen), plural(len(chosen)), total)
	p.triggerPage(w, r, s, in, http.StatusOK, d)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
