// Package replica lets several posture processes on one database behave as
// one service. Every write logs the keys it changed (the store's change
// log); each replica follows the log, re-reading those rows into its
// in-memory views (Follower), when another replica notifies a commit and
// before each of its own writes. Writes that the views follow take one
// cluster-wide lock (Gate), so each replica applies them in commit order
// and evaluates with an up-to-date exemption index. Jobs that must run once
// run on the leader; the other replicas forward their writes to it
// (api.Forward) and catch up before they answer (Gate.Sync).
package replica

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
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
	// PrunedThrough returns the highest Seq deleted from the log (0: none).
	PrunedThrough(ctx context.Context) (int64, error)
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
	// Apply applies the union of the keys of consecutive records to the
	// indexes writes read (the caller's write lock is held) and returns
	// what is left to do for the views only this process reads (Defender,
	// the Resource Graph), or nil. The Gate runs that once the cluster-wide
	// lock is released, before this replica publishes its own write.
	Apply  func(ctx context.Context, k *posture.ChangeKeys) (publish func(), err error)
	Logger *slog.Logger

	last      int64       // highest Seq applied
	replayOwn atomic.Bool // ReplayOwn: the next catch-up applies this replica's records too
}

// ReplayOwn says that one of this replica's writes may have committed
// without its views hearing of it (the connection broke during COMMIT):
// the next catch-up applies this replica's own records too, as if another
// had written them. Its records are all after the last one applied (it
// wrote it under the write lock, after a catch-up), and applying a record
// again converges.
func (f *Follower) ReplayOwn() { f.replayOwn.Store(true) }

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

// CatchUp applies every record after the last one applied and returns the
// publications Apply left, in order (run them before publishing anything
// newer). The caller holds the replica's write lock.
func (f *Follower) CatchUp(ctx context.Context) (publish []func(), err error) {
	replay := f.replayOwn.Swap(false)
	defer func() {
		if err != nil && replay {
			f.replayOwn.Store(true) // not done: the next catch-up again
		}
	}()
	for {
		recs, err := f.Log.Changes(ctx, f.last, batch)
		if err != nil {
			return publish, err
		}
		if len(recs) == 0 {
			return publish, nil
		}
		if recs[0].Seq > f.last+1 {
			// A gap: a rolled-back transaction's seq, or records pruned
			// while this replica was away.
			pruned, err := f.Log.PrunedThrough(ctx)
			if err != nil {
				return publish, err
			}
			if pruned > f.last {
				return publish, &posture.Error{Kind: posture.EUNAVAILABLE, Code: "ReplicaBehind",
					Message: fmt.Sprintf("This replica last applied change %d; changes up to %d were pruned from the log before it read them. Restart it: it reloads everything.", f.last, pruned)}
			}
		}
		keys := &posture.ChangeKeys{}
		for _, r := range recs {
			if r.Origin != f.Origin || replay { // its own were applied when written
				merge(keys, &r.Keys)
			}
		}
		if !keys.Empty() {
			p, err := f.Apply(ctx, keys)
			if err != nil {
				return publish, fmt.Errorf("applying changes %d..%d: %w", recs[0].Seq, recs[len(recs)-1].Seq, err)
			}
			if p != nil {
				publish = append(publish, p)
			}
		}
		f.last = recs[len(recs)-1].Seq
		if len(recs) < batch {
			return publish, nil
		}
	}
}

// Last returns the Seq of the last record applied.
func (f *Follower) Last() int64 { return f.last }

