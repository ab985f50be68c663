// Package data holds sourced facts about Microsoft Defender for Cloud recommendations
// (assessment keys, severities, metadata enums) and classic secure-score controls for the
// members of the "Microsoft cloud security benchmark" initiative. See SOURCE.md.
//
// This test only checks the invariants of the two JSON files; it uses the standard library only.
package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

type recommendation struct {
	PolicyDefinitionReferenceID string   `json:"policyDefinitionReferenceId"`
	PolicyDefinitionID          string   `json:"policyDefinitionId"`
	DisplayName                 string   `json:"displayName"`
	AssessmentKey               *string  `json:"assessmentKey"`
	AssessmentKeySource         *string  `json:"assessmentKeySource"`
	AssessmentKeyMatch          *string  `json:"assessmentKeyMatch"`
	RecommendationDisplayName   *string  `json:"recommendationDisplayName"`
	Severity                    *string  `json:"severity"`
	SeveritySource              *string  `json:"severitySource"`
	Categories                  []string `json:"categories"`
	CategoriesSource            *string  `json:"categoriesSource"`
	Threats                     []string `json:"threats"`
	ThreatsSource               *string  `json:"threatsSource"`
	UserImpact                  *string  `json:"userImpact"`
	UserImpactSource            *string  `json:"userImpactSource"`
	ImplementationEffort        *string  `json:"implementationEffort"`
	ImplementationEffortSource  *string  `json:"implementationEffortSource"`
	Control                     *string  `json:"control"`
	Controls                    []string `json:"controls"`
	ControlSource               *string  `json:"controlSource"`
	Notes                       []string `json:"notes"`
}

type keyList struct {
	Source            string   `json:"source"`
	SourceDisplayName string   `json:"sourceDisplayName"`
	Partial           bool     `json:"partial"`
	AssessmentKeys    []string `json:"assessmentKeys"`
}

type control struct {
	DisplayName               string    `json:"displayName"`
	MaxScore                  *int      `json:"maxScore"`
	MaxScoreSource            string    `json:"maxScoreSource"`
	SourceDisplayNames        []string  `json:"sourceDisplayNames"`
	DefinitionGUID            *string   `json:"definitionGuid"`
	DefinitionGUIDSource      *string   `json:"definitionGuidSource"`
	DefinitionGUIDNote        *string   `json:"definitionGuidNote"`
	AssessmentKeyLists        []keyList `json:"assessmentKeyLists"`
	RecommendationNames       []string  `json:"recommendationNames"`
	RecommendationNamesSource string    `json:"recommendationNamesSource"`
}

var guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// The 15 classic secure-score controls and their max points (docs/azure-api-spec.md §3).
var controlMax = map[string]int{
	"Enable MFA":                           10,
	"Secure management ports":              8,
	"Apply system updates":                 6,
	"Remediate vulnerabilities":            6,
	"Remediate security configurations":    4,
	"Manage access and permissions":        4,
	"Enable encryption at rest":            4,
	"Encrypt data in transit":              4,
	"Restrict unauthorized network access": 4,
	"Apply adaptive application control":   3,
	"Enable DDoS protection":               2,
	"Enable endpoint protection":           2,
	"Enable auditing and logging":          1,
	"Enable enhanced security features":    0,
	"Implement security best practices":    0,
}

var (
	severities  = set("Low", "Medium", "High")
	impacts     = set("Low", "Moderate", "High")
	categories  = set("Compute", "Networking", "Data", "IdentityAndAccess", "IoT")
	threats     = set("accountBreach", "dataExfiltration", "dataSpillage", "maliciousInsider", "elevationOfPrivilege", "threatResistance", "missingCoverage", "denialOfService")
	keyMatches  = set("policyExistenceCondition", "relatedPolicyLink", "metadataPolicyDefinitionId", "exactDisplayName", "manual")
	policyIDRE  = regexp.MustCompile(`^/providers/Microsoft\.Authorization/policyDefinitions/[0-9A-Za-z-]+$`)
	initiative  = filepath.Join("..", "..", "policy", "builtin", "built-in-policies", "policySetDefinitions", "Security Center", "AzureSecurityCenter.json")
	mcsbMembers = 223
)

