package exemptplan_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/posture/posture/desired"
	"github.com/posture/posture/exemptplan"
)

// BenchmarkPlan plans 10,000 entries (8,000 unchanged, 1,000 updates,
// 1,000 new by recommendation) against 100,000 exemptions over 50
// subscriptions under a management group, each assigned a 200-member
// initiative:
//
//	go test ./exemptplan -run '^$' -bench Plan -benchmem
func BenchmarkPlan(b *testing.B) {
	est, entries := benchEstate(100_000, 10_000)
	opts := exemptplan.Options{OwnerID: "bench", Now: now}
	var r *exemptplan.Result
	for b.Loop() {
		r = exemptplan.Plan(entries, est, opts)
	}
	if len(r.Problems) > 0 || r.Count(exemptplan.NoChange) != 8_000 || r.Count(exemptplan.Update) != 1_000 || r.Count(exemptplan.Create) != 1_000 {
		b.Fatalf("plan: %d problems (%v), %d unchanged, %d updates, %d creates", len(r.Problems), r.Problems[:min(3, len(r.Problems))],
			r.Count(exemptplan.NoChange), r.Count(exemptplan.Update), r.Count(exemptplan.Create))
	}
}

func benchEstate(nExemptions, nEntries int) (*exemptplan.Estate, []desired.Entry) {
	const subs, members = 50, 200
	mg := "/providers/Microsoft.Management/managementGroups/bench"
	est := &exemptplan.Estate{Initiatives: map[string][]exemptplan.Member{}, Parents: map[string]string{}}
	for m := range members {
		def := fmt.Sprintf("/providers/Microsoft.Authorization/policyDefinitions/d%03d", m)
		est.Initiatives[set] = append(est.Initiatives[set], exemptplan.Member{ReferenceID: fmt.Sprintf("r%03d", m), DefinitionID: def})
		est.Recommendations = append(est.Recommendations, exemptplan.Recommendation{Key: fmt.Sprintf("k%03d", m), DisplayName: fmt.Sprintf("Recommendation %d", m), DefinitionID: def})
	}
	sub := func(i int) string { return fmt.Sprintf("/subscriptions/00000000-0000-0000-0000-%012d", i%subs) }
	for i := range subs {
		est.Parents[sub(i)] = mg
		est.Assignments = append(est.Assignments, exemptplan.Assignment{ID: sub(i) + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn", Scope: sub(i), PolicyDefinitionID: set})
	}
	scope := func(i int) string {
		return fmt.Sprintf("%s/resourceGroups/rg%02d/providers/Microsoft.Storage/storageAccounts/sa%05d", sub(i), i%20, i)
	}
	expires := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range nExemptions {
		meta := map[string]any{"createdFrom": "posture portal"}
		if i < nEntries {
			meta = map[string]any{"managedBy": "posture-code", "ownerId": "bench", "assignmentDefinitionId": set}
		}
		est.Exemptions = append(est.Exemptions, exemptplan.Exemption{
			ID:           scope(i) + fmt.Sprintf("/providers/Microsoft.Authorization/policyExemptions/x%06d", i),
			AssignmentID: sub(i) + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn",
			ReferenceIDs: []string{fmt.Sprintf("r%03d", i%members)}, Category: "Waiver", ExpiresOn: expires, Metadata: meta,
		})
	}
	entries := make([]desired.Entry, nEntries)
	for i := range entries {
		e := desired.Entry{Pos: desired.Pos{File: "bench.yaml", Line: 1 + 6*i, Column: 5}, Index: i, Category: "Waiver",
			Name: fmt.Sprintf("x%06d", i), Scopes: []string{scope(i)}, ExpiresOn: expires,
			Assignment:   sub(i) + "/providers/Microsoft.Authorization/policyAssignments/SecurityCenterBuiltIn",
			ReferenceIDs: []string{fmt.Sprintf("r%03d", i%members)}}
		switch {
		case i >= nEntries*9/10: // new: by recommendation, at a scope with no exemption yet
			e.Name, e.Assignment, e.ReferenceIDs = fmt.Sprintf("new%06d", i), "", nil
			e.Scopes = []string{scope(i + nExemptions)}
			e.Recommendation = fmt.Sprintf("k%03d", i%members)
		case i >= nEntries*8/10:
			e.ExpiresOn = expires.AddDate(0, 2, 0)
		}
		entries[i] = e
	}
	return est, entries
}
