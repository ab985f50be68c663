package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/posture/posture/internal/pgtest"
)

// TestCluster starts a private cluster, commits a row, crashes the
// cluster (SIGKILL to every process), restarts it and finds the row: what
// the crash tests rely on.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	c := pgtest.Start(t)
	ctx := context.Background()
	exec := func(sql string) (int, error) {
		conn, err := pgx.Connect(ctx, c.URL)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			return 0, err
		}
		var n int
		err = conn.QueryRow(ctx, "SELECT count(*) FROM crash").Scan(&n)
		return n, err
	}
	if n, err := exec("CREATE TABLE crash (v int); INSERT INTO crash VALUES (1)"); err != nil || n != 1 {
		t.Fatalf("insert: %d %v", n, err)
	}
	if err := c.KillAll(); err != nil {
		t.Fatal(err)
	}
	if _, err := exec("SELECT 1"); err == nil {
		t.Fatal("the killed cluster still answers")
	}
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	if n, err := exec("INSERT INTO crash VALUES (2)"); err != nil || n != 2 {
		t.Fatalf("after a crash: %d rows, %v", n, err)
	}
	if err := c.Stop("immediate"); err != nil {
		t.Fatal(err)
	}
	if err := c.StartServer(); err != nil {
		t.Fatal(err)
	}
	if n, err := exec("SELECT 1"); err != nil || n != 2 {
		t.Fatalf("after an immediate stop: %d rows, %v", n, err)
	}
}
