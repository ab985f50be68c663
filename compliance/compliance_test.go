package compliance_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/sqlite"
)

// env is an estate with policy evaluation over a real SQLite store.
type env struct {
	t      *testing.T
	dir    string
	store  posture.Store
	svc    *compliance.Service
	estate *estate.Service
	clock  *clock
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const (
	sub    = "/subscriptions/00000000-0000-0000-0000-00000000000a"
	rg     = sub + "/resourceGroups/rg1"
	mcsb   = sub + "/providers/microsoft.authorization/policyassignments/securitycenterbuiltin"
	tenant = "tenant-1"
)

func newEnv(t *testing.T, defaultAssignment bool) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: &clock{now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}}
	e.open(defaultAssignment)
	return e
}

func (e *env) open(defaultAssignment bool) {
	t := e.t
	store, err := sqlite.Open(context.Background(), e.dir, e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		t.Fatal(err)
	}
	var mu posture.LocalWriteLock
	e.store = store
	e.svc = &compliance.Service{Store: store, Registry: reg, Now: e.clock.Now, WriteMu: &mu, DefaultAssignment: defaultAssignment}
	e.estate = &estate.Service{Store: store, Now: e.clock.Now, Observer: e.svc, WriteMu: &mu}
	if _, err := e.estate.EnsureTenant(context.Background(), tenant); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (e *env) put(doc string, args ...any) *posture.Resource {
	e.t.Helper()
	r, err := armdoc.Normalize([]byte(fmt.Sprintf(doc, args...)))
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.estate.PutResource(context.Background(), r, posture.PutImport, ""); err != nil {
		e.t.Fatalf("put %s: %v", r.ID, err)
	}
	return r
}

// state returns the state of a resource for a reference of the benchmark.
func (e *env) state(resourceID, assignmentKey, ref string) *posture.PolicyState {
	e.t.Helper()
	rows, _, err := e.svc.PolicyStates(context.Background(), posture.PolicyStateFilter{ResourceKey: strings.ToLower(resourceID), AssignmentKey: assignmentKey})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, row := range rows {
		for i := range row.States {
			if row.States[i].ReferenceID == ref {
				return &row.States[i]
			}
		}
	}
	return nil
}

func (e *env) wantState(resourceID, assignmentKey, ref, want string) *posture.PolicyState {
	e.t.Helper()
	s := e.state(resourceID, assignmentKey, ref)
	got := "<none>"
	if s != nil {
		got = s.State
	}
	if got != want {
		e.t.Fatalf("%s / %s: state %s, want %s", resourceID, ref, got, want)
	}
	return s
}

func storage(name string, https bool) string {
	return fmt.Sprintf(`{"id":"%s/providers/Microsoft.Storage/storageAccounts/%s","type":"Microsoft.Storage/storageAccounts","location":"westeurope","kind":"StorageV2",
		"properties":{"supportsHttpsTrafficOnly":%v,"minimumTlsVersion":"TLS1_2"}}`, rg, name, https)
}

// TestIncrementalEvaluation: a resource write re-evaluates the resource
// before it returns; the state's first evaluation stays, its change time
// moves only when the state changes.
func TestIncrementalEvaluation(t *testing.T) {
	e := newEnv(t, true)
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	st := e.put("%s", storage("sa1", false))
	// "Secure transfer to storage accounts should be enabled": the rule is
	// NonCompliant when supportsHttpsTrafficOnly is false.
	first := e.wantState(st.ID, mcsb, "secureTransferToStorageAccountMonitoring", posture.StateNonCompliant)
	e.clock.Advance(time.Hour)
	e.put("%s", storage("sa1", true))
	second := e.wantState(st.ID, mcsb, "secureTransferToStorageAccountMonitoring", posture.StateCompliant)
	if !second.FirstEvaluated.Equal(first.FirstEvaluated) || !second.ChangedAt.Equal(first.ChangedAt.Add(time.Hour)) {
		t.Errorf("times after a change: first %v -> %v, changed %v -> %v", first.FirstEvaluated, second.FirstEvaluated, first.ChangedAt, second.ChangedAt)
	}
	e.clock.Advance(time.Hour)
	e.put("%s", storage("sa1", true))
	third := e.wantState(st.ID, mcsb, "secureTransferToStorageAccountMonitoring", posture.StateCompliant)
	if !third.ChangedAt.Equal(second.ChangedAt) {
		t.Errorf("an unchanged state moved its change time: %v -> %v", second.ChangedAt, third.ChangedAt)
	}
	if _, err := e.estate.DeleteResource(context.Background(), st.ID, ""); err != nil {
		t.Fatal(err)
	}
	e.wantState(st.ID, mcsb, "secureTransferToStorageAccountMonitoring", "<none>")
}

// TestExistenceCheckFollowsRelatedDocuments: "Resource logs in Key Vault
// should be enabled" is AuditIfNotExists on diagnostic settings attached to
// the vault; adding or deleting them re-evaluates the vault.
func TestExistenceCheckFollowsRelatedDocuments(t *testing.T) {
	e := newEnv(t, true)
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	kv := e.put(`{"id":"%s/providers/Microsoft.KeyVault/vaults/kv1","type":"Microsoft.KeyVault/vaults","location":"westeurope",
		"properties":{"tenantId":"t","sku":{"family":"A","name":"standard"},"enableSoftDelete":true}}`, rg)
	const ref = "diagnosticsLogsInKeyVaultMonitoring"
	e.wantState(kv.ID, mcsb, ref, posture.StateNonCompliant)
	diag := e.put(`{"id":"%s/providers/Microsoft.Insights/diagnosticSettings/logs","type":"Microsoft.Insights/diagnosticSettings",
		"properties":{"workspaceId":"/subscriptions/x/resourceGroups/m/providers/Microsoft.OperationalInsights/workspaces/w",
		"logs":[{"category":"AuditEvent","enabled":true,"retentionPolicy":{"enabled":true,"days":365}}],"metrics":[]}}`, kv.ID)
	e.wantState(kv.ID, mcsb, ref, posture.StateCompliant)
	if _, err := e.estate.DeleteResource(context.Background(), diag.ID, ""); err != nil {
		t.Fatal(err)
	}
	e.wantState(kv.ID, mcsb, ref, posture.StateNonCompliant)
	// The same in one import batch: the vault and its settings together.
	kv2 := fmt.Sprintf(`{"id":"%s/providers/Microsoft.KeyVault/vaults/kv2","type":"Microsoft.KeyVault/vaults","location":"westeurope","properties":{"tenantId":"t"}}`, rg)
	d2 := fmt.Sprintf(`{"id":"%s/providers/Microsoft.KeyVault/vaults/kv2/providers/Microsoft.Insights/diagnosticSettings/logs","type":"Microsoft.Insights/diagnosticSettings",
		"properties":{"logs":[{"category":"AuditEvent","enabled":true,"retentionPolicy":{"enabled":true,"days":365}}]}}`, rg)
	var batch []*posture.Resource
	for _, doc := range []string{d2, kv2} {
		r, err := armdoc.Normalize([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, r)
	}
	if _, err := e.estate.ImportResources(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	e.wantState(rg+"/providers/Microsoft.KeyVault/vaults/kv2", mcsb, ref, posture.StateCompliant)
}

// TestExistenceCheckReadsNamedAssessments: "Machines should have secret
// findings resolved" is AuditIfNotExists on the assessment 17618b1a… of
// the machine, Healthy or NotApplicable (ASC_ServerSecretAssessment_Audit
// .json). The index of existence checks keeps that assessment, not a
// scanner's custom ones beside it — no benchmark check names them — and
// the machine's state follows the named one.
func TestExistenceCheckReadsNamedAssessments(t *testing.T) {
	e := newEnv(t, true)
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	vm := e.put(`{"id":"%s/providers/Microsoft.Compute/virtualMachines/vm1","type":"Microsoft.Compute/virtualMachines","location":"westeurope",
		"properties":{"storageProfile":{"osDisk":{"osType":"Linux"}}}}`, rg)
	const ref = "serverSecretFindingsMonitoring"
	e.wantState(vm.ID, mcsb, ref, posture.StateUnknown) // no finding yet: the policy engine's unknownWhenAbsent
	assessment := func(key, code string) *posture.Resource {
		return e.put(`{"id":"%s/providers/Microsoft.Security/assessments/%s","type":"Microsoft.Security/assessments",
			"properties":{"resourceDetails":{"source":"Azure","id":"%s"},"status":{"code":"%s"}}}`, vm.ID, key, vm.ID, code)
	}
	named := assessment("17618b1a-ed14-49bb-b37f-9f8ba967be8b", "Healthy")
	custom := assessment("0a1b2c3d-0000-4000-8000-00000000c0de", "Unhealthy")
	e.wantState(vm.ID, mcsb, ref, posture.StateCompliant)
	// The index is loaded at start, with the default assignments it makes
	// (a default assignment made by a write, for a new subscription, is
	// answered from the store until then); writes after it keep it current.
	e.open(true)
	later := assessment("0a1b2c3d-0000-4000-8000-0000000c0de2", "Unhealthy")
	for _, k := range []struct {
		r    *posture.Resource
		want bool
	}{{named, true}, {custom, false}, {later, false}} {
		if got := e.svc.IndexedRelated(k.r.Key); got != k.want {
			t.Errorf("%s indexed %v, want %v", k.r.ID, got, k.want)
		}
	}
	assessment("17618b1a-ed14-49bb-b37f-9f8ba967be8b", "Unhealthy")
	e.wantState(vm.ID, mcsb, ref, posture.StateNonCompliant)

	// A store without the benchmark assignment (an offline import): the
	// start makes it, and indexes what it reads before evaluating.
	e = newEnv(t, false)
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	vm = e.put(`{"id":"%s/providers/Microsoft.Compute/virtualMachines/vm1","type":"Microsoft.Compute/virtualMachines","location":"westeurope"}`, rg)
	named = assessment("17618b1a-ed14-49bb-b37f-9f8ba967be8b", "Healthy")
	e.open(true)
	if !e.svc.IndexedRelated(named.Key) {
		t.Error("the start made the default assignment but did not index what it reads")
	}
	e.wantState(vm.ID, mcsb, ref, posture.StateCompliant)
}

// TestDeletingAResourceGroupDropsStates: states and assignments at a
// deleted scope go with it.
func TestDeletingAResourceGroupDropsStates(t *testing.T) {
	e := newEnv(t, true)
	e.put(`{"id":"%s","displayName":"A"}`, sub)
	st := e.put("%s", storage("sa1", false))
	ctx := context.Background()
	if _, err := e.svc.PutPolicyObject(ctx, assignmentDoc(t, rg+"/providers/Microsoft.Authorization/policyAssignments/rga", policy.MCSBv1ID, ""), ""); err != nil {
		t.Fatal(err)
	}
	rga := strings.ToLower(rg + "/providers/Microsoft.Authorization/policyAssignments/rga")
	e.wantState(st.ID, rga, "secureTransferToStorageAccountMonitoring", posture.StateNonCompliant)
	if _, err := e.estate.DeleteResource(ctx, rg, ""); err != nil {
		t.Fatal(err)
	}
	states, _, _ := e.svc.PolicyStates(ctx, posture.PolicyStateFilter{Under: strings.ToLower(rg)})
	if len(states) != 0 {
		t.Errorf("%d states left under a deleted resource group", len(states))
	}
	if _, err := e.svc.GetPolicyObject(ctx, rga); !posture.IsNotFound(err) {
		t.Errorf("assignment of a deleted resource group: %v", err)
	}
	// A new resource group of the same name is not covered by the old assignment.
	e.put(`{"id":"%s","location":"westeurope"}`, rg)
	e.put("%s", storage("sa2", false))
	if s := e.state(rg+"/providers/Microsoft.Storage/storageAccounts/sa2", rga, "secureTransferToStorageAccountMonitoring"); s != nil {
		t.Errorf("a deleted assignment still evaluates: %+v", s)
	}
}

func assignmentDoc(t *testing.T, id, definitionID, params string) *posture.Resource {
	t.Helper()
	if params == "" {
		params = "{}"
	}
	r, err := armdoc.FromPut(mustParse(t, id), []byte(fmt.Sprintf(`{"properties":{"policyDefinitionId":"%s","parameters":%s}}`, definitionID, params)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestCustomDefinitionLifecycle: a custom definition, an assignment of it
// at a management group that covers a subscription by the hierarchy, a
// definition change that re-evaluates, and the refusals Azure makes.
func TestCustomDefinitionLifecycle(t *testing.T) {
	e := newEnv(t, false)
	ctx := context.Background()
	e.put(`{"id":"/providers/Microsoft.Management/managementGroups/prod","properties":{"displayName":"Prod"}}`)
	e.put(`{"id":"%s","displayName":"A","managementGroupId":"prod"}`, sub)
	tagged := e.put(`{"id":"%s/providers/Microsoft.Compute/disks/d1","location":"westeurope","tags":{"owner":"ann"}}`, rg)
	untagged := e.put(`{"id":"%s/providers/Microsoft.Compute/disks/d2","location":"westeurope"}`, rg)

	defID := "/providers/Microsoft.Management/managementGroups/prod/providers/Microsoft.Authorization/policyDefinitions/require-tag"
	def := func(tag string) *posture.Resource {
		r, err := armdoc.FromPut(mustParse(t, defID), []byte(fmt.Sprintf(`{"properties":{"mode":"Indexed","displayName":"Require a tag",
			"policyRule":{"if":{"field":"tags['%s']","exists":"false"},"then":{"effect":"audit"}}}}`, tag)))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	res, err := e.svc.PutPolicyObject(ctx, def("owner"), "")
	if err != nil || !res.Created {
		t.Fatalf("create definition: %v", err)
	}
	aID := "/providers/Microsoft.Management/managementGroups/prod/providers/Microsoft.Authorization/policyAssignments/tags"
	if _, err := e.svc.PutPolicyObject(ctx, assignmentDoc(t, aID, defID, ""), ""); err != nil {
		t.Fatalf("assign at the management group: %v", err)
	}
	ak := strings.ToLower(aID)
	e.wantState(tagged.ID, ak, "", posture.StateCompliant)
	e.wantState(untagged.ID, ak, "", posture.StateNonCompliant)

	// Changing the definition re-evaluates its assignments.
	if _, err := e.svc.PutPolicyObject(ctx, def("cost"), ""); err != nil {
		t.Fatal(err)
	}
	e.wantState(tagged.ID, ak, "", posture.StateNonCompliant)

	// A definition in use cannot be deleted.
	if _, err := e.svc.DeletePolicyObject(ctx, defID); posture.ErrorCode(err) != "InvalidDeletePolicyDefinitionRequest" {
		t.Errorf("delete a definition in use: %v", err)
	}
	// Assignments of unknown definitions, and bad rules, are refused.
	if _, err := e.svc.PutPolicyObject(ctx, assignmentDoc(t, sub+"/providers/Microsoft.Authorization/policyAssignments/x", "/providers/Microsoft.Authorization/policyDefinitions/nope", ""), ""); posture.ErrorCode(err) != "PolicyDefinitionNotFound" || posture.ErrorKind(err) != posture.ENOTFOUND {
		t.Errorf("assign an unknown definition: %v", err)
	}
	bad, _ := armdoc.FromPut(mustParse(t, sub+"/providers/Microsoft.Authorization/policyDefinitions/bad"), []byte(`{"properties":{"policyRule":{"if":{"field":"type","frobnicates":"x"},"then":{"effect":"audit"}}}}`))
	if _, err := e.svc.PutPolicyObject(ctx, bad, ""); posture.ErrorKind(err) != posture.EINVALID || posture.ErrorCode(err) != "InvalidPolicyRule" {
		t.Errorf("a rule with an unknown operator: %v", err)
	}
	// Deleting the assignment drops its states; then the definition can go.
	if ok, err := e.svc.DeletePolicyObject(ctx, aID); !ok || err != nil {
		t.Fatalf("delete assignment: %v %v", ok, err)
	}
	if s := e.state(tagged.ID, ak, ""); s != nil {
		t.Errorf("states of a deleted assignment remain: %+v", s)
	}
	if ok, err := e.svc.DeletePolicyObject(ctx, defID); !ok || err != nil {
		t.Errorf("delete an unused definition: %v %v", ok, err)
	}
}

// TestStaleStoreIsReevaluatedOnStart: documents written without an
// observer (an offline import) are evaluated when the service starts, and
// the benchmark is assigned to the subscriptions that appeared.
func TestStaleStoreIsReevaluatedOnStart(t *testing.T) {
	e := newEnv(t, true)
	offline := &estate.Service{Store: e.store, Now: e.clock.Now}
	var batch []*posture.Resource
	for _, doc := range []string{fmt.Sprintf(`{"id":"%s","displayName":"A"}`, sub), storage("sa9", false)} {
		r, _ := armdoc.Normalize([]byte(doc))
		batch = append(batch, r)
	}
	if _, err := offline.ImportResources(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	e.open(true) // restart
	e.wantState(rg+"/providers/Microsoft.Storage/storageAccounts/sa9", mcsb, "secureTransferToStorageAccountMonitoring", posture.StateNonCompliant)
}

func mustParse(t *testing.T, s string) armid.ID {
	t.Helper()
	id, err := armid.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