func set(xs ...string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func load(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func nonEmpty(s *string) bool { return s != nil && *s != "" }

func TestRecommendations(t *testing.T) {
	var recs []recommendation
	load(t, "recommendations.json", &recs)
	if len(recs) != mcsbMembers {
		t.Fatalf("recommendations.json has %d entries, want %d", len(recs), mcsbMembers)
	}
	refs := map[string]bool{}
	keys := map[string]string{}
	for _, r := range recs {
		id := r.PolicyDefinitionReferenceID
		if id == "" || refs[id] {
			t.Errorf("empty or duplicate policyDefinitionReferenceId %q", id)
		}
		refs[id] = true
		if !policyIDRE.MatchString(r.PolicyDefinitionID) {
			t.Errorf("%s: bad policyDefinitionId %q", id, r.PolicyDefinitionID)
		}
		if r.DisplayName == "" {
			t.Errorf("%s: empty displayName", id)
		}
		// assessment key
		if r.AssessmentKey != nil {
			k := *r.AssessmentKey
			if !guidRE.MatchString(k) {
				t.Errorf("%s: assessmentKey %q is not a lower-case GUID", id, k)
			}
			if other, dup := keys[k]; dup {
				t.Errorf("%s: assessmentKey %s also used by %s", id, k, other)
			}
			keys[k] = id
			if !nonEmpty(r.AssessmentKeySource) {
				t.Errorf("%s: assessmentKey without assessmentKeySource", id)
			}
			if r.AssessmentKeyMatch == nil || !keyMatches[*r.AssessmentKeyMatch] {
				t.Errorf("%s: bad assessmentKeyMatch %v", id, r.AssessmentKeyMatch)
			}
		} else if r.AssessmentKeySource != nil || r.AssessmentKeyMatch != nil {
			t.Errorf("%s: key source/match set without a key", id)
		}
		// severity
		if r.Severity != nil {
			if !severities[*r.Severity] {
				t.Errorf("%s: bad severity %q", id, *r.Severity)
			}
			if !nonEmpty(r.SeveritySource) {
				t.Errorf("%s: severity without severitySource", id)
			}
		}
		// metadata enums
		if r.Categories != nil {
			if len(r.Categories) == 0 || !nonEmpty(r.CategoriesSource) {
				t.Errorf("%s: empty categories or missing categoriesSource", id)
			}
			for _, c := range r.Categories {
				if !categories[c] {
					t.Errorf("%s: bad category %q", id, c)
				}
			}
		}
		if r.Threats != nil {
			if len(r.Threats) == 0 || !nonEmpty(r.ThreatsSource) {
				t.Errorf("%s: empty threats or missing threatsSource", id)
			}
			for _, x := range r.Threats {
				if !threats[x] {
					t.Errorf("%s: bad threat %q", id, x)
				}
			}
		}
		for _, f := range []struct {
			name     string
			val, src *string
		}{{"userImpact", r.UserImpact, r.UserImpactSource}, {"implementationEffort", r.ImplementationEffort, r.ImplementationEffortSource}} {
			if f.val != nil {
				if !impacts[*f.val] {
					t.Errorf("%s: bad %s %q", id, f.name, *f.val)
				}
				if !nonEmpty(f.src) {
					t.Errorf("%s: %s without source", id, f.name)
				}
			}
		}
		// controls
		for _, c := range r.Controls {
			if _, ok := controlMax[c]; !ok {
				t.Errorf("%s: unknown control %q", id, c)
			}
		}
		if r.Control != nil {
			if _, ok := controlMax[*r.Control]; !ok {
				t.Errorf("%s: unknown control %q", id, *r.Control)
			}
			if len(r.Controls) != 1 || r.Controls[0] != *r.Control {
				t.Errorf("%s: control %q inconsistent with controls %v", id, *r.Control, r.Controls)
			}
		} else if len(r.Controls) == 1 {
			t.Errorf("%s: single entry in controls but control is null", id)
		}
		if (r.Control != nil || len(r.Controls) > 0) && !nonEmpty(r.ControlSource) {
			t.Errorf("%s: control without controlSource", id)
		}
	}
}

// The entries must be exactly the members of the MCSB initiative shipped in policy/builtin.
func TestRecommendationsMatchInitiative(t *testing.T) {
	if _, err := os.Stat(initiative); err != nil {
		t.Skipf("initiative file not present: %v", err)
	}
	var set struct {
		Properties struct {
			PolicyDefinitions []struct {
				PolicyDefinitionID          string `json:"policyDefinitionId"`
				PolicyDefinitionReferenceID string `json:"policyDefinitionReferenceId"`
			} `json:"policyDefinitions"`
		} `json:"properties"`
	}
	load(t, initiative, &set)
	var recs []recommendation
	load(t, "recommendations.json", &recs)
	want := map[string]string{}
	for _, m := range set.Properties.PolicyDefinitions {
		want[m.PolicyDefinitionReferenceID] = m.PolicyDefinitionID
	}
	if len(want) != len(recs) {
		t.Fatalf("initiative has %d members, recommendations.json %d", len(want), len(recs))
	}
	for _, r := range recs {
		if pid, ok := want[r.PolicyDefinitionReferenceID]; !ok || pid != r.PolicyDefinitionID {
			t.Errorf("%s: not in the initiative or policyDefinitionId differs (%q vs %q)", r.PolicyDefinitionReferenceID, r.PolicyDefinitionID, pid)
		}
	}
}

func TestControls(t *testing.T) {
	var ctrls []control
	load(t, "controls.json", &ctrls)
	if len(ctrls) != len(controlMax) {
		t.Fatalf("controls.json has %d entries, want %d", len(ctrls), len(controlMax))
	}
	seen := map[string]bool{}
	guids := map[string]bool{}
	for _, c := range ctrls {
		want, ok := controlMax[c.DisplayName]
		if !ok || seen[c.DisplayName] {
			t.Errorf("unknown or duplicate control %q", c.DisplayName)
		}
		seen[c.DisplayName] = true
		if c.MaxScore == nil || *c.MaxScore != want {
			t.Errorf("%s: maxScore %v, want %d", c.DisplayName, c.MaxScore, want)
		}
		if c.MaxScoreSource == "" {
			t.Errorf("%s: missing maxScoreSource", c.DisplayName)
		}
		if c.DefinitionGUID != nil {
			g := *c.DefinitionGUID
			if !guidRE.MatchString(g) || guids[g] {
				t.Errorf("%s: bad or duplicate definitionGuid %q", c.DisplayName, g)
			}
			guids[g] = true
			if !nonEmpty(c.DefinitionGUIDSource) {
				t.Errorf("%s: definitionGuid without source", c.DisplayName)
			}
		}
		for _, l := range c.AssessmentKeyLists {
			if l.Source == "" || len(l.AssessmentKeys) == 0 {
				t.Errorf("%s: assessment key list without source or keys", c.DisplayName)
			}
			for _, k := range l.AssessmentKeys {
				if !guidRE.MatchString(k) {
					t.Errorf("%s: assessment key %q is not a lower-case GUID", c.DisplayName, k)
				}
			}
		}
		if len(c.RecommendationNames) > 0 && c.RecommendationNamesSource == "" {
			t.Errorf("%s: recommendationNames without source", c.DisplayName)
		}
	}
}
