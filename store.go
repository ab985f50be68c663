package posture

import (
	"context"
	"encoding/json"
	"time"
)

// Store is posture's durable storage. The services own their transactions:
// an exported service method opens one Read or Write and composes Tx calls
// inside it. Implementations: package sqlite (embedded, the default) and
// package postgres (several replicas).
type Store interface {
	// Read runs fn in a read-only transaction over a consistent snapshot.
	Read(ctx context.Context, fn func(Tx) error) error
	// Write runs fn in a read-write transaction. When Write returns nil the
	// transaction is committed durably; when fn returns an error nothing of
	// it is kept.
	Write(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}

// Tx is one transaction. Methods return *Error values: ENOTFOUND for missing
// rows, EUNAVAILABLE when the database cannot be reached, EINTERNAL else.
type Tx interface {
	// Lock serialises writers that touch the same key until the transaction
	// ends (an advisory lock on PostgreSQL; SQLite has one writer anyway).
	Lock(key string) error

	// Resource returns the resource with the given key.
	Resource(key string) (*Resource, error)
	// Resources returns the resources among keys that exist, by key.
	Resources(keys []string) (map[string]*Resource, error)
	// PutResources inserts or replaces resources by key.
	PutResources(rs []*Resource) error
	// DeleteResources deletes the resource with key and everything whose key
	// lies under it, returning the number of rows deleted.
	DeleteResources(key string) (int, error)
	// ListResources returns up to f.Limit resources in key order.
	ListResources(f ResourceFilter) ([]*Resource, error)
	// CountResources counts the resources that f selects (ignoring paging).
	CountResources(f ResourceFilter) (int, error)

	// Setting returns a setting, "" when unset.
	Setting(key string) (string, error)
	// PutSetting sets a setting.
	PutSetting(key, value string) error

	// Principal returns a principal by id.
	Principal(id string) (*Principal, error)
	// PutPrincipal inserts or replaces a principal.
	PutPrincipal(p *Principal) error
	// CountPrincipals counts principals.
	CountPrincipals() (int, error)
	// Principals lists every principal in id order.
	Principals() ([]*Principal, error)
	// DeletePrincipal deletes a principal with its tokens, its role
	// assignments and its group memberships (as a member and as a group).
	DeletePrincipal(id string) error
	// GroupMembers returns the direct members of a group, sorted.
	GroupMembers(groupID string) ([]string, error)
	// SetGroupMembers replaces the direct members of a group.
	SetGroupMembers(groupID string, members []string) error
	// Memberships maps each principal to the groups it is a direct member
	// of.
	Memberships() (map[string][]string, error)

	// TokenByHash returns the token whose hash is h.
	TokenByHash(h string) (*Token, error)
	// PutToken inserts or replaces a token.
	PutToken(t *Token) error
	// Token returns a token by id.
	Token(id string) (*Token, error)
	// Tokens lists the tokens of a principal by creation time.
	Tokens(principalID string) ([]*Token, error)

	// PolicyStates returns up to f.Limit (resource, assignment) rows of
	// states in (resource, assignment) order.
	PolicyStates(f PolicyStateFilter) ([]*ResourceStates, error)
	// PutPolicyStates replaces (resource, assignment) rows; a row without
	// states is deleted.
	PutPolicyStates(rows []*ResourceStates) error
	// NoteStateRefs says that the rows this transaction put changed in
	// these references alone (lower case; Change.StateRefs), so that other
	// replicas re-render only their states. Without it, any changed.
	NoteStateRefs(refs map[string]bool)
	// DeletePolicyStatesUnder deletes the states of the resource key and of
	// everything under it.
	DeletePolicyStatesUnder(key string) error
	// DeletePolicyStatesOfAssignment deletes every state of an assignment.
	DeletePolicyStatesOfAssignment(assignmentKey string) error
	// DeleteAssignmentStatesOf deletes the states of an assignment for
	// these resources.
	DeleteAssignmentStatesOf(assignmentKey string, resourceKeys []string) error
	// PolicyStateResources returns the keys of the resources that have
	// states of an assignment.
	PolicyStateResources(assignmentKey string) ([]string, error)

	// AppendEvent appends an entry to the audit ledger: it sets Seq, Prev
	// and Hash (chaining it to the last entry), and writes a signed
	// checkpoint when the store has a signer and Seq is due for one.
	AppendEvent(e *Event) error
	// Events returns up to f.Limit events in sequence order.
	Events(f EventFilter) ([]*Event, error)
	// LedgerHead returns the sequence number and hash of the last entry
	// (0, nil for an empty ledger).
	LedgerHead() (int64, []byte, error)
	// Checkpoints returns the checkpoints with after < Seq <= through
	// (through 0: no bound), in order.
	Checkpoints(after, through int64) ([]*LedgerCheckpoint, error)
	// PruneEvents deletes the entries (and checkpoints) older than before,
	// always keeping the newest entry so that the chain goes on from it.
	PruneEvents(before time.Time) (int, error)

	// PutRoleAssignment inserts or replaces a role assignment.
	PutRoleAssignment(a *RoleAssignment) error
	// RoleAssignments lists the role assignments of a principal.
	RoleAssignments(principalID string) ([]*RoleAssignment, error)
	// AllRoleAssignments lists every role assignment by id.
	AllRoleAssignments() ([]*RoleAssignment, error)
	// RoleAssignment returns a role assignment by id.
	RoleAssignment(id string) (*RoleAssignment, error)
	// DeleteRoleAssignment deletes a role assignment by id.
	DeleteRoleAssignment(id string) error

	// RoleDefinitionDocs returns the documents of the custom roles.
	RoleDefinitionDocs() ([]json.RawMessage, error)
	// PutRoleDefinitionDoc inserts or replaces a custom role by GUID.
	PutRoleDefinitionDoc(guid string, doc json.RawMessage) error
	// DeleteRoleDefinitionDoc deletes a custom role by GUID.
	DeleteRoleDefinitionDoc(guid string) error

	// EnqueueJobs adds jobs to the durable queue, as Pending (RunAt zero:
	// now); a job whose Key is already queued, in any state, is skipped.
	// It sets ID on the jobs it added and returns how many it added.
	EnqueueJobs(jobs []*Job) (int, error)
	// ClaimJobs takes up to limit jobs that are due at now: Pending with
	// RunAt <= now, or Running with a lease that ran out. Each becomes
	// Running with Attempts+1 and LockedUntil now+lease. Concurrent
	// claimers never get the same job.
	ClaimJobs(now time.Time, lease time.Duration, limit int) ([]*Job, error)
	// UpdateJob stores State, Attempts, RunAt, LockedUntil, LastError and UpdatedAt
	// of a claimed job.
	UpdateJob(j *Job) error
	// Job returns a job by ID.
	Job(id int64) (*Job, error)
	// Jobs returns up to f.Limit jobs in ID order.
	Jobs(f JobFilter) ([]*Job, error)
	// CountJobs counts the jobs of each state.
	CountJobs() (JobCounts, error)
	// PruneJobs deletes Done jobs updated before the time.
	PruneJobs(before time.Time) (int, error)
}

// Clock returns the current time; services take one so tests can move time.
type Clock func() time.Time
