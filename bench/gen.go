package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// Synthetic Defender for Cloud assessments in the ARG row shape
// (microsoft.security/assessments), about 1.9 KB of JSON each. Metadata is
// shared by all rows of one assessment type, as in a real estate; ids,
// resource ids and dates are per row.

type assessmentType struct {
	key, displayName, description, remediation, severity, userImpact, effort, assessmentType, policyDef string
	categories, threats                                                                                 []string
}

var (
	severities = []string{"High", "Medium", "Low"}
	categories = []string{"Compute", "Networking", "Data", "IdentityAndAccess", "IoT", "AppServices", "Container"}
	threatList = []string{"AccountBreach", "DataExfiltration", "DataSpillage", "MaliciousInsider", "ElevationOfPrivilege", "ThreatResistance", "MissingCoverage", "DenialOfService"}
	words      = strings.Fields("ensure enable configure restrict audit monitor protect encrypt require deny remove rotate review apply secure update install vulnerability assessment solution machines accounts storage network access keys secrets endpoint firewall identities subscription resources owners permissions policy defender workload container registry images cluster")
)

func sentence(r *rand.Rand, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = words[r.IntN(len(words))]
	}
	s := strings.Join(parts, " ")
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

func guid(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
}

func makeTypes(r *rand.Rand, n int) []assessmentType {
	out := make([]assessmentType, n)
	for i := range out {
		t := assessmentType{
			key:            guid(r),
			displayName:    sentence(r, 6+r.IntN(5)),
			description:    sentence(r, 14+r.IntN(10)),
			remediation:    sentence(r, 12+r.IntN(8)),
			severity:       severities[r.IntN(3)],
			userImpact:     severities[r.IntN(3)],
			effort:         severities[r.IntN(3)],
			assessmentType: []string{"BuiltIn", "CustomPolicy", "CustomerManaged"}[r.IntN(3)],
		}
		t.policyDef = "/providers/Microsoft.Authorization/policyDefinitions/" + guid(r)
		t.categories = []string{categories[r.IntN(len(categories))]}
		for k := 0; k < 1+r.IntN(3); k++ {
			t.threats = append(t.threats, threatList[r.IntN(len(threatList))])
		}
		out[i] = t
	}
	return out
}

// Generator produces rows deterministically.
type Generator struct {
	r     *rand.Rand
	types []assessmentType
	subs  []string
	n     int
}

func NewGenerator(seed uint64) *Generator {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &Generator{r: r, types: makeTypes(r, 250)}
	for i := 0; i < 50; i++ {
		g.subs = append(g.subs, fmt.Sprintf("%08x-0000-4000-8000-%012d", i+1, i+1))
	}
	return g
}

// Subscription returns subscription i (for Q3).
func (g *Generator) Subscription(i int) string { return g.subs[i] }

var resourceTypes = []string{"Microsoft.Compute/virtualMachines", "Microsoft.Storage/storageAccounts", "Microsoft.KeyVault/vaults", "Microsoft.Network/networkSecurityGroups", "Microsoft.Sql/servers", "Microsoft.Web/sites", "Microsoft.ContainerService/managedClusters"}

// Row returns the next row as JSON.
func (g *Generator) Row() []byte {
	r := g.r
	g.n++
	t := g.types[r.IntN(len(g.types))]
	sub := g.subs[r.IntN(len(g.subs))]
	rg := fmt.Sprintf("rg-%s-%03d", []string{"prod", "dev", "test", "shared"}[r.IntN(4)], r.IntN(40))
	rt := resourceTypes[r.IntN(len(resourceTypes))]
	resName := fmt.Sprintf("res%07d", g.n)
	resourceID := fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", sub, rg, rt, resName)
	code := []string{"Healthy", "Unhealthy", "NotApplicable"}[r.IntN(3)]
	status := map[string]any{"code": code}
	switch x := r.IntN(100); {
	case x < 5:
		status["cause"] = "Exempt"
		status["description"] = "Exempted: " + []string{"Waiver", "Mitigated"}[r.IntN(2)] + " approved by the security team until the next review."
	case x < 7:
		status["cause"] = "OffByPolicy"
		status["description"] = "The recommendation is disabled by policy."
	case code == "NotApplicable":
		status["cause"] = "ResourceNotSupported"
		status["description"] = "This resource type is not supported by the assessment."
	}
	day := 1 + r.IntN(28)
	status["firstEvaluationDate"] = fmt.Sprintf("2024-%02d-%02dT%02d:%02d:%02d.%07dZ", 1+r.IntN(6), day, r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(10000000))
	status["statusChangeDate"] = fmt.Sprintf("2024-%02d-%02dT%02d:%02d:%02d.%07dZ", 7+r.IntN(5), day, r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(10000000))
	props := map[string]any{
		"resourceDetails": map[string]any{"Source": "Azure", "Id": resourceID, "ResourceProvider": strings.Split(rt, "/")[0], "ResourceType": rt, "ResourceName": resName},
		"displayName":     t.displayName,
		"status":          status,
		"metadata": map[string]any{
			"displayName": t.displayName, "assessmentType": t.assessmentType, "policyDefinitionId": t.policyDef,
			"description": t.description, "remediationDescription": t.remediation, "categories": t.categories,
			"severity": t.severity, "userImpact": t.userImpact, "implementationEffort": t.effort, "threats": t.threats,
			"preview": false,
		},
		"links":          map[string]any{"azurePortal": "portal.azure.com/#blade/Microsoft_Azure_Security/RecommendationsBlade/assessmentKey/" + t.key},
		"additionalData": map[string]any{"vmSize": "Standard_D2s_v3", "osType": []string{"Linux", "Windows"}[r.IntN(2)], "agentVersion": fmt.Sprintf("1.%d.%d", r.IntN(20), r.IntN(100))},
	}
	row := map[string]any{
		"id":               resourceID + "/providers/Microsoft.Security/assessments/" + t.key,
		"name":             t.key,
		"type":             "microsoft.security/assessments",
		"tenantId":         "72f988bf-86f1-41af-91ab-2d7cd011db47",
		"kind":             "",
		"location":         "",
		"resourceGroup":    rg,
		"subscriptionId":   sub,
		"managedBy":        "",
		"sku":              nil,
		"plan":             nil,
		"properties":       props,
		"tags":             nil,
		"identity":         nil,
		"zones":            nil,
		"extendedLocation": nil,
	}
	b, err := json.Marshal(row)
	if err != nil {
		panic(err)
	}
	return b
}
