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
)

// Event is one change of an object (an exemption), kept in the store for its
// history and for audit: who did what, when, and the object before and
// after.
type Event struct {
	Seq       int64  // assigned by the store, increasing
	Stream    string // lower-case id of the object
	Kind      string
	Actor     string // principal id; "posture" for the server's own jobs
	ActorType string // User, Application, ManagedIdentity, Key
	At        time.Time
	// Before and After are the object's documents; nil when it did not
	// exist.
	Before, After json.RawMessage
}

// EventFilter selects events, in sequence order.
type EventFilter struct {
	Stream string // one object's events; "" for all
	After  int64  // exclusive cursor
	Limit  int
}
