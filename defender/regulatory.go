package defender

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/posture/posture"
)

// The regulatory compliance view of the benchmark: the initiative's groups
// are its controls (Azure_Security_Benchmark_v3.0_NS-1 is control NS-1),
// its members under each group the control's assessments.

const (
	standardName   = "Microsoft-cloud-security-benchmark"
	standardType   = "Microsoft.Security/regulatoryComplianceStandards"
	regControlType = standardType + "/regulatoryComplianceControls"
	regAssessType  = regControlType + "/regulatoryComplianceAssessments"
)

// regControl is one group of the initiative.
type regControl struct {
	name  string // NS-1
	group string // Azure_Security_Benchmark_v3.0_NS-1
	recs  []*Recommendation
}

// regControls lists the benchmark's controls in initiative group order.
func (c *Catalog) regControls() []*regControl {
	c.regOnce.Do(func() {
		byGroup := map[string]*regControl{}
		for _, g := range c.groups {
			name := g
			if i := strings.LastIndex(g, "_"); i >= 0 {
				name = g[i+1:]
			}
			rc := &regControl{name: name, group: g}
			byGroup[strings.ToLower(g)] = rc
			c.reg = append(c.reg, rc)
		}
		for _, r := range c.Recommendations {
			for _, g := range r.GroupNames {
				if rc := byGroup[strings.ToLower(g)]; rc != nil {
					rc.recs = append(rc.recs, r)
				}
			}
		}
	})
	return c.reg
}

type regDoc struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties any    `json:"properties"`
}

type regStandardProps struct {
	State               string `json:"state"`
	PassedControls      int    `json:"passedControls"`
	FailedControls      int    `json:"failedControls"`
	SkippedControls     int    `json:"skippedControls"`
	UnsupportedControls int    `json:"unsupportedControls"`
}

type regControlProps struct {
	Description        string `json:"description"`
	State              string `json:"state"`
	PassedAssessments  int    `json:"passedAssessments"`
	FailedAssessments  int    `json:"failedAssessments"`
	SkippedAssessments int    `json:"skippedAssessments"`
}

type regAssessmentProps struct {
	Description           string `json:"description"`
	AssessmentType        string `json:"assessmentType"`
	AssessmentDetailsLink string `json:"assessmentDetailsLink"`
	State                 string `json:"state"`
	PassedResources       int    `json:"passedResources"`
	FailedResources       int    `json:"failedResources"`
	SkippedResources      int    `json:"skippedResources"`
	UnsupportedResources  int    `json:"unsupportedResources"`
}

// recState is a recommendation's state in the view: Failed with an
// unhealthy resource, Passed with a healthy one, Skipped otherwise.
func recState(t tally) string {
	switch {
	case t.Unhealthy > 0:
		return "Failed"
	case t.Healthy > 0:
		return "Passed"
	}
	return "Skipped"
}

// regulatoryDocs builds the view of a subscription. The caller holds mu.
func (s *Service) regulatoryDocs(sub string, f posture.RegulatoryFilter) []*posture.Resource {
	t := s.subs[sub]
	if t == nil {
		t = &subTally{recs: make([]tally, len(s.Catalog.Recommendations))}
	}
	base := subscriptionPrefix + sub + "/providers/" + standardType + "/" + standardName
	var out []*posture.Resource
	add := func(id, name, typ string, props any) {
		b, _ := json.Marshal(regDoc{ID: id, Name: name, Type: typ, Properties: props})
		out = append(out, &posture.Resource{ID: id, Key: strings.ToLower(id), Type: typ, Name: name, Body: b})
	}
	var std regStandardProps
	for _, rc := range s.Catalog.regControls() {
		cp := regControlProps{Description: rc.group}
		for _, r := range rc.recs {
			switch recState(t.recs[r.index]) {
			case "Failed":
				cp.FailedAssessments++
			case "Passed":
				cp.PassedAssessments++
			default:
				cp.SkippedAssessments++
			}
		}
		switch {
		case cp.FailedAssessments > 0:
			cp.State, std.FailedControls = "Failed", std.FailedControls+1
		case cp.PassedAssessments > 0:
			cp.State, std.PassedControls = "Passed", std.PassedControls+1
		case len(rc.recs) == 0:
			cp.State, std.UnsupportedControls = "Unsupported", std.UnsupportedControls+1
		default:
			cp.State, std.SkippedControls = "Skipped", std.SkippedControls+1
		}
		if f.Standard == "" || !strings.EqualFold(f.Standard, standardName) {
			continue
		}
		cid := base + "/regulatoryComplianceControls/" + rc.name
		if f.Control == "" {
			if f.Name == "" || strings.EqualFold(f.Name, rc.name) {
				add(cid, rc.name, regControlType, cp)
			}
			continue
		}
		if !strings.EqualFold(f.Control, rc.name) {
			continue
		}
		for _, r := range rc.recs {
			if f.Name != "" && !strings.EqualFold(f.Name, r.Key) {
				continue
			}
			rt := t.recs[r.index]
			add(cid+"/regulatoryComplianceAssessments/"+r.Key, r.Key, regAssessType, regAssessmentProps{
				Description: r.DisplayName, AssessmentType: "Automated", AssessmentDetailsLink: s.portalLink(r.Key, "").AzurePortalURI,
				State: recState(rt), PassedResources: rt.Healthy, FailedResources: rt.Unhealthy, SkippedResources: rt.NotApplicable,
			})
		}
	}
	if f.Standard == "" && (f.Name == "" || strings.EqualFold(f.Name, standardName)) {
		std.State = "Passed"
		switch {
		case std.FailedControls > 0:
			std.State = "Failed"
		case std.PassedControls == 0:
			std.State = "Skipped"
		}
		add(base, standardName, standardType, std)
	}
	return out
}

