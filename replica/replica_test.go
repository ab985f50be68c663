package replica

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
)

// memLog is a change log in memory.
type memLog struct {
	recs   []posture.ChangeRecord
	pruned int64
}

func (l *memLog) PrunedThrough(context.Context) (int64, error) { return l.pruned, nil }

func (l *memLog) Changes(_ context.Context, after int64, limit int) ([]posture.ChangeRecord, error) {
	var out []posture.ChangeRecord
	for _, r := range l.recs {
		if r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (l *memLog) LastChange(context.Context) (int64, error) {
	if len(l.recs) == 0 {
		return 0, nil
	}
	return l.recs[len(l.recs)-1].Seq, nil
}

func (l *memLog) add(origin, key string) {
	l.recs = append(l.recs, posture.ChangeRecord{Seq: int64(len(l.recs) + 1), Origin: origin, Keys: posture.ChangeKeys{Resources: []string{key}}})
}

// flagLocker is a cluster-wide lock that records who holds it.
type flagLocker struct {
	held  bool
	locks int
}

func (l *flagLocker) Lock(context.Context) (func(), error) {
	if l.held {
		return nil, fmt.Errorf("locked twice")
	}
	l.held, l.locks = true, l.locks+1
	return func() { l.held = false }, nil
}

// The gate's order: a catch-up applies other replicas' keys under the
// cluster-wide lock and publishes them after it, before this replica's own
// publication; Committed lets the lock go early, Reacquire takes it and
// catches up again; its own records are skipped.
func TestGateOrder(t *testing.T) {
	ctx := context.Background()
	log := &memLog{}
	locker := &flagLocker{}
	var events []string
	f := &Follower{Log: log, Origin: "me", Apply: func(_ context.Context, k *posture.ChangeKeys) (func(), error) {
		events = append(events, fmt.Sprintf("apply %v locked=%v", k.Resources, locker.held))
		return func() { events = append(events, fmt.Sprintf("publish %v locked=%v", k.Resources, locker.held)) }, nil
	}}
	g := &Gate{Locker: locker, Follower: f}
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	log.add("other", "a")
	log.add("me", "mine")
	log.add("other", "b")
	if err := g.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	events = append(events, "write 1")
	g.Committed()
	if locker.held {
		t.Error("the cluster-wide lock is held after Committed")
	}
	g.Flush() // what the writer's own publication calls first
	events = append(events, "publish own 1")
	log.add("other", "c")
	if err := g.Reacquire(ctx); err != nil {
		t.Fatal(err)
	}
	events = append(events, "write 2")
	g.Unlock()
	if locker.held {
		t.Error("the cluster-wide lock is held after Unlock")
	}
	want := []string{
		"apply [a b] locked=true",
		"write 1",
		"publish [a b] locked=false",
		"publish own 1",
		"apply [c] locked=true",
		"write 2",
		"publish [c] locked=false",
	}
	if !slices.Equal(events, want) {
		t.Errorf("events:\n%q\nwant\n%q", events, want)
	}
	if locker.locks != 2 {
		t.Errorf("%d cluster-wide locks, want 2", locker.locks)
	}
	// Follow publishes at once, without the cluster-wide lock.
	events = nil
	log.add("other", "d")
	if err := g.Follow(ctx); err != nil {
		t.Fatal(err)
	}
	if want := []string{"apply [d] locked=false", "publish [d] locked=false"}; !slices.Equal(events, want) {
		t.Errorf("follow: %q, want %q", events, want)
	}
}

// A replica that finds a gap in the log checks whether records were pruned
// before it read them: then it refuses to go on (unready, writes 503),
// rather than serve views that miss changes for good. A gap left by a
// rolled-back transaction is no reason to stop.
func TestFollowerMissedPrunedRecords(t *testing.T) {
	ctx := context.Background()
	log := &memLog{}
	var applied []string
	f := &Follower{Log: log, Origin: "me", Apply: func(_ context.Context, k *posture.ChangeKeys) (func(), error) {
		applied = append(applied, k.Resources...)
		return nil, nil
	}}
	g := &Gate{Locker: &flagLocker{}, Follower: f}
	log.add("other", "a")
	if err := g.Follow(ctx); err != nil {
		t.Fatal(err)
	}
	// seq 2 rolled back: a gap, nothing pruned.
	log.recs = append(log.recs, posture.ChangeRecord{Seq: 3, Origin: "other", Keys: posture.ChangeKeys{Resources: []string{"c"}}})
	if err := g.Follow(ctx); err != nil {
		t.Fatalf("a rolled-back seq: %v", err)
	}
	// 4..7 written, 4..6 pruned away before this replica read them.
	log.recs = []posture.ChangeRecord{{Seq: 7, Origin: "other", Keys: posture.ChangeKeys{Resources: []string{"g"}}}}
	log.pruned = 6
	err := g.Follow(ctx)
	if posture.ErrorCode(err) != "ReplicaBehind" {
		t.Fatalf("follow after records were pruned unread: %v, want ReplicaBehind", err)
	}
	if g.Ready() == nil {
		t.Error("the replica reports ready")
	}
	if err := g.Lock(ctx); posture.ErrorCode(err) != "ReplicaBehind" {
		t.Errorf("a write: %v, want ReplicaBehind", err)
		if err == nil {
			g.Unlock()
		}
	}
	if want := []string{"a", "c"}; !slices.Equal(applied, want) {
		t.Errorf("applied %q, want %q", applied, want)
	}
}

// Merged records re-render the union of their references, or every
// reference as soon as one record put states without naming them.
func TestMergeStateRefs(t *testing.T) {
	row := [][2]string{{"/r", "/a"}}
	for _, tc := range []struct {
		name string
		recs []posture.ChangeKeys
		want []string
	}{
		{"one record", []posture.ChangeKeys{{States: row, StateRefs: []string{"x"}}}, []string{"x"}},
		{"union", []posture.ChangeKeys{{States: row, StateRefs: []string{"x", "y"}}, {States: row, StateRefs: []string{"y", "z"}}}, []string{"x", "y", "z"}},
		{"any first", []posture.ChangeKeys{{States: row}, {States: row, StateRefs: []string{"x"}}}, nil},
		{"any last", []posture.ChangeKeys{{States: row, StateRefs: []string{"x"}}, {States: row}}, nil},
		{"no states beside", []posture.ChangeKeys{{Resources: []string{"/r"}}, {States: row, StateRefs: []string{"x"}}, {Settings: []string{"k"}}}, []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var k posture.ChangeKeys
			for i := range tc.recs {
				merge(&k, &tc.recs[i])
			}
			if !slices.Equal(k.StateRefs, tc.want) {
				t.Errorf("StateRefs %q, want %q", k.StateRefs, tc.want)
			}
		})
	}
}

// errLog fails Changes while failing is set.
type errLog struct {
	*memLog
	failing bool
}

func (l *errLog) Changes(ctx context.Context, after int64, limit int) ([]posture.ChangeRecord, error) {
	if l.failing {
		return nil, fmt.Errorf("database down")
	}
	return l.memLog.Changes(ctx, after, limit)
}

// After ReplayOwn the next catch-up applies this replica's own records
// too (a write whose COMMIT lost its answer may have committed), once: a
// failed catch-up keeps it for the next, a successful one ends it.
func TestFollowerReplayOwn(t *testing.T) {
	ctx := context.Background()
	log := &errLog{memLog: &memLog{}}
	var applied [][]string
	f := &Follower{Log: log, Origin: "me", Apply: func(_ context.Context, k *posture.ChangeKeys) (func(), error) {
		applied = append(applied, k.Resources)
		return nil, nil
	}}
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	log.add("me", "uncertain")
	log.add("other", "theirs")
	f.ReplayOwn()
	log.failing = true
	if _, err := f.CatchUp(ctx); err == nil {
		t.Fatal("catch-up over a failing log succeeded")
	}
	log.failing = false
	if _, err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	log.add("me", "certain")
	log.add("other", "later")
	if _, err := f.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"uncertain", "theirs"}, {"later"}}
	if !slices.EqualFunc(applied, want, slices.Equal) {
		t.Errorf("applied %q, want %q (own records once, after ReplayOwn)", applied, want)
	}
}

