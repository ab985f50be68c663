package defender

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/posture/posture"
	"github.com/posture/posture/armid"
)

const (
	scoreName          = "ascScore"
	scoreType          = "Microsoft.Security/secureScores"
	controlType        = "Microsoft.Security/secureScores/secureScoreControls"
	controlDefType     = "Microsoft.Security/secureScoreControlDefinitions"
	mgScopePrefix      = "/providers/Microsoft.Management/managementGroups/"
	subscriptionPrefix = "/subscriptions/"
)

// controlScores returns the scores of the controls of subscriptions
// together, in catalog order. The caller holds mu.
func (s *Service) controlScores(subs ...string) []ControlScore {
	if len(subs) == 1 {
		return s.controlScoresOf(s.subs[subs[0]])
	}
	sum := &subTally{controls: make([]tally, len(s.Catalog.Controls))}
	for _, sub := range subs {
		if st := s.subs[sub]; st != nil {
			for i, c := range st.controls {
				sum.controls[i].Healthy += c.Healthy
				sum.controls[i].Unhealthy += c.Unhealthy
				sum.controls[i].NotApplicable += c.NotApplicable
			}
		}
	}
	return s.controlScoresOf(sum)
}

// subscriptionScore is a subscription's secure score. The caller holds mu.
func (s *Service) subscriptionScore(sub string) Score {
	return ScoreSubscription(s.controlScores(sub))
}

type scoreDoc struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Type       string     `json:"type"`
	Properties scoreProps `json:"properties"`
}

type scoreProps struct {
	DisplayName string       `json:"displayName"`
	Score       scoreDetails `json:"score"`
	Weight      int          `json:"weight"`
}

type scoreDetails struct {
	Max        int     `json:"max"`
	Current    float64 `json:"current"`
	Percentage float64 `json:"percentage"`
}

type controlDoc struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	Type       string       `json:"type"`
	Properties controlProps `json:"properties"`
}

type controlProps struct {
	DisplayName                string         `json:"displayName"`
	Score                      scoreDetails   `json:"score"`
	HealthyResourceCount       int            `json:"healthyResourceCount"`
	UnhealthyResourceCount     int            `json:"unhealthyResourceCount"`
	NotApplicableResourceCount int            `json:"notApplicableResourceCount"`
	Weight                     int            `json:"weight"`
	Definition                 *controlDefDoc `json:"definition,omitempty"`
}

type controlDefDoc struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Properties controlDefProps `json:"properties"`
}

type controlDefProps struct {
	Source struct {
		SourceType string `json:"sourceType"`
	} `json:"source"`
	DisplayName           string  `json:"displayName"`
	MaxScore              int     `json:"maxScore"`
	AssessmentDefinitions []idRef `json:"assessmentDefinitions"`
	PostureNameSource     string  `json:"postureNameSource,omitempty"`
}

type idRef struct {
	ID string `json:"id"`
}

func (ctl *Control) definition() *controlDefDoc {
	d := &controlDefDoc{ID: "/providers/" + controlDefType + "/" + ctl.Name, Name: ctl.Name, Type: controlDefType}
	d.Properties.Source.SourceType = "BuiltIn"
	d.Properties.DisplayName, d.Properties.MaxScore = ctl.DisplayName, ctl.MaxScore
	d.Properties.AssessmentDefinitions = []idRef{}
	for _, r := range ctl.Recommendations {
		d.Properties.AssessmentDefinitions = append(d.Properties.AssessmentDefinitions, idRef{ID: "/providers/" + metadataType + "/" + r.Key})
	}
	if ctl.NameSource != "Defender" {
		d.Properties.PostureNameSource = "derived"
	}
	return d
}

