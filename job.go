package posture

import (
	"encoding/json"
	"time"
)

// States of a job in the durable queue.
const (
	JobPending = "Pending" // waiting for RunAt
	JobRunning = "Running" // claimed by a worker until LockedUntil
	JobDone    = "Done"
	JobDead    = "Dead" // failed for good; LastError says why
)

// Job is one unit of background work: a notice to send, a ticket to open,
// a workflow to trigger. Services enqueue jobs in the transaction that
// makes the change they report, so a change that rolls back sends nothing
// and a committed one cannot lose its jobs. A worker claims a job for a
// lease; a worker that dies leaves the lease to run out and another claims
// the job again, which is why handlers hand Key to receivers as an
// idempotency key.
type Job struct {
	ID int64 // assigned by the store
	// Key is unique across the queue: enqueuing a key already there (in any
	// state) is a no-op. It names the event and the channel, e.g.
	// "request/{id}/filed/email".
	Key  string
	Kind string // names the handler, e.g. "notify.email"
	// Ref is the lower-case id of the object the job is about, for lists.
	Ref         string
	Payload     json.RawMessage
	State       string
	Attempts    int // runs started so far
	MaxAttempts int // 0: the queue's default
	RunAt       time.Time
	LockedUntil time.Time // for Running jobs: when the lease runs out
	LastError   string
	// TraceParent is the W3C traceparent of the operation that enqueued
	// the job ("": none, or tracing off): its runs join that trace.
	TraceParent string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// JobFilter selects jobs for a list, in ID order.
type JobFilter struct {
	State string // "" for all
	Kind  string
	Ref   string // lower-case object id; jobs about it
	After int64  // exclusive ID cursor
	Limit int
}

// JobCounts counts the jobs of each state.
type JobCounts map[string]int
