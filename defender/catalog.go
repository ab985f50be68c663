// Package defender is posture's Microsoft Defender for Cloud: the
// benchmark's members as recommendations (assessment metadata), the policy
// states of the benchmark's assignments as assessments, and the classic
// secure score kept by counters as the estate changes.
package defender

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/posture/posture/defender/data"
	"github.com/posture/posture/policy"
)

// Recommendation is one member of the benchmark as Defender shows it.
type Recommendation struct {
	Key                  string // assessment key: lower-case GUID
	ReferenceID          string // policyDefinitionReferenceId in the initiative
	PolicyDefinitionID   string
	DisplayName          string
	Description          string
	Remediation          string
	Severity             string
	Categories           []string
	Threats              []string
	UserImpact           string
	ImplementationEffort string
	Controls             []*Control
	GroupNames           []string // the initiative's groups (benchmark controls)
	// Preview recommendations (definition metadata preview: true) do not
	// count in the secure score.
	Preview bool
	// KeySource says where Key comes from: "Defender" when a public source
	// names Defender's key, "posture" when posture derived it from the
	// definition id because none does.
	KeySource string
	// SeveritySource is "Defender" or "posture" (no public severity:
	// posture uses Medium).
	SeveritySource string
	defaultControl bool // no source maps it to a control
	index          int
	metaJSON       []byte
}

// Control is a classic secure score security control.
type Control struct {
	Name        string // definition GUID, the control's name in the API
	DisplayName string
	MaxScore    int
	// NameSource is "Defender" for the GUIDs of Azure's API examples,
	// "posture" for the two no public source gives.
	NameSource      string
	Recommendations []*Recommendation
	index           int
}

// Catalog is the recommendations and controls of the benchmark.
type Catalog struct {
	Recommendations []*Recommendation // initiative order
	Controls        []*Control        // descending max score, as the docs list them
	SetID           string            // the initiative, policy.MCSBv1ID
	byKey           map[string]*Recommendation
	byRef           map[string]*Recommendation // lower-case reference id
	groups          []string                   // the initiative's policy definition groups
	regOnce         sync.Once
	reg             []*regControl
}

// Recommendation returns the recommendation with the assessment key.
func (c *Catalog) Recommendation(key string) (*Recommendation, bool) {
	r, ok := c.byKey[strings.ToLower(key)]
	return r, ok
}

// ByReference returns the recommendation of an initiative member.
func (c *Catalog) ByReference(referenceID string) (*Recommendation, bool) {
	r, ok := c.byRef[strings.ToLower(referenceID)]
	return r, ok
}

// Control returns the control with the name (GUID).
func (c *Catalog) Control(name string) (*Control, bool) {
	for _, ctl := range c.Controls {
		if strings.EqualFold(ctl.Name, name) {
			return ctl, true
		}
	}
	return nil, false
}

// derivedNamespace is the UUID namespace of posture's derived keys (a v5
// UUID of the name "posture.dev/assessment-keys" in the URL namespace).
var derivedNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("posture.dev/assessment-keys"))

// DerivedKey is the stable key posture gives a definition Defender's
// public sources name no key for: a v5 UUID of its lower-case id.
func DerivedKey(definitionID string) string {
	return uuid.NewSHA1(derivedNamespace, []byte(strings.ToLower(definitionID))).String()
}

// bestPractices takes the recommendations no source maps to a control,
// as Defender's docs describe that control.
const bestPractices = "Implement security best practices"

type recommendationFacts struct {
	ReferenceID          string   `json:"policyDefinitionReferenceId"`
	PolicyDefinitionID   string   `json:"policyDefinitionId"`
	DisplayName          string   `json:"displayName"`
	AssessmentKey        string   `json:"assessmentKey"`
	DefenderDisplayName  string   `json:"recommendationDisplayName"`
	Severity             string   `json:"severity"`
	Categories           []string `json:"categories"`
	Threats              []string `json:"threats"`
	UserImpact           string   `json:"userImpact"`
	ImplementationEffort string   `json:"implementationEffort"`
	Controls             []string `json:"controls"`
}

type controlFacts struct {
	DisplayName    string `json:"displayName"`
	MaxScore       int    `json:"maxScore"`
	DefinitionGUID string `json:"definitionGuid"`
}

