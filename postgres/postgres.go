// Package postgres opens posture's server store on PostgreSQL through a
// pgx/v5 pool. Several posture replicas may share one database: migrations
// run under an advisory lock, so replicas starting at once apply them one at
// a time; writers of the same key serialise on advisory locks; every write
// logs the keys it changed (sqlstore's change log) and notifies the others;
// Cluster gives the replicas a write lock, a leader and those
// notifications.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/posture/posture"
	"github.com/posture/posture/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockID is an arbitrary constant naming posture's migration lock.
const migrationLockID = 7_243_012_031

// Open connects to the database at url (postgres://…) and migrates it.
func Open(ctx context.Context, url string, now posture.Clock) (*sqlstore.Store, error) {
	s, _, err := OpenCluster(ctx, url, now)
	return s, err
}

// OpenCluster is Open, also returning the coordination of the replicas on
// the database (it shares the store's pool and closes with it).
func OpenCluster(ctx context.Context, url string, now posture.Clock) (*sqlstore.Store, *Cluster, error) {
	ms, err := sqlstore.LoadMigrations(migrations, "migrations")
	if err != nil {
		return nil, nil, err
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included: say less.
		return nil, nil, errors.New("postgres: the database URL does not parse (expected postgres://user:password@host:port/db)")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	// The schema the URL's search_path selects names this deployment's
	// locks and channel (scope).
	var schema *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	sc := scopeOf(deref(schema))
	db := stdlib.OpenDBFromPool(pool)
	d := sqlstore.Dialect{
		Name:          "postgres",
		Numbered:      true,
		ReadOnlyTx:    true,
		Migrations:    ms,
		MigrationLock: fmt.Sprintf("SELECT pg_advisory_xact_lock(%d)", migrationLockID),
		KeyLock:       fmt.Sprintf("SELECT pg_advisory_xact_lock(hashtextextended(?, %d))", sc.keys),
		Unavailable:   unavailable,
		BulkUpsert:    bulkUpsert,
		// Closing a *sql.DB from OpenDBFromPool leaves the pool open.
		Close: pool.Close,
		// Replicas follow each other's writes through the change log.
		ChangeLog: true,
		Notify:    "SELECT pg_notify('" + sc.channel + "', CAST(? AS TEXT))",
	}
	s, err := sqlstore.New(ctx, db, db, d, now)
	if err != nil {
		db.Close()
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	return s, &Cluster{pool: pool, scope: sc}, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// unavailable reports errors that mean the server cannot be reached or is
// shutting down, as opposed to errors in what we asked.
func unavailable(err error) bool {
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	// A connection the server dropped (a restart, a crash): pgx reports
	// it as "conn closed" or the EOF it read (found by the crash tests).
	if errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-57P03: shutdown, crash, cannot connect now.
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03")
	}
	return pgconn.Timeout(err)
}
