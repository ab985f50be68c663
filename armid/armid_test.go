package armid_test

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"

	"github.com/posture/posture/armid"
)

// corpus holds ids of every shape posture meets, taken from ARM documents
// (the REST spec examples in shared/corpus/arm-examples, Defender and Policy
// docs). It seeds the fuzz target too.
var corpus = []string{
	"/subscriptions/00000000-0000-0000-0000-000000000000",
	"/subscriptions/sub1/resourceGroups/rg1",
	"/subscriptions/sub1/resourcegroups/RG1",
	"/subscriptions/{subscription-id}/resourceGroups/res9101/providers/Microsoft.Storage/storageAccounts/sto8596",
	"/subscriptions/subid/resourceGroups/myResourceGroup/providers/Microsoft.Compute/virtualMachines/myVM",
	"/subscriptions/subid/resourceGroups/myResourceGroup/providers/Microsoft.Compute/virtualMachines/myVM/extensions/CustomScript",
	"/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnet1/subnets/subnet1",
	"/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Sql/servers/srv/databases/db/transparentDataEncryption/current",
	"/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Web/sites/app/config/web",
	"/subscriptions/subid/resourcegroups/rg1/providers/Microsoft.ContainerService/ManagedClusters/clustername1",
	"/subscriptions/subid/providers/Microsoft.Security/pricings/VirtualMachines",
	"/subscriptions/subid/providers/Microsoft.Security/securityContacts/default",
	"/subscriptions/subid/providers/Microsoft.Security/locations/centralus/alerts/alert1",
	"/subscriptions/subid/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn",
	"/subscriptions/subid/providers/Microsoft.Authorization/policyExemptions/ex1",
	"/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Authorization/policyExemptions/ex1",
	"/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Authorization/policyExemptions/ASC-vmName-diskEncryptionMonitoring-BuiltIn",
	"/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Security/assessments/21300918-b2e3-0346-785f-c77ff57d243b",
	"/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Security/assessments/21300918-b2e3-0346-785f-c77ff57d243b/governanceAssignments/g1",
	"/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa/providers/Microsoft.Insights/diagnosticSettings/mysetting",
	"/subscriptions/subid/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s1/providers/Microsoft.Authorization/policyExemptions/x",
	"/providers/Microsoft.Management/managementGroups/mg1",
	"/providers/Microsoft.Management/managementGroups/mg1/providers/Microsoft.Authorization/policyExemptions/ex",
	"/providers/Microsoft.Management/managementGroups/mg1/providers/Microsoft.Security/secureScores/ascScore",
	"/providers/Microsoft.Management/managementGroups/mg1/subscriptions/sub1",
	"/providers/Microsoft.Authorization/policyDefinitions/0961003e-5a0a-4549-abde-af6a37f2724d",
	"/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8",
	"/providers/Microsoft.Security/assessmentMetadata/21300918-b2e3-0346-785f-c77ff57d243b",
	"/subscriptions/subid/providers/Microsoft.Security/secureScores/ascScore/secureScoreControls/ctl",
	"/subscriptions/subid/locations/westus",
	"//subscriptions/subid//resourceGroups/rg/",
}

func TestParseAgreesWithAzcore(t *testing.T) {
	for _, s := range corpus {
		got, err := armid.Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		want, err := arm.ParseResourceID(s)
		if err != nil {
			t.Errorf("azcore rejects %q: %v", s, err)
			continue
		}
		if !strings.EqualFold(got.String(), want.String()) {
			t.Errorf("String(%q) = %q, azcore %q", s, got, want)
		}
		if got.SubscriptionID() != want.SubscriptionID {
			t.Errorf("SubscriptionID(%q) = %q, azcore %q", s, got.SubscriptionID(), want.SubscriptionID)
		}
		if got.ResourceGroup() != want.ResourceGroupName {
			t.Errorf("ResourceGroup(%q) = %q, azcore %q", s, got.ResourceGroup(), want.ResourceGroupName)
		}
		if got.Name() != want.Name {
			t.Errorf("Name(%q) = %q, azcore %q", s, got.Name(), want.Name)
		}
		if !strings.EqualFold(got.Type(), want.ResourceType.String()) {
			t.Errorf("Type(%q) = %q, azcore %q", s, got.Type(), want.ResourceType.String())
		}
		// The parent chains agree up to the root.
		g, w := got, want
		for w.Parent != nil {
			g, w = g.Parent(), w.Parent
			if !strings.EqualFold(g.String(), w.String()) && !(g.IsRoot() && w.String() == "") {
				t.Errorf("parent of %q: %q, azcore %q", s, g, w)
				break
			}
		}
	}
}

