package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posture/posture"
	"github.com/posture/posture/internal/pgtest"
	"github.com/posture/posture/postgres"
	"github.com/posture/posture/sqlstore"
)

// openCluster opens the store and the cluster of a replica on url, closed
// when the test ends (the cluster first: the pool waits for its
// connections).
func openCluster(t *testing.T, url string) (*sqlstore.Store, *postgres.Cluster) {
	t.Helper()
	s, c, err := postgres.OpenCluster(context.Background(), url, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

// Two deployments in two schemas of one database are two services: each
// has its own leader, and one's write lock does not hold up the other's
// writers, while two replicas of one deployment exclude each other.
// Advisory locks are database-wide in PostgreSQL
// (https://www.postgresql.org/docs/15/explicit-locking.html#ADVISORY-LOCKS),
// so this fails when the lock ids do not depend on the schema.
func TestClusterPerSchema(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urlA, urlB := pgtest.Schema(t, "cluster_a"), pgtest.Schema(t, "cluster_b")
	_, a1 := openCluster(t, urlA)
	_, a2 := openCluster(t, urlA)
	_, b := openCluster(t, urlB)

	// Leaders: one per deployment.
	var leadA, leadB atomic.Int32
	lead := func(c *postgres.Cluster, n *atomic.Int32) {
		go c.Lead(ctx, 50*time.Millisecond, func(ctx context.Context) {
			n.Add(1)
			<-ctx.Done()
		})
	}
	lead(a1, &leadA)
	lead(a2, &leadA)
	lead(b, &leadB)
	deadline := time.Now().Add(5 * time.Second)
	for (leadA.Load() < 1 || leadB.Load() < 1) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // time for a second leader to appear, were the lock shared or missing
	if got := leadA.Load(); got != 1 {
		t.Errorf("deployment A: %d leaders, want 1", got)
	}
	if got := leadB.Load(); got != 1 {
		t.Errorf("deployment B: %d leaders, want 1", got)
	}

	// Write locks: A's holder keeps A's other replica out, not B's.
	unlock, err := a1.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bctx, bcancel := context.WithTimeout(ctx, 2*time.Second)
	defer bcancel()
	unlockB, err := b.Lock(bctx)
	if err != nil {
		t.Fatalf("deployment B's write lock while A's is held: %v", err)
	}
	unlockB()
	actx, acancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer acancel()
	if unlock2, err := a2.Lock(actx); err == nil {
		unlock2()
		t.Fatal("A's second replica took the write lock while the first held it")
	}
	unlock()
	unlock2, err := a2.Lock(ctx)
	if err != nil {
		t.Fatalf("A's second replica after the first released the lock: %v", err)
	}
	unlock2()
}

// Pruning the change log keeps the newest row (the sequence goes on from
// it) and records the highest seq it deleted, which a replica that had not
// read that far compares with its own (replica.Follower).
func TestPruneChanges(t *testing.T) {
	ctx := context.Background()
	s, _ := openCluster(t, pgtest.Schema(t, "prune"))
	s.SetOrigin("test")
	for i := range 3 {
		if err := s.Write(ctx, func(tx posture.Tx) error { return tx.PutSetting("k", fmt.Sprint(i)) }); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := s.Changes(ctx, 0, 10)
	if err != nil || len(recs) != 3 {
		t.Fatalf("changes before pruning: %v %v", recs, err)
	}
	if p, err := s.PrunedThrough(ctx); err != nil || p != 0 {
		t.Fatalf("pruned through %d %v before pruning, want 0", p, err)
	}
	n, err := s.PruneChanges(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d %v, want 2 (the newest stays)", n, err)
	}
	if p, err := s.PrunedThrough(ctx); err != nil || p != recs[1].Seq {
		t.Errorf("pruned through %d %v, want %d", p, err, recs[1].Seq)
	}
	left, err := s.Changes(ctx, 0, 10)
	if err != nil || len(left) != 1 || left[0].Seq != recs[2].Seq {
		t.Errorf("left %v %v, want the newest (%d)", left, err, recs[2].Seq)
	}
	// Pruning again with nothing old enough changes nothing.
	if n, err := s.PruneChanges(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("second prune: %d %v", n, err)
	}
	if p, _ := s.PrunedThrough(ctx); p != recs[1].Seq {
		t.Errorf("pruned through %d after a prune of nothing, want %d", p, recs[1].Seq)
	}
}

// A committed change is notified to the listeners with its seq and the
// origin of its writer, so that a replica can skip its own (it applied
// them when it wrote them); a connection is announced with an empty
// payload (whatever was notified meanwhile is lost: read the log).
func TestListenPayload(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, c := openCluster(t, pgtest.Schema(t, "listen"))
	s.SetOrigin("host-a/42/beef")
	got := make(chan string, 8)
	go c.Listen(ctx, func(p string) { got <- p })
	next := func() string {
		select {
		case p := <-got:
			return p
		case <-time.After(5 * time.Second):
			t.Fatal("no notification within 5 s")
			return ""
		}
	}
	if p := next(); p != "" {
		t.Fatalf("first wake %q, want the empty one of the connection", p)
	}
	if err := s.Write(ctx, func(tx posture.Tx) error {
		tx.NoteStateRefs(map[string]bool{"ref-b": true, "ref-a": true})
		return tx.PutSetting("k", "v")
	}); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Changes(ctx, 0, 10)
	if err != nil || len(recs) != 1 {
		t.Fatalf("changes: %v %v", recs, err)
	}
	if got := recs[0].Keys.StateRefs; !slices.Equal(got, []string{"ref-a", "ref-b"}) {
		t.Errorf("logged references %q, want the noted ones in order", got)
	}
	p := next()
	if want := fmt.Sprintf("%d host-a/42/beef", recs[0].Seq); p != want {
		t.Errorf("payload %q, want %q", p, want)
	}
	if o := sqlstore.NotifyOrigin(p); o != "host-a/42/beef" {
		t.Errorf("NotifyOrigin(%q) = %q", p, o)
	}
}

// A write that fails after its function succeeded (here its context ends
// before the change is logged and committed) may have committed for all
// the writer knows: the store says so, so that the replica applies its own
// records again. A write its function refused, and one that committed, do
// not.
func TestUncertainWrite(t *testing.T) {
	s, _ := openCluster(t, pgtest.Schema(t, "uncertain"))
	s.SetOrigin("test")
	var calls atomic.Int32
	s.OnUncertainWrite(func() { calls.Add(1) })

	if err := s.Write(context.Background(), func(tx posture.Tx) error { return tx.PutSetting("k", "1") }); err != nil {
		t.Fatal(err)
	}
	refusal := errors.New("refused")
	if err := s.Write(context.Background(), func(tx posture.Tx) error {
		if err := tx.PutSetting("k", "2"); err != nil {
			return err
		}
		return refusal
	}); !errors.Is(err, refusal) {
		t.Fatalf("refused write: %v", err)
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d uncertain writes after a commit and a refusal, want 0", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	err := s.Write(ctx, func(tx posture.Tx) error {
		err := tx.PutSetting("k", "3")
		cancel()
		return err
	})
	if err == nil {
		t.Fatal("a write whose context ended before its commit succeeded")
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("%d uncertain writes after a failed commit, want 1", n)
	}
}
