package demo

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
)

type emitter struct {
	g   *Generator
	tpl map[string]*template
	fn  func([]byte) error
	rnd *rand.Rand
}

func (e *emitter) emit(doc map[string]any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return e.fn(b)
}

const mgPrefix = "/providers/Microsoft.Management/managementGroups/"

// subscription is one generated subscription and what sets its resources
// apart.
type subscription struct {
	id, name, env, mg string
}

var (
	subscriptionNames = []struct{ name, env string }{
		{"Contoso Production", "prod"},
		{"Contoso Development", "dev"},
		{"Contoso Platform", "platform"},
		{"Contoso Test", "test"},
	}
	workloads = []string{"web", "data", "payments", "identity", "analytics", "shop", "crm", "ml"}
	locations = []string{"westeurope", "westeurope", "northeurope", "eastus", "eastus2", "West US", "uksouth"}
	owners    = []string{"ann@contoso.example", "bo@contoso.example", "chen@contoso.example", "dara@contoso.example"}
)

func (e *emitter) run() error {
	groups := []struct{ name, display, parent string }{
		{TenantID, "Tenant Root Group", ""},
		{"contoso", "Contoso", TenantID},
		{"contoso-platform", "Platform", "contoso"},
		{"contoso-landingzones", "Landing zones", "contoso"},
	}
	for _, mg := range groups {
		doc := map[string]any{
			"id":   mgPrefix + mg.name,
			"type": "Microsoft.Management/managementGroups",
			"name": mg.name,
			"properties": map[string]any{
				"tenantId":    TenantID,
				"displayName": mg.display,
				"details":     map[string]any{"version": 1, "updatedBy": "posture-demo"},
			},
		}
		if mg.parent != "" {
			set(doc, "properties.details.parent", map[string]any{"id": mgPrefix + mg.parent, "name": mg.parent})
		}
		if err := e.emit(doc); err != nil {
			return err
		}
	}
	n := e.g.Subscriptions
	if n <= 0 {
		n = 3 + e.g.Resources/25000
	}
	subs := make([]subscription, n)
	for i := range subs {
		base := subscriptionNames[i%len(subscriptionNames)]
		s := subscription{id: guid(e.g.Seed, "subscription", i), name: base.name, env: base.env, mg: "contoso-landingzones"}
		if i >= len(subscriptionNames) {
			s.name = fmt.Sprintf("%s %d", base.name, i/len(subscriptionNames)+1)
		}
		if base.env == "platform" {
			s.mg = "contoso-platform"
		}
		subs[i] = s
		if err := e.subscription(s); err != nil {
			return err
		}
	}
	for i, s := range subs {
		share := e.g.Resources / n
		if i < e.g.Resources%n {
			share++
		}
		if err := e.resources(s, share); err != nil {
			return err
		}
	}
	return nil
}

// subscription emits a subscription, its security contact and its Defender
// plans.
func (e *emitter) subscription(s subscription) error {
	sub := "/subscriptions/" + s.id
	docs := []map[string]any{{
		"id":                  sub,
		"subscriptionId":      s.id,
		"tenantId":            TenantID,
		"displayName":         s.name,
		"state":               "Enabled",
		"managementGroupId":   s.mg,
		"authorizationSource": "RoleBased",
		"subscriptionPolicies": map[string]any{
			"locationPlacementId": "Public_2014-09-01", "quotaId": "EnterpriseAgreement_2014-09-01", "spendingLimit": "Off",
		},
		"tags": map[string]any{"env": s.env},
	}, {
		// Microsoft.Security/securityContacts, api-version 2023-12-01-preview shape.
		"id":   sub + "/providers/Microsoft.Security/securityContacts/default",
		"name": "default",
		"type": "Microsoft.Security/securityContacts",
		"properties": map[string]any{
			"isEnabled": true,
			"emails":    fmt.Sprintf("secops-%s@contoso.example;%s", s.env, owners[len(s.name)%len(owners)]),
			"phone":     "+1-555-0100",
			"notificationsByRole": map[string]any{
				"state": "On", "roles": []string{"Owner", "ServiceAdmin"},
			},
			"notificationsSources": []any{
				map[string]any{"sourceType": "Alert", "minimalSeverity": "Medium"},
				map[string]any{"sourceType": "AttackPath", "minimalRiskLevel": "Critical"},
			},
		},
	}}
	for _, plan := range []string{"VirtualMachines", "SqlServers", "AppServices", "StorageAccounts", "KeyVaults", "Containers", "Arm", "CosmosDbs", "CloudPosture"} {
		tier := "Standard"
		if s.env == "dev" && plan != "CloudPosture" || s.env == "test" && e.rnd.IntN(2) == 0 {
			tier = "Free"
		}
		doc := e.tpl["Microsoft.Security_pricings"].instance(sub+"/providers/Microsoft.Security/pricings/"+plan, plan)
		set(doc, "properties.pricingTier", tier)
		if tier == "Free" {
			delete(doc["properties"].(map[string]any), "subPlan")
			delete(doc["properties"].(map[string]any), "extensions")
		}
		docs = append(docs, doc)
	}
	for _, d := range docs {
		if err := e.emit(d); err != nil {
			return err
		}
	}
	return e.scannerMetadata(sub)
}

// resourceGroup is where generated resources go.
type resourceGroup struct {
	id, name, location, workload string
}

// resources emits the resource groups of a subscription and count resources
// spread over them.
func (e *emitter) resources(s subscription, count int) error {
	nrg := max(3, count/40)
	rgs := make([]resourceGroup, nrg)
	for i := range rgs {
		w := workloads[i%len(workloads)]
		name := fmt.Sprintf("rg-%s-%s-%02d", w, s.env, i/len(workloads)+1)
		loc := locations[e.rnd.IntN(len(locations))]
		if loc == "West US" {
			loc = "westus"
		}
		rgs[i] = resourceGroup{id: "/subscriptions/" + s.id + "/resourceGroups/" + name, name: name, location: loc, workload: w}
		doc := map[string]any{
			"id": rgs[i].id, "name": name, "type": "Microsoft.Resources/resourceGroups", "location": loc,
			"tags":       map[string]any{"env": s.env, "app": w},
			"properties": map[string]any{"provisioningState": "Succeeded"},
		}
		if err := e.emit(doc); err != nil {
			return err
		}
	}
	for i := range count {
		rg := rgs[i%nrg]
		k := pickKind(e.rnd)
		r := &res{e: e, s: s, rg: rg, kind: k, n: i / nrg, secure: e.rnd.Float64() < k.secureShare(s)}
		if err := k.make(r); err != nil {
			return err
		}
	}
	return nil
}
