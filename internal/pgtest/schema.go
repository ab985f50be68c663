package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Schema creates an empty schema in the shared test database
// (POSTURE_TEST_POSTGRES_URL; the test is skipped without it) and returns
// a URL whose connections use it. The schema is dropped when the test
// ends. prefix names it, for whoever reads the database meanwhile.
func Schema(t testing.TB, prefix string) string {
	t.Helper()
	base := os.Getenv("POSTURE_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("POSTURE_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := prefix + "_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), base); err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
