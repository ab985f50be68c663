// Package sqlite opens posture's embedded store: a SQLite file in the data
// directory, through the pure-Go ncruces driver. It uses WAL, one writer
// connection (SQLite has one writer at a time; a pool of one avoids
// SQLITE_BUSY between our own writers), a pool of read-only readers, a busy
// timeout, and synchronous=FULL so that a write acknowledged to a client
// survives a crash or power loss.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"

	_ "github.com/ncruces/go-sqlite3/driver" // registers "sqlite3"

	"github.com/posture/posture"
	"github.com/posture/posture/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the name of the database file in the data directory.
const FileName = "posture.db"

// Open opens (creating if needed) the store in dataDir and migrates it.
func Open(ctx context.Context, dataDir string, now posture.Clock) (*sqlstore.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: data directory: %w", err)
	}
	return OpenFile(ctx, filepath.Join(dataDir, FileName), now)
}

// OpenFile opens the store in the database file path.
func OpenFile(ctx context.Context, path string, now posture.Clock) (*sqlstore.Store, error) {
	ms, err := sqlstore.LoadMigrations(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	// 16 KiB pages hold several ~2 KB ARM documents each and halve the WAL
	// writes of an import against the 4 KiB default (measured: 15k -> 24k
	// documents/s); page_size only takes effect when the file is created.
	dsn := func(extra string) string {
		u := url.URL{Scheme: "file", Opaque: url.PathEscape(path)}
		return u.String() + "?_pragma=busy_timeout(10000)&_pragma=page_size(16384)&_pragma=journal_mode(WAL)" +
			"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)" + extra
	}
	wdb, err := sql.Open("sqlite3", dsn("&_pragma=cache_size(-65536)&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	// Create the file and switch to WAL before readers open it.
	if err := wdb.PingContext(ctx); err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	rdb, err := sql.Open("sqlite3", dsn("&_pragma=cache_size(-16384)&_pragma=query_only(1)&_txlock=deferred"))
	if err != nil {
		wdb.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	rdb.SetMaxOpenConns(n)
	rdb.SetMaxIdleConns(n)
	d := sqlstore.Dialect{
		Name:       "sqlite",
		ReadOnlyTx: true,
		Migrations: ms,
	}
	s, err := sqlstore.New(ctx, wdb, rdb, d, now)
	if err != nil {
		wdb.Close()
		rdb.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return s, nil
}
