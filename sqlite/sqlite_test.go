package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/posture/posture"
	"github.com/posture/posture/sqlite"
	"github.com/posture/posture/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t testing.TB) posture.Store {
			return MustOpen(t, t.TempDir())
		},
		Reopen: func(t testing.TB, s posture.Store) posture.Store {
			dir := dirs[s]
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return MustOpen(t, dir)
		},
	})
}

var dirs = map[posture.Store]string{}

// MustOpen opens a store in dir and closes it when the test ends.
func MustOpen(t testing.TB, dir string) posture.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs[s] = dir
	t.Cleanup(func() { s.Close() })
	return s
}

func TestOpenTwiceMigratesOnce(t *testing.T) {
	dir := t.TempDir()
	a := MustOpen(t, dir)
	a.Close()
	b := MustOpen(t, dir)
	if err := b.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(context.Background(), filepath.Join(dir, "posture.db", "not-a-dir"), nil); err == nil {
		t.Error("opening below a file succeeded")
	}
}

// BenchmarkImport100k: go test ./sqlite -run '^$' -bench Import -benchtime 3x
func BenchmarkImport100k(b *testing.B) {
	storetest.BenchmarkImport(b, 100_000, func(tb testing.TB) posture.Store { return MustOpen(tb, b.TempDir()) })
}
