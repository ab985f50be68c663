package posture

import (
	"encoding/json"
	"time"
)

// Kinds of events.
const (
	EventCreated = "Created"
	EventUpdated = "Updated"
	EventDeleted = "Deleted"
	EventExpired = "Expired"
	// Drift review of an exemption (exemption.Review): it went to review,
	// its review cleared by itself (the fields changed back), or the grace
	// period ended without a decision.
	EventNeedsReview   = "NeedsReview"
	EventReviewCleared = "ReviewCleared"
	EventReviewOverdue = "ReviewOverdue"
	// Entries of the audit ledger that record no change of an object.
	EventSignIn       = "SignIn"       // a portal sign-in or a token minted
	EventSignInFailed = "SignInFailed" // a bearer token or login refused
	EventDenied       = "Denied"       // an authorization check refused
)

// Event is one entry of the audit ledger: a change of an object (an
// exemption, a role assignment, ...) with the object before and after, or a
// sign-in or a denial. The store chains every entry to the one before by a
// hash (package ledger), so that an edited, removed or reordered row is
// found by verification.
type Event struct {
	Seq       int64  // assigned by the store, increasing
	Stream    string // lower-case id of the object
	Kind      string
	Actor     string // principal id; "posture" for the server's own jobs
	ActorType string // User, Application, ManagedIdentity, Key
	At        time.Time
	// Action is the Azure action performed or refused, e.g.
	// "Microsoft.Authorization/policyExemptions/write"; Scope the ARM id it
	// was performed at.
	Action string
	Scope  string
	// Before and After are the object's documents; nil when it did not
	// exist.
	Before, After json.RawMessage
	// Prev and Hash chain the entry to the one before (Prev is its Hash);
	// the store sets both when it appends.
	Prev, Hash []byte
}

// LedgerCheckpoint is a signature over the ledger's hash at one sequence
// number, made every N entries with a key the database does not hold: who
// can rewrite the rows cannot re-sign the chain.
type LedgerCheckpoint struct {
	Seq       int64
	Hash      []byte // the Hash of the entry Seq
	At        time.Time
	KeyID     string // hex of the first 8 bytes of SHA-256 of the public key
	Signature []byte // ed25519
}

// EventFilter selects events, in sequence order.
type EventFilter struct {
	Stream string // one object's events; "" for all
	// StreamPrefix keeps the events of an object and of everything under
	// it (a lower-case id without a trailing slash); "" for all.
	StreamPrefix string
	After        int64 // exclusive cursor
	Through      int64 // inclusive upper bound; 0: none
	Actor        string
	Kind         string
	From, To     time.Time // At in [From, To); zero: unbounded
	Limit        int
}
