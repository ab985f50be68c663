// Package sqlstore implements posture.Store over database/sql. The SQL is
// written once, with "?" placeholders, and runs on SQLite and PostgreSQL; a
// Dialect carries what differs (placeholders, migrations, locks, bulk
// writes). Packages sqlite and postgres open the databases and supply their
// dialects; nothing else imports this package.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/posture/posture"
)

// Dialect is what differs between the SQL engines.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Numbered placeholders ($1, $2, ...) instead of "?".
	Numbered bool
	// ReadOnlyTx asks the driver for read-only transactions in Read.
	ReadOnlyTx bool
	// Migrations are the schema migrations, applied in order.
	Migrations []Migration
	// MigrationLock, when not empty, runs first in the migration transaction
	// so that replicas starting together migrate one at a time.
	MigrationLock string
	// KeyLock, when not empty, is a statement taking a transaction-scoped
	// lock on the hash of its one argument.
	KeyLock string
	// Unavailable reports errors that mean the database cannot be reached.
	Unavailable func(error) bool
	// BulkUpsert, when set, writes many resources faster than multi-row
	// INSERTs (COPY on PostgreSQL). It runs on the connection that holds the
	// write transaction, inside it.
	BulkUpsert func(ctx context.Context, conn *sql.Conn, rs []*posture.Resource) error
	// Close, when set, releases what the *sql.DB does not own (pgx's
	// pool behind stdlib.OpenDBFromPool); Store.Close calls it last.
	Close func()
	// ChangeLog appends a row naming what each write changed to the changes
	// table, for other replicas on the same database (changes.go).
	ChangeLog bool
	// Notify, when not empty, is a statement taking a payload, the new
	// change's seq and origin, that tells listening replicas (pg_notify).
	Notify string
}

// Migration is one schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Store is a posture.Store over database/sql.
type Store struct {
	wdb, rdb *sql.DB
	d        Dialect
	now      posture.Clock
	queries  sync.Map // "?" query -> dialect query

	signer          Signer // signs ledger checkpoints; nil: none
	checkpointEvery int64
	origin          string                       // names this process in the change log
	uncertain       func()                       // OnUncertainWrite
	traceParent     func(context.Context) string // SetTraceParent
}

var _ posture.Store = (*Store)(nil)

// New returns a store writing through wdb and reading through rdb (they may
// be the same pool) and applies pending migrations.
func New(ctx context.Context, wdb, rdb *sql.DB, d Dialect, now posture.Clock) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{wdb: wdb, rdb: rdb, d: d, now: now}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	if err := s.Write(ctx, func(tx posture.Tx) error { return s.sealLedger(tx.(*Tx)) }); err != nil {
		return nil, err
	}
	return s, nil
}

// Read implements posture.Store.
func (s *Store) Read(ctx context.Context, fn func(posture.Tx) error) error {
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.d.ReadOnlyTx})
	if err != nil {
		return s.wrap(err)
	}
	defer tx.Rollback()
	if err := fn(&Tx{s: s, q: tx, ctx: ctx}); err != nil {
		return err
	}
	return s.wrap(tx.Commit())
}

// Write implements posture.Store.
func (s *Store) Write(ctx context.Context, fn func(posture.Tx) error) error {
	// The transaction runs on a dedicated connection so that BulkUpsert can
	// reach the driver connection inside it.
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return s.wrap(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(err)
	}
	defer tx.Rollback()
	t := &Tx{s: s, q: tx, conn: conn, ctx: ctx, write: true}
	if err := fn(t); err != nil {
		return err
	}
	if err := t.appendChange(); err != nil {
		s.wroteUncertain(t)
		return err
	}
	if err := tx.Commit(); err != nil {
		s.wroteUncertain(t)
		return s.wrap(err)
	}
	return nil
}

// SetTraceParent sets how a transaction's context names its trace (a W3C
// traceparent, "" for none): jobs enqueued in it keep it (Job.TraceParent),
// so that their runs join the trace of what enqueued them.
func (s *Store) SetTraceParent(fn func(context.Context) string) { s.traceParent = fn }

