// Package queue runs posture's durable jobs: notifications (e-mail, Teams,
// Slack, webhooks), tickets and workflow automations. Services enqueue jobs
// with posture.Tx.EnqueueJobs in the transaction of the change they
// report; a Queue claims the due jobs from the store for a lease, runs the
// Handler of each job's Kind and records the outcome:
//
//   - the handler returns nil: the job is Done;
//   - it returns an error that Classify calls worth retrying (any error when
//     Classify is nil) and attempts are left: the job is Pending again, due
//     after Backoff or after the wait the receiver asked for, whichever is
//     longer (a wait over 24 h counts as 24 h);
//   - otherwise, and when no handler serves the kind: the job is Dead, and
//     LastError says why. Retry sends a Dead job back to the queue.
//
// A handler that panics has failed in a way worth retrying. A job whose
// workers keep dying while running it (its lease runs out with no outcome)
// is Dead once it has been claimed more often than its attempts allow.
// LastError keeps the last failure's text (at most 2 KB), also once the job
// is Done.
//
// Delivery is at least once. A worker that dies leaves its jobs Running
// until their lease runs out; then another claims them again, so handlers
// hand Job.Key to receivers as an idempotency key. Each handler call gets a
// context whose deadline falls a tenth of the lease before the lease runs
// out, and the outcome is recorded only while the lease is still the
// worker's: a late worker does not overwrite the run that replaced it.
// Several Queues may share one store (replicas on PostgreSQL); the store
// never gives two of them the same job.
//
// Run is the worker loop of the server; Drain runs what is due now and
// returns, for tests and the posture commands.
package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/posture/posture"
)

// Defaults of the Queue fields, and the bounds on what receivers ask for.
const (
	DefaultLease       = time.Minute
	DefaultMaxAttempts = 8
	DefaultConcurrency = 4
	DefaultPoll        = time.Second
	// MaxRetryAfter bounds the wait a receiver may ask for.
	MaxRetryAfter = 24 * time.Hour
	// MaxErrorLen bounds LastError, in bytes.
	MaxErrorLen = 2048
)

// claimBatch is how many jobs a claim takes per worker: one transaction
// feeds the workers for a while.
const claimBatch = 4

// recordTimeout bounds the write of an outcome. It does not end with the
// context of Run or Drain: a job that ran is recorded even at shutdown.
const recordTimeout = 15 * time.Second

// Handler runs one job. An error makes the queue retry the job, unless
// Classify says it is permanent.
type Handler func(ctx context.Context, j *posture.Job) error

// Queue runs the jobs of a store. Set its fields before Run or Drain and do
// not change them afterwards; a zero field takes its default.
type Queue struct {
	Store    posture.Store
	Handlers map[string]Handler // by Job.Kind
	Now      posture.Clock      // nil: time.Now
	Lease    time.Duration      // default 1 min
	// MaxAttempts is how many runs a job gets, default 8 (Job.MaxAttempts
	// overrides it when > 0).
	MaxAttempts int
	// Backoff gives the wait before attempt n+1 after n failed attempts;
	// default DefaultBackoff.
	Backoff func(attempts int) time.Duration
	// Classify says whether err is worth retrying, and a wait the receiver
	// asked for (Retry-After; 0: none). Nil: every error is retried without
	// a requested wait.
	Classify func(err error) (retry bool, after time.Duration)
	// Concurrency is how many handlers run at once, default 4.
	Concurrency int
	// Poll is how often Run looks for due jobs when not woken, default 1 s.
	Poll   time.Duration
	Logger *slog.Logger
	// OnRun, when set, is called before a claimed job runs (metrics,
	// traces): the handler and the write of the outcome get the context it
	// returns, and end is called once the outcome is recorded, with the
	// job's new state (JobDone, JobPending for a retry, JobDead) and the
	// run's error; state is "" when no outcome was recorded (the job was
	// released at shutdown, or its lease ran out).
	OnRun func(ctx context.Context, j *posture.Job) (_ context.Context, end func(state string, err error))

	wakeOnce sync.Once
	wake     chan struct{}
}

