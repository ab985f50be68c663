package policy

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustBuiltins(t testing.TB) *Registry {
	t.Helper()
	reg, err := Builtins()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func mustCompile(t testing.TB, a *Assignment, reg *Registry) *CompiledAssignment {
	t.Helper()
	ca, err := Compile(a, reg)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func readResource(t testing.TB, name string) *Resource {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "resources", name))
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewResourceJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The classes of the 223 MCSB v1 members, counted from the definitions'
// modes, effects and existence types (research notes, shared/docs/azure-policy.md §2).
func TestClassifyMCSBv1(t *testing.T) {
	reg := mustBuiltins(t)
	set, _ := reg.SetDefinition(MCSBv1ID)
	got := map[Class]int{}
	for _, ref := range set.References {
		d, ok := reg.Definition(ref.DefinitionID)
		if !ok {
			t.Fatalf("missing %s", ref.DefinitionID)
		}
		got[d.Class]++
	}
	want := map[Class]int{
		ClassSelfContained:      89,
		ClassRelatedARM:         68,
		ClassScannerAssessment:  26,
		ClassDefenderSetting:    14,
		ClassGuestConfiguration: 7,
		ClassDataPlane:          19,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MCSB v1 classes (-want +got):\n%s", diff)
	}
	if !ClassSelfContained.Evaluable() || ClassDataPlane.Evaluable() || ClassScannerAssessment.Evaluable() {
		t.Error("Evaluable is wrong")
	}
}

func TestFacts(t *testing.T) {
	reg := mustBuiltins(t)
	ca := mustCompile(t, &Assignment{PolicyDefinitionID: MCSBv1ID}, reg)
	tests := []struct {
		ref       string
		types     []string
		related   *RelatedFact
		fieldPath string // one resolved path the rule reads
	}{
		{"diagnosticsLogsInKeyVaultMonitoring", []string{"microsoft.keyvault/vaults"},
			&RelatedFact{Type: "microsoft.insights/diagnosticsettings", Scope: ScopeExtension, ScopeFixed: true}, "properties.logs[*].retentionPolicy.enabled"},
		{"webAppDisableRemoteDebuggingMonitoring", []string{"microsoft.web/sites"},
			&RelatedFact{Type: "microsoft.web/sites/config", Scope: ScopeChildren, ScopeFixed: true}, "properties.remoteDebuggingEnabled"},
		{"networkWatcherShouldBeEnabledMonitoringEffect", []string{"microsoft.network/virtualnetworks"},
			&RelatedFact{Type: "microsoft.network/networkwatchers", Scope: ScopeResourceGroup, ScopeFixed: true}, "location"},
		// details.name is the assessment key (ASC_ServerSecretAssessment_Audit.json).
		{"serverSecretFindingsMonitoring", []string{"microsoft.classiccompute/virtualmachines", "microsoft.compute/virtualmachines"},
			&RelatedFact{Type: "microsoft.security/assessments", Scope: ScopeExtension, ScopeFixed: true, Name: "17618b1a-ed14-49bb-b37f-9f8ba967be8b"}, ""},
		{"StorageDisallowPublicAccess", []string{"microsoft.storage/storageaccounts"}, nil, "properties.allowBlobPublicAccess"},
		{"classicComputeVMsMonitoring", []string{"microsoft.classiccompute/virtualmachines", "microsoft.compute/virtualmachines"}, nil, "type"},
		{"cognitiveServicesAccountsShouldHaveLocalAuthenticationMethodsDisabled", []string{"microsoft.cognitiveservices/accounts", "microsoft.search/searchservices"}, nil,
			"properties.disableLocalAuth"},
		{"privilegedContainersShouldBeAvoided", []string{"microsoft.containerservice/managedclusters", "microsoft.kubernetes/connectedclusters"}, nil, ""},
	}
	for _, tt := range tests {
		cr, ok := ca.Reference(tt.ref)
		if !ok {
			t.Fatalf("no reference %s", tt.ref)
		}
		if cr.Facts.AnyType || !cmp.Equal(tt.types, cr.Facts.Types) {
			t.Errorf("%s: types = %v (any %v), want %v", tt.ref, cr.Facts.Types, cr.Facts.AnyType, tt.types)
		}
		if diff := cmp.Diff(tt.related, cr.Facts.Related); diff != "" {
			t.Errorf("%s: related (-want +got):\n%s", tt.ref, diff)
		}
		if tt.fieldPath != "" {
			found := false
			for _, f := range cr.Facts.Fields {
				if strings.Contains(f.Path, tt.fieldPath) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: fields %v lack path %s", tt.ref, cr.Facts.Fields, tt.fieldPath)
			}
		}
	}
	// The type index is what makes scans fast: no MCSB member matches
	// every type.
	for _, cr := range ca.References {
		if cr.Facts.AnyType {
			t.Errorf("%s matches any type; the index would not skip it", cr.ReferenceID)
		}
	}
}

func TestRollUpAndPercentage(t *testing.T) {
	if got := RollUp(StateCompliant, StateExempt, StateNonCompliant, StateError); got != StateNonCompliant {
		t.Errorf("RollUp = %s", got)
	}
	if got := RollUp(StateExempt, StateUnknown, StateConflicting); got != StateConflicting {
		t.Errorf("RollUp = %s", got)
	}
	if got := RollUp(StateError, StateCompliant); got != StateCompliant {
		t.Errorf("RollUp = %s", got)
	}
	if got := RollUp(); got != "" {
		t.Errorf("RollUp() = %q", got)
	}
	// 19 of 20 distinct resources compliant: 95% (compliance-states.md).
	c := StateCounts{StateCompliant: 17, StateExempt: 1, StateUnknown: 1, StateNonCompliant: 1, StateError: 5}
	if got := c.CompliancePercentage(); got != 95 {
		t.Errorf("percentage = %v, want 95", got)
	}
	if got := (StateCounts{}).CompliancePercentage(); got != 100 {
		t.Errorf("empty percentage = %v", got)
	}
}

func TestRegistryAndLoader(t *testing.T) {
	// LoadDir reads the official repository layout: copy the embedded
	// built-ins to a directory and load them back.
	dir := t.TempDir()
	err := fs.WalkDir(BuiltinFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(BuiltinFS(), p)
		if err != nil {
			return err
		}
		out := filepath.Join(dir, "repo", p)
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry()
	if err := reg.LoadDir(filepath.Join(dir, "repo")); err != nil {
		t.Fatal(err)
	}
	if n := len(reg.Definitions()); n != 412 {
		t.Errorf("loaded %d definitions", n)
	}
	// Ids are case-insensitive; bare built-in names work too.
	if _, ok := reg.Definition("/PROVIDERS/microsoft.authorization/POLICYDEFINITIONS/4FA4B6C0-31CA-4C0D-B10D-24B96F62A751"); !ok {
		t.Error("case-insensitive id lookup failed")
	}
	if _, ok := reg.SetDefinition("1f3afdf9-d0c9-4c3d-847f-89da613e70a8"); !ok {
		t.Error("bare name lookup failed")
	}
	// A custom definition at subscription scope.
	custom := []byte(`{"properties":{"mode":"All","policyRule":{"if":{"field":"type","equals":"Microsoft.Storage/storageAccounts"},"then":{"effect":"audit"}}},
		"id":"/subscriptions/s1/providers/Microsoft.Authorization/policyDefinitions/myPolicy","name":"myPolicy"}`)
	d, err := ParseDefinition(custom)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.AddDefinition(d); err != nil {
		t.Fatal(err)
	}
	if got, ok := reg.Definition("/subscriptions/S1/providers/Microsoft.Authorization/policyDefinitions/MYPOLICY"); !ok || got != d {
		t.Error("custom definition lookup failed")
	}
	if string(d.Raw) != string(custom) {
		t.Error("Raw must keep the original document")
	}
	// A set referencing a missing definition is rejected.
	set, err := ParseSetDefinition([]byte(`{"properties":{"policyDefinitions":[{"policyDefinitionId":"/providers/Microsoft.Authorization/policyDefinitions/nope","policyDefinitionReferenceId":"r"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.ValidateSetDefinition(set); ErrorCode(err) != CodePolicyDefinitionNotFound {
		t.Errorf("ValidateSetDefinition = %v, want %s", err, CodePolicyDefinitionNotFound)
	}
	// Duplicate reference ids are rejected when parsing.
	_, err = ParseSetDefinition([]byte(`{"properties":{"policyDefinitions":[
		{"policyDefinitionId":"/providers/Microsoft.Authorization/policyDefinitions/a","policyDefinitionReferenceId":"r"},
		{"policyDefinitionId":"/providers/Microsoft.Authorization/policyDefinitions/b","policyDefinitionReferenceId":"R"}]}}`))
	var es Errors
	if !errors.As(err, &es) || es[0].Code != CodeInvalidPolicySetDefinition || es[0].Path != "properties.policyDefinitions[1].policyDefinitionReferenceId" {
		t.Errorf("duplicate reference: %v", err)
	}
	if err := NewRegistry().LoadDir(t.TempDir()); err == nil {
		t.Error("loading an empty directory must fail")
	}
}

func TestParseErrorsAccumulate(t *testing.T) {
	_, err := ParseDefinition([]byte(`{"properties":{"parameters":{"p":{"type":"Nope"}},"policyRule":{"if":{"allOf":[{"field":"name","lessThan":1},{"value":"[nosuch()]","equals":1}]},"then":{"effect":"Block"}}}}`))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not Errors", err)
	}
	var paths []string
	for _, e := range es {
		paths = append(paths, e.Code+" "+e.Path)
	}
	want := []string{
		"InvalidPolicyParameters properties.parameters.p.type",
		"InvalidPolicyRule properties.policyRule.if.allOf[0].lessThan",
		"InvalidPolicyRule properties.policyRule.if.allOf[1].value",
	}
	for _, w := range want {
		found := false
		for _, p := range paths {
			if p == w {
				found = true
			}
		}
		if !found {
			t.Errorf("missing error %q in %v", w, paths)
		}
	}
	if _, err := ParseDefinition([]byte(`not json`)); ErrorCode(err) != CodeInvalidPolicyDefinition {
		t.Errorf("invalid JSON: %v", err)
	}
}

func TestWarningsForUnknownAliases(t *testing.T) {
	d, err := ParseDefinition([]byte(`{"properties":{"mode":"All","policyRule":{"if":{"field":"Microsoft.Storage/storageAccounts/noSuchThing","equals":"x"},"then":{"effect":"audit"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Warnings) != 1 || d.Warnings[0].Code != CodeInvalidPolicyAlias || !strings.Contains(d.Warnings[0].Message, "properties.noSuchThing") {
		t.Errorf("warnings = %+v", d.Warnings)
	}
	reg := mustBuiltins(t)
	for _, def := range reg.Definitions() {
		for _, w := range def.Warnings {
			// The shipped catalog covers every alias of the shipped built-ins
			// except data-plane ones.
			if !def.dataPlaneMode() {
				t.Errorf("%s: %s", def.Name, w.Message)
			}
		}
	}
}

func TestEvaluateUsesTypeIndexAndScope(t *testing.T) {
	reg := mustBuiltins(t)
	ca := mustCompile(t, &Assignment{PolicyDefinitionID: MCSBv1ID, Scope: "/subscriptions/{subscription-id}"}, reg)
	sa := readResource(t, "Microsoft.Storage_storageAccounts.json")
	results := ca.Evaluate(context.Background(), sa, NewIndex(sa))
	if len(results) == 0 {
		t.Fatal("no results for a storage account")
	}
	for _, r := range results {
		cr, _ := ca.Reference(r.ReferenceID)
		if !containsString(cr.Facts.Types, "microsoft.storage/storageaccounts") {
			t.Errorf("%s evaluated a storage account but its types are %v", r.ReferenceID, cr.Facts.Types)
		}
		if r.State == StateNonCompliant && len(r.Reasons) == 0 {
			t.Errorf("%s: NonCompliant without reasons", r.ReferenceID)
		}
	}
	// Outside the scope: nothing.
	other := mustCompile(t, &Assignment{PolicyDefinitionID: MCSBv1ID, Scope: "/subscriptions/other"}, reg)
	if got := other.Evaluate(context.Background(), sa, nil); len(got) != 0 {
		t.Errorf("out-of-scope resource got %d results", len(got))
	}
	// Exemptions keep the evaluated state.
	exempt := ca.EvaluateWithOptions(context.Background(), sa, nil, EvalOptions{IsExempt: func(_ *CompiledAssignment, cr *CompiledReference, _ *Resource) bool {
		return cr.ReferenceID == "StorageDisallowPublicAccess"
	}})
	for _, r := range exempt {
		if r.ReferenceID == "StorageDisallowPublicAccess" && (r.State != StateExempt || r.EvaluatedState != StateNonCompliant) {
			t.Errorf("exempt result = %+v", r)
		}
	}
}

func TestARMIDParsing(t *testing.T) {
	tests := []struct {
		id, typ, name, full, parent, rg string
		ext                             bool
	}{
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/a/config/web", "Microsoft.Web/sites/config", "web", "a/web",
			"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/a", "rg", false},
		{"/subscriptions/s/resourcegroups/RG/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Security/assessments/g", "Microsoft.Security/assessments", "g", "g",
			"/subscriptions/s/resourcegroups/RG/providers/Microsoft.Compute/virtualMachines/vm", "RG", true},
		{"/subscriptions/s/providers/Microsoft.Security/pricings/VirtualMachines", "Microsoft.Security/pricings", "VirtualMachines", "VirtualMachines", "/subscriptions/s", "", false},
		{"/subscriptions/s/resourceGroups/rg", "Microsoft.Resources/subscriptions/resourceGroups", "rg", "rg", "", "rg", false},
	}
	for _, tt := range tests {
		a := parseARMID(tt.id)
		if a.fullType() != tt.typ || a.name() != tt.name || a.fullName() != tt.full || a.parent != tt.parent || a.resourceGroup != tt.rg || a.isExtension != tt.ext {
			t.Errorf("%s: got type %q name %q full %q parent %q rg %q ext %v", tt.id, a.fullType(), a.name(), a.fullName(), a.parent, a.resourceGroup, a.isExtension)
		}
	}
	if !idHasPrefix("/subscriptions/S/resourceGroups/RG/x", "/subscriptions/s/resourcegroups/rg") || idHasPrefix("/subscriptions/s/resourceGroups/rg2", "/subscriptions/s/resourceGroups/rg") {
		t.Error("idHasPrefix is not segment-aware")
	}
	if got := normalizeLocation("West US 2"); got != "westus2" {
		t.Errorf("normalizeLocation = %q", got)
	}
}

func TestIndexRelated(t *testing.T) {
	site := readResource(t, "Microsoft.Web_sites.json")
	conf := readResource(t, "Microsoft.Web_sites_config.json")
	diag := readResource(t, "Microsoft.Insights_diagnosticSettings.json")
	ix := NewIndex(site, conf, diag)
	ctx := context.Background()
	got, _ := ix.Related(ctx, RelatedQuery{Type: "microsoft.web/SITES/config", Scope: ScopeChildren, ParentID: strings.ToUpper(site.ID)})
	if len(got) != 1 || got[0] != conf {
		t.Errorf("children = %v", got)
	}
	got, _ = ix.Related(ctx, RelatedQuery{Type: "Microsoft.Insights/diagnosticSettings", Scope: ScopeExtension,
		ParentID: "/subscriptions/1a66ce04-b633-4a0b-b2bc-a912ec8986a6/resourceGroups/viruela1/providers/Microsoft.Logic/workflows/viruela6"})
	if len(got) != 1 || got[0] != diag {
		t.Errorf("extensions = %v", got)
	}
	got, _ = ix.Related(ctx, RelatedQuery{Type: "Microsoft.Web/sites", Scope: ScopeResourceGroup, SubscriptionID: site.SubscriptionID, ResourceGroup: "TESTRG123"})
	if len(got) != 1 {
		t.Errorf("resource group = %v", got)
	}
}

func TestEvalOffline(t *testing.T) {
	def, err := fs.ReadFile(BuiltinFS(), "built-in-policies/policyDefinitions/Storage/ASC_Storage_DisallowPublicBlobAccess_Audit.json")
	if err != nil {
		t.Fatal(err)
	}
	res, _ := os.ReadFile(filepath.Join("testdata", "resources", "Microsoft.Storage_storageAccounts.json"))
	for _, params := range []string{`{"effect":"Audit"}`, `{"effect":{"value":"Audit"}}`, ``} {
		out, err := EvalOffline(context.Background(), OfflineInput{Definition: def, Resource: res, Params: []byte(params)})
		if err != nil {
			t.Fatal(err)
		}
		if out.ComplianceState != StateNonCompliant || !strings.EqualFold(string(out.Effect), "audit") {
			t.Errorf("params %s: %+v", params, out)
		}
		b, _ := json.Marshal(out)
		if !strings.Contains(string(b), `"field":"Microsoft.Storage/storageAccounts/allowBlobPublicAccess"`) || !strings.Contains(string(b), `"missing":true`) {
			t.Errorf("reasons do not name the decisive field: %s", b)
		}
		// Stable output: the same input gives the same bytes.
		again, _ := EvalOffline(context.Background(), OfflineInput{Definition: def, Resource: res, Params: []byte(params)})
		b2, _ := json.Marshal(again)
		if string(b) != string(b2) {
			t.Errorf("output is not stable:\n%s\n%s", b, b2)
		}
	}
	// An initiative member with related documents.
	set, _ := fs.ReadFile(BuiltinFS(), "built-in-policies/policySetDefinitions/Security Center/AzureSecurityCenter.json")
	webDef, _ := fs.ReadFile(BuiltinFS(), "built-in-policies/policyDefinitions/App Service/AuditFTPS_WebApp_Audit.json")
	site, _ := os.ReadFile(filepath.Join("testdata", "resources", "Microsoft.Web_sites.json"))
	conf, _ := os.ReadFile(filepath.Join("testdata", "resources", "Microsoft.Web_sites_config.json"))
	out, err := EvalOffline(context.Background(), OfflineInput{Definition: webDef, Initiative: set, ReferenceID: "fTPSShouldBeRequiredInYourWebAppMonitoringEffect",
		Resource: site, Related: [][]byte{[]byte("[" + string(conf) + "]")}})
	if err != nil {
		t.Fatal(err)
	}
	if out.ComplianceState != StateNonCompliant || out.Effect != EffectAuditIfNotExists {
		t.Errorf("initiative member: %+v", out)
	}
	// Not applicable and input errors.
	out, err = EvalOffline(context.Background(), OfflineInput{Definition: webDef, Resource: res})
	if err != nil || out.ComplianceState != StateNotApplicable {
		t.Errorf("not applicable: %+v %v", out, err)
	}
	if _, err := EvalOffline(context.Background(), OfflineInput{Definition: []byte(`{}`), Resource: res}); ErrorCode(err) != CodeInvalidPolicyRule {
		t.Errorf("bad definition: %v", err)
	}
	if _, err := EvalOffline(context.Background(), OfflineInput{Definition: def, Resource: res, Params: []byte(`{"nope":1}`)}); ErrorCode(err) != CodeUndefinedPolicyParameter {
		t.Errorf("bad params: %v", err)
	}
}

// A member whose effect the assignment sets to Disabled produces nothing,
// as in Azure, unless ReportDisabled asks for the resources it would
// evaluate (Defender's NotApplicable / OffByPolicy).
func TestReportDisabled(t *testing.T) {
	reg := mustBuiltins(t)
	ca := mustCompile(t, &Assignment{PolicyDefinitionID: MCSBv1ID,
		Parameters: map[string]any{"disallowPublicBlobAccessEffect": map[string]any{"value": "disabled"}}}, reg)
	cr, ok := ca.Reference("StorageDisallowPublicAccess")
	if !ok {
		t.Fatal("no StorageDisallowPublicAccess")
	}
	storage, err := NewResourceJSON([]byte(`{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/a",
		"type":"Microsoft.Storage/storageAccounts","name":"a","location":"westeurope","kind":"StorageV2",
		"properties":{"allowBlobPublicAccess":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	vault, err := NewResourceJSON([]byte(`{"id":"/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/v",
		"type":"Microsoft.KeyVault/vaults","name":"v","location":"westeurope","properties":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, ok := ca.EvaluateReference(ctx, cr, storage, nil, EvalOptions{}); ok {
		t.Error("a Disabled member produced a result without ReportDisabled")
	}
	res, ok := ca.EvaluateReference(ctx, cr, storage, nil, EvalOptions{ReportDisabled: true})
	if !ok || res.State != StateDisabled || res.Effect != EffectDisabled {
		t.Errorf("storage account: got %v %+v, want state Disabled, effect Disabled", ok, res)
	}
	if res, ok := ca.EvaluateReference(ctx, cr, vault, nil, EvalOptions{ReportDisabled: true}); ok {
		t.Errorf("a key vault is not a storage account, got %+v", res)
	}
	// Other members keep their effect.
	kv, _ := ca.Reference("diagnosticsLogsInKeyVaultMonitoring")
	if res, ok := ca.EvaluateReference(ctx, kv, vault, NewIndex(), EvalOptions{ReportDisabled: true}); !ok || res.State == StateDisabled {
		t.Errorf("key vault diagnostics: got %v %+v, want an evaluated state", ok, res)
	}
}