// scoreResources returns the score and control documents of a scope
// (a subscription's or management group's id) over subs.
func (s *Service) scoreResources(scope string, subs []string, expand bool) (score *posture.Resource, controls []*posture.Resource) {
	cs := s.controlScores(subs...)
	var total Score
	if len(subs) == 1 {
		total = ScoreSubscription(cs)
	} else {
		per := make([]Score, 0, len(subs))
		for _, sub := range subs {
			per = append(per, s.subscriptionScore(sub))
		}
		total = ScoreGroup(per)
	}
	sid := scope + "/providers/" + scoreType + "/" + scoreName
	body, _ := json.Marshal(scoreDoc{ID: sid, Name: scoreName, Type: scoreType, Properties: scoreProps{
		DisplayName: "ASC score", Score: scoreDetails{Max: total.Max, Current: total.Current, Percentage: total.Percentage}, Weight: total.Weight}})
	score = &posture.Resource{ID: sid, Key: strings.ToLower(sid), Type: scoreType, Name: scoreName, Body: body}
	for i, ctl := range s.Catalog.Controls {
		c := cs[i]
		id := sid + "/secureScoreControls/" + ctl.Name
		p := controlProps{DisplayName: ctl.DisplayName, Score: scoreDetails{Max: c.Max, Current: c.Current, Percentage: c.Percentage},
			HealthyResourceCount: c.Healthy, UnhealthyResourceCount: c.Unhealthy, NotApplicableResourceCount: c.NotApplicable, Weight: c.Weight()}
		if expand {
			p.Definition = ctl.definition()
		}
		b, _ := json.Marshal(controlDoc{ID: id, Name: ctl.Name, Type: controlType, Properties: p})
		controls = append(controls, &posture.Resource{ID: id, Key: strings.ToLower(id), Type: controlType, Name: ctl.Name, Body: b})
	}
	return score, controls
}

// scoreDocs are a subscription's score documents for the Resource Graph
// tables. The caller holds mu.
func (s *Service) scoreDocs(sub string) []*posture.Resource {
	score, controls := s.scoreResources(subscriptionPrefix+sub, []string{sub}, false)
	return append(controls, score)
}

// scopeSubscriptions resolves a score scope to its subscriptions: the
// subscription itself, or those under a management group at any depth.
func (s *Service) scopeSubscriptions(ctx context.Context, scope string) (string, []string, error) {
	id, err := armid.Parse(scope)
	if err != nil {
		return "", nil, posture.Errorf(posture.EINVALID, "InvalidResourceId", "%v.", err)
	}
	var subs []string
	err = s.Store.Read(ctx, func(tx posture.Tx) error {
		switch id.Kind() {
		case armid.Subscription:
			if _, err := tx.Resource(id.Key()); posture.IsNotFound(err) {
				return posture.Errorf(posture.ENOTFOUND, "SubscriptionNotFound", "The subscription '%s' could not be found.", id.SubscriptionID())
			} else if err != nil {
				return err
			}
			subs = []string{strings.ToLower(id.SubscriptionID())}
			return nil
		case armid.ManagementGroup:
			parent := map[string]string{}
			rs, err := tx.ListResources(posture.ResourceFilter{Types: []string{strings.ToLower(armid.ManagementGroupType), strings.ToLower(armid.SubscriptionType)}})
			if err != nil {
				return err
			}
			found := false
			for _, r := range rs {
				parent[r.Key] = r.ParentKey
				found = found || r.Key == id.Key()
			}
			if !found {
				return posture.Errorf(posture.ENOTFOUND, "ManagementGroupNotFound", "The management group '%s' could not be found.", id.Name())
			}
			for _, r := range rs {
				if !strings.HasPrefix(r.Key, subscriptionPrefix) {
					continue
				}
				for p := r.ParentKey; p != ""; p = parent[p] {
					if p == id.Key() {
						subs = append(subs, strings.TrimPrefix(r.Key, subscriptionPrefix))
						break
					}
					if parent[p] == p {
						break
					}
				}
			}
			slices.Sort(subs)
			return nil
		}
		return posture.Errorf(posture.EINVALID, "InvalidScope", "Secure scores are served at a subscription or management group, not at '%s'.", scope)
	})
	return id.String(), subs, err
}

// SecureScores implements posture.SecurityService.
func (s *Service) SecureScores(ctx context.Context, scope string) ([]*posture.Resource, error) {
	id, subs, err := s.scopeSubscriptions(ctx, scope)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	score, _ := s.scoreResources(id, subs, false)
	return []*posture.Resource{score}, nil
}

// SecureScoreControls implements posture.SecurityService.
func (s *Service) SecureScoreControls(ctx context.Context, scope string, expand bool) ([]*posture.Resource, error) {
	id, subs, err := s.scopeSubscriptions(ctx, scope)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, controls := s.scoreResources(id, subs, expand)
	return controls, nil
}

// ControlDefinitions implements posture.SecurityService.
func (s *Service) ControlDefinitions(ctx context.Context) ([]*posture.Resource, error) {
	var out []*posture.Resource
	for _, ctl := range s.Catalog.Controls {
		d := ctl.definition()
		b, _ := json.Marshal(d)
		out = append(out, &posture.Resource{ID: d.ID, Key: strings.ToLower(d.ID), Type: controlDefType, Name: ctl.Name, Body: b})
	}
	return out, nil
}
