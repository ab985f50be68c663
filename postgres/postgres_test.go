package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/internal/pgtest"
	"github.com/posture/posture/postgres"
	"github.com/posture/posture/storetest"
)

// newSchema creates an empty schema for one test (skipped without
// POSTURE_TEST_POSTGRES_URL) and returns a URL whose connections use it.
func newSchema(t testing.TB) string { return pgtest.Schema(t, "t") }

var (
	mu   sync.Mutex
	urls = map[posture.Store]string{}
)

func mustOpen(t testing.TB, u string) posture.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), u, nil)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	urls[s] = u
	mu.Unlock()
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t testing.TB) posture.Store { return mustOpen(t, newSchema(t)) },
		Reopen: func(t testing.TB, s posture.Store) posture.Store {
			mu.Lock()
			u := urls[s]
			mu.Unlock()
			s.Close()
			return mustOpen(t, u)
		},
	})
}

// TestConcurrentMigrations starts several stores on one empty schema at
// once, as replicas do: all must come up, none may fail on a half-made
// schema.
func TestConcurrentMigrations(t *testing.T) {
	u := newSchema(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(context.Background(), u, nil)
			if err != nil {
				errs <- err
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent start: %v", err)
	}
}

func TestBadURLHidesPassword(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://u:s3cret@host:notaport/db", nil)
	if err == nil {
		t.Fatal("bad URL accepted")
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %v", err)
	}
}

// BenchmarkImport100k: POSTURE_TEST_POSTGRES_URL=… go test ./postgres -run '^$' -bench Import -benchtime 3x
func BenchmarkImport100k(b *testing.B) {
	storetest.BenchmarkImport(b, 100_000, func(tb testing.TB) posture.Store { return mustOpen(tb, newSchema(tb)) })
}
