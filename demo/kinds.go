package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// kind is a resource type the generator makes.
type kind struct {
	name     string // template file
	typ      string
	prefix   string
	weight   int
	children func(r *res, id string) error
	mutate   func(r *res, doc map[string]any)
}

// secureShare is the chance that a resource is configured well: production
// and platform subscriptions are kept better than development ones.
func (k *kind) secureShare(s subscription) float64 {
	switch s.env {
	case "prod":
		return 0.7
	case "platform":
		return 0.8
	}
	return 0.45
}

var kinds = []*kind{
	{name: "Microsoft.Storage_storageAccounts", typ: "Microsoft.Storage/storageAccounts", prefix: "st", weight: 14, mutate: storage},
	{name: "Microsoft.KeyVault_vaults", typ: "Microsoft.KeyVault/vaults", prefix: "kv", weight: 8, mutate: vault, children: diagnostics(0.6)},
	{name: "Microsoft.Compute_virtualMachines", typ: "Microsoft.Compute/virtualMachines", prefix: "vm", weight: 12, mutate: virtualMachine},
	{name: "Microsoft.Compute_disks", typ: "Microsoft.Compute/disks", prefix: "disk", weight: 8, mutate: disk},
	{name: "Microsoft.Network_networkSecurityGroups", typ: "Microsoft.Network/networkSecurityGroups", prefix: "nsg", weight: 8, mutate: nsg},
	{name: "Microsoft.Network_virtualNetworks", typ: "Microsoft.Network/virtualNetworks", prefix: "vnet", weight: 6, mutate: vnet, children: subnets},
	{name: "Microsoft.Network_publicIPAddresses", typ: "Microsoft.Network/publicIPAddresses", prefix: "pip", weight: 6, mutate: publicIP},
	{name: "Microsoft.Sql_servers", typ: "Microsoft.Sql/servers", prefix: "sql", weight: 6, mutate: sqlServer, children: sqlChildren},
	{name: "Microsoft.Web_sites", typ: "Microsoft.Web/sites", prefix: "app", weight: 10, mutate: site, children: siteConfig},
	{name: "Microsoft.ContainerService_managedClusters", typ: "Microsoft.ContainerService/managedClusters", prefix: "aks", weight: 3, mutate: cluster},
	{name: "Microsoft.ContainerRegistry_registries", typ: "Microsoft.ContainerRegistry/registries", prefix: "cr", weight: 4, mutate: registry},
	{name: "Microsoft.DocumentDB_databaseAccounts", typ: "Microsoft.DocumentDB/databaseAccounts", prefix: "cosmos", weight: 4, mutate: cosmos, children: diagnostics(0.4)},
}

var totalWeight = func() int {
	n := 0
	for _, k := range kinds {
		n += k.weight
	}
	return n
}()

func pickKind(rnd *rand.Rand) *kind {
	w := rnd.IntN(totalWeight)
	for _, k := range kinds {
		if w < k.weight {
			return k
		}
		w -= k.weight
	}
	return kinds[0]
}

// res is one resource being generated.
type res struct {
	e      *emitter
	s      subscription
	rg     resourceGroup
	kind   *kind
	n      int
	secure bool
}

// good reports whether one setting is the secure one: mostly the resource's
// overall posture, sometimes not, so that resources fail different checks.
func (r *res) good() bool {
	if r.e.rnd.Float64() < 0.15 {
		return !r.secure
	}
	return r.secure
}

func (r *res) name() string {
	if r.kind.prefix == "st" || r.kind.prefix == "cr" {
		// Storage accounts and registries: lower-case letters and digits, ≤ 24.
		n := fmt.Sprintf("%s%s%s%03d", r.kind.prefix, r.rg.workload, r.s.env, r.n)
		return strings.NewReplacer("-", "").Replace(n)
	}
	return fmt.Sprintf("%s-%s-%s-%03d", r.kind.prefix, r.rg.workload, r.s.env, r.n)
}

func (k *kind) make(r *res) error {
	name := r.name()
	id := fmt.Sprintf("%s/providers/%s/%s", r.rg.id, k.typ, name)
	doc := r.e.tpl[k.name].instance(id, name)
	doc["type"] = k.typ
	loc := r.rg.location
	if r.e.rnd.IntN(10) == 0 {
		loc = locations[r.e.rnd.IntN(len(locations))] // some resources live away from their group
	}
	doc["location"] = loc
	delete(doc, "systemData")
	if r.e.rnd.IntN(100) < 85 {
		doc["tags"] = map[string]any{"env": r.s.env, "app": r.rg.workload, "owner": owners[r.e.rnd.IntN(len(owners))]}
	} else {
		delete(doc, "tags")
	}
	k.mutate(r, doc)
	if err := r.e.emit(doc); err != nil {
		return err
	}
	if err := r.e.scannerFindings(id); err != nil {
		return err
	}
	if k.children != nil {
		return k.children(r, id)
	}
	return nil
}

