package postgres_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/internal/pgtest"
	"github.com/posture/posture/postgres"
	"github.com/posture/posture/storetest"
)

// testURL returns the database of the PostgreSQL tests, skipping them when
// POSTURE_TEST_POSTGRES_URL is not set (CI sets it).
func testURL(t testing.TB) string {
	u := os.Getenv("POSTURE_TEST_POSTGRES_URL")
	if u == "" {
		t.Skip("POSTURE_TEST_POSTGRES_URL is not set")
	}
	return u
}

// newSchema creates an empty schema for one test and returns a URL whose
// connections use it; the schema is dropped when the test ends.
func newSchema(t testing.TB) string {
	testURL(t) // skips without a database
	return pgtest.Schema(t, "t")
}

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
