package compliance

import (
	"context"
	"strings"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/sqlite"
)

// benchmarkAssignment is the benchmark initiative assigned to a
// subscription, as a service compiled it.
func benchmarkAssignment(b testing.TB) *assignment {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		b.Fatal(err)
	}
	var mu posture.LocalWriteLock
	s := &Service{Store: store, Registry: reg, WriteMu: &mu, DefaultAssignment: true}
	es := &estate.Service{Store: store, Observer: s, WriteMu: &mu}
	if _, err := es.EnsureTenant(ctx, "t"); err != nil {
		b.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	r, err := armdoc.Normalize([]byte(`{"id":"/subscriptions/00000000-0000-0000-0000-00000000000a","displayName":"A"}`))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := es.PutResource(ctx, r, posture.PutImport, ""); err != nil {
		b.Fatal(err)
	}
	as, _, _, _ := s.snapshot()
	for _, a := range as {
		if a.compiled.SetDefinition != nil && len(a.compiled.References) > 200 {
			return a
		}
	}
	b.Fatal("no benchmark assignment")
	return nil
}

// BenchmarkCheckReferences is the check of an exemption's references
// against the benchmark initiative (over 200 members) that every exemption
// write makes: one reference, as most exemptions name.
func BenchmarkCheckReferences(b *testing.B) {
	a := benchmarkAssignment(b)
	for b.Loop() {
		x := &exemption.Exemption{PolicyDefinitionReferenceIDs: []string{"secureTransferToStorageAccountMonitoring"}}
		if err := checkReferences(x, a); err != nil {
			b.Fatal(err)
		}
	}
}

// Both lookups (a scan for a few references, a map for more) accept any
// case, write the initiative's spelling and refuse what is not a member,
// naming it.
func TestCheckReferencesLookups(t *testing.T) {
	a := benchmarkAssignment(t)
	var canon []string
	for _, r := range a.compiled.References[:6] {
		canon = append(canon, r.ReferenceID)
	}
	for _, n := range []int{1, 6} {
		x := &exemption.Exemption{}
		for _, c := range canon[:n] {
			x.PolicyDefinitionReferenceIDs = append(x.PolicyDefinitionReferenceIDs, strings.ToUpper(c))
		}
		if err := checkReferences(x, a); err != nil || strings.Join(x.PolicyDefinitionReferenceIDs, ",") != strings.Join(canon[:n], ",") {
			t.Errorf("%d references: %v %v", n, x.PolicyDefinitionReferenceIDs, err)
		}
		x.PolicyDefinitionReferenceIDs = append(x.PolicyDefinitionReferenceIDs, "notAMember")
		if err := checkReferences(x, a); posture.ErrorCode(err) != "InvalidPolicyDefinitionReference" || !strings.Contains(err.Error(), "notAMember") {
			t.Errorf("%d references and a stranger: %v", n, err)
		}
	}
}
