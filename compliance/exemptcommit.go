package compliance

import (
	"context"
	"sync"

	"github.com/posture/posture"
)

// Group commit of exemption writes. Each write is a transaction whose
// commit waits for the disk (SQLite syncs the WAL on every commit, about a
// millisecond or more), and writes are serialised by WriteMu, so one at a
// time the server managed some 200 exemption writes a second whatever the
// CPU. Single writes (PUT, PATCH, DELETE) therefore queue, and whoever
// leads takes everything queued, up to maxBatch, into one transaction
// under one WriteMu: one commit, one index update and one published change
// for the batch. A write waits for the commit of its batch as before: when
// it returns, it is durable and every view shows it. Without concurrent
// writes a batch is the one write.
//
// A batch is all or nothing in the store, but a refusal belongs to its
// write: when a batch of several is refused, each of its writes runs again
// alone, so that the others commit and the refused one gets its own
// error. A failure of the store fails them all.
//
// Leadership passes from one waiting writer to the next, so that no
// request serves other requests' writes for longer than one batch.

// maxBatch bounds a batch: its transaction holds WriteMu while it runs.
const maxBatch = 64

// writeQueue holds the writes waiting for a leader.
type writeQueue struct {
	mu      sync.Mutex
	pending []*queuedWrite
	leading bool // a writer leads: the pending ones wait for it
}

type queuedWrite struct {
	op   exemptionOp
	out  opOutcome
	err  error
	done chan struct{} // closed when out and err are set
	lead chan struct{} // this writer leads the next batch
}

// commit runs op in the next batch and returns its outcome. The caller's
// context gives who writes; the batch does not stop when one caller goes
// away, since others' writes are in it.
func (s *Service) commit(ctx context.Context, op exemptionOp) (opOutcome, error) {
	q := &s.exemptions.writes
	w := &queuedWrite{op: op, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	q.mu.Lock()
	q.pending = append(q.pending, w)
	leads := !q.leading
	q.leading = true
	q.mu.Unlock()
	if !leads {
		select {
		case <-w.done:
			return w.out, w.err
		case <-w.lead:
		}
	}
	s.leadBatch(ctx)
	<-w.done // a leader's own write is first among the pending
	return w.out, w.err
}

// leadBatch takes WriteMu, then the first maxBatch pending writes (those
// that queued while it waited for the lock are in), runs them and hands
// the lead to the next pending writer, if any.
func (s *Service) leadBatch(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	lockErr := s.WriteMu.Lock(ctx)
	q := &s.exemptions.writes
	q.mu.Lock()
	n := min(len(q.pending), maxBatch)
	batch := make([]*queuedWrite, n)
	copy(batch, q.pending)
	q.pending = append(q.pending[:0], q.pending[n:]...)
	q.mu.Unlock()

	if lockErr != nil {
		for _, w := range batch {
			w.err = lockErr
		}
	} else {
		s.runBatch(ctx, batch)
		s.WriteMu.Unlock()
	}
	for _, w := range batch {
		close(w.done)
	}

	q.mu.Lock()
	if len(q.pending) > 0 {
		q.pending[0].lead <- struct{}{}
	} else {
		q.leading = false
	}
	q.mu.Unlock()
}

// runBatch runs a batch (the caller holds WriteMu) and sets each write's
// outcome.
func (s *Service) runBatch(ctx context.Context, batch []*queuedWrite) {
	ops := make([]exemptionOp, len(batch))
	for i, w := range batch {
		ops[i] = w.op
	}
	outs, err := s.applyBatch(ctx, ops, nil)
	if err == nil || len(batch) == 1 || !refused(err) {
		for i, w := range batch {
			if w.err = err; err == nil {
				w.out = outs[i]
			}
		}
		return
	}
	for i, w := range batch {
		outs, err := s.applyBatch(ctx, ops[i:i+1], nil)
		if w.err = err; err == nil {
			w.out = outs[0]
		}
	}
}

// refused reports whether a batch failed on one of its writes (a client's
// error) rather than on the store: only then do the writes run again
// alone. After a store failure the batch may even have committed (a
// connection lost during COMMIT), and writes run again before the views
// heard of it would stamp without it; they fail together instead, and
// the replica catches up before the next batch (sqlstore.OnUncertainWrite).
func refused(err error) bool {
	switch posture.ErrorKind(err) {
	case posture.EINTERNAL, posture.EUNAVAILABLE:
		return false
	}
	return true
}

// queuedWrites is how many writes wait for a batch (tests).
func (s *Service) queuedWrites() int {
	q := &s.exemptions.writes
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// reacquire takes the database part of WriteMu back when committed let it
// go (another write under the same lock follows); committed lets it go
// once a batch has committed, so that other replicas write while this one
// updates its views (posture.EarlyReleaser). A plain mutex has neither.
func (s *Service) reacquire(ctx context.Context) error {
	if r, ok := s.WriteMu.(posture.EarlyReleaser); ok {
		return r.Reacquire(ctx)
	}
	return nil
}

func (s *Service) committed() {
	if r, ok := s.WriteMu.(posture.EarlyReleaser); ok {
		r.Committed()
	}
}
