package defender_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/armid"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/defender"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/exemption"
	"github.com/posture/posture/graph"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/sqlite"
)

// The exemptions issue's targets, with the server's whole write path (the
// benchmark's policy states, Defender's assessments and scores, the
// Resource Graph tables) over SQLite:
//
//	go test ./defender -run '^$' -bench Exemption -benchtime 200x
//
//   - PUT of a one-resource exemption, everything updated: p99 <= 50 ms;
//   - a subscription-scope exemption over 10,000 resources: <= 2 s;
//   - GET with 100,000 exemptions stored: p99 <= 2 ms, and the cost of
//     exemptions when a resource is evaluated does not grow with their
//     number (a resource PUT with 0 and with 100,000 exemptions).

const benchAccounts = 10_000

type exemptionBench struct {
	store  posture.Store
	policy *compliance.Service
	estate *estate.Service
	sec    *defender.Service
	ids    []string // the storage accounts
}

var exBench struct {
	once sync.Once
	env  *exemptionBench
	err  error
}

func exemptionEstate(b *testing.B) *exemptionBench {
	exBench.once.Do(func() { exBench.env, exBench.err = buildExemptionEstate(b.TempDir()) })
	if exBench.err != nil {
		b.Fatal(exBench.err)
	}
	return exBench.env
}

func buildExemptionEstate(dir string) (*exemptionBench, error) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, dir, nil)
	if err != nil {
		return nil, err
	}
	offline := &estate.Service{Store: store}
	if _, err := offline.EnsureTenant(ctx, "tenant-1"); err != nil {
		return nil, err
	}
	docs := []string{
		fmt.Sprintf(`{"id":%q,"displayName":"Bench"}`, sub),
		fmt.Sprintf(`{"id":%q,"type":"Microsoft.Resources/resourceGroups","location":"westeurope"}`, rg),
	}
	e := &exemptionBench{store: store}
	for i := range benchAccounts {
		id := fmt.Sprintf("%s/providers/Microsoft.Storage/storageAccounts/st%05d", rg, i)
		e.ids = append(e.ids, id)
		docs = append(docs, fmt.Sprintf(`{"id":%q,"type":"Microsoft.Storage/storageAccounts","location":"westeurope","kind":"StorageV2",
			"properties":{"allowBlobPublicAccess":%v,"supportsHttpsTrafficOnly":true,"minimumTlsVersion":"TLS1_2"}}`, id, i%2 == 0))
	}
	var batch []*posture.Resource
	for _, d := range docs {
		r, err := armdoc.Normalize([]byte(d))
		if err != nil {
			return nil, err
		}
		batch = append(batch, r)
	}
	if _, err := offline.ImportResources(ctx, batch); err != nil {
		return nil, err
	}
	return e, e.start(ctx)
}

// start (re)starts the services over the store, as serve wires them.
func (e *exemptionBench) start(ctx context.Context) error {
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		return err
	}
	cat, err := defender.NewCatalog(reg)
	if err != nil {
		return err
	}
	var mu posture.LocalWriteLock
	tables := &graph.Service{Store: e.store, Registry: reg, TenantID: "tenant-1"}
	e.sec = &defender.Service{Store: e.store, Catalog: cat}
	feeds := posture.Feeds{e.sec, tables}
	e.policy = &compliance.Service{Store: e.store, Registry: reg, WriteMu: &mu, DefaultAssignment: true, Feed: feeds, Rules: exemption.DefaultRules()}
	e.estate = &estate.Service{Store: e.store, Observer: e.policy, WriteMu: &mu, Feed: feeds}
	e.sec.Resources, e.sec.Initiative = e.estate, e.policy.InitiativeOf
	tables.Definitions, tables.Derived = e.policy.DefinitionOf, e.sec.EachDerived
	if err := e.policy.Start(ctx); err != nil {
		return err
	}
	if err := e.sec.Start(ctx); err != nil {
		return err
	}
	return tables.Start(ctx)
}

func exemptionWrite(id, refs string) posture.ExemptionWrite {
	body := `{"properties":{"policyAssignmentId":"` + mcsbID + `","exemptionCategory":"Mitigated"` + refs + `}}`
	return posture.ExemptionWrite{ID: id, Body: []byte(body), APIVersion: "2022-07-01-preview"}
}