// merge adds the keys of b to a. The rows of both changed in the union of
// their references, or in any when either says any.
func merge(a, b *posture.ChangeKeys) {
	anyA := len(a.States) > 0 && len(a.StateRefs) == 0
	anyB := len(b.States) > 0 && len(b.StateRefs) == 0
	switch {
	case anyA || anyB:
		a.StateRefs = nil
	case len(b.States) > 0:
		for _, r := range b.StateRefs {
			if !slices.Contains(a.StateRefs, r) {
				a.StateRefs = append(a.StateRefs, r)
			}
		}
	}
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
//
// The cluster-wide lock guards the database and the indexes writes read;
// the views only this process reads need the mutex alone. So what a
// catch-up read is published to those views after the cluster-wide lock
// (Unlock, or Flush before the writer publishes its own change), and a
// writer that has committed may release it early (Committed) and publish
// under the mutex while another replica writes.
type Gate struct {
	Locker   Locker    // nil: one process (SQLite)
	Follower *Follower // nil with a nil Locker

	mu      sync.Mutex
	unlock  func() // non-nil while the cluster-wide lock is held
	pmu     sync.Mutex
	publish []func()              // what the catch-ups left to publish, in order (pmu)
	failed  atomic.Pointer[error] // the last Follow's error, nil after a success
	rounds  rounds                // Sync's catch-ups
}

// rounds are the catch-ups of Sync: callers that come while one runs share
// the next.
type rounds struct {
	mu                sync.Mutex
	cond              *sync.Cond
	started, finished uint64
	running           bool
	err               error // of the last round finished
}

var _ posture.EarlyReleaser = (*Gate)(nil)

// Lock implements posture.WriteLock.
func (g *Gate) Lock(ctx context.Context) error {
	g.mu.Lock()
	if err := g.Reacquire(ctx); err != nil {
		g.Flush()
		g.mu.Unlock()
		return err
	}
	return nil
}

// Reacquire implements posture.EarlyReleaser: it takes the cluster-wide
// lock again after Committed, and catches up, for another write under the
// same Lock.
func (g *Gate) Reacquire(ctx context.Context) error {
	if g.Locker == nil || g.unlock != nil {
		return nil
	}
	unlock, err := g.Locker.Lock(ctx)
	if err != nil {
		return err
	}
	publish, err := g.Follower.CatchUp(ctx)
	g.queue(publish)
	if err != nil {
		unlock()
		return err
	}
	g.unlock = unlock
	return nil
}

// Committed implements posture.EarlyReleaser: the writer's transaction
// committed, the other replicas may write.
func (g *Gate) Committed() { g.release() }

// Unlock implements posture.WriteLock.
func (g *Gate) Unlock() {
	g.release()
	g.Flush()
	g.mu.Unlock()
}

func (g *Gate) release() {
	if g.unlock != nil {
		g.unlock()
		g.unlock = nil
	}
}

func (g *Gate) queue(publish []func()) {
	g.pmu.Lock()
	g.publish = append(g.publish, publish...)
	g.pmu.Unlock()
}

// Flush publishes what the catch-ups read and left to publish. The
// process's own publications call it first (the writer holds the lock), so
// that the views take changes in commit order.
func (g *Gate) Flush() {
	g.pmu.Lock()
	defer g.pmu.Unlock()
	for _, p := range g.publish {
		p()
	}
	clear(g.publish)
	g.publish = g.publish[:0]
}

// Follow applies what other replicas committed, without the cluster-wide
// lock (it only reads).
func (g *Gate) Follow(ctx context.Context) error {
	if g.Follower == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	publish, err := g.Follower.CatchUp(ctx)
	g.queue(publish)
	g.Flush()
	if err != nil {
		g.failed.Store(&err)
	} else {
		g.failed.Store(nil)
	}
	return err
}

// Sync catches up with every change committed before it was called, as
// Follow does; callers that come while a catch-up runs wait for it to end
// and share the next one. A follower calls it after each write it
// forwarded to the leader, so that its next read shows the write:
// concurrent writes then cost one catch-up, not one each.
func (g *Gate) Sync(ctx context.Context) error {
	r := &g.rounds
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cond == nil {
		r.cond = sync.NewCond(&r.mu)
	}
	want := r.started + 1 // the one running, if any, may have read the log before the call
	for r.finished < want {
		if r.running {
			r.cond.Wait()
			continue
		}
		r.running = true
		r.started++
		r.mu.Unlock()
		err := g.Follow(context.WithoutCancel(ctx)) // others wait on it
		r.mu.Lock()
		r.running, r.finished, r.err = false, r.started, err
		r.cond.Broadcast()
	}
	return r.err
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
// at least every poll, in case a notification was lost. After a wake it
// waits coalesce for more, so that one catch-up applies the writes of
// several notifications together (one read of the log, one publication of
// Defender's scores per subscription); a reader through this replica sees
// them within poll all the same, and one that forwarded its write catches
// up at once (api.Forward).
func (g *Gate) Run(ctx context.Context, wake <-chan struct{}, poll, coalesce time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			if coalesce > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(coalesce):
				}
				select { // the wakes that came meanwhile are this catch-up's
				case <-wake:
				default:
				}
			}
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