func enabled(b bool) string {
	if b {
		return "Enabled"
	}
	return "Disabled"
}

func pick[T any](b bool, yes, no T) T {
	if b {
		return yes
	}
	return no
}

func storage(r *res, d map[string]any) {
	d["kind"] = "StorageV2"
	d["sku"] = map[string]any{"name": pick(r.good(), "Standard_GRS", "Standard_LRS"), "tier": "Standard"}
	set(d, "properties.supportsHttpsTrafficOnly", r.good())
	set(d, "properties.minimumTlsVersion", pick(r.good(), "TLS1_2", "TLS1_0"))
	set(d, "properties.allowBlobPublicAccess", !r.good())
	set(d, "properties.allowSharedKeyAccess", !r.good())
	set(d, "properties.publicNetworkAccess", enabled(!r.good()))
	set(d, "properties.networkAcls.defaultAction", pick(r.good(), "Deny", "Allow"))
	set(d, "properties.encryption.requireInfrastructureEncryption", r.good())
	set(d, "properties.encryption.keySource", "Microsoft.Storage")
}

func vault(r *res, d map[string]any) {
	set(d, "properties.tenantId", TenantID)
	set(d, "properties.enableSoftDelete", true)
	set(d, "properties.softDeleteRetentionInDays", 90)
	if r.good() {
		set(d, "properties.enablePurgeProtection", true)
	}
	set(d, "properties.enableRbacAuthorization", r.good())
	set(d, "properties.publicNetworkAccess", enabled(!r.good()))
	set(d, "properties.networkAcls", map[string]any{"bypass": "AzureServices", "defaultAction": pick(r.good(), "Deny", "Allow"), "ipRules": []any{}, "virtualNetworkRules": []any{}})
}

func virtualMachine(r *res, d map[string]any) {
	delete(d, "etag")
	delete(d, "managedBy")
	set(d, "properties.vmId", guid(r.e.g.Seed, "vm", r.rg.id, r.n))
	set(d, "properties.securityProfile", map[string]any{
		"encryptionAtHost": r.good(),
		"securityType":     pick(r.good(), "TrustedLaunch", "Standard"),
		"uefiSettings":     map[string]any{"secureBootEnabled": r.good(), "vTpmEnabled": r.good()},
	})
	set(d, "properties.osProfile.linuxConfiguration", map[string]any{"disablePasswordAuthentication": r.good(), "provisionVMAgent": true})
	set(d, "properties.osProfile.computerName", r.name())
}

func disk(r *res, d map[string]any) {
	delete(d, "managedBy")
	set(d, "properties.encryption.type", pick(r.good(), "EncryptionAtRestWithPlatformAndCustomerKeys", "EncryptionAtRestWithPlatformKey"))
	set(d, "properties.networkAccessPolicy", pick(r.good(), "DenyAll", "AllowAll"))
	set(d, "properties.publicNetworkAccess", enabled(!r.good()))
}

func nsg(r *res, d map[string]any) {
	rule := func(name string, port string, source string, prio int) map[string]any {
		return map[string]any{
			"name": name,
			"id":   d["id"].(string) + "/securityRules/" + name,
			"properties": map[string]any{
				"provisioningState": "Succeeded", "protocol": "Tcp", "sourcePortRange": "*",
				"destinationPortRange": port, "sourceAddressPrefix": source, "destinationAddressPrefix": "*",
				"access": "Allow", "priority": prio, "direction": "Inbound",
			},
		}
	}
	rules := []any{rule("allow-https", "443", "Internet", 100)}
	if !r.good() {
		rules = append(rules, rule("allow-ssh", "22", "*", 110))
	}
	if !r.good() {
		rules = append(rules, rule("allow-rdp", "3389", "Internet", 120))
	}
	set(d, "properties.securityRules", rules)
}

func vnet(r *res, d map[string]any) {
	set(d, "properties.enableDdosProtection", r.good())
	set(d, "properties.subnets", []any{})
}

// subnets emits two subnets of a virtual network as child resources.
func subnets(r *res, id string) error {
	for i, name := range []string{"default", "workload"} {
		doc := r.e.tpl["Microsoft.Network_virtualNetworks_subnets"].instance(id+"/subnets/"+name, name)
		doc["type"] = "Microsoft.Network/virtualNetworks/subnets"
		set(doc, "properties.addressPrefix", fmt.Sprintf("10.%d.%d.0/24", r.n%250, i))
		if r.good() {
			nsgName := fmt.Sprintf("nsg-%s-%s-%03d", r.rg.workload, r.s.env, r.n)
			set(doc, "properties.networkSecurityGroup", map[string]any{"id": r.rg.id + "/providers/Microsoft.Network/networkSecurityGroups/" + nsgName})
		}
		if err := r.e.emit(doc); err != nil {
			return err
		}
	}
	return nil
}

