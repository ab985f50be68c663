package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/sqlite"
)

// BenchmarkExemptionsPlan runs `posture exemptions plan` (the CLI in
// process, the server over loopback) with a desired file of a tenth as
// many entries as the server holds exemptions: 80% unchanged, 10% with a
// new expiry, 10% new by recommendation. 2,000 exemptions by default;
// POSTURE_BENCH_EXEMPTIONS=100000 is the 10,000-against-100,000 case:
//
//	go test ./cmd/posture -run '^$' -bench ExemptionsPlan -benchtime 3x
//	POSTURE_BENCH_EXEMPTIONS=100000 go test ./cmd/posture -run '^$' -bench ExemptionsPlan -benchtime 3x -timeout 60m
//
// The exemptions are written straight into the store before the server
// starts (through the API, each write re-stamps policy states: 100,000
// took 4–9 minutes); the store is marked stale, so the server re-evaluates
// on start and the states carry them.
func BenchmarkExemptionsPlan(b *testing.B) {
	n := 2000
	if v, _ := strconv.Atoi(os.Getenv("POSTURE_BENCH_EXEMPTIONS")); v > 0 {
		n = v
	}
	data := b.TempDir()
	targets := benchTargets(b, data)
	start := time.Now()
	file := seedBenchExemptions(b, data, n, targets)
	serverStartTimeout = 20 * time.Minute
	s := startServerIn(b, data)
	b.Logf("seeded %d exemptions and restarted in %v", n, time.Since(start).Round(time.Second))
	entries := n / 10
	for b.Loop() {
		t0 := time.Now()
		code, out, errOut := s.cli(b, "exemptions", "plan", file, "--owner-id", "bench", "-o", "json")
		var p codePlanOutput
		if err := json.Unmarshal([]byte(out), &p); err != nil || code != 0 {
			b.Fatalf("plan: exit %d %v\n%.2000s\n%s", code, err, out, errOut)
		}
		if p.Summary["unchanged"] != entries*8/10 || p.Summary["update"] != entries/10 || p.Summary["create"] != entries/10 || p.Summary["delete"] != 0 {
			b.Fatalf("plan: %v", p.Summary)
		}
		b.Logf("plan of %d entries against %d exemptions: %v", entries, n, time.Since(t0).Round(time.Millisecond))
	}
}

// benchTarget is a resource with an assessment of the benchmark.
type benchTarget struct{ resource, sub, ref, key string }

// benchTargets starts the demo once to learn its resources' assessments.
func benchTargets(b *testing.B, data string) []benchTarget {
	s := startServerIn(b, data, "--demo")
	rows := s.rbacGraphRows(b, s.token, `securityresources | where type == 'microsoft.security/assessments'
		| project rid = tostring(properties.resourceDetails.Id), ref = tostring(properties.additionalData.policyDefinitionReferenceId), sub = subscriptionId, key = name
		| where rid contains '/resourcegroups/' and ref != '' | order by rid asc, ref asc`)
	s.stop()
	code := <-s.exit
	s.exit <- code // for the cleanup
	var out []benchTarget
	for _, r := range rows {
		out = append(out, benchTarget{r["rid"].(string), r["sub"].(string), r["ref"].(string), r["key"].(string)})
	}
	if len(out) < 100 {
		b.Fatalf("%d assessments", len(out))
	}
	return out
}

// seedBenchExemptions writes n exemptions into the stopped server's store,
// the first tenth owned by "bench", and the desired file.
func seedBenchExemptions(b *testing.B, data string, n int, targets []benchTarget) string {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, data, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	owned := n / 10
	var batch []*posture.Resource
	flush := func(last bool) {
		if err := store.Write(ctx, func(tx posture.Tx) error {
			if err := tx.PutResources(batch); err != nil {
				return err
			}
			if last {
				return tx.PutSetting(posture.SettingComplianceStale, "1")
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	assignment := func(t benchTarget) string { return builtinAssignment("/subscriptions/" + t.sub) }
	var file strings.Builder
	file.WriteString("exemptions:\n")
	for i := range n {
		t := targets[i%len(targets)]
		name := fmt.Sprintf("x%06d", i)
		meta := `{"createdFrom":"seed"}`
		if i < owned*9/10 { // the last tenth's entries are new, under other names
			meta = `{"managedBy":"posture-code","ownerId":"bench","assignmentDefinitionId":"` + benchmarkSet + `"}`
		}
		body := `{"properties":{"policyAssignmentId":"` + assignment(t) + `","policyDefinitionReferenceIds":["` + t.ref + `"],"exemptionCategory":"Mitigated","metadata":` + meta + `}}`
		x, err := exemption.Parse([]byte(body), exemption.StoredVersion)
		if err != nil {
			b.Fatal(err)
		}
		id := exemptionID(t.resource, name)
		doc := exemption.Document(id, name, x, exemption.SystemData{CreatedBy: "bench", CreatedAt: now, LastModifiedBy: "bench", LastModifiedAt: now}, exemption.StoredVersion)
		batch = append(batch, &posture.Resource{ID: id, Key: strings.ToLower(id), Type: exemption.Type, Name: name,
			SubscriptionID: strings.ToLower(t.sub), ResourceGroup: strings.ToLower(strings.Split(t.resource, "/")[4]),
			ParentKey: strings.ToLower(t.resource), Body: doc, ETag: fmt.Sprintf(`"%016x"`, i), CreatedAt: now, ChangedAt: now})
		if len(batch) == 5000 {
			flush(false)
		}
		if i >= owned {
			continue
		}
		if i >= owned*9/10 {
			name = fmt.Sprintf("n%06d", i)
		}
		fmt.Fprintf(&file, "  - name: %s\n    category: Mitigated\n    scope: %s\n", name, t.resource)
		if i >= owned*8/10 && i < owned*9/10 {
			fmt.Fprintf(&file, "    expiresOn: %s\n", now.AddDate(0, 6, 0).Format(time.DateOnly))
		}
		if i >= owned*9/10 {
			fmt.Fprintf(&file, "    recommendation: %s\n", t.key)
		} else {
			fmt.Fprintf(&file, "    assignment: %s\n    policyDefinitionReferenceIds: [%s]\n", assignment(t), t.ref)
		}
	}
	flush(true)
	path := filepath.Join(b.TempDir(), "bench.yaml")
	if err := os.WriteFile(path, []byte(file.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}
