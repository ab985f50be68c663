package queue_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/posture/posture"
	"github.com/posture/posture/postgres"
	"github.com/posture/posture/queue"
	"github.com/posture/posture/sqlite"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// opener opens an empty store whose clock is now; a second call within a
// test opens another store on the same database, as a replica does.
type opener func(t testing.TB, now posture.Clock) posture.Store

// eachStore runs fn on SQLite, and on PostgreSQL when
// POSTURE_TEST_POSTGRES_URL is set.
func eachStore(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) {
		dir := t.TempDir()
		fn(t, func(t testing.TB, now posture.Clock) posture.Store {
			s, err := sqlite.Open(context.Background(), dir, now)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("postgres", func(t *testing.T) {
		u := newSchema(t)
		fn(t, func(t testing.TB, now posture.Clock) posture.Store { return openPostgres(t, u, now) })
	})
}

func openPostgres(t testing.TB, u string, now posture.Clock) posture.Store {
	s, err := postgres.Open(context.Background(), u, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newSchema creates an empty schema for one test and returns a URL whose
// connections use it; the schema is dropped when the test ends. The test is
// skipped when POSTURE_TEST_POSTGRES_URL is not set.
func newSchema(t testing.TB) string {
	base := os.Getenv("POSTURE_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("POSTURE_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	schema := "q_" + hex.EncodeToString([]byte(rand.Text())[:6])
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func enqueue(t testing.TB, s posture.Store, jobs ...*posture.Job) {
	t.Helper()
	err := s.Write(context.Background(), func(tx posture.Tx) error {
		n, err := tx.EnqueueJobs(jobs)
		if err == nil && n != len(jobs) {
			err = fmt.Errorf("%d of %d jobs added", n, len(jobs))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func getJob(t testing.TB, s posture.Store, id int64) *posture.Job {
	t.Helper()
	var j *posture.Job
	if err := s.Read(context.Background(), func(tx posture.Tx) error {
		var err error
		j, err = tx.Job(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return j
}

func counts(t testing.TB, s posture.Store) posture.JobCounts {
	t.Helper()
	var c posture.JobCounts
	if err := s.Read(context.Background(), func(tx posture.Tx) error {
		var err error
		c, err = tx.CountJobs()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return c
}

func drain(t testing.TB, q *queue.Queue, want int) {
	t.Helper()
	n, err := q.Drain(context.Background())
	if err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if n != want {
		t.Fatalf("Drain ran %d jobs, want %d", n, want)
	}
}

func wantState(t testing.TB, j *posture.Job, state string, attempts int) {
	t.Helper()
	if j.State != state || j.Attempts != attempts {
		t.Fatalf("job %s: %s after %d attempts (last error %q), want %s after %d", j.Key, j.State, j.Attempts, j.LastError, state, attempts)
	}
}

// logger writes the queue's log to the test's output.
func logger(t testing.TB) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

// TestRetryBackoff: a failing job comes back after Backoff(attempts) on the
// queue's clock, not before, with LastError; it is Done once the handler
// succeeds. The handler's context ends before the lease does.
func TestRetryBackoff(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		runs := 0
		q := &queue.Queue{
			Store: s, Now: clk.Now, Logger: logger(t), Lease: time.Hour,
			Backoff: func(n int) time.Duration { return time.Duration(n) * 10 * time.Second },
			Handlers: map[string]queue.Handler{"flaky": func(ctx context.Context, j *posture.Job) error {
				runs++
				if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > time.Hour-6*time.Minute {
					t.Errorf("handler deadline %v (set %v), want at most the lease less a tenth", dl, ok)
				}
				if runs < 3 {
					return fmt.Errorf("receiver said 503 (run %d)", runs)
				}
				return nil
			}},
		}
		j := &posture.Job{Key: "flaky/1", Kind: "flaky"}
		enqueue(t, s, j)

		drain(t, q, 1)
		got := getJob(t, s, j.ID)
		wantState(t, got, posture.JobPending, 1)
		if !got.RunAt.Equal(clk.Now().Add(10*time.Second)) || got.LastError != "receiver said 503 (run 1)" || !got.LockedUntil.IsZero() {
			t.Errorf("after the first failure: run at %v, locked until %v, last error %q", got.RunAt, got.LockedUntil, got.LastError)
		}
		clk.Add(9 * time.Second)
		drain(t, q, 0)
		clk.Add(time.Second)
		drain(t, q, 1)
		got = getJob(t, s, j.ID)
		wantState(t, got, posture.JobPending, 2)
		if !got.RunAt.Equal(clk.Now().Add(20 * time.Second)) {
			t.Errorf("after the second failure: run at %v, want now + 20 s", got.RunAt)
		}
		clk.Add(20 * time.Second)
		drain(t, q, 1)
		wantState(t, getJob(t, s, j.ID), posture.JobDone, 3)
		if runs != 3 {
			t.Errorf("handler ran %d times, want 3", runs)
		}
	})
}

// TestRetryAfter: the wait a receiver asks for counts when it is longer
// than the backoff, up to 24 h.
func TestRetryAfter(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		after := map[string]time.Duration{"ask-5m": 5 * time.Minute, "ask-1s": time.Second, "ask-48h": 48 * time.Hour}
		q := &queue.Queue{
			Store: s, Now: clk.Now, Logger: logger(t),
			Backoff: func(int) time.Duration { return time.Minute },
			Classify: func(err error) (bool, time.Duration) {
				key, _, _ := strings.Cut(err.Error(), " ")
				return true, after[key]
			},
			Handlers: map[string]queue.Handler{"k": func(_ context.Context, j *posture.Job) error {
				return errors.New(j.Key + " rate limited")
			}},
		}
		jobs := []*posture.Job{{Key: "ask-5m", Kind: "k"}, {Key: "ask-1s", Kind: "k"}, {Key: "ask-48h", Kind: "k"}}
		enqueue(t, s, jobs...)
		drain(t, q, 3)
		for _, want := range []struct {
			j    *posture.Job
			wait time.Duration
		}{{jobs[0], 5 * time.Minute}, {jobs[1], time.Minute}, {jobs[2], 24 * time.Hour}} {
			got := getJob(t, s, want.j.ID)
			wantState(t, got, posture.JobPending, 1)
			if w := got.RunAt.Sub(clk.Now()); w != want.wait {
				t.Errorf("%s: due in %v, want %v", got.Key, w, want.wait)
			}
		}
	})
}

// TestPermanentError: an error Classify calls permanent makes the job Dead
// after one run, whatever attempts are left.
func TestPermanentError(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		q := &queue.Queue{
			Store: s, Now: clk.Now, Logger: logger(t),
			Classify: func(error) (bool, time.Duration) { return false, time.Hour },
			Handlers: map[string]queue.Handler{"k": func(context.Context, *posture.Job) error {
				return errors.New("401 Unauthorized: the webhook secret is wrong")
			}},
		}
		j := &posture.Job{Key: "perm", Kind: "k"}
		enqueue(t, s, j)
		drain(t, q, 1)
		got := getJob(t, s, j.ID)
		wantState(t, got, posture.JobDead, 1)
		if got.LastError != "401 Unauthorized: the webhook secret is wrong" {
			t.Errorf("LastError %q", got.LastError)
		}
		clk.Add(48 * time.Hour)
		drain(t, q, 0)
	})
}

// TestMaxAttempts: a job that always fails runs MaxAttempts times (the
// job's own over the queue's), then is Dead with the last error, cut to
// 2 KB on a character boundary.
func TestMaxAttempts(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		long := strings.Repeat("é", 3000) // 6000 bytes
		runs := map[string]int{}
		var mu sync.Mutex
		q := &queue.Queue{
			Store: s, Now: clk.Now, Logger: logger(t), MaxAttempts: 3,
			Backoff: func(int) time.Duration { return 0 }, // due again at once: one Drain runs them all
			Handlers: map[string]queue.Handler{"k": func(_ context.Context, j *posture.Job) error {
				mu.Lock()
				runs[j.Key]++
				n := runs[j.Key]
				mu.Unlock()
				return fmt.Errorf("attempt %d: %s", n, long)
			}},
		}
		def := &posture.Job{Key: "default", Kind: "k"}
		own := &posture.Job{Key: "own", Kind: "k", MaxAttempts: 5}
		enqueue(t, s, def, own)
		drain(t, q, 8)
		got := getJob(t, s, def.ID)
		wantState(t, got, posture.JobDead, 3)
		if len(got.LastError) > 2048 || len(got.LastError) < 2040 || !utf8.ValidString(got.LastError) || !strings.HasPrefix(got.LastError, "attempt 3: éé") {
			t.Errorf("LastError: %d bytes, valid UTF-8 %v, starts %q", len(got.LastError), utf8.ValidString(got.LastError), got.LastError[:min(20, len(got.LastError))])
		}
		wantState(t, getJob(t, s, own.ID), posture.JobDead, 5)
		if runs["default"] != 3 || runs["own"] != 5 {
			t.Errorf("runs: %v", runs)
		}
	})
}

// TestUnknownKind: a job no handler serves is Dead at once, saying so; the
// others run.
func TestUnknownKind(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		q := &queue.Queue{Store: s, Now: clk.Now, Logger: logger(t),
			Handlers: map[string]queue.Handler{"known": func(context.Context, *posture.Job) error { return nil }}}
		unknown := &posture.Job{Key: "u", Kind: "notify.pager"}
		known := &posture.Job{Key: "k", Kind: "known"}
		enqueue(t, s, unknown, known)
		drain(t, q, 2)
		got := getJob(t, s, unknown.ID)
		wantState(t, got, posture.JobDead, 1)
		if !strings.Contains(got.LastError, `no handler for job kind "notify.pager"`) {
			t.Errorf("LastError %q", got.LastError)
		}
		wantState(t, getJob(t, s, known.ID), posture.JobDone, 1)
	})
}

// TestPanic: a panicking handler does not take the queue down; the job is
// retried even though Classify calls every error permanent.
func TestPanic(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		runs := 0
		q := &queue.Queue{Store: s, Now: clk.Now, Logger: logger(t),
			Backoff:  func(int) time.Duration { return time.Minute },
			Classify: func(error) (bool, time.Duration) { return false, 0 },
			Handlers: map[string]queue.Handler{"k": func(context.Context, *posture.Job) error {
				runs++
				if runs == 1 {
					var m map[string]int
					m["boom"]++ // nil map: panics
				}
				return nil
			}}}
		j := &posture.Job{Key: "p", Kind: "k"}
		enqueue(t, s, j)
		drain(t, q, 1)
		got := getJob(t, s, j.ID)
		wantState(t, got, posture.JobPending, 1)
		if !strings.Contains(got.LastError, "panicked") || !strings.Contains(got.LastError, "nil map") {
			t.Errorf("LastError %q", got.LastError)
		}
		clk.Add(time.Minute)
		drain(t, q, 1)
		wantState(t, getJob(t, s, j.ID), posture.JobDone, 2)
	})
}

// TestRetryDead: Retry sends a Dead job back with its attempts reset, and it
// runs again; a job in another state, or none, is refused.
func TestRetryDead(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		fail := true
		q := &queue.Queue{Store: s, Now: clk.Now, Logger: logger(t), MaxAttempts: 2,
			Backoff: func(int) time.Duration { return 0 },
			Handlers: map[string]queue.Handler{"k": func(context.Context, *posture.Job) error {
				if fail {
					return errors.New("down")
				}
				return nil
			}}}
		j := &posture.Job{Key: "r", Kind: "k"}
		enqueue(t, s, j)
		drain(t, q, 2)
		wantState(t, getJob(t, s, j.ID), posture.JobDead, 2)

		clk.Add(time.Hour)
		back, err := q.Retry(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored := getJob(t, s, j.ID)
		wantState(t, stored, posture.JobPending, 0)
		if !stored.RunAt.Equal(clk.Now()) || back.State != posture.JobPending || back.Attempts != 0 || stored.LastError != "down" {
			t.Errorf("retried job: returned %+v, stored %+v", back, stored)
		}
		fail = false
		drain(t, q, 1)
		wantState(t, getJob(t, s, j.ID), posture.JobDone, 1)

		_, err = q.Retry(context.Background(), j.ID)
		if k, c := posture.ErrorKind(err), posture.ErrorCode(err); k != posture.EINVALID || c != "JobNotDead" {
			t.Errorf("Retry of a Done job: %v", err)
		}
		if _, err := q.Retry(context.Background(), j.ID+100); !posture.IsNotFound(err) {
			t.Errorf("Retry of no job: %v", err)
		}
	})
}

// TestCrash: a worker claims a job and dies. Nobody runs it while the lease
// holds; once it runs out, another Queue runs it with the same Key. A
// worker that outlived its lease does not record over that run.
func TestCrash(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		j := &posture.Job{Key: "request/r1/filed/webhook", Kind: "k"}
		enqueue(t, s, j)
		// The dying worker: it claims, then is gone.
		if err := s.Write(context.Background(), func(tx posture.Tx) error {
			js, err := tx.ClaimJobs(clk.Now(), time.Minute, 10)
			if err == nil && len(js) != 1 {
				err = fmt.Errorf("claimed %d jobs", len(js))
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		var seen []string
		q2 := &queue.Queue{Store: open(t, clk.Now), Now: clk.Now, Logger: logger(t), Lease: time.Minute,
			Handlers: map[string]queue.Handler{"k": func(_ context.Context, j *posture.Job) error {
				seen = append(seen, fmt.Sprintf("%s#%d", j.Key, j.Attempts))
				return nil
			}}}
		clk.Add(59 * time.Second)
		drain(t, q2, 0)
		clk.Add(time.Second)
		drain(t, q2, 1)
		if len(seen) != 1 || seen[0] != "request/r1/filed/webhook#2" {
			t.Errorf("the second queue's handler saw %v", seen)
		}
		wantState(t, getJob(t, s, j.ID), posture.JobDone, 2)

		// A slow worker: its lease runs out while its handler runs, another
		// queue runs the job to Done, then the slow one fails.
		slow := &posture.Job{Key: "slow", Kind: "k"}
		enqueue(t, s, slow)
		started, finish := make(chan struct{}), make(chan struct{})
		spy := claimSpy{Store: s, claims: make(chan int, 10)}
		q1 := &queue.Queue{Store: spy, Now: clk.Now, Logger: logger(t), Lease: time.Minute,
			Handlers: map[string]queue.Handler{"k": func(context.Context, *posture.Job) error {
				close(started)
				<-finish
				return errors.New("too late")
			}}}
		done := make(chan error)
		go func() {
			_, err := q1.Drain(context.Background())
			done <- err
		}()
		<-started
		// Once q1 has looked for more work (and found none), its lease
		// may run out.
		if n1, n2 := <-spy.claims, <-spy.claims; n1 != 1 || n2 != 0 {
			t.Fatalf("q1 claimed %d, then %d jobs", n1, n2)
		}
		clk.Add(time.Minute)
		drain(t, q2, 1)
		close(finish)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got := getJob(t, s, slow.ID)
		wantState(t, got, posture.JobDone, 2)
		if got.LastError != "" {
			t.Errorf("the late worker's failure was recorded: %q", got.LastError)
		}
	})
}

// claimSpy reports each committed claim of a store on claims.
type claimSpy struct {
	posture.Store
	claims chan int
}

type spyTx struct {
	posture.Tx
	n *int
}

func (t spyTx) ClaimJobs(now time.Time, lease time.Duration, limit int) ([]*posture.Job, error) {
	js, err := t.Tx.ClaimJobs(now, lease, limit)
	*t.n = len(js)
	return js, err
}

func (s claimSpy) Write(ctx context.Context, fn func(posture.Tx) error) error {
	n := -1
	err := s.Store.Write(ctx, func(tx posture.Tx) error { return fn(spyTx{tx, &n}) })
	if err == nil && n >= 0 {
		select {
		case s.claims <- n:
		default:
		}
	}
	return err
}

// TestRunNotifyAndStop: Run sleeps until Notify when nothing is due (Poll is
// an hour here), and when ctx ends it stops a running handler, gives its
// job back unspent and returns.
func TestRunNotifyAndStop(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		spy := claimSpy{Store: s, claims: make(chan int, 1)}
		ran := make(chan string, 10)
		q := &queue.Queue{Store: spy, Now: clk.Now, Logger: logger(t), Poll: time.Hour,
			Handlers: map[string]queue.Handler{
				"quick": func(_ context.Context, j *posture.Job) error {
					ran <- j.Key
					return nil
				},
				"stuck": func(ctx context.Context, j *posture.Job) error {
					ran <- j.Key
					<-ctx.Done()
					return ctx.Err()
				},
			}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		stopped := make(chan error)
		go func() { stopped <- q.Run(ctx) }()
		if n := <-spy.claims; n != 0 {
			t.Fatalf("first claim of an empty queue got %d jobs", n)
		}
		// Run is now asleep for an hour unless woken.
		j := &posture.Job{Key: "woken", Kind: "quick"}
		enqueue(t, s, j)
		q.Notify()
		q.Notify() // never blocks
		select {
		case key := <-ran:
			if key != "woken" {
				t.Fatalf("ran %s", key)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Notify did not wake Run")
		}

		stuck := &posture.Job{Key: "stuck", Kind: "stuck"}
		enqueue(t, s, stuck)
		q.Notify()
		if key := <-ran; key != "stuck" {
			t.Fatalf("ran %s", key)
		}
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not stop")
		}
		wantState(t, getJob(t, s, j.ID), posture.JobDone, 1)
		got := getJob(t, s, stuck.ID)
		wantState(t, got, posture.JobPending, 0)
		if !got.RunAt.Equal(clk.Now()) || got.LastError != "" {
			t.Errorf("the stopped job: due %v, last error %q", got.RunAt, got.LastError)
		}
	})
}

// TestTwoQueuesPostgres: two Queues on one PostgreSQL database, as two
// replicas, run each of 500 jobs exactly once between them.
func TestTwoQueuesPostgres(t *testing.T) {
	u := newSchema(t)
	const n = 500
	a, b := openPostgres(t, u, nil), openPostgres(t, u, nil)
	jobs := make([]*posture.Job, n)
	for i := range jobs {
		jobs[i] = &posture.Job{Key: fmt.Sprintf("job/%03d", i), Kind: "k"}
	}
	enqueue(t, a, jobs...)
	var mu sync.Mutex
	runs := map[string]int{}
	byQueue := map[string]int{}
	distinct := make(chan struct{})
	handler := func(name string) queue.Handler {
		return func(_ context.Context, j *posture.Job) error {
			mu.Lock()
			defer mu.Unlock()
			runs[j.Key]++
			byQueue[name]++
			if len(runs) == n && runs[j.Key] == 1 {
				close(distinct)
			}
			return nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for name, s := range map[string]posture.Store{"a": a, "b": b} {
		q := &queue.Queue{Store: s, Handlers: map[string]queue.Handler{"k": handler(name)}, Poll: 10 * time.Millisecond}
		wg.Go(func() {
			if err := q.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	select {
	case <-distinct:
	case <-time.After(60 * time.Second):
		t.Error("the jobs did not all run")
	}
	cancel()
	wg.Wait()
	for _, j := range jobs {
		if runs[j.Key] != 1 {
			t.Errorf("%s ran %d times", j.Key, runs[j.Key])
		}
	}
	if c := counts(t, a); c[posture.JobDone] != n {
		t.Errorf("counts %v, want %d Done", c, n)
	}
	t.Logf("jobs run by each queue: %v", byQueue)
}

// TestConcurrency: Drain runs up to Concurrency handlers at once, never
// more.
func TestConcurrency(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		s := open(t, nil)
		const workers = 3
		var mu sync.Mutex
		active, most := 0, 0
		full := make(chan struct{})
		q := &queue.Queue{Store: s, Logger: logger(t), Concurrency: workers,
			Handlers: map[string]queue.Handler{"k": func(ctx context.Context, _ *posture.Job) error {
				mu.Lock()
				active++
				most = max(most, active)
				if active == workers && most == workers {
					close(full) // once: most stays at workers unless the bound breaks
				}
				mu.Unlock()
				defer func() {
					mu.Lock()
					active--
					mu.Unlock()
				}()
				select { // hold the first handlers until all workers are busy
				case <-full:
				case <-ctx.Done():
				}
				return nil
			}}}
		jobs := make([]*posture.Job, 4*workers+1)
		for i := range jobs {
			jobs[i] = &posture.Job{Key: fmt.Sprint(i), Kind: "k"}
		}
		enqueue(t, s, jobs...)
		drain(t, q, len(jobs))
		if most != workers {
			t.Errorf("at most %d handlers ran at once, want %d", most, workers)
		}
		if c := counts(t, s); c[posture.JobDone] != len(jobs) {
			t.Errorf("counts %v", c)
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	for _, c := range []struct {
		attempts int
		base     time.Duration
	}{{0, 2 * time.Second}, {1, 2 * time.Second}, {2, 4 * time.Second}, {5, 32 * time.Second}, {11, 2048 * time.Second}, {12, time.Hour}, {64, time.Hour}, {1 << 30, time.Hour}} {
		lo, hi := c.base*8/10, c.base*12/10
		seen := map[time.Duration]bool{}
		for range 50 {
			d := queue.DefaultBackoff(c.attempts)
			if d < lo || d > hi {
				t.Fatalf("DefaultBackoff(%d) = %v, want within [%v, %v]", c.attempts, d, lo, hi)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("DefaultBackoff(%d) has no jitter: %v", c.attempts, seen)
		}
	}
}

// TestPoisonJob: a job whose workers die while running it is not claimed
// for ever: once it has used its attempts without an outcome it is Dead,
// and its handler is not called again.
func TestPoisonJob(t *testing.T) {
	eachStore(t, func(t *testing.T, open opener) {
		clk := newClock()
		s := open(t, clk.Now)
		j := &posture.Job{Key: "poison", Kind: "k", MaxAttempts: 2}
		enqueue(t, s, j)
		for range 2 { // two workers claim it and die
			if err := s.Write(context.Background(), func(tx posture.Tx) error {
				js, err := tx.ClaimJobs(clk.Now(), time.Minute, 10)
				if err == nil && len(js) != 1 {
					err = fmt.Errorf("claimed %d jobs", len(js))
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			clk.Add(time.Minute)
		}
		q := &queue.Queue{Store: s, Now: clk.Now, Logger: logger(t), Lease: time.Minute,
			Handlers: map[string]queue.Handler{"k": func(context.Context, *posture.Job) error {
				t.Error("the handler ran a job past its attempts")
				return nil
			}}}
		drain(t, q, 1)
		got := getJob(t, s, j.ID)
		wantState(t, got, posture.JobDead, 3)
		if !strings.Contains(got.LastError, "gave up after 2 attempts") {
			t.Errorf("LastError %q", got.LastError)
		}
	})
}