func publicIP(r *res, d map[string]any) {
	d["sku"] = map[string]any{"name": "Standard", "tier": "Regional"}
	set(d, "properties.ddosSettings", map[string]any{"protectionMode": pick(r.good(), "Enabled", "VirtualNetworkInherited")})
}

func sqlServer(r *res, d map[string]any) {
	set(d, "properties.publicNetworkAccess", enabled(!r.good()))
	set(d, "properties.minimalTlsVersion", pick(r.good(), "1.2", "1.0"))
	set(d, "properties.administratorLogin", "sqladmin")
}

// sqlChildren emits the server's blob auditing settings and, sometimes,
// diagnostic settings.
func sqlChildren(r *res, id string) error {
	doc := r.e.tpl["Microsoft.Sql_servers_auditingSettings"].instance(id+"/auditingSettings/default", "default")
	doc["type"] = "Microsoft.Sql/servers/auditingSettings"
	set(doc, "properties.state", enabled(r.good()))
	set(doc, "properties.retentionDays", pick(r.good(), 90, 0))
	if err := r.e.emit(doc); err != nil {
		return err
	}
	return diagnostics(0.4)(r, id)
}

func site(r *res, d map[string]any) {
	d["kind"] = []string{"app", "app,linux", "functionapp"}[r.e.rnd.IntN(3)]
	set(d, "properties.httpsOnly", r.good())
	set(d, "properties.clientCertEnabled", r.good())
	set(d, "properties.publicNetworkAccess", enabled(!r.good()))
	set(d, "properties.siteConfig.minTlsVersion", pick(r.good(), "1.2", "1.0"))
	set(d, "properties.siteConfig.ftpsState", pick(r.good(), "FtpsOnly", "AllAllowed"))
	set(d, "properties.siteConfig.http20Enabled", r.good())
}

// siteConfig emits the web app's config/web child, which several Azure
// Policy rules read.
func siteConfig(r *res, id string) error {
	doc := r.e.tpl["Microsoft.Web_sites_config"].instance(id+"/config/web", "web")
	doc["type"] = "Microsoft.Web/sites/config"
	set(doc, "properties.minTlsVersion", pick(r.good(), "1.2", "1.0"))
	set(doc, "properties.ftpsState", pick(r.good(), "FtpsOnly", "AllAllowed"))
	set(doc, "properties.http20Enabled", r.good())
	set(doc, "properties.remoteDebuggingEnabled", !r.good())
	set(doc, "properties.cors", map[string]any{"allowedOrigins": pick[any](r.good(), []any{"https://contoso.example"}, []any{"*"})})
	return r.e.emit(doc)
}

func cluster(r *res, d map[string]any) {
	delete(d, "eTag")
	set(d, "properties.enableRBAC", r.good())
	set(d, "properties.disableLocalAccounts", r.good())
	if r.good() {
		set(d, "properties.apiServerAccessProfile", map[string]any{"authorizedIPRanges": []any{"203.0.113.0/24"}})
	}
	set(d, "properties.addonProfiles", map[string]any{"azurepolicy": map[string]any{"enabled": r.good()}})
	set(d, "properties.networkProfile.networkPolicy", pick(r.good(), "calico", "none"))
}

func registry(r *res, d map[string]any) {
	d["sku"] = map[string]any{"name": pick(r.good(), "Premium", "Basic"), "tier": pick(r.good(), "Premium", "Basic")}
	set(d, "properties.adminUserEnabled", !r.good())
	set(d, "properties.publicNetworkAccess", enabled(!r.good()))
	set(d, "properties.networkRuleSet", map[string]any{"defaultAction": pick(r.good(), "Deny", "Allow"), "ipRules": []any{}})
}

func cosmos(r *res, d map[string]any) {
	set(d, "properties.publicNetworkAccess", enabled(!r.good()))
	set(d, "properties.isVirtualNetworkFilterEnabled", r.good())
	set(d, "properties.disableLocalAuth", r.good())
	set(d, "properties.minimalTlsVersion", pick(r.good(), "Tls12", "Tls"))
}

// diagnostics returns a children func that, with probability p for a
// secure resource (p/3 for others), attaches diagnostic settings sending
// logs to a workspace.
func diagnostics(p float64) func(*res, string) error {
	return func(r *res, id string) error {
		q := p
		if !r.secure {
			q = p / 3
		}
		if r.e.rnd.Float64() >= q {
			return nil
		}
		doc := r.e.tpl["Microsoft.Insights_diagnosticSettings"].instance(id+"/providers/Microsoft.Insights/diagnosticSettings/send-to-law", "send-to-law")
		doc["type"] = "Microsoft.Insights/diagnosticSettings"
		set(doc, "properties.workspaceId", "/subscriptions/"+r.s.id+"/resourceGroups/rg-monitoring/providers/Microsoft.OperationalInsights/workspaces/law-"+r.s.env)
		return r.e.emit(doc)
	}
}