// DefaultBackoff waits 2 s after the first failure and doubles the wait
// after each further one, up to 1 h, then varies it by ±20% so that jobs
// failing together do not come back together.
func DefaultBackoff(attempts int) time.Duration {
	d := time.Hour
	if attempts < 12 { // 2 s << 11 is over an hour
		d = min(2*time.Second<<max(attempts-1, 0), time.Hour)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

var errNoStore = errors.New("queue: no Store")

// Notify wakes Run: something was enqueued. It never blocks.
func (q *Queue) Notify() {
	select {
	case q.wakeCh() <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Run claims and runs jobs until ctx is done. It claims again at once after
// a batch, after Notify, and every Poll otherwise. A failing store is
// logged and tried again at the next Poll. When ctx is done, Run cancels
// the running handlers and returns nil once they have ended; jobs it
// claimed but did not finish go back to Pending without using an attempt.
func (q *Queue) Run(ctx context.Context) error {
	if q.Store == nil {
		return errNoStore
	}
	p := q.start(ctx)
	defer p.stop()
	timer := time.NewTimer(q.poll())
	defer timer.Stop()
	for ctx.Err() == nil {
		batch, err := q.claim(ctx)
		if err != nil && ctx.Err() == nil {
			q.log().Error("claiming jobs", "err", err)
		}
		if len(batch) > 0 {
			p.dispatch(ctx, batch)
			continue
		}
		timer.Reset(q.poll())
		select {
		case <-q.wakeCh():
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	return nil
}

// Drain runs every job due now (claim → run → record) until none is due,
// and returns how many it ran. A job whose retry is due at once runs again
// in the same Drain. Tests and the posture commands use it.
func (q *Queue) Drain(ctx context.Context) (int, error) {
	if q.Store == nil {
		return 0, errNoStore
	}
	p := q.start(ctx)
	defer p.stop()
	dispatched := false // since the last wait
	for {
		batch, err := q.claim(ctx)
		if err != nil {
			p.stop()
			return int(p.ran.Load()), err
		}
		if len(batch) == 0 {
			if !dispatched {
				break
			}
			// The running jobs may come back due at once.
			p.inflight.Wait()
			dispatched = false
			continue
		}
		if !p.dispatch(ctx, batch) {
			break
		}
		dispatched = true
	}
	p.stop()
	return int(p.ran.Load()), ctx.Err()
}

// Retry sends a Dead job back to the queue: Pending, due now, with its
// attempts reset. A job in another state is EINVALID (JobNotDead); an
// unknown one ENOTFOUND. It returns the job as stored.
func (q *Queue) Retry(ctx context.Context, id int64) (*posture.Job, error) {
	var out *posture.Job
	err := q.Store.Write(ctx, func(tx posture.Tx) error {
		j, err := tx.Job(id)
		if err != nil {
			return err
		}
		if j.State != posture.JobDead {
			return posture.Errorf(posture.EINVALID, "JobNotDead", "Job %d is %s; only a dead job can be retried.", id, j.State)
		}
		now := q.now()
		j.State, j.Attempts, j.RunAt, j.LockedUntil, j.UpdatedAt = posture.JobPending, 0, now, time.Time{}, now
		out = j
		return tx.UpdateJob(j)
	})
	if err != nil {
		return nil, err
	}
	q.Notify()
	return out, nil
}

// claimed is a job as ClaimJobs returned it, with the time (on the real
// clock, like context deadlines) by which its handler must be done.
type claimed struct {
	job      *posture.Job
	deadline time.Time
}

func (q *Queue) claim(ctx context.Context) ([]claimed, error) {
	start := time.Now()
	var js []*posture.Job
	err := q.Store.Write(ctx, func(tx posture.Tx) error {
		var err error
		js, err = tx.ClaimJobs(q.now(), q.lease(), q.concurrency()*claimBatch)
		return err
	})
	if err != nil {
		return nil, err
	}
	deadline := start.Add(q.budget())
	out := make([]claimed, len(js))
	for i, j := range js {
		out[i] = claimed{job: j, deadline: deadline}
	}
	return out, nil
}

// pool is the workers of one Run or Drain.
type pool struct {
	q        *Queue
	work     chan claimed
	workers  sync.WaitGroup
	inflight sync.WaitGroup // jobs dispatched and not yet recorded
	ran      atomic.Int64
	stopOnce sync.Once
}

func (q *Queue) start(ctx context.Context) *pool {
	p := &pool{q: q, work: make(chan claimed)}
	for range q.concurrency() {
		p.workers.Go(func() {
			for c := range p.work {
				if q.process(ctx, c) {
					p.ran.Add(1)
				}
				p.inflight.Done()
			}
		})
	}
	return p
}

// dispatch hands the batch to the workers, one job as each becomes free.
// When ctx ends first it releases the jobs not handed out and returns false.
func (p *pool) dispatch(ctx context.Context, batch []claimed) bool {
	for i, c := range batch {
		p.inflight.Add(1)
		select {
		case p.work <- c:
		case <-ctx.Done():
			p.inflight.Done()
			for _, r := range batch[i:] {
				p.q.release(ctx, r.job)
			}
			return false
		}
	}
	return true
}

// stop ends the workers once they have finished their jobs.
func (p *pool) stop() {
	p.stopOnce.Do(func() {
		close(p.work)
		p.workers.Wait()
	})
}

// process runs one claimed job and records the outcome. It reports whether
// the job ran: a job is released unrun when the queue is stopping, or when
// it waited in its batch for half of its time, and a job whose handler
// failed because the queue is stopping is released as well.
func (q *Queue) process(ctx context.Context, c claimed) bool {
	j := c.job
	if ctx.Err() != nil || time.Until(c.deadline) < q.budget()/2 {
		q.release(ctx, j)
		return false
	}
	rctx, end := ctx, func(string, error) {}
	if q.OnRun != nil {
		rctx, end = q.OnRun(ctx, j)
	}
	h := q.Handlers[j.Kind]
	var err error
	switch {
	case j.Attempts > q.maxAttempts(j):
		// Its last attempts ended with no outcome: a job that crashes its
		// worker must not come back for ever.
		err = &abandonedError{attempts: j.Attempts - 1}
	case h == nil:
		err = &noHandlerError{kind: j.Kind}
	default:
		if err = q.call(rctx, c.deadline, h, j); err != nil && ctx.Err() != nil {
			q.release(rctx, j)
			end("", err)
			return false
		}
	}
	end(q.record(rctx, j, err), err)
	return true
}

// call runs the handler on a copy of the job, turning a panic into an
// error.
func (q *Queue) call(ctx context.Context, deadline time.Time, h Handler, j *posture.Job) (err error) {
	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			q.log().Error("job handler panicked", "job", j.ID, "kind", j.Kind, "panic", v, "stack", string(debug.Stack()))
			err = &panicError{value: v}
		}
	}()
	hj := *j
	return h(hctx, &hj)
}

// outcome sets what a run's result makes of the job.
func (q *Queue) outcome(j *posture.Job, err error, now time.Time) {
	j.LockedUntil, j.UpdatedAt = time.Time{}, now
	if err == nil {
		j.State = posture.JobDone
		return
	}
	j.LastError = cut(err.Error(), MaxErrorLen)
	retry, after := q.classify(err)
	if retry && j.Attempts < q.maxAttempts(j) {
		j.State = posture.JobPending
		j.RunAt = now.Add(max(q.backoff(j.Attempts), min(after, MaxRetryAfter)))
		return
	}
	j.State = posture.JobDead
}

func (q *Queue) classify(err error) (bool, time.Duration) {
	var nh *noHandlerError
	var ab *abandonedError
	var pe *panicError
	switch {
	case errors.As(err, &nh), errors.As(err, &ab):
		return false, 0
	case errors.As(err, &pe), q.Classify == nil:
		return true, 0
	}
	return q.Classify(err)
}

// record stores the outcome of a run, unless the job is no longer the
// worker's (its lease ran out and another claimed it). It returns the state
// it stored, "" when it stored none.
func (q *Queue) record(ctx context.Context, j *posture.Job, err error) string {
	done := *j
	q.outcome(&done, err, q.now())
	lost, werr := q.write(ctx, j, &done)
	log := q.log().With("job", j.ID, "kind", j.Kind, "attempt", j.Attempts)
	switch {
	case werr != nil:
		// The job stays Running; it runs again when the lease runs out.
		log.Error("recording a job's outcome", "state", done.State, "err", werr)
		return ""
	case lost:
		log.Warn("a job's lease ran out before its outcome was recorded; the outcome is dropped", "state", done.State)
		return ""
	case done.State == posture.JobDead:
		log.Warn("job failed for good", "err", done.LastError)
	case done.State == posture.JobPending:
		log.Info("job failed, will retry", "at", done.RunAt, "err", done.LastError)
	}
	return done.State
}

// release gives a claimed job back unrun: Pending, due now, without using
// an attempt.
func (q *Queue) release(ctx context.Context, j *posture.Job) {
	back := *j
	now := q.now()
	back.State, back.Attempts, back.RunAt, back.LockedUntil, back.UpdatedAt = posture.JobPending, j.Attempts-1, now, time.Time{}, now
	if _, err := q.write(ctx, j, &back); err != nil {
		q.log().Error("releasing a job", "job", j.ID, "kind", j.Kind, "err", err)
	}
}

// write stores next in its own short transaction if the job is still as
// claimed (Running under the same attempt and lease); lost reports that it
// was not.
func (q *Queue) write(ctx context.Context, claimed, next *posture.Job) (lost bool, err error) {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	err = q.Store.Write(wctx, func(tx posture.Tx) error {
		cur, err := tx.Job(claimed.ID)
		if err != nil {
			return err
		}
		if cur.State != posture.JobRunning || cur.Attempts != claimed.Attempts || !cur.LockedUntil.Equal(claimed.LockedUntil) {
			lost = true
			return nil
		}
		return tx.UpdateJob(next)
	})
	return lost, err
}

// noHandlerError is the failure of a job whose kind has no handler.
type noHandlerError struct{ kind string }

func (e *noHandlerError) Error() string {
	return fmt.Sprintf("queue: no handler for job kind %q", e.kind)
}

// abandonedError is the failure of a job claimed more often than it may
// run: the runs past the last recorded outcome ended without one (the
// worker stopped, or lost its lease, while running it).
type abandonedError struct{ attempts int }

func (e *abandonedError) Error() string {
	return fmt.Sprintf("queue: gave up after %d attempts; the last ended without an outcome (its worker stopped or lost the lease)", e.attempts)
}

// panicError is a handler's panic.
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("queue: handler panicked: %v", e.value) }

// cut shortens s to at most n bytes without splitting a UTF-8 sequence.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 {
		r, size := utf8.DecodeLastRuneInString(s)
		if r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

func (q *Queue) wakeCh() chan struct{} {
	q.wakeOnce.Do(func() { q.wake = make(chan struct{}, 1) })
	return q.wake
}

func (q *Queue) now() time.Time {
	if q.Now != nil {
		return q.Now()
	}
	return time.Now()
}

func (q *Queue) lease() time.Duration {
	if q.Lease > 0 {
		return q.Lease
	}
	return DefaultLease
}

// budget is how long a handler may run: the lease less a tenth, so that the
// outcome is recorded while the lease holds.
func (q *Queue) budget() time.Duration { return q.lease() - q.lease()/10 }

func (q *Queue) maxAttempts(j *posture.Job) int {
	switch {
	case j.MaxAttempts > 0:
		return j.MaxAttempts
	case q.MaxAttempts > 0:
		return q.MaxAttempts
	}
	return DefaultMaxAttempts
}

func (q *Queue) backoff(attempts int) time.Duration {
	if q.Backoff != nil {
		return max(q.Backoff(attempts), 0)
	}
	return DefaultBackoff(attempts)
}

func (q *Queue) concurrency() int {
	if q.Concurrency > 0 {
		return q.Concurrency
	}
	return DefaultConcurrency
}

func (q *Queue) poll() time.Duration {
	if q.Poll > 0 {
		return q.Poll
	}
	return DefaultPoll
}

func (q *Queue) log() *slog.Logger {
	if q.Logger != nil {
		return q.Logger
	}
	return slog.Default()
}
