// Package replica lets several posture processes on one database behave as
// one service. Every write logs the keys it changed (the store's change
// log); each replica follows the log, re-reading those rows into its
// in-memory views (Follower), when another replica notifies a commit and
// before each of its own writes. Writes that the views follow take one
// cluster-wide lock (Gate), so each replica applies them in commit order
// and evaluates with an up-to-date exemption index. Jobs that must run once
// run on the leader.
package replica

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posture/posture"
)

// Log is the change log of the store.
type Log interface {
	// Changes returns up to limit records with Seq > after, in order.
	Changes(ctx context.Context, after int64, limit int) ([]posture.ChangeRecord, error)
	// LastChange returns the highest Seq (0: none).
	LastChange(ctx context.Context) (int64, error)
}

// Locker takes the cluster-wide write lock.
type Locker interface {
	Lock(ctx context.Context) (unlock func(), err error)
}

// Follower applies the changes other replicas commit. Its zero value is
// not usable: set the fields, call Start before the views load.
type Follower struct {
	Log    Log
	Origin string // this replica's name in the log: its own records are skipped
	// Apply applies the union of the keys of consecutive records (the
	// caller's write lock is held).
	Apply  func(ctx context.Context, k *posture.ChangeKeys) error
	Logger *slog.Logger

	last int64 // highest Seq applied
}

// batch bounds the records read and applied at once.
const batch = 500

// Start records where the log ends: what the views load next is at least
// that recent, and later records are applied over it.
func (f *Follower) Start(ctx context.Context) error {
	seq, err := f.Log.LastChange(ctx)
	if err != nil {
		return err
	}
	f.last = seq
	return nil
}

// CatchUp applies every record after the last one applied. The caller
// holds the replica's write lock.
func (f *Follower) CatchUp(ctx context.Context) error {
	for {
		recs, err := f.Log.Changes(ctx, f.last, batch)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return nil
		}
		keys := &posture.ChangeKeys{}
		for _, r := range recs {
			if r.Origin != f.Origin { // its own were applied when written
				merge(keys, &r.Keys)
			}
		}
		if !keys.Empty() {
			if err := f.Apply(ctx, keys); err != nil {
				return fmt.Errorf("applying changes %d..%d: %w", recs[0].Seq, recs[len(recs)-1].Seq, err)
			}
		}
		f.last = recs[len(recs)-1].Seq
		if len(recs) < batch {
			return nil
		}
	}
}

// Last returns the Seq of the last record applied.
func (f *Follower) Last() int64 { return f.last }

// merge adds the keys of b to a.
func merge(a, b *posture.ChangeKeys) {
	a.Resources = append(a.Resources, b.Resources...)
	a.Deleted = append(a.Deleted, b.Deleted...)
	a.States = append(a.States, b.States...)
	a.AssignmentsDropped = append(a.AssignmentsDropped, b.AssignmentsDropped...)
	a.Settings = append(a.Settings, b.Settings...)
	a.Streams = append(a.Streams, b.Streams...)
	a.Identity = a.Identity || b.Identity
	a.Jobs = a.Jobs || b.Jobs
}

// Gate is the posture.WriteLock of a replica: a mutex in the process and,
// with a Locker, the cluster-wide lock, after which the follower catches
// up. Follow applies what other replicas notify under the mutex alone.
type Gate struct {
	Locker   Locker    // nil: one process (SQLite)
	Follower *Follower // nil with a nil Locker

	mu     sync.Mutex
	unlock func()
	failed atomic.Pointer[error] // the last Follow's error, nil after a success
}

var _ posture.WriteLock = (*Gate)(nil)

// Lock implements posture.WriteLock.
func (g *Gate) Lock(ctx context.Context) error {
	g.mu.Lock()
	if g.Locker == nil {
		return nil
	}
	unlock, err := g.Locker.Lock(ctx)
	if err != nil {
		g.mu.Unlock()
		return err
	}
	if err := g.Follower.CatchUp(ctx); err != nil {
		unlock()
		g.mu.Unlock()
		return err
	}
	g.unlock = unlock
	return nil
}

// Unlock implements posture.WriteLock.
func (g *Gate) Unlock() {
	if g.unlock != nil {
		g.unlock()
		g.unlock = nil
	}
	g.mu.Unlock()
}

// Follow applies what other replicas committed, without the cluster-wide
// lock (it only reads).
func (g *Gate) Follow(ctx context.Context) error {
	if g.Follower == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	err := g.Follower.CatchUp(ctx)
	if err != nil {
		g.failed.Store(&err)
	} else {
		g.failed.Store(nil)
	}
	return err
}

// Ready reports whether the last attempt to follow the log succeeded: a
// replica that cannot read it serves stale views.
func (g *Gate) Ready() error {
	if p := g.failed.Load(); p != nil {
		return fmt.Errorf("following the other replicas' changes: %w", *p)
	}
	return nil
}

// Run follows the log until ctx ends: at each wake (a notification) and
// at least every poll, in case a notification was lost.
func (g *Gate) Run(ctx context.Context, wake <-chan struct{}, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
		}
		if err := g.Follow(ctx); err != nil && ctx.Err() == nil {
			g.Follower.logger().Error("following the other replicas' changes", "err", err)
		}
	}
}

func (f *Follower) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}
