package sqlite_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/audit"
	"github.com/posture/posture/ledger"
	"github.com/posture/posture/sqlite"
)

// BenchmarkLedgerAppend measures what appending a ledger entry adds to a
// write transaction: the same write (a setting and a 1 KiB document) with
// and without an entry, p50/p99 per write (issue target: +1 ms p99).
func BenchmarkLedgerAppend(b *testing.B) {
	ctx := context.Background()
	doc := json.RawMessage(`{"properties":{"description":"` + string(make([]byte, 0)) + string(slices.Repeat([]byte("x"), 1000)) + `"}}`)
	for _, withEntry := range []bool{false, true} {
		name := "without-entry"
		if withEntry {
			name = "with-entry"
		}
		b.Run(name, func(b *testing.B) {
			store, err := sqlite.Open(ctx, b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			_, key, _ := ed25519.GenerateKey(nil)
			store.SetLedgerSigner(ledger.NewSigner(key), 100)
			var lat []time.Duration
			i := 0
			for b.Loop() {
				start := time.Now()
				err := store.Write(ctx, func(tx posture.Tx) error {
					if err := tx.PutSetting("bench", strconv.Itoa(i)); err != nil {
						return err
					}
					if !withEntry {
						return nil
					}
					return tx.AppendEvent(&posture.Event{Kind: posture.EventUpdated, Actor: "bench", ActorType: "User", At: time.Now(),
						Action: "Microsoft.Authorization/policyExemptions/write", Scope: "/subscriptions/s/providers/Microsoft.Authorization/policyExemptions/x" + strconv.Itoa(i%100),
						Before: doc, After: doc})
				})
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				i++
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkLedgerVerify verifies 100,000 entries read from SQLite, as
// `posture audit verify --data` does (issue target: ≥ 100,000 entries/s).
func BenchmarkLedgerVerify(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	pub, key, _ := ed25519.GenerateKey(nil)
	store.SetLedgerSigner(ledger.NewSigner(key), 100)
	const n = 100_000
	doc := json.RawMessage(`{"properties":{"exemptionCategory":"Waiver","description":"bench"}}`)
	for i := 0; i < n; i += 5000 {
		if err := store.Write(ctx, func(tx posture.Tx) error {
			for j := 0; j < 5000; j++ {
				if err := tx.AppendEvent(&posture.Event{Kind: posture.EventCreated, Actor: "bench", ActorType: "User", At: time.Now(),
					Action: "Microsoft.Authorization/policyExemptions/write", Scope: "/subscriptions/s/x/" + strconv.Itoa(i+j), After: doc}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := audit.Verify(ctx, store, audit.Range{}, pub)
		if err != nil || rep.Broken != nil || rep.Entries != n {
			b.Fatalf("verify: %+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