// NewCatalog builds the catalog of the benchmark v1 initiative in reg from
// the sourced facts in defender/data.
func NewCatalog(reg *policy.Registry) (*Catalog, error) {
	set, ok := reg.SetDefinition(policy.MCSBv1ID)
	if !ok {
		return nil, fmt.Errorf("defender: the registry lacks the benchmark initiative %s", policy.MCSBv1ID)
	}
	var recs []recommendationFacts
	if err := json.Unmarshal(data.Recommendations, &recs); err != nil {
		return nil, fmt.Errorf("defender: recommendations.json: %w", err)
	}
	var ctls []controlFacts
	if err := json.Unmarshal(data.Controls, &ctls); err != nil {
		return nil, fmt.Errorf("defender: controls.json: %w", err)
	}
	c := &Catalog{SetID: policy.MCSBv1ID, byKey: map[string]*Recommendation{}, byRef: map[string]*Recommendation{}}
	for _, g := range set.Groups {
		c.groups = append(c.groups, g.Name)
	}
	controls := map[string]*Control{}
	for i, f := range ctls {
		ctl := &Control{Name: f.DefinitionGUID, DisplayName: f.DisplayName, MaxScore: f.MaxScore, NameSource: "Defender", index: i}
		if ctl.Name == "" {
			ctl.Name, ctl.NameSource = DerivedKey("control:"+f.DisplayName), "posture"
		}
		c.Controls = append(c.Controls, ctl)
		controls[f.DisplayName] = ctl
	}
	facts := map[string]recommendationFacts{}
	for _, f := range recs {
		facts[strings.ToLower(f.ReferenceID)] = f
	}
	for i, ref := range set.References {
		f, ok := facts[strings.ToLower(ref.ReferenceID)]
		if !ok {
			return nil, fmt.Errorf("defender: recommendations.json lacks the member %s", ref.ReferenceID)
		}
		def, ok := reg.Definition(ref.DefinitionID)
		if !ok {
			return nil, fmt.Errorf("defender: the registry lacks %s", ref.DefinitionID)
		}
		r := &Recommendation{
			Key: strings.ToLower(f.AssessmentKey), ReferenceID: ref.ReferenceID, PolicyDefinitionID: def.ID,
			DisplayName: f.DefenderDisplayName, Description: def.Description, Severity: f.Severity,
			Categories: f.Categories, Threats: f.Threats, UserImpact: f.UserImpact, ImplementationEffort: f.ImplementationEffort,
			GroupNames: ref.GroupNames, KeySource: "Defender", SeveritySource: "Defender", index: i,
		}
		r.Preview, _ = def.Metadata["preview"].(bool)
		if r.Key == "" {
			r.Key, r.KeySource = DerivedKey(def.ID), "posture"
		}
		if r.DisplayName == "" {
			r.DisplayName = def.DisplayName
		}
		if r.Severity == "" {
			r.Severity, r.SeveritySource = "Medium", "posture"
		}
		r.Remediation = remediation(def)
		names := f.Controls
		if len(names) == 0 {
			names, r.defaultControl = []string{bestPractices}, true
		}
		for _, n := range names {
			ctl, ok := controls[n]
			if !ok {
				return nil, fmt.Errorf("defender: %s names an unknown control %q", ref.ReferenceID, n)
			}
			r.Controls = append(r.Controls, ctl)
			ctl.Recommendations = append(ctl.Recommendations, r)
		}
		if _, dup := c.byKey[r.Key]; dup {
			return nil, fmt.Errorf("defender: assessment key %s is used twice", r.Key)
		}
		c.byKey[r.Key] = r
		c.byRef[strings.ToLower(r.ReferenceID)] = r
		c.Recommendations = append(c.Recommendations, r)
	}
	for _, r := range c.Recommendations {
		r.metaJSON, _ = json.Marshal(r.metadata())
	}
	return c, nil
}

// remediation is posture's own guidance: the definition's rule is the
// source of truth for what a healthy resource looks like.
func remediation(def *policy.Definition) string {
	return fmt.Sprintf("Change each unhealthy resource so that it meets the policy definition %q (%s): "+
		"its rule says which properties are checked. If the recommendation does not apply to a resource, "+
		"exempt the resource (Waiver or Mitigated) with a justification and an expiry date instead.",
		def.DisplayName, def.ID)
}

// MaxSeverity returns the highest severity among the recommendations of
// the benchmark's references (nil: all of them), "" when none is known.
func (c *Catalog) MaxSeverity(referenceIDs []string) string {
	rank := map[string]int{"Low": 1, "Medium": 2, "High": 3}
	best := ""
	consider := func(r *Recommendation) {
		if rank[r.Severity] > rank[best] {
			best = r.Severity
		}
	}
	if referenceIDs == nil {
		for _, r := range c.Recommendations {
			consider(r)
		}
		return best
	}
	for _, ref := range referenceIDs {
		if r, ok := c.ByReference(ref); ok {
			consider(r)
		}
	}
	return best
}
