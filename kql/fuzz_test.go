package kql

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse fails only on an internal error (a recovered panic) or when the
// printed form of a parsed query does not parse back to the same tree. It
// is seeded with the whole script corpus and the real queries.
//
//	go test ./kql -run '^$' -fuzz FuzzParse -fuzztime 10m
func FuzzParse(f *testing.F) {
	for _, q := range corpusQueries(f) {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, superset := range []bool{false, true} {
			q, err := Parse(text, ParseOptions{Superset: superset})
			if err != nil {
				if ErrorCode(err) == CodeInternal {
					t.Fatalf("internal error: %v", err)
				}
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error of type %T", err)
				}
				continue
			}
			printed := q.String()
			q2, err := Parse(printed, ParseOptions{Superset: superset})
			if err != nil {
				t.Fatalf("printed query does not parse: %v\n%q\nprinted:\n%q", err, text, printed)
			}
			if d := cmp.Diff(q, q2, astOptions); d != "" {
				t.Fatalf("round trip changed the tree:\n%s\ninput %q\nprinted %q", d, text, printed)
			}
		}
	})
}

var fuzzDB = func() *Database {
	db := NewDatabase()
	_ = db.Upsert("Resources",
		[]byte(`{"id":"/subscriptions/s1/resourceGroups/rg/providers/a.b/c/r1","name":"r1","type":"a.b/c","subscriptionId":"s1","properties":{"x":1,"s":"Hello World","arr":[1,"a",{"k":null}],"bag":{"a":1,"b":[2,3]}},"tags":{"env":"prod"}}`),
		[]byte(`{"id":"/subscriptions/s2/resourceGroups/rg/providers/a.b/c/r2","name":"r2","type":"a.b/c","subscriptionId":"s2","properties":{"x":2.5,"s":"","arr":[],"bag":{}},"zones":["1","2"]}`),
	)
	_ = db.Upsert("SecurityResources", []byte(`{"id":"/x/assessments/a","name":"a","type":"microsoft.security/assessments","properties":{"status":{"code":"Unhealthy","cause":"Exempt"}}}`))
	db.CreateTable("ResourceContainers")
	db.CreateTable("PolicyResources")
	return db
}()

// FuzzEval runs whatever parses against a tiny estate, with a short
// timeout and small budgets; it fails only on internal errors (panics).
//
//	go test ./kql -run '^$' -fuzz FuzzEval -fuzztime 10m
func FuzzEval(f *testing.F) {
	for _, q := range corpusQueries(f) {
		f.Add(q)
	}
	snap := fuzzDB.Snapshot()
	relaxed := RelaxedLimits()
	f.Fuzz(func(t *testing.T, text string) {
		q, err := Parse(text, ParseOptions{Superset: true})
		if err != nil {
			return
		}
		for _, limits := range []*Limits{nil, &relaxed} {
			res, err := q.Run(context.Background(), snap, RunOptions{
				Timeout: 200 * time.Millisecond, MaxRows: 100_000, MaxBytes: 64 << 20, Limits: limits,
				Now: func() time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) },
			})
			if err != nil {
				if ErrorCode(err) == CodeInternal {
					t.Fatalf("internal error for %q: %v", text, err)
				}
				continue
			}
			var sink discard
			if err := res.WriteTable(&sink, 0, 100); err != nil && ErrorCode(err) != CodePayloadTooLarge {
				t.Fatalf("write: %v", err)
			}
			if err := res.WriteObjectArray(&sink, 0, 100); err != nil && ErrorCode(err) != CodePayloadTooLarge {
				t.Fatalf("write: %v", err)
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
