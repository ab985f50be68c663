package posture

import (
	"context"
	"sync"
	"time"
)

// WriteLock serialises the writes whose effects the in-memory views
// (exemption index, Defender counters, Resource Graph tables) follow, so
// that those views change in commit order. With one process it is a mutex;
// with several replicas on one database it is also a database lock, and
// taking it first brings this replica's views up to date with what the
// others committed (package replica).
type WriteLock interface {
	Lock(ctx context.Context) error
	Unlock()
}

// EarlyReleaser is a WriteLock whose database part can be released once
// the writer's transaction has committed, before the writer updates its
// in-memory views (which only the process mutex guards): other replicas
// write meanwhile. A writer that writes again under the same Lock calls
// Reacquire before it.
type EarlyReleaser interface {
	WriteLock
	Committed()
	Reacquire(ctx context.Context) error
}

// LocalWriteLock is the WriteLock of a single process: a mutex.
type LocalWriteLock struct{ mu sync.Mutex }

// Lock implements WriteLock.
func (l *LocalWriteLock) Lock(context.Context) error {
	l.mu.Lock()
	return nil
}

// Unlock implements WriteLock.
func (l *LocalWriteLock) Unlock() { l.mu.Unlock() }

// ChangeKeys names what one write transaction changed, for the other
// replicas: they re-read these rows and apply them to their views. Keys
// only, never documents: a replica reading later sees the same or a newer
// version, so applying records out of order or twice converges all the
// same.
type ChangeKeys struct {
	Resources []string `json:"r,omitempty"` // put (or deleted, when gone on re-read)
	Deleted   []string `json:"d,omitempty"` // deleted with everything under them
	// States are (resource key, assignment key) rows put or deleted.
	States [][2]string `json:"s,omitempty"`
	// StateRefs, when not empty, are the only references (lower case)
	// whose states changed in those rows (an exemption re-stamps its own):
	// a replica re-renders those alone, as the writer did. Empty: any.
	StateRefs []string `json:"sr,omitempty"`
	// AssignmentsDropped are assignments whose states were all deleted.
	AssignmentsDropped []string `json:"ad,omitempty"`
	Settings           []string `json:"set,omitempty"`
	// Streams are the ledger streams that got entries (exemption keys for
	// their history, expiry and review events).
	Streams  []string `json:"ev,omitempty"`
	Identity bool     `json:"id,omitempty"` // principals, tokens, groups, roles
	Jobs     bool     `json:"jobs,omitempty"`
}

// Empty reports whether nothing was recorded.
func (k *ChangeKeys) Empty() bool {
	return k == nil || len(k.Resources) == 0 && len(k.Deleted) == 0 && len(k.States) == 0 &&
		len(k.AssignmentsDropped) == 0 && len(k.Settings) == 0 && len(k.Streams) == 0 && !k.Identity && !k.Jobs
}

// ChangeRecord is one entry of the change log replicas share.
type ChangeRecord struct {
	Seq    int64
	Origin string // the replica that wrote it
	At     time.Time
	Keys   ChangeKeys
}
