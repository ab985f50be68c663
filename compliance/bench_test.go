package compliance_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/armdoc"
	"github.com/posture/posture/compliance"
	"github.com/posture/posture/demo"
	"github.com/posture/posture/estate"
	"github.com/posture/posture/policy"
	"github.com/posture/posture/sqlite"
)

// BenchmarkFullEvaluation100k measures evaluating the benchmark (MCSB v1,
// assigned to every subscription) over a generated estate of 100,000
// resources, states written to SQLite:
//
//	go test ./compliance -run '^$' -bench FullEvaluation -benchtime 1x
func BenchmarkFullEvaluation100k(b *testing.B) { benchmarkFull(b, 100_000) }

func benchmarkFull(b *testing.B, n int) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	offline := &estate.Service{Store: store}
	if _, err := offline.EnsureTenant(ctx, demo.TenantID); err != nil {
		b.Fatal(err)
	}
	var batch []*posture.Resource
	docs := 0
	flush := func() {
		if _, err := offline.ImportResources(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	err = (&demo.Generator{Seed: 7, Resources: n}).Each(func(raw []byte) error {
		r, err := armdoc.Normalize(raw)
		if err != nil {
			return err
		}
		docs++
		batch = append(batch, r)
		if len(batch) == 5000 {
			flush()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	flush()
	reg, err := policy.NewBuiltinRegistry()
	if err != nil {
		b.Fatal(err)
	}
	var states int
	var elapsed time.Duration
	for b.Loop() {
		b.StopTimer()
		// Start from a store whose states are all stale.
		if err := store.Write(ctx, func(tx posture.Tx) error {
			if err := tx.DeletePolicyStatesUnder("/subscriptions"); err != nil {
				return err
			}
			return tx.PutSetting(posture.SettingComplianceStale, "1")
		}); err != nil {
			b.Fatal(err)
		}
		svc := &compliance.Service{Store: store, Registry: reg, WriteMu: &posture.LocalWriteLock{}, DefaultAssignment: true}
		b.StartTimer()
		start := time.Now()
		if err := svc.Start(ctx); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		_ = store.Read(ctx, func(tx posture.Tx) error {
			rows, err := tx.PolicyStates(posture.PolicyStateFilter{})
			states = 0
			for _, r := range rows {
				states += len(r.States)
			}
			return err
		})
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "resources/s")
	b.ReportMetric(float64(states), "states")
	b.ReportMetric(float64(docs), "documents")
}

// BenchmarkIncrementalPut measures one resource PUT with its evaluation and
// states written (the demo estate loaded), reporting p50 and p99:
//
//	go test ./compliance -run '^$' -bench IncrementalPut -benchtime 2000x
func BenchmarkIncrementalPut(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	reg, _ := policy.NewBuiltinRegistry()
	var mu posture.LocalWriteLock
	svc := &compliance.Service{Store: store, Registry: reg, WriteMu: &mu, DefaultAssignment: true}
	es := &estate.Service{Store: store, Observer: svc, WriteMu: &mu}
	if _, err := es.EnsureTenant(ctx, demo.TenantID); err != nil {
		b.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	var all []*posture.Resource
	err = demo.Demo().Each(func(raw []byte) error {
		r, err := armdoc.Normalize(raw)
		all = append(all, r)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := es.ImportResources(ctx, all); err != nil {
		b.Fatal(err)
	}
	var tracked []*posture.Resource
	for _, r := range all {
		if r.Tracked {
			tracked = append(tracked, r)
		}
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		r := *tracked[i%len(tracked)]
		i++
		start := time.Now()
		if _, err := es.PutResource(ctx, &r, posture.PutStrict, ""); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