// One iteration: PUT an exemption of one resource from one recommendation
// (timed), then DELETE it (timed apart).
func BenchmarkExemptionPutOneResource(b *testing.B) {
	e := exemptionEstate(b)
	ctx := context.Background()
	var put, del latencies
	i := 0
	for b.Loop() {
		res := e.ids[i%len(e.ids)]
		i++
		id := res + exemptionsPath + "bench"
		start := time.Now()
		r, err := e.policy.PutExemption(ctx, exemptionWrite(id, `,"policyDefinitionReferenceIds":["StorageDisallowPublicAccess"]`))
		if err != nil || r.Covered != 1 {
			b.Fatalf("put: %v %+v", err, r)
		}
		put = append(put, time.Since(start))
		start = time.Now()
		if _, err := e.policy.DeleteExemption(ctx, id, ""); err != nil {
			b.Fatal(err)
		}
		del = append(del, time.Since(start))
	}
	put.report(b)
	del.reportAs(b, "delete-")
}

// One iteration: PUT a subscription-scope exemption covering every storage
// account for one recommendation (timed), then DELETE it (timed apart).
func BenchmarkExemptionPutSubscription(b *testing.B) {
	e := exemptionEstate(b)
	ctx := context.Background()
	var put, del latencies
	for b.Loop() {
		id := sub + exemptionsPath + "bench-sub"
		start := time.Now()
		r, err := e.policy.PutExemption(ctx, exemptionWrite(id, `,"policyDefinitionReferenceIds":["StorageDisallowPublicAccess"]`))
		if err != nil || r.Covered != benchAccounts {
			b.Fatalf("put: %v covered %d", err, r.Covered)
		}
		put = append(put, time.Since(start))
		start = time.Now()
		if _, err := e.policy.DeleteExemption(ctx, id, ""); err != nil {
			b.Fatal(err)
		}
		del = append(del, time.Since(start))
	}
	put.report(b)
	del.reportAs(b, "delete-")
	b.ReportMetric(benchAccounts, "covered")
}

// The store and index with 100,000 exemptions (ten per storage account,
// written straight to the store and loaded by a restart): GETs of random
// ones, and a resource PUT (evaluation with exemption lookup) beside the
// same PUT with no exemptions.
func BenchmarkExemptionScale(b *testing.B) {
	e := exemptionEstate(b)
	ctx := context.Background()
	resourcePut := func(b *testing.B) {
		var lat latencies
		i := 0
		for b.Loop() {
			id := e.ids[i%len(e.ids)]
			i++
			r, err := armdoc.Normalize([]byte(fmt.Sprintf(`{"id":%q,"type":"Microsoft.Storage/storageAccounts","location":"westeurope","kind":"StorageV2",
				"properties":{"allowBlobPublicAccess":%v,"supportsHttpsTrafficOnly":true,"minimumTlsVersion":"TLS1_2"}}`, id, i%3 == 0)))
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := e.estate.PutResource(ctx, r, posture.PutImport, ""); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		lat.report(b)
	}
	b.Run("resource-put/exemptions=0", resourcePut)

	var ids []string
	if err := e.store.Write(ctx, func(tx posture.Tx) error {
		var rs []*posture.Resource
		for i, res := range e.ids {
			for j := range 10 {
				id, err := armid.Parse(fmt.Sprintf("%s%sbulk-%d", res, exemptionsPath, j))
				if err != nil {
					return err
				}
				x := &exemption.Exemption{PolicyAssignmentID: mcsbID, Category: exemption.Mitigated, AssignmentScopeValidation: "Default",
					PolicyDefinitionReferenceIDs: []string{"secureTransferToStorageAccountMonitoring"},
					ExpiresOn:                    time.Date(2030, 1, 1, 0, 0, i%60, 0, time.UTC)}
				body := exemption.Document(id.String(), id.Name(), x, exemption.SystemData{}, exemption.StoredVersion)
				rs = append(rs, &posture.Resource{ID: id.String(), Key: id.Key(), Type: exemption.Type, Name: id.Name(),
					SubscriptionID: subID, ResourceGroup: "rg1", ParentKey: id.Scope().Key(), Body: body, ETag: `"x"`})
				ids = append(ids, id.String())
			}
		}
		return tx.PutResources(rs)
	}); err != nil {
		b.Fatal(err)
	}
	if err := e.start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("get/exemptions=100000", func(b *testing.B) {
		var lat latencies
		for b.Loop() {
			id := ids[rand.IntN(len(ids))]
			start := time.Now()
			if _, err := e.policy.GetExemption(ctx, id); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		lat.report(b)
	})
	b.Run("resource-put/exemptions=100000", resourcePut)
}

func (l latencies) reportAs(b *testing.B, prefix string) {
	if len(l) == 0 {
		return
	}
	sorted := slices.Clone(l)
	slices.Sort(sorted)
	b.ReportMetric(float64(sorted[len(sorted)/2].Microseconds())/1000, prefix+"p50-ms")
	b.ReportMetric(float64(sorted[len(sorted)*99/100].Microseconds())/1000, prefix+"p99-ms")
}
