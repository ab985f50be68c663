package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/posture/posture"
)

// scope holds what names one deployment's coordination in the database.
// Advisory locks and notification channels are database-wide in
// PostgreSQL, so each is derived from the deployment's schema: replicas of
// deployments in two schemas of one database neither share a leader nor
// wait for each other's writes.
type scope struct {
	write   int64  // advisory lock held while a replica writes what views follow
	leader  int64  // advisory lock held by the replica that runs the singleton jobs
	keys    int64  // seed of the per-key transaction locks (hashtextextended)
	channel string // LISTEN/NOTIFY channel; the payload is the seq of the committed change row
}

func scopeOf(schema string) scope {
	h := func(what string) int64 {
		f := fnv.New64a()
		f.Write([]byte("posture:" + what + ":" + schema))
		return int64(f.Sum64())
	}
	return scope{
		write:   h("write"),
		leader:  h("leader"),
		keys:    h("keys"),
		channel: fmt.Sprintf("posture_changes_%016x", uint64(h("channel"))),
	}
}

// Cluster coordinates the replicas that share one database: the write lock
// that keeps the in-memory views in commit order, leadership for the jobs
// that must run once, and notifications of committed changes. Each holds a
// session-level advisory lock or LISTEN on a connection of its own, so that
// a replica that dies releases what it held with its connections.
type Cluster struct {
	pool  *pgxpool.Pool
	log   *slog.Logger
	scope scope

	mu   sync.Mutex // guards conn between Lock and unlock
	conn *pgxpool.Conn
}

// SetLogger sets the logger for reconnections.
func (c *Cluster) SetLogger(l *slog.Logger) { c.log = l }

func (c *Cluster) logger() *slog.Logger {
	if c.log != nil {
		return c.log
	}
	return slog.Default()
}

// Lock takes the cluster-wide write lock and returns its release. Callers
// serialise in-process first (one Lock at a time per replica).
func (c *Cluster) Lock(ctx context.Context) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		conn, err := c.pool.Acquire(ctx)
		if err != nil {
			return nil, wrapUnavailable(err)
		}
		c.conn = conn
	}
	if _, err := c.conn.Exec(ctx, "SELECT pg_advisory_lock($1)", c.scope.write); err != nil {
		c.dropConn()
		return nil, wrapUnavailable(err)
	}
	return c.unlock, nil
}

func (c *Cluster) unlock() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var released bool
	if err := c.conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", c.scope.write).Scan(&released); err != nil || !released {
		// Closing the session is the sure way to release its locks.
		c.dropConn()
	}
}

// Close releases the lock connection; call it before closing the store
// (the pool waits for its connections).
func (c *Cluster) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Release()
		c.conn = nil
	}
}

// dropConn closes the lock connection (its session locks go with it).
func (c *Cluster) dropConn() {
	if c.conn == nil {
		return
	}
	conn := c.conn.Hijack()
	c.conn = nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn.Close(ctx)
}

// Lead runs fn while this replica is the leader, until ctx ends: it tries
// the leader lock every interval, and cancels fn's context when the lock's
// connection fails (another replica may lead then).
func (c *Cluster) Lead(ctx context.Context, interval time.Duration, fn func(ctx context.Context)) {
	for ctx.Err() == nil {
		if err := c.leadOnce(ctx, interval, fn); err != nil && ctx.Err() == nil {
			c.logger().Warn("leader election", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(interval):
		}
	}
}

func (c *Cluster) leadOnce(ctx context.Context, interval time.Duration, fn func(ctx context.Context)) error {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	raw := conn.Hijack() // the session holds the lock: never back to the pool
	defer raw.Close(context.WithoutCancel(ctx))
	var got bool
	if err := raw.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", c.scope.leader).Scan(&got); err != nil || !got {
		return err
	}
	c.logger().Info("this replica leads the singleton jobs")
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(lctx)
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case <-t.C:
			pctx, pcancel := context.WithTimeout(ctx, interval)
			err := raw.Ping(pctx)
			pcancel()
			if err != nil {
				cancel()
				<-done
				return fmt.Errorf("lost the leader lock's connection: %w", err)
			}
		}
	}
}

// Listen calls wake with the payload of every committed change a replica
// notifies, and with "" once after each (re)connection (notifications sent
// while it was away are lost: the caller then reads the log). It returns
// when ctx ends.
func (c *Cluster) Listen(ctx context.Context, wake func(payload string)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := c.listenOnce(ctx, wake, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		c.logger().Warn("listening for changes; reconnecting", "err", err, "in_ms", backoff.Milliseconds())
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (c *Cluster) listenOnce(ctx context.Context, wake func(string), connected func()) error {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	raw := conn.Hijack()
	defer raw.Close(context.WithoutCancel(ctx))
	if _, err := raw.Exec(ctx, "LISTEN "+c.scope.channel); err != nil {
		return err
	}
	connected()
	wake("")
	for {
		n, err := raw.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		wake(n.Payload)
	}
}

// wrapUnavailable says that the lock could not be had because the database
// is not reachable (503), keeping the cause for the log.
func wrapUnavailable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &posture.Error{Kind: posture.EUNAVAILABLE, Code: "ServiceUnavailable", Message: "The database is not reachable. Please retry the request.", Err: err}
}