// Regulatory implements posture.SecurityService.
func (s *Service) Regulatory(ctx context.Context, f posture.RegulatoryFilter) ([]*posture.Resource, error) {
	sub := strings.ToLower(f.Subscription)
	if err := s.Store.Read(ctx, func(tx posture.Tx) error { return subscriptionExists(tx, sub) }); err != nil {
		return nil, err
	}
	if f.Standard != "" && !strings.EqualFold(f.Standard, standardName) {
		return nil, posture.Errorf(posture.ENOTFOUND, "RegulatoryComplianceStandardNotFound", "posture serves one standard, %s, not '%s'.", standardName, f.Standard)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := s.regulatoryDocs(sub, f)
	if f.Name != "" && len(out) == 0 {
		return nil, posture.Errorf(posture.ENOTFOUND, "NotFound", "There is no regulatory compliance item '%s' here.", f.Name)
	}
	return out, nil
}

// allRegulatoryDocs is the whole view of a subscription, for the Resource
// Graph tables. The caller holds mu.
func (s *Service) allRegulatoryDocs(sub string) []*posture.Resource {
	out := s.regulatoryDocs(sub, posture.RegulatoryFilter{})
	controls := s.regulatoryDocs(sub, posture.RegulatoryFilter{Standard: standardName})
	out = append(out, controls...)
	for _, rc := range s.Catalog.regControls() {
		out = append(out, s.regulatoryDocs(sub, posture.RegulatoryFilter{Standard: standardName, Control: rc.name})...)
	}
	return out
}

// regulatoryDocsOf is the part of a subscription's view that changes with
// some recommendations: the standard, their controls and their
// assessments. The caller holds mu.
func (s *Service) regulatoryDocsOf(sub string, recs map[int16]bool) []*posture.Resource {
	out := s.regulatoryDocs(sub, posture.RegulatoryFilter{})
	for _, rc := range s.Catalog.regControls() {
		hit := false
		for _, r := range rc.recs {
			if recs[int16(r.index)] {
				hit = true
				out = append(out, s.regulatoryDocs(sub, posture.RegulatoryFilter{Standard: standardName, Control: rc.name, Name: r.Key})...)
			}
		}
		if hit {
			out = append(out, s.regulatoryDocs(sub, posture.RegulatoryFilter{Standard: standardName, Name: rc.name})...)
		}
	}
	return out
}

// EachDerived yields every derived document (assessments of policy
// states, scores, the regulatory view) for the Resource Graph tables.
func (s *Service) EachDerived(yield func(*posture.Resource) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for key, r := range s.res {
		for _, e := range r.combined() {
			if e.fromDoc {
				continue
			}
			if err := yield(s.assessmentResource(key, e)); err != nil {
				return err
			}
		}
	}
	for sub := range s.subs {
		docs := append(s.scoreDocs(sub), s.allRegulatoryDocs(sub)...)
		for _, d := range docs {
			if err := yield(d); err != nil {
				return err
			}
		}
	}
	return nil
}