// stallLog is a memLog safe for concurrent use whose first read of the
// changes stalls, after reading, until release is closed.
type stallLog struct {
	mu      sync.Mutex
	log     memLog
	reads   int
	stalled chan struct{} // closed when the first read stalls
	release chan struct{}
}

func (l *stallLog) Changes(ctx context.Context, after int64, limit int) ([]posture.ChangeRecord, error) {
	l.mu.Lock()
	recs, _ := l.log.Changes(ctx, after, limit)
	l.reads++
	first := l.reads == 1
	l.mu.Unlock()
	if first {
		close(l.stalled)
		<-l.release
	}
	return recs, nil
}

func (l *stallLog) LastChange(ctx context.Context) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log.LastChange(ctx)
}

func (l *stallLog) PrunedThrough(context.Context) (int64, error) { return 0, nil }

func (l *stallLog) add(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log.add("leader", key)
}

// Sync returns once a catch-up that started after the call has applied
// what was committed before it, and callers that come while a catch-up
// runs share the next one: a follower's forwarded writes cost one read of
// the log together, not one each.
func TestSync(t *testing.T) {
	ctx := context.Background()
	log := &stallLog{stalled: make(chan struct{}), release: make(chan struct{})}
	var mu sync.Mutex
	var applied []string
	f := &Follower{Log: log, Origin: "me", Apply: func(_ context.Context, k *posture.ChangeKeys) (func(), error) {
		mu.Lock()
		defer mu.Unlock()
		applied = append(applied, k.Resources...)
		return nil, nil
	}}
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	g := &Gate{Follower: f}
	log.add("a")
	var wg sync.WaitGroup
	wg.Go(func() { g.Sync(ctx) })
	select { // the first catch-up read the log: "a" alone
	case <-log.stalled:
	case <-time.After(5 * time.Second):
		t.Fatal("Sync did not catch up")
	}
	log.add("b") // committed after that read, before the calls below
	for range 5 {
		wg.Go(func() {
			if err := g.Sync(ctx); err != nil {
				t.Error(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Contains(applied, "b") {
				t.Errorf("Sync returned before the change committed before it was applied: %v", applied)
			}
		})
	}
	time.Sleep(100 * time.Millisecond) // the five wait for the first catch-up
	close(log.release)
	wg.Wait()
	if log.reads != 2 {
		t.Errorf("six Syncs, five of them during the first catch-up: %d catch-ups, want 2", log.reads)
	}
	if !slices.Equal(applied, []string{"a", "b"}) {
		t.Errorf("applied %v, want [a b]", applied)
	}
}
