package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/posture/posture"
)

// The job queue's cases: the store side of package queue. Times are whole
// microseconds in UTC, as the store keeps them.

func enqueue(t testing.TB, s posture.Store, jobs ...*posture.Job) int {
	t.Helper()
	var n int
	mustWrite(t, s, func(tx posture.Tx) error {
		var err error
		n, err = tx.EnqueueJobs(jobs)
		return err
	})
	return n
}

func claim(t testing.TB, s posture.Store, now time.Time, lease time.Duration, limit int) []*posture.Job {
	t.Helper()
	var js []*posture.Job
	mustWrite(t, s, func(tx posture.Tx) error {
		var err error
		js, err = tx.ClaimJobs(now, lease, limit)
		return err
	})
	return js
}

func getJob(t testing.TB, s posture.Store, id int64) *posture.Job {
	t.Helper()
	var j *posture.Job
	mustRead(t, s, func(tx posture.Tx) error {
		var err error
		j, err = tx.Job(id)
		return err
	})
	return j
}

func jobKeys(js []*posture.Job) []string {
	out := make([]string, len(js))
	for i, j := range js {
		out[i] = j.Key
	}
	return out
}

// testJobsEnqueue: every field round-trips; a key already queued, or given
// twice in one call, is skipped and keeps ID 0; RunAt zero is the store's
// now; a missing job is JobNotFound; lists filter and page in ID order.
func testJobsEnqueue(t *testing.T, b Backend) {
	s := b.Open(t)
	at := clockBase.Add(123456 * time.Microsecond)
	first := &posture.Job{Key: "request/r1/filed/email", Kind: "notify.email", Ref: "/subscriptions/s1/r1",
		Payload: json.RawMessage(`{"to":["a@example.com"],"n":1}`), MaxAttempts: 3, RunAt: at, CreatedAt: at,
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	if n := enqueue(t, s, first); n != 1 || first.ID == 0 {
		t.Fatalf("enqueue: %d added, ID %d", n, first.ID)
	}
	want := &posture.Job{ID: first.ID, Key: first.Key, Kind: "notify.email", Ref: "/subscriptions/s1/r1",
		Payload: first.Payload, State: posture.JobPending, MaxAttempts: 3, RunAt: at, TraceParent: first.TraceParent, CreatedAt: at, UpdatedAt: first.UpdatedAt}
	if got := getJob(t, s, first.ID); !reflect.DeepEqual(got, want) {
		t.Errorf("Job(%d):\n got %+v\nwant %+v", first.ID, got, want)
	}
	if !reflect.DeepEqual(first, want) {
		t.Errorf("the enqueued job is not what was stored:\n got %+v\nwant %+v", first, want)
	}

	before := time.Now().Truncate(time.Microsecond)
	dup := &posture.Job{Key: first.Key, Kind: "notify.teams", Ref: "other"}
	second := &posture.Job{Key: "request/r1/filed/teams", Kind: "notify.teams", Ref: "/subscriptions/s1/r1"}
	twice := &posture.Job{Key: second.Key, Kind: "notify.slack", Ref: "x"}
	third := &posture.Job{Key: "request/r2/filed/email", Kind: "notify.email", Ref: "/subscriptions/s1/r2"}
	if n := enqueue(t, s, dup, second, twice, third); n != 2 {
		t.Errorf("enqueue with a queued key and a key given twice: %d added, want 2", n)
	}
	after := time.Now()
	if dup.ID != 0 || twice.ID != 0 || second.ID <= first.ID || third.ID <= second.ID {
		t.Errorf("IDs: dup %d, second %d, twice %d, third %d (first %d)", dup.ID, second.ID, twice.ID, third.ID, first.ID)
	}
	if got := getJob(t, s, first.ID); got.Kind != "notify.email" || got.Ref != "/subscriptions/s1/r1" {
		t.Errorf("a skipped duplicate changed the queued job: %+v", got)
	}
	got := getJob(t, s, second.ID)
	if got.Kind != "notify.teams" || got.Payload != nil || got.MaxAttempts != 0 || got.Attempts != 0 || got.TraceParent != "" {
		t.Errorf("second job: %+v", got)
	}
	if got.RunAt.Before(before) || got.RunAt.After(after) || !got.RunAt.Equal(second.RunAt) || !got.CreatedAt.Equal(got.RunAt) {
		t.Errorf("RunAt zero: stored %v (set on the job %v), want now, in [%v, %v]", got.RunAt, second.RunAt, before, after)
	}

	_ = s.Read(context.Background(), func(tx posture.Tx) error {
		_, err := tx.Job(third.ID + 100)
		wantCode(t, err, posture.ENOTFOUND, "JobNotFound")
		return nil
	})
	err := s.Write(context.Background(), func(tx posture.Tx) error {
		return tx.UpdateJob(&posture.Job{ID: third.ID + 100, State: posture.JobDone})
	})
	wantCode(t, err, posture.ENOTFOUND, "JobNotFound")

	list := func(f posture.JobFilter) []string {
		t.Helper()
		var js []*posture.Job
		mustRead(t, s, func(tx posture.Tx) error {
			var err error
			js, err = tx.Jobs(f)
			return err
		})
		return jobKeys(js)
	}
	all := []string{first.Key, second.Key, third.Key}
	for _, c := range []struct {
		f    posture.JobFilter
		want []string
	}{
		{posture.JobFilter{}, all},
		{posture.JobFilter{Limit: 2}, all[:2]},
		{posture.JobFilter{After: first.ID, Limit: 1}, all[1:2]},
		{posture.JobFilter{After: third.ID}, nil},
		{posture.JobFilter{Kind: "notify.email"}, []string{first.Key, third.Key}},
		{posture.JobFilter{Ref: "/subscriptions/s1/r1"}, all[:2]},
		{posture.JobFilter{Ref: "/subscriptions/s1/r1", Kind: "notify.teams"}, all[1:2]},
		{posture.JobFilter{State: posture.JobPending}, all},
		{posture.JobFilter{State: posture.JobDone}, nil},
	} {
		if got := list(c.f); !slices.Equal(got, c.want) {
			t.Errorf("Jobs(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
}

// testJobsClaimOrder: due Pending jobs are claimed in (RunAt, ID) order, up
// to the limit; each becomes Running with one more attempt and a lease;
// jobs not yet due, Done and Dead are never claimed.
func testJobsClaimOrder(t *testing.T, b Backend) {
	s := b.Open(t)
	now := clockBase
	job := func(key string, runAt time.Time) *posture.Job {
		return &posture.Job{Key: key, Kind: "k", RunAt: runAt}
	}
	// Enqueued out of order; b1 and b2 share a RunAt, so ID decides.
	enqueue(t, s,
		job("c", now.Add(-time.Minute)),
		job("future", now.Add(time.Second)),
		job("b1", now.Add(-2*time.Minute)),
		job("b2", now.Add(-2*time.Minute)),
		job("a", now.Add(-time.Hour)),
		job("now", now),
		job("done", now.Add(-2*time.Hour)),
		job("dead", now.Add(-2*time.Hour)),
	)
	// Done and Dead jobs are finished, however early they were due.
	mustWrite(t, s, func(tx posture.Tx) error {
		js, err := tx.Jobs(posture.JobFilter{})
		if err != nil {
			return err
		}
		for _, j := range js {
			switch j.Key {
			case "done":
				j.State = posture.JobDone
			case "dead":
				j.State, j.LastError = posture.JobDead, "gave up"
			default:
				continue
			}
			if err := tx.UpdateJob(j); err != nil {
				return err
			}
		}
		return nil
	})

	got := claim(t, s, now, time.Minute, 3)
	if keys := jobKeys(got); !slices.Equal(keys, []string{"a", "b1", "b2"}) {
		t.Fatalf("first claim: %v, want [a b1 b2]", keys)
	}
	for _, j := range got {
		if j.State != posture.JobRunning || j.Attempts != 1 || !j.LockedUntil.Equal(now.Add(time.Minute)) {
			t.Errorf("claimed %s: state %s, attempts %d, locked until %v", j.Key, j.State, j.Attempts, j.LockedUntil)
		}
		if stored := getJob(t, s, j.ID); !reflect.DeepEqual(stored, j) {
			t.Errorf("claimed job as returned and as stored:\n%+v\n%+v", j, stored)
		}
	}
	if keys := jobKeys(claim(t, s, now, time.Minute, 10)); !slices.Equal(keys, []string{"c", "now"}) {
		t.Errorf("second claim: %v, want [c now]", keys)
	}
	if got := claim(t, s, now, time.Minute, 10); len(got) != 0 {
		t.Errorf("nothing is due, claimed %v", jobKeys(got))
	}
	if keys := jobKeys(claim(t, s, now.Add(time.Second), time.Minute, 10)); !slices.Equal(keys, []string{"future"}) {
		t.Errorf("claim when the future job is due: %v", keys)
	}
	if got := claim(t, s, now.Add(time.Second), time.Minute, 0); len(got) != 0 {
		t.Errorf("limit 0 claimed %v", jobKeys(got))
	}
}

// testJobsLeaseExpiry: a Running job is claimed again only once its lease
// has run out (its worker died), with another attempt; a job recorded as
// Pending again is due at its new RunAt.
func testJobsLeaseExpiry(t *testing.T, b Backend) {
	s := b.Open(t)
	now := clockBase
	j := &posture.Job{Key: "lease", Kind: "k", RunAt: now}
	enqueue(t, s, j)
	first := claim(t, s, now, time.Minute, 10)
	if len(first) != 1 || first[0].Attempts != 1 {
		t.Fatalf("first claim: %+v", first)
	}
	if got := claim(t, s, now.Add(59*time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("claimed within the lease: %+v", got)
	}
	again := claim(t, s, now.Add(time.Minute), time.Minute, 10)
	if len(again) != 1 || again[0].ID != j.ID || again[0].Key != "lease" || again[0].Attempts != 2 ||
		!again[0].LockedUntil.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("claim after the lease ran out: %+v", again)
	}

	// The second worker fails and reschedules it.
	r := again[0]
	r.State, r.RunAt, r.LockedUntil, r.LastError, r.UpdatedAt = posture.JobPending, now.Add(time.Hour), time.Time{}, "503 from the receiver", now.Add(time.Minute)
	mustWrite(t, s, func(tx posture.Tx) error { return tx.UpdateJob(r) })
	if got := getJob(t, s, j.ID); !reflect.DeepEqual(got, r) {
		t.Errorf("after UpdateJob:\n got %+v\nwant %+v", got, r)
	}
	if got := claim(t, s, now.Add(59*time.Minute), time.Minute, 10); len(got) != 0 {
		t.Errorf("claimed before its new RunAt: %+v", got)
	}
	if got := claim(t, s, now.Add(time.Hour), time.Minute, 10); len(got) != 1 || got[0].Attempts != 3 || got[0].LastError != "503 from the receiver" {
		t.Errorf("claim at the new RunAt: %+v", got)
	}
}

// testJobsConcurrentClaims: claimers running at once (goroutines here,
// replicas on PostgreSQL) never get the same job, and together get them all.
func testJobsConcurrentClaims(t *testing.T, b Backend) {
	s := b.Open(t)
	const jobs, claimers = 200, 4
	js := make([]*posture.Job, jobs)
	for i := range js {
		js[i] = &posture.Job{Key: fmt.Sprintf("job/%03d", i), Kind: "k", RunAt: clockBase}
	}
	enqueue(t, s, js...)
	now := clockBase.Add(time.Hour)
	var mu sync.Mutex
	claims := map[int64]int{}
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for range claimers {
		wg.Go(func() {
			for {
				var got []*posture.Job
				err := s.Write(context.Background(), func(tx posture.Tx) error {
					var err error
					got, err = tx.ClaimJobs(now, time.Minute, 7)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
				// Empty: every job left is held by a claimer that takes it.
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, j := range got {
					claims[j.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent claim: %v", err)
	}
	for _, j := range js {
		if n := claims[j.ID]; n != 1 {
			t.Errorf("job %s claimed %d times", j.Key, n)
		}
	}
	if len(claims) != jobs {
		t.Errorf("%d jobs claimed, want %d", len(claims), jobs)
	}
	mustRead(t, s, func(tx posture.Tx) error {
		all, err := tx.Jobs(posture.JobFilter{})
		for _, j := range all {
			if j.State != posture.JobRunning || j.Attempts != 1 {
				t.Errorf("job %s after the claims: state %s, attempts %d", j.Key, j.State, j.Attempts)
			}
		}
		return err
	})
}

// testJobsRollback: jobs enqueued in a Write whose fn fails are not kept,
// and their keys stay free.
func testJobsRollback(t *testing.T, b Backend) {
	s := b.Open(t)
	boom := errors.New("boom")
	j := &posture.Job{Key: "rolled/back", Kind: "k"}
	err := s.Write(context.Background(), func(tx posture.Tx) error {
		if _, err := tx.EnqueueJobs([]*posture.Job{j}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write returned %v, want fn's error", err)
	}
	mustRead(t, s, func(tx posture.Tx) error {
		js, err := tx.Jobs(posture.JobFilter{})
		if len(js) != 0 {
			t.Errorf("rolled back jobs are queued: %v", jobKeys(js))
		}
		return err
	})
	if got := claim(t, s, time.Now().Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("a rolled back job was claimed: %v", jobKeys(got))
	}
	if n := enqueue(t, s, &posture.Job{Key: "rolled/back", Kind: "k"}); n != 1 {
		t.Errorf("the key of a rolled back job is taken: %d added", n)
	}
}

// testJobsCountAndPrune: counts by state (every state present, 0 when
// none); PruneJobs deletes only Done jobs last updated before the cut, and
// IDs are not handed out again after pruning.
func testJobsCountAndPrune(t *testing.T, b Backend) {
	s := b.Open(t)
	counts := func() posture.JobCounts {
		t.Helper()
		var c posture.JobCounts
		mustRead(t, s, func(tx posture.Tx) error {
			var err error
			c, err = tx.CountJobs()
			return err
		})
		return c
	}
	if c := counts(); !reflect.DeepEqual(c, posture.JobCounts{posture.JobPending: 0, posture.JobRunning: 0, posture.JobDone: 0, posture.JobDead: 0}) {
		t.Errorf("counts of an empty queue: %v", c)
	}
	now := clockBase
	// old-done, new-done, old-dead, running, pending, pending2: the highest
	// ID is Done and old, so pruning removes it.
	set := map[string]struct {
		state   string
		updated time.Time
	}{
		"old-done": {posture.JobDone, now.Add(-48 * time.Hour)},
		"new-done": {posture.JobDone, now},
		"old-dead": {posture.JobDead, now.Add(-48 * time.Hour)},
		"last":     {posture.JobDone, now.Add(-25 * time.Hour)},
	}
	keys := []string{"old-done", "new-done", "old-dead", "running", "pending", "pending2", "last"}
	js := make([]*posture.Job, len(keys))
	for i, k := range keys {
		js[i] = &posture.Job{Key: k, Kind: "k", RunAt: now.Add(-72 * time.Hour)}
		if k == "pending" || k == "pending2" {
			js[i].RunAt = now.Add(time.Hour)
		}
	}
	enqueue(t, s, js...)
	claim(t, s, now, time.Minute, 10) // all but the pending ones
	mustWrite(t, s, func(tx posture.Tx) error {
		for _, j := range js {
			st, ok := set[j.Key]
			if !ok {
				continue
			}
			j.State, j.UpdatedAt = st.state, st.updated
			if err := tx.UpdateJob(j); err != nil {
				return err
			}
		}
		return nil
	})
	want := posture.JobCounts{posture.JobPending: 2, posture.JobRunning: 1, posture.JobDone: 3, posture.JobDead: 1}
	if c := counts(); !reflect.DeepEqual(c, want) {
		t.Errorf("counts: %v, want %v", c, want)
	}

	var n int
	mustWrite(t, s, func(tx posture.Tx) error {
		var err error
		n, err = tx.PruneJobs(now.Add(-24 * time.Hour))
		return err
	})
	if n != 2 {
		t.Errorf("pruned %d, want 2 (old-done, last)", n)
	}
	var left []string
	mustRead(t, s, func(tx posture.Tx) error {
		all, err := tx.Jobs(posture.JobFilter{})
		left = jobKeys(all)
		return err
	})
	if want := []string{"new-done", "old-dead", "running", "pending", "pending2"}; !slices.Equal(left, want) {
		t.Errorf("left after pruning: %v, want %v", left, want)
	}
	want[posture.JobDone] = 1
	if c := counts(); !reflect.DeepEqual(c, want) {
		t.Errorf("counts after pruning: %v, want %v", c, want)
	}
	next := &posture.Job{Key: "next", Kind: "k"}
	enqueue(t, s, next)
	if last := js[len(js)-1]; next.ID <= last.ID {
		t.Errorf("ID %d handed out after pruning job %d", next.ID, last.ID)
	}
}

// testJobs runs the job queue's cases.
func testJobs(t *testing.T, b Backend) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"Enqueue", testJobsEnqueue},
		{"ClaimOrder", testJobsClaimOrder},
		{"LeaseExpiry", testJobsLeaseExpiry},
		{"ConcurrentClaims", testJobsConcurrentClaims},
		{"Rollback", testJobsRollback},
		{"CountAndPrune", testJobsCountAndPrune},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, b) })
	}
}