func TestParseRejects(t *testing.T) {
	bad := []string{
		"",
		"subscriptions/x",
		"/foo/bar",
		"/subscriptions",
		"/subscriptions/s/resourceGroups",
		"/subscriptions/s/resourceGroups/rg/foo/bar",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/extensions",
		"/subscriptions/s\x00/resourceGroups/rg",
		"/" + strings.Repeat("a/", armid.MaxLen),
	}
	for _, s := range bad {
		if id, err := armid.Parse(s); err == nil {
			t.Errorf("Parse(%q) = %q, want error", s, id)
		}
	}
}

func TestKinds(t *testing.T) {
	tests := []struct {
		id        string
		kind      armid.Kind
		typ       string
		scope     string
		extension bool
		child     bool
		fullName  string
	}{
		{"/", armid.Tenant, armid.TenantType, "/", false, false, ""},
		{"/providers/Microsoft.Management/managementGroups/mg1", armid.ManagementGroup, armid.ManagementGroupType, "/", false, false, "mg1"},
		{"/subscriptions/s", armid.Subscription, armid.SubscriptionType, "/", false, false, "s"},
		{"/subscriptions/s/resourcegroups/rg", armid.ResourceGroup, armid.ResourceGroupType, "/subscriptions/s", false, false, "rg"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/srv/databases/db", armid.Resource, "Microsoft.Sql/servers/databases", "/subscriptions/s/resourceGroups/rg", false, true, "srv/db"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/srv/providers/Microsoft.Authorization/policyExemptions/e", armid.Resource, "Microsoft.Authorization/policyExemptions", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Sql/servers/srv", true, false, "e"},
		{"/subscriptions/s/providers/Microsoft.Security/pricings/VirtualMachines", armid.Resource, "Microsoft.Security/pricings", "/subscriptions/s", false, false, "VirtualMachines"},
	}
	for _, tt := range tests {
		id := armid.MustParse(tt.id)
		if id.Kind() != tt.kind {
			t.Errorf("%s: kind %v, want %v", tt.id, id.Kind(), tt.kind)
		}
		if id.Type() != tt.typ {
			t.Errorf("%s: type %q, want %q", tt.id, id.Type(), tt.typ)
		}
		if got := id.Scope().String(); !strings.EqualFold(got, tt.scope) {
			t.Errorf("%s: scope %q, want %q", tt.id, got, tt.scope)
		}
		if id.IsExtension() != tt.extension {
			t.Errorf("%s: extension %v, want %v", tt.id, id.IsExtension(), tt.extension)
		}
		if id.IsChild() != tt.child {
			t.Errorf("%s: child %v, want %v", tt.id, id.IsChild(), tt.child)
		}
		if id.FullName() != tt.fullName {
			t.Errorf("%s: fullName %q, want %q", tt.id, id.FullName(), tt.fullName)
		}
	}
}

func TestCanonicalKeywords(t *testing.T) {
	id := armid.MustParse("/SUBSCRIPTIONS/Sub1/RESOURCEGROUPS/Rg1/PROVIDERS/Microsoft.Compute/virtualMachines/VM1")
	want := "/subscriptions/Sub1/resourceGroups/Rg1/providers/Microsoft.Compute/virtualMachines/VM1"
	if id.String() != want {
		t.Errorf("String = %q, want %q", id, want)
	}
	if id.Key() != strings.ToLower(want) {
		t.Errorf("Key = %q", id.Key())
	}
}

func TestContains(t *testing.T) {
	tests := []struct {
		scope, id string
		want      bool
	}{
		{"/", "/subscriptions/a", true},
		{"/subscriptions/a", "/subscriptions/a", true},
		{"/subscriptions/a", "/SUBSCRIPTIONS/A/resourceGroups/x", true},
		{"/subscriptions/a", "/subscriptions/ab", false},
		{"/subscriptions/a/resourceGroups/rg", "/subscriptions/a/resourceGroups/rg2/providers/X.Y/z/n", false},
		{"/subscriptions/a/resourceGroups/rg/providers/X.Y/z/n", "/subscriptions/a/resourceGroups/rg/providers/X.Y/z/n/c/d", true},
		{"/subscriptions/a/resourceGroups/rg", "/subscriptions/a", false},
	}
	for _, tt := range tests {
		if got := armid.MustParse(tt.scope).Contains(armid.MustParse(tt.id)); got != tt.want {
			t.Errorf("%s contains %s = %v, want %v", tt.scope, tt.id, got, tt.want)
		}
	}
}

func TestAncestors(t *testing.T) {
	id := armid.MustParse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/sn/providers/Microsoft.Authorization/policyExemptions/e")
	var got []string
	for _, a := range id.Ancestors() {
		got = append(got, a.String())
	}
	want := []string{
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/sn",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v",
		"/subscriptions/s/resourceGroups/rg",
		"/subscriptions/s",
		"/",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Ancestors:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParsePath(t *testing.T) {
	tests := []struct {
		path, id, ns, coll, itemType string
	}{
		{"/subscriptions", "/", "", "subscriptions", armid.SubscriptionType},
		{"/subscriptions/s/resourcegroups", "/subscriptions/s", "", "resourcegroups", armid.ResourceGroupType},
		{"/subscriptions/s/resources", "/subscriptions/s", "", "resources", "Microsoft.Resources/subscriptions/resources"},
		{"/subscriptions/s/resourceGroups/rg/resources", "/subscriptions/s/resourceGroups/rg", "", "resources", "Microsoft.Resources/resourceGroups/resources"},
		{"/subscriptions/s/providers/Microsoft.Authorization/policyExemptions", "/subscriptions/s", "Microsoft.Authorization", "policyExemptions", "Microsoft.Authorization/policyExemptions"},
		{"/providers/Microsoft.Management/managementGroups", "/", "Microsoft.Management", "managementGroups", "Microsoft.Management/managementGroups"},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "", "subnets", "Microsoft.Network/virtualNetworks/subnets"},
		{"/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e/preview", "/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/e", "", "preview", "Microsoft.Authorization/policyExemptions/preview"},
		{"/subscriptions/s/providers/Microsoft.Compute", "/subscriptions/s", "Microsoft.Compute", "", ""},
		{"/subscriptions/s/resourceGroups/rg", "/subscriptions/s/resourceGroups/rg", "", "", ""},
	}
	for _, tt := range tests {
		p, err := armid.ParsePath(tt.path)
		if err != nil {
			t.Errorf("ParsePath(%q): %v", tt.path, err)
			continue
		}
		if p.ID.String() != tt.id || p.Namespace != tt.ns || p.Collection != tt.coll || p.ItemType() != tt.itemType {
			t.Errorf("ParsePath(%q) = {%s %q %q %q}, want {%s %q %q %q}", tt.path, p.ID, p.Namespace, p.Collection, p.ItemType(), tt.id, tt.ns, tt.coll, tt.itemType)
		}
	}
	p, _ := armid.ParsePath("/subscriptions/s/providers/Microsoft.Authorization/policyExemptions")
	item, ok := p.Item("ex1")
	if !ok || item.String() != "/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/ex1" {
		t.Errorf("Item = %q, %v", item, ok)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range corpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := armid.Parse(s)
		if err != nil {
			return
		}
		// Canonical text re-parses to the same id.
		again, err := armid.Parse(id.String())
		if err != nil {
			t.Fatalf("canonical %q of %q does not parse: %v", id, s, err)
		}
		if again.String() != id.String() || again.Kind() != id.Kind() || again.Type() != id.Type() {
			t.Fatalf("round trip %q -> %q -> %q", s, id, again)
		}
		// Walking up always ends at the root and every ancestor contains id.
		for _, a := range id.Ancestors() {
			if !a.Contains(id) {
				t.Fatalf("ancestor %q does not contain %q", a, id)
			}
		}
		_ = id.Scope()
		_ = id.FullName()
		if p, err := armid.ParsePath(s); err == nil {
			_ = p.ItemType()
		}
		// Where azcore accepts the same text, the two agree on the basics.
		if az, err := arm.ParseResourceID(s); err == nil && !strings.ContainsAny(s, " \t") {
			if !strings.EqualFold(az.String(), id.String()) {
				t.Fatalf("azcore %q, armid %q for %q", az, id, s)
			}
		}
	})
}
