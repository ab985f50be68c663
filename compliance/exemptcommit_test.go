package compliance_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/posture/posture"
)

// batch runs writes as one batch: it holds WriteMu, starts each write in a
// goroutine and waits until it is queued (so they commit together, in the
// order given), runs before (nil: nothing) while they wait, then releases
// the lock and returns once every write has returned.
func (e *env) batch(before func(), writes ...func()) {
	e.t.Helper()
	if err := e.svc.WriteMu.Lock(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, write := range writes {
		wg.Go(write)
		for e.svc.QueuedWrites() < i+1 {
			runtime.Gosched()
		}
	}
	if before != nil {
		before()
	}
	e.svc.WriteMu.Unlock()
	wg.Wait()
}

func as(id string) context.Context {
	return posture.NewContextWithPrincipal(context.Background(), &posture.Principal{ID: id, Type: posture.PrincipalUser})
}

// TestExemptionGroupCommit: exemption writes that wait for the write lock
// together commit in one transaction and one published change, each with
// its own result, author and history, and with what a serial run gives.
func TestExemptionGroupCommit(t *testing.T) {
	e := newEnv(t, true)
	feed := &feedRecorder{}
	e.svc.Feed = feed
	sa1, sa2 := e.base()
	before := len(feed.changes)
	ctx := context.Background()

	results := make([]posture.ExemptionResult, 4)
	errs := make([]error, 4)
	ids := make([]string, 4)
	writes := make([]func(), 4)
	for i := range 4 {
		ids[i] = []string{sa1, sa2}[i%2] + exemptionsPath + fmt.Sprintf("g%d", i)
		writes[i] = func() {
			results[i], errs[i] = e.svc.PutExemption(as(fmt.Sprintf("user-%d", i)), posture.ExemptionWrite{ID: ids[i],
				Body: exemptionBody("Mitigated", `"`+secureTransfer+`"`, "", ""), APIVersion: version})
		}
	}
	e.batch(nil, writes...)

	for i := range 4 {
		// g2 and g3 cover what g0 and g1 cover: the state stays stamped
		// with the first (same category, no expiry: the smaller key), as
		// when the writes run one by one.
		if want := map[bool]int{true: 1, false: 0}[i < 2]; errs[i] != nil || !results[i].Created || results[i].Covered != want {
			t.Errorf("write %d: %+v %v", i, results[i], errs[i])
		}
		evs, err := e.svc.ExemptionHistory(ctx, ids[i])
		if err != nil || len(evs) != 1 || evs[0].Kind != posture.EventCreated || evs[0].Actor != fmt.Sprintf("user-%d", i) {
			t.Errorf("history of %d: %+v %v", i, evs, err)
		}
	}
	if got := len(feed.changes) - before; got != 1 || len(feed.changes[before].Derived) != 4 {
		t.Fatalf("%d changes published for one batch", got)
	}
	for _, sa := range []string{sa1, sa2} {
		if got := e.effective(sa, secureTransfer); got != posture.StateExempt {
			t.Errorf("%s: %s", sa, got)
		}
	}
}

// TestExemptionGroupCommitRefusal: a refused write does not fail the
// others of its batch; it gets its own error and writes nothing.
func TestExemptionGroupCommitRefusal(t *testing.T) {
	e := newEnv(t, true)
	sa1, sa2 := e.base()
	ctx := context.Background()
	var errs [3]error
	good := exemptionBody("Mitigated", `"`+secureTransfer+`"`, "", "")
	bad := exemptionBody("Mitigated", `"notAMember"`, "", "")
	e.batch(nil,
		func() { _, errs[0] = e.putExemption(sa1+exemptionsPath+"a", good, "") },
		func() { _, errs[1] = e.putExemption(sa1+exemptionsPath+"b", bad, "") },
		func() { _, errs[2] = e.putExemption(sa2+exemptionsPath+"c", good, "") })

	if errs[0] != nil || errs[2] != nil {
		t.Errorf("the good writes failed: %v, %v", errs[0], errs[2])
	}
	wantCode(t, errs[1], posture.EINVALID, "InvalidPolicyDefinitionReference")
	if _, err := e.svc.GetExemption(ctx, sa1+exemptionsPath+"b"); !posture.IsNotFound(err) {
		t.Errorf("the refused exemption: %v", err)
	}
	if e.effective(sa1, secureTransfer) != posture.StateExempt || e.effective(sa2, secureTransfer) != posture.StateExempt {
		t.Errorf("states: %s %s", e.effective(sa1, secureTransfer), e.effective(sa2, secureTransfer))
	}
}

// TestExemptionGroupCommitPutThenDelete: a PUT and a DELETE of the same
// exemption in one batch leave it deleted everywhere: store, states, the
// published change, history.
func TestExemptionGroupCommitPutThenDelete(t *testing.T) {
	e := newEnv(t, true)
	feed := &feedRecorder{}
	e.svc.Feed = feed
	sa1, _ := e.base()
	id := sa1 + exemptionsPath + "brief"
	ctx := context.Background()
	before := len(feed.changes)
	var put posture.ExemptionResult
	var putErr, delErr error
	var old *posture.Resource
	e.batch(nil,
		func() {
			put, putErr = e.putExemption(id, exemptionBody("Mitigated", `"`+secureTransfer+`"`, "", ""), "")
		},
		func() { old, delErr = e.svc.DeleteExemption(ctx, id, "") })

	if putErr != nil || !put.Created || delErr != nil || old == nil || old.ETag != put.Resource.ETag {
		t.Fatalf("put %+v %v, delete %+v %v", put, putErr, old, delErr)
	}
	if _, err := e.svc.GetExemption(ctx, id); !posture.IsNotFound(err) {
		t.Errorf("after the batch: %v", err)
	}
	if got := e.effective(sa1, secureTransfer); got != posture.StateNonCompliant {
		t.Errorf("state: %s", got)
	}
	if evs, _ := e.svc.ExemptionHistory(ctx, id); len(evs) != 2 || evs[0].Kind != posture.EventCreated || evs[1].Kind != posture.EventDeleted {
		t.Errorf("history: %+v", evs)
	}
	if len(feed.changes)-before != 1 {
		t.Fatalf("%d changes", len(feed.changes)-before)
	}
	c := feed.changes[before]
	if len(c.Derived) != 0 || len(c.DerivedRemoved) != 1 || c.DerivedRemoved[0] != old.ID {
		t.Errorf("the change names the exemption as put: derived %d, removed %v", len(c.Derived), c.DerivedRemoved)
	}
}

// writeCounter counts the store's write transactions.
type writeCounter struct {
	posture.Store
	writes atomic.Int32
}

func (c *writeCounter) Write(ctx context.Context, fn func(posture.Tx) error) error {
	c.writes.Add(1)
	return c.Store.Write(ctx, fn)
}

// TestExemptionGroupCommitStoreFailure: when the store fails a batch, its
// writes fail together and do not run again alone: the batch may have
// committed (a connection lost during COMMIT), and a write run again
// before the views heard of it would stamp without it.
func TestExemptionGroupCommitStoreFailure(t *testing.T) {
	e := newEnv(t, true)
	sa1, sa2 := e.base()
	counter := &writeCounter{Store: e.store}
	e.svc.Store = counter
	var errs [3]error
	good := exemptionBody("Mitigated", `"`+secureTransfer+`"`, "", "")
	closeStore := func() { // the database goes away under the queued batch
		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}
	}
	e.batch(closeStore,
		func() { _, errs[0] = e.putExemption(sa1+exemptionsPath+"a", good, "") },
		func() { _, errs[1] = e.putExemption(sa2+exemptionsPath+"b", good, "") },
		func() { _, errs[2] = e.putExemption(sa1+exemptionsPath+"c", good, "") })
	for i, err := range errs {
		if err == nil {
			t.Errorf("write %d succeeded on a closed store", i)
		}
	}
	if n := counter.writes.Load(); n != 1 {
		t.Errorf("%d write transactions for a batch of 3 the store failed, want 1 (no write runs again alone)", n)
	}
}
