package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armpolicy"

	"github.com/posture/posture"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/sqlite"
)

// seedExemptions writes n exemptions of the benchmark into a stopped
// server's store, spread over its top-level resources (several per
// resource when there are fewer), and marks it stale: the next start
// evaluates and stamps them as writes through the API would have.
func seedExemptions(t testing.TB, data string, n int) {
	t.Helper()
	store, err := sqlite.Open(context.Background(), data, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	seedExemptionsIn(t, store, n)
}

// TestSizeSeedExemptions is a tool of bench/size.sh, skipped unless
// POSTURE_SEED_EXEMPTIONS is set: it seeds that many exemptions into the
// store of POSTURE_SEED_DATA (SQLite) or POSTURE_SEED_DATABASE_URL. Through
// the API each exemption write re-stamps its states and takes the write
// lock in turn (about 50 ms each on a 100,000-resource SQLite store, so
// 100,000 of them take over an hour); sizing needs them there, not the
// writes' speed, which the load runs measure.
func TestSizeSeedExemptions(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("POSTURE_SEED_EXEMPTIONS"))
	if n <= 0 {
		t.Skip("POSTURE_SEED_EXEMPTIONS is not set")
	}
	f := StoreFlags{Data: os.Getenv("POSTURE_SEED_DATA"), DatabaseURL: os.Getenv("POSTURE_SEED_DATABASE_URL")}
	store, err := f.open(context.Background(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	start := time.Now()
	seedExemptionsIn(t, store, n)
	t.Logf("seeded %d exemptions in %v", n, time.Since(start).Round(time.Millisecond))
}

// seedExemptionsIn is seedExemptions into an open store.
func seedExemptionsIn(t testing.TB, store posture.Store, n int) {
	t.Helper()
	ctx := context.Background()
	var targets []*posture.Resource
	err := store.Read(ctx, func(tx posture.Tx) error {
		f := posture.ResourceFilter{Under: "/subscriptions", TrackedOnly: true, KeysOnly: true, Limit: 5000}
		for {
			rs, err := tx.ListResources(f)
			if err != nil || len(rs) == 0 {
				return err
			}
			targets = append(targets, rs...)
			f.After = rs[len(rs)-1].Key
		}
	})
	if err != nil || len(targets) == 0 {
		t.Fatalf("%d resources: %v", len(targets), err)
	}
	now := time.Now().UTC()
	var batch []*posture.Resource
	flush := func(last bool) {
		err := store.Write(ctx, func(tx posture.Tx) error {
			if err := tx.PutResources(batch); err != nil {
				return err
			}
			if last {
				return tx.PutSetting(posture.SettingComplianceStale, "1")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		batch = batch[:0]
	}
	for i := range n {
		r := targets[i%len(targets)]
		sub := "/subscriptions/" + r.SubscriptionID
		body := `{"properties":{"policyAssignmentId":"` + builtinAssignment(sub) + `","exemptionCategory":"Mitigated"}}`
		x, err := exemption.Parse([]byte(body), exemption.StoredVersion)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("pager-%06d", i)
		id := exemptionID(r.ID, name)
		batch = append(batch, &posture.Resource{ID: id, Key: strings.ToLower(id), Type: exemption.Type, Name: name,
			SubscriptionID: r.SubscriptionID, ResourceGroup: r.ResourceGroup, ParentKey: r.Key,
			Body: exemption.Document(id, name, x, exemption.SystemData{CreatedBy: "seed", CreatedAt: now, LastModifiedBy: "seed", LastModifiedAt: now}, exemption.StoredVersion),
			ETag: fmt.Sprintf(`"%016x"`, i), CreatedAt: now, ChangedAt: now})
		if len(batch) == 5000 {
			flush(false)
		}
	}
	flush(true)
}

// TestAzureSDKExemptionPager: the unchanged armpolicy pagers list several
// pages of exemptions (each nextLink's skipToken is the last key of its
// page) at a management group, a subscription and a resource group, and
// return every exemption under the scope exactly once.
// POSTURE_PAGER_EXEMPTIONS sets how many are seeded (default 4,000); the
// test logs how long each full listing took:
//
//	POSTURE_PAGER_EXEMPTIONS=100000 go test ./cmd/posture -run TestAzureSDKExemptionPager -v -timeout 30m
func TestAzureSDKExemptionPager(t *testing.T) {
	n := 4000
	if v, _ := strconv.Atoi(os.Getenv("POSTURE_PAGER_EXEMPTIONS")); v > 0 {
		n = v
		serverStartTimeout = 20 * time.Minute
	}
	data := t.TempDir()
	first := startServerIn(t, data, "--demo")
	first.stop()
	code := <-first.exit
	first.exit <- code // for the cleanup
	seedExemptions(t, data, n)
	s := startServerIn(t, data)

	ctx := context.Background()
	const sub = "ce4b1091-e228-4a73-bfe9-32528bfbdb4d" // the demo's "Contoso Production"
	ex, err := armpolicy.NewExemptionsClient(sub, tokenCredential(s.token), sdkOptions(s.url))
	if err != nil {
		t.Fatal(err)
	}
	// drain pages through a pager, failing on an exemption seen twice.
	drain := func(what string, more func() bool, next func() ([]*armpolicy.Exemption, error)) map[string]bool {
		t.Helper()
		start := time.Now()
		seen, pages := map[string]bool{}, 0
		for more() {
			page, err := next()
			if err != nil {
				t.Fatalf("%s, page %d: %v", what, pages+1, err)
			}
			pages++
			for _, e := range page {
				k := strings.ToLower(*e.ID)
				if seen[k] {
					t.Fatalf("%s: %s listed twice", what, *e.ID)
				}
				seen[k] = true
			}
		}
		t.Logf("%s: %d exemptions in %d pages, %v", what, len(seen), pages, time.Since(start).Round(time.Millisecond))
		return seen
	}
	// What the store holds under each scope, counted by the seed's names.
	rows := s.rbacGraphRows(t, s.token, `policyresources | where type == 'microsoft.authorization/policyexemptions'
		| summarize n = count() by subscriptionId, resourceGroup`)
	inSub, inRG, total := 0, 0, 0
	rg := ""
	for _, r := range rows {
		c := int(r["n"].(float64))
		total += c
		if r["subscriptionId"] == sub {
			inSub += c
			if rg == "" && c > 1 {
				rg, inRG = r["resourceGroup"].(string), c
			}
		}
	}
	if total != n || inSub == 0 || rg == "" {
		t.Fatalf("Resource Graph counts %d exemptions (%d in the subscription), seeded %d", total, inSub, n)
	}

	mg := ex.NewListForManagementGroupPager("contoso", nil)
	if got := drain("management group", mg.More, func() ([]*armpolicy.Exemption, error) { p, err := mg.NextPage(ctx); return p.Value, err }); len(got) != n {
		t.Errorf("the management group above every subscription lists %d exemptions, want %d", len(got), n)
	}
	sp := ex.NewListPager(nil)
	if got := drain("subscription", sp.More, func() ([]*armpolicy.Exemption, error) { p, err := sp.NextPage(ctx); return p.Value, err }); len(got) != inSub {
		t.Errorf("the subscription lists %d exemptions, want %d", len(got), inSub)
	}
	rp := ex.NewListForResourceGroupPager(rg, nil)
	if got := drain("resource group", rp.More, func() ([]*armpolicy.Exemption, error) { p, err := rp.NextPage(ctx); return p.Value, err }); len(got) != inRG {
		t.Errorf("resource group %s lists %d exemptions, want %d", rg, len(got), inRG)
	}
	// $top makes smaller pages; their links carry it on.
	code2, _, body := s.raw(t, http.MethodGet, "/subscriptions/"+sub+"/providers/Microsoft.Authorization/policyExemptions?api-version=2022-07-01-preview&$top=7", "",
		"Authorization", "Bearer "+s.token)
	var page struct {
		Value    []json.RawMessage `json:"value"`
		NextLink string            `json:"nextLink"`
	}
	if err := json.Unmarshal(body, &page); err != nil || code2 != http.StatusOK || len(page.Value) != 7 || !strings.Contains(page.NextLink, "skipToken") {
		t.Errorf("$top=7: %d, %d exemptions, nextLink %q, %v", code2, len(page.Value), page.NextLink, err)
	}
}

// TestLargeScopeAssignmentQueued: an assignment at a management group over
// more resources than an evaluation job covers answers 201 once its plan
// is queued; the server's queue evaluates the scope a range at a time, and
// when no job of it is left its states are those of the subscriptions'
// assignments of the same initiative.
func TestLargeScopeAssignmentQueued(t *testing.T) {
	estate := t.TempDir()
	out, errOut := &safeBuffer{}, &safeBuffer{}
	if code := Main(context.Background(), []string{"demo", "generate", "--resources", "2500", "--out", estate}, &IO{Out: out, Err: errOut}); code != 0 {
		t.Fatalf("demo generate: %d %s", code, errOut)
	}
	s := startServer(t)
	if code, stdout, stderr := s.cli(t, "import", estate); code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, stdout, stderr)
	}
	const mg = "/providers/Microsoft.Management/managementGroups/contoso"
	id := mg + "/providers/Microsoft.Authorization/policyAssignments/benchmark"
	start := time.Now()
	code, _, body := s.raw(t, http.MethodPut, id+"?api-version=2023-04-01",
		`{"properties":{"policyDefinitionId":"/providers/Microsoft.Authorization/policySetDefinitions/1f3afdf9-d0c9-4c3d-847f-89da613e70a8"}}`,
		"Authorization", "Bearer "+s.token, "Content-Type", "application/json")
	if code != http.StatusCreated {
		t.Fatalf("PUT assignment: %d %s", code, body)
	}
	t.Logf("201 after %v", time.Since(start).Round(time.Millisecond))
	key := strings.ToLower(id)
	jobs := func(state string) int {
		t.Helper()
		q := "/providers/Posture.Queue/jobs?api-version=2026-11-01&$filter=" + strings.ReplaceAll("ref eq '"+key+"'", " ", "%20")
		if state != "" {
			q += "%20and%20state%20eq%20'" + state + "'"
		}
		var list struct {
			Value []struct {
				Properties struct{ Kind, State, LastError string }
			}
		}
		if err := json.Unmarshal(s.get(t, q), &list); err != nil {
			t.Fatal(err)
		}
		for _, j := range list.Value {
			if j.Properties.LastError != "" {
				t.Errorf("job %s %s: %s", j.Properties.Kind, j.Properties.State, j.Properties.LastError)
			}
		}
		return len(list.Value)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for jobs("Pending")+jobs("Running") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the evaluation jobs did not end: %d pending", jobs("Pending"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := jobs(""); n < 3 {
		t.Fatalf("%d jobs for the assignment: want a plan and at least two ranges", n)
	}
	counts := map[string]float64{}
	for _, r := range s.rbacGraphRows(t, s.token, `policyresources | where type == 'microsoft.policyinsights/policystates'
		| summarize n = count() by a = tostring(properties.policyAssignmentName)`) {
		counts[r["a"].(string)] = r["n"].(float64)
	}
	if counts["benchmark"] == 0 || counts["benchmark"] != counts["securitycenterbuiltin"] {
		t.Errorf("states by assignment: %v; the management group's assignment should have as many as the subscriptions'", counts)
	}
}