// OnUncertainWrite sets what to call when a write that logged a change
// failed after its function succeeded: a connection lost during COMMIT
// leaves the outcome unknown (the database may have committed and died
// before answering), so the caller's in-memory views may lack what the
// store holds. The replica package then applies this process's own
// records of the log too, which converges either way. Failures while
// logging, before COMMIT was sent, call it as well: replaying is harmless.
func (s *Store) OnUncertainWrite(fn func()) { s.uncertain = fn }

func (s *Store) wroteUncertain(t *Tx) {
	if s.uncertain != nil && !t.keys.Empty() {
		s.uncertain()
	}
}

// statement returns a Tx that runs each statement on the read pool, in a
// transaction of its own: for a read of one statement, which sees one
// snapshot anyway, without the round trips of BEGIN and COMMIT. The
// change log's readers use it: every replica reads the log after every
// commit of every other.
func (s *Store) statement(ctx context.Context) *Tx { return &Tx{s: s, q: s.rdb, ctx: ctx} }

// Ping implements posture.Store.
func (s *Store) Ping(ctx context.Context) error { return s.wrap(s.wdb.PingContext(ctx)) }

// Close implements posture.Store.
func (s *Store) Close() error {
	err := s.wdb.Close()
	if s.rdb != s.wdb {
		err = errors.Join(err, s.rdb.Close())
	}
	if s.d.Close != nil {
		s.d.Close()
	}
	return err
}

// DB returns the write pool, for packages sqlite and postgres.
func (s *Store) DB() *sql.DB { return s.wdb }

// q returns query with the dialect's placeholders.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	if v, ok := s.queries.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	out := b.String()
	s.queries.Store(query, out)
	return out
}

// wrap turns a database error into a posture error. Context cancellation
// passes through unchanged so callers can tell it apart.
func (s *Store) wrap(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case s.d.Unavailable != nil && s.d.Unavailable(err):
		return &posture.Error{Kind: posture.EUNAVAILABLE, Code: "ServiceUnavailable", Message: "The database is not reachable. Please retry the request.", Err: err}
	}
	var pe *posture.Error
	if errors.As(err, &pe) {
		return err
	}
	return posture.Internal(fmt.Errorf("sqlstore %s: %w", s.d.Name, err))
}

// Tx implements posture.Tx.
type Tx struct {
	s     *Store
	q     querier   // the *sql.Tx, or the read pool (statement)
	conn  *sql.Conn // write transactions only
	ctx   context.Context
	write bool
	keys  *posture.ChangeKeys // what the transaction changed, for the change log
	head  *ledgerHead         // the ledger's head once this transaction appended to it
}

// ledgerHead is the last entry of the audit ledger.
type ledgerHead struct {
	seq  int64
	hash []byte
}

var _ posture.Tx = (*Tx)(nil)

// querier is what a Tx runs its statements on.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	r, err := t.q.ExecContext(t.ctx, t.s.q(query), args...)
	return r, t.s.wrap(err)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	rows, err := t.q.QueryContext(t.ctx, t.s.q(query), args...)
	return rows, t.s.wrap(err)
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	return t.q.QueryRowContext(t.ctx, t.s.q(query), args...)
}

// scanner is a row to scan: *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// queryAll runs a query and scans every row with scan.
func queryAll[T any](t *Tx, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, t.s.wrap(err)
		}
		out = append(out, v)
	}
	return out, t.s.wrap(rows.Err())
}

// Lock implements posture.Tx.
func (t *Tx) Lock(key string) error {
	if t.s.d.KeyLock == "" {
		return nil
	}
	_, err := t.exec(t.s.d.KeyLock, key)
	return err
}

// Setting implements posture.Tx.
func (t *Tx) Setting(key string) (string, error) {
	var v string
	err := t.queryRow(`SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, t.s.wrap(err)
}

// PutSetting implements posture.Tx.
func (t *Tx) PutSetting(key, value string) error {
	if k := t.noted(); k != nil {
		k.Settings = append(k.Settings, key)
	}
	_, err := t.exec(`INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func notFound(code, format string, args ...any) error {
	return posture.Errorf(posture.ENOTFOUND, code, format, args...)
}
